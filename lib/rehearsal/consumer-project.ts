import { execFile, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** What `npm pack` reports of the tarball. */
export interface PackedLibrary {
  filename: string;
  /** The tarball's absolute path. */
  file: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: Array<{ path: string }>;
}

/** A user's project compiled under these settings: the strictest a consumer may choose. */
export const STRICT_TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'commonjs',
    moduleResolution: 'node',
    lib: ['ES2022'],
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    noImplicitOverride: true,
    skipLibCheck: true,
    outDir: 'dist',
    types: ['node'],
  },
  include: ['main.ts'],
};

/** Runs a command; a failure names `what` and carries the command's output. */
export function runCommand(command: string, args: string[], cwd: string, what: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CHECKPOINT_DISABLE: '1', ...env }, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${what} failed: ${failure.message}\n${failure.stdout ?? ''}${failure.stderr ?? ''}`);
  }
}

/**
 * `runCommand` without blocking the event loop: for commands that call back into servers of this
 * process (the rehearsal's Terraform calls its Lambda front).
 */
export function runCommandAsync(command: string, args: string[], cwd: string, what: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, encoding: 'utf8', env: { ...process.env, CHECKPOINT_DISABLE: '1', ...env }, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${what} failed: ${error.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Builds the library and packs it into `destination`, as `npm publish` would. */
export function packLibrary(root: string, destination: string): PackedLibrary {
  runCommand('npm', ['run', 'build'], root, 'npm run build');
  // prepack builds too; it has just run, and its output would mix with the JSON.
  const packed = JSON.parse(runCommand('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', destination], root, 'npm pack')) as Array<Omit<PackedLibrary, 'file'>>;
  const tarball = packed[0];
  if (!tarball) throw new Error('npm pack reported no tarball');
  return { ...tarball, file: path.join(destination, tarball.filename) };
}

/** A fresh project in `dir` that installs the packed library and `dependencies`, with `main.ts` as its source. */
export function createConsumerProject(dir: string, tarball: string, dependencies: Record<string, string>, mainSource: string, devDependencies: Record<string, string> = {}): void {
  fs.mkdirSync(dir, { recursive: true });
  const packageJson = {
    name: `consumer-${path.basename(dir)}`,
    private: true,
    dependencies: { 'aep-feature-pipelines': `file:${tarball}`, ...dependencies },
    devDependencies: { typescript: '~5.9', '@types/node': '^20', ...devDependencies },
  };
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(packageJson, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), `${JSON.stringify(STRICT_TSCONFIG, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, 'main.ts'), mainSource);
  runCommand('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], dir, `${path.basename(dir)}: npm install`);
}
