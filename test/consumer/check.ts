/**
 * `npm run test:consumer`: the library as a user gets it. Packs it (`npm pack` builds first), then for
 * CDKTF and for CDK Terrain makes a fresh project in a temporary folder that installs the tarball, writes
 * the README's example as its `main.ts`, compiles it under `strict`, `noUncheckedIndexedAccess` and
 * `exactOptionalPropertyTypes`, synthesizes it with plain `node` (no esbuild installed), and checks the
 * synthesized stack. Exits non-zero naming the first thing that failed.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createConsumerProject, packLibrary, runCommand } from '../../lib/rehearsal/consumer-project';
import { checkConsumerStack } from './check-stack';

const root = path.resolve(__dirname, '..', '..');

interface Flavor {
  name: string;
  dependencies: Record<string, string>;
  /** The README example as this flavor's user writes it. */
  source: (example: string) => string;
}

const FLAVORS: Flavor[] = [
  {
    name: 'cdktf',
    dependencies: { cdktf: '0.21.0', constructs: '10.8.1', '@cdktf/provider-aws': '21.22.1' },
    source: (example) => example,
  },
  {
    name: 'cdktn',
    dependencies: { cdktn: '0.24.0', constructs: '10.7.0', '@cdktn/provider-aws': '25.7.0' },
    source: (example) =>
      example
        .replace(/from 'cdktf'/g, "from 'cdktn'")
        .replace(/from '@cdktf\/provider-aws\//g, "from '@cdktn/provider-aws/")
        .replace(/from 'aep-feature-pipelines'/g, "from 'aep-feature-pipelines/cdktn'"),
  },
];

function readmeExample(): string {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const block = /<!-- consumer-example:start -->\n```ts\n([^]*?)```\n<!-- consumer-example:end -->/.exec(readme)?.[1];
  if (!block) throw new Error('README.md has no consumer example between <!-- consumer-example:start --> and <!-- consumer-example:end -->');
  return block;
}

function main(): void {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'aep-consumer-'));
  const seconds = (since: number) => ((Date.now() - since) / 1000).toFixed(1);
  try {
    let started = Date.now();
    const tarball = packLibrary(root, work);
    const outside = tarball.files.map((f) => f.path).filter((p) => !/^(dist\/|package\.json$|README\.md$|LICENSE$|CHANGELOG\.md$)/.test(p));
    if (outside.length > 0) throw new Error(`The tarball carries files outside dist/: ${outside.join(', ')}`);
    const bundles = tarball.files.filter((f) => /^dist\/bundles\/[^/]+\/index\.js$/.test(f.path)).length;
    process.stdout.write(
      `Packed ${tarball.filename}: ${(tarball.size / 1024).toFixed(0)} KB (${(tarball.unpackedSize / 1024).toFixed(0)} KB unpacked), ${tarball.entryCount} files, ${bundles} prebuilt handler bundles (${seconds(started)} s)\n`,
    );

    const example = readmeExample();
    for (const flavor of FLAVORS) {
      const project = path.join(work, flavor.name);
      started = Date.now();
      createConsumerProject(project, tarball.file, flavor.dependencies, flavor.source(example));
      const installed = seconds(started);
      if (fs.existsSync(path.join(project, 'node_modules', 'esbuild'))) throw new Error(`${flavor.name}: esbuild was installed into the consumer project`);
      for (const left of ['@electric-sql/pglite', 'commander', 'cli-table3', 'hyparquet-writer']) {
        if (fs.existsSync(path.join(project, 'node_modules', left))) throw new Error(`${flavor.name}: ${left} (the embedded platform's or the command line's) was installed into the consumer project`);
      }
      started = Date.now();
      runCommand('npx', ['tsc', '-p', '.'], project, `${flavor.name}: tsc under strict settings`);
      const compiled = seconds(started);
      started = Date.now();
      runCommand('node', ['dist/main.js'], project, `${flavor.name}: synth`);
      const synthesized = seconds(started);
      const stackFile = path.join(project, 'cdktf.out', 'stacks', 'marketing-data', 'cdk.tf.json');
      checkConsumerStack(stackFile, flavor.name);
      process.stdout.write(`${flavor.name}: install ${installed} s, tsc ${compiled} s, synth ${synthesized} s; stack checked\n`);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

try {
  main();
} catch (error) {
  process.stderr.write(`Consumer check failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
