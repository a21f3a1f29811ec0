#!/usr/bin/env node
/**
 * `npm run build`, after `tsc -p tsconfig.build.json` has written `dist/`: bundles the library's own
 * handlers into `dist/bundles/<handler>/` (so a consumer's synth needs no esbuild), writes the CDK
 * Terrain entry point `dist/cdktn/` from the cdktf one, and checks that nothing the package leaves out
 * (the embedded platform, the command line, the synthetic data) is reachable from what it ships.
 */
import * as fs from 'fs';
import * as path from 'path';
import { bundleHandler, DEFAULT_EXTERNAL_MODULES, findProjectRoot } from '../lib/bundling/bundle-handler';
import { PROVISIONER, STAGES } from '../lib/stages/registry';

const root = findProjectRoot(__dirname);
const dist = path.join(root, 'dist');
if (!fs.existsSync(path.join(dist, 'constructs', 'index.js'))) throw new Error('dist/constructs is missing: run tsc -p tsconfig.build.json first');

// 1. The handlers, bundled exactly as PipelineFunction bundles them at synth (nodejs22.x, minified,
// linked source map, the runtime's AWS SDK left out); deterministic, so the hashes only change with the code.
const sizes: string[] = [];
for (const definition of [...Object.values(STAGES), PROVISIONER]) {
  const name = path.basename(definition.entry, '.ts');
  const bundle = bundleHandler(definition.entry, {
    outDir: path.join(dist, 'bundles', name),
    projectRoot: root,
    target: 'node22',
    externalModules: DEFAULT_EXTERNAL_MODULES,
  });
  sizes.push(`${name} ${(bundle.bytes / 1024).toFixed(0)} KB ${bundle.sha256.slice(0, 12)}`);
}

// 2. CDK Terrain: the same constructs, importing cdktn and @cdktn/provider-aws. The two share every
// name the constructs use, so the entry point is the compiled cdktf one with its imports renamed.
const cdktfDir = path.join(dist, 'constructs');
const cdktnDir = path.join(dist, 'cdktn');
fs.rmSync(cdktnDir, { recursive: true, force: true });
fs.mkdirSync(cdktnDir, { recursive: true });
for (const file of fs.readdirSync(cdktfDir)) {
  if (!/\.(js|d\.ts)$/.test(file)) continue;
  const text = fs
    .readFileSync(path.join(cdktfDir, file), 'utf8')
    .replace(/(["'])cdktf\1/g, '$1cdktn$1')
    .replace(/(["'])@cdktf\/provider-aws\//g, '$1@cdktn/provider-aws/');
  fs.writeFileSync(path.join(cdktnDir, file), text);
}

// 3. What the package leaves out must not be needed by what it ships.
for (const left of ['lib/embedded', 'lib/cli', 'lib/synthetic', 'lib/report', 'lib/explore', 'lib/parquet/write.js', 'constructs/local-deployment.js']) {
  if (fs.existsSync(path.join(dist, left))) throw new Error(`dist/${left} was compiled: something the package ships imports it`);
}
process.stdout.write(`Built dist/: constructs (cdktf), cdktn, lib, bundles:\n  ${sizes.join('\n  ')}\n`);
