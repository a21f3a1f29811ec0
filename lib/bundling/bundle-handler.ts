import * as fs from 'fs';
import * as path from 'path';
import { createHash } from 'crypto';
import type { BuildFailure, OutputFile } from 'esbuild';

/**
 * Modules the Lambda Node.js runtime already provides, or that a bundle must never contain.
 * `@aws-sdk/*`: the nodejs22.x runtime ships AWS SDK v3. `pg-native`: an optional native
 * addon `pg` tries to load; the pure JavaScript driver is what runs in Lambda.
 */
export const DEFAULT_EXTERNAL_MODULES: readonly string[] = ['@aws-sdk/*', 'pg-native'];

/** Options of {@link bundleHandler}. */
export interface BundleOptions {
  /**
   * Folder the bundle is written to. It is emptied first, so it must belong to this bundle alone.
   */
  readonly outDir: string;
  /**
   * Folder relative entries are resolved from; also esbuild's working directory, so paths recorded in
   * the source map are relative to it and the bundle is byte-identical on every machine.
   * @default the nearest folder holding a package.json at or above the entry when it is an absolute
   * path inside a package (a library's own handler is bundled within its own package, wherever synth
   * runs), else at or above the current working directory
   */
  readonly projectRoot?: string | undefined;
  /**
   * Name of the function the entry must export; checked at bundle time (for TypeScript and ES module
   * entries) so a typo fails `cdktf synth` rather than the first invocation.
   * @default 'handler'
   */
  readonly handlerExport?: string;
  /**
   * esbuild target, for example `node22`; derive it from the Lambda runtime.
   * @default 'node22'
   */
  readonly target?: string;
  /**
   * Modules left out of the bundle and loaded from the runtime at run time.
   * @default DEFAULT_EXTERNAL_MODULES
   */
  readonly externalModules?: readonly string[];
  /** @default true */
  readonly minify?: boolean;
  /**
   * Write `index.js.map` next to the bundle and link it from `index.js`. The map is a separate file
   * (not inline) so it adds nothing to the code the runtime parses at cold start; Node.js reads it only
   * when started with `--enable-source-maps`. `sourcesContent` is left out to keep it small: stack
   * traces need the mappings, not the sources.
   * @default true
   */
  readonly sourceMap?: boolean;
}

/** What {@link bundleHandler} produced. */
export interface BundleResult {
  /** Folder holding `index.js` (and `index.js.map`), ready to be zipped. */
  readonly outDir: string;
  /** Size of `index.js` in bytes: the code the runtime loads at cold start. */
  readonly bytes: number;
  /** Size of `index.js.map` in bytes, 0 without a source map. */
  readonly sourceMapBytes: number;
  /** SHA-256 (hex) over every written file, in name order: changes exactly when the bundle changes. */
  readonly sha256: string;
  /** Lambda `handler` setting for this bundle, `index.<handlerExport>`. */
  readonly handler: string;
}

/** Name of the bundled file; the Lambda handler setting is `index.<export>`. */
const BUNDLE_FILE = 'index.js';

/**
 * esbuild, loaded only when a handler is bundled from source: the library's own handlers ship
 * prebuilt, so a project that only composes its constructs needs no esbuild.
 */
function esbuild(): typeof import('esbuild') {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand; see above
    return require('esbuild') as typeof import('esbuild');
  } catch (error) {
    throw new Error(`Bundling a handler from source needs esbuild (npm install --save-dev esbuild): ${(error as Error).message}`);
  }
}

/** SHA-256 (hex) over the files of a bundle folder, in name order, and the sizes of the code and its map. */
function hashFiles(files: ReadonlyArray<{ name: string; contents: Uint8Array }>): { sha256: string; bytes: number; sourceMapBytes: number } {
  const hash = createHash('sha256');
  let bytes = 0;
  let sourceMapBytes = 0;
  for (const file of [...files].sort((a, b) => a.name.localeCompare(b.name))) {
    hash.update(file.name).update('\0').update(file.contents);
    if (file.name === BUNDLE_FILE) bytes = file.contents.length;
    else sourceMapBytes += file.contents.length;
  }
  return { sha256: hash.digest('hex'), bytes, sourceMapBytes };
}

/**
 * A bundle built earlier (the library's handlers, built with the package): the folder is used as it
 * is, hashed the way {@link bundleHandler} hashes what it writes.
 */
export function prebuiltBundle(outDir: string, handlerExport = 'handler'): BundleResult {
  const dir = path.resolve(outDir);
  if (!fs.existsSync(path.join(dir, BUNDLE_FILE))) throw new Error(`Prebuilt bundle ${dir} has no ${BUNDLE_FILE}`);
  const files = fs.readdirSync(dir).map((name) => ({ name, contents: fs.readFileSync(path.join(dir, name)) }));
  return { outDir: dir, ...hashFiles(files), handler: `index.${handlerExport}` };
}

/** The nearest folder at or above `start` that holds a package.json. */
export function findProjectRoot(start: string = process.cwd()): string {
  let dir = path.resolve(start);
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`No package.json found at or above ${start}; pass projectRoot`);
    dir = parent;
  }
}

function describeFailure(entry: string, error: unknown): Error {
  const failure = error as Partial<BuildFailure>;
  if (Array.isArray(failure.errors) && failure.errors.length > 0) {
    const lines = failure.errors.map((e) => {
      const where = e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ` : '';
      return `  ${where}${e.text}`;
    });
    return new Error(`Bundling ${entry} failed:\n${lines.join('\n')}`);
  }
  return new Error(`Bundling ${entry} failed: ${(error as Error).message ?? String(error)}`);
}

/** An absolute entry's own package, so a library's handler bundles wherever synth runs; else the working directory's. */
function defaultProjectRoot(entry: string): string {
  if (path.isAbsolute(entry)) {
    try {
      return findProjectRoot(path.dirname(entry));
    } catch {
      // An entry outside any package bundles from the working directory's project, as a relative one does.
    }
  }
  return findProjectRoot();
}

/**
 * Names the entry exports. esbuild reports exports only for ESM output, so this runs a second,
 * unminified ESM build in memory whose output is thrown away; it costs a few milliseconds.
 */
function exportedNames(entryPath: string, projectRoot: string, target: string, external: string[]): string[] {
  const result = esbuild().buildSync({
    entryPoints: [entryPath],
    absWorkingDir: projectRoot,
    bundle: true,
    platform: 'node',
    target,
    format: 'esm',
    external,
    write: false,
    metafile: true,
    outfile: path.join(projectRoot, 'exports-probe.mjs'),
    logLevel: 'silent',
  });
  const outputs = Object.values(result.metafile?.outputs ?? {});
  return outputs.flatMap((output) => output.exports ?? []);
}

/**
 * Bundles one Lambda handler file into a single minified CommonJS file with esbuild, synchronously,
 * so a construct can call it from its constructor while `cdktf synth` runs.
 *
 * Output is deterministic: the same sources give byte-identical files (paths in the source map are
 * relative to `projectRoot`), so a content hash of the folder changes only when the code does.
 */
export function bundleHandler(entry: string, options: BundleOptions): BundleResult {
  const projectRoot = path.resolve(options.projectRoot ?? defaultProjectRoot(entry));
  const entryPath = path.resolve(projectRoot, entry);
  if (!/\.(ts|mts|cts|js|mjs|cjs)$/.test(entryPath)) {
    throw new Error(`Handler entry ${entry} must be a .ts or .js file`);
  }
  if (!fs.existsSync(entryPath) || !fs.statSync(entryPath).isFile()) {
    throw new Error(`Handler entry ${entry} does not exist (resolved to ${entryPath})`);
  }
  const handlerExport = options.handlerExport ?? 'handler';
  if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(handlerExport)) {
    throw new Error(`Handler export "${handlerExport}" is not a valid JavaScript identifier`);
  }
  const target = options.target ?? 'node22';
  const external = [...(options.externalModules ?? DEFAULT_EXTERNAL_MODULES)];
  const sourceMap = options.sourceMap ?? true;

  let files: OutputFile[];
  try {
    // A CommonJS .js/.cjs entry assigns module.exports at run time, which no static analysis sees.
    const exportsAreStatic = /\.(ts|mts|cts|mjs)$/.test(entryPath);
    const exportsFound = exportsAreStatic ? exportedNames(entryPath, projectRoot, target, external) : [handlerExport];
    if (!exportsFound.includes(handlerExport)) {
      const found = exportsFound.length > 0 ? exportsFound.join(', ') : 'nothing';
      throw new Error(`Handler entry ${entry} does not export "${handlerExport}" (it exports ${found})`);
    }
    const result = esbuild().buildSync({
      entryPoints: [entryPath],
      absWorkingDir: projectRoot,
      // A virtual output path inside the project: esbuild writes nothing (write: false) but makes the
      // source map's paths relative to it, which keeps them free of machine-specific folders.
      outfile: path.join(projectRoot, BUNDLE_FILE),
      bundle: true,
      platform: 'node',
      target,
      format: 'cjs',
      minify: options.minify ?? true,
      sourcemap: sourceMap ? 'linked' : false,
      sourcesContent: false,
      external,
      write: false,
      logLevel: 'silent',
    });
    files = result.outputFiles;
  } catch (error) {
    if (error instanceof Error && error.message.startsWith(`Handler entry ${entry}`)) throw error;
    throw describeFailure(entry, error);
  }

  const outDir = path.resolve(options.outDir);
  // The folder is emptied below; refuse one that holds the sources or the project.
  const inside = (child: string, parent: string) => !path.relative(parent, child).startsWith('..');
  if (inside(entryPath, outDir) || inside(projectRoot, outDir)) {
    throw new Error(`Bundle folder ${outDir} contains the project or the handler; give a folder of its own`);
  }
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const written = files.map((file) => ({ name: path.basename(file.path), contents: file.contents }));
  for (const file of written) fs.writeFileSync(path.join(outDir, file.name), file.contents);
  return { outDir, ...hashFiles(written), handler: `index.${handlerExport}` };
}
