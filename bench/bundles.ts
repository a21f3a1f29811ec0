/**
 * Function bundles (issue "package"), reported in BENCHMARKS.md:
 *   npm run bench -- --only bundles                          # 7 cold starts per function
 *   npm run bench -- --only bundles --repeat 11
 *   npm run bench -- --only bundles --compare before.json    # with ratios against an earlier run's results
 *   npm run bench -- --only bundles --baseline ../base        # and a checkout of an earlier commit, interleaved
 *
 * Each function of the stage registry (the provisioner and the six stages) is bundled with
 * `bundleHandler` exactly as `PipelineFunction` bundles it by default (minified, node22, the default
 * external modules, a linked source map); the size is that of `index.js`, the code the runtime loads.
 *
 * Cold start: a fresh Node.js process per run loads the bundle (`require`) and calls its handler once,
 * as the Lambda runtime does, with what the construct sets: the function's environment (the settings its
 * definition reads, the endpoints of an embedded platform this process starts) and
 * `NODE_OPTIONS=--enable-source-maps`. The platform is empty (nothing seeded or provisioned), so each
 * first invocation does the same small amount of work every time: the configuration loaded, the ports
 * built, then the stage's first calls (ledger reads in the bucket, an IMS token, the first AEP request)
 * until it finds nothing to do or fails on what is missing; the provisioner is asked to delete a plan
 * that has no resources. Timed inside the child: `require` (load) and the handler's promise settling
 * (first invocation), from the runner's first line, so Node.js's own start (the same for every bundle)
 * is left out; beside the wall clock, the CPU time the process spent on the same span. Runs go round
 * the functions in turn so a busy moment on the machine is shared; the figure is the median.
 *
 * With `--baseline <folder>` (a checkout of another commit whose node_modules resolve, e.g.
 * `git archive <commit> | tar -x -C <folder>` and a link to node_modules), its functions are bundled
 * from there and take their turns among these, so both sets see the same machine.
 */
import { fork } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bundleHandler, findProjectRoot } from '../lib/bundling/bundle-handler';
import { inScope, settingAt, type SettingPath } from '../lib/config/settings';
import { startEmbeddedPlatform } from '../lib/embedded/platform';
import { PROVISIONER, STAGE_NAMES, STAGES, type FunctionDefinition } from '../lib/stages/registry';

export interface BundleFigures {
  /** `provision` or the stage's name. */
  name: string;
  entry: string;
  /** Size of `index.js`. */
  bytes: number;
  sourceMapBytes: number;
  /** Medians over the runs, in milliseconds. */
  loadMs: number;
  invokeMs: number;
  /** Load plus first invocation, the median of their per-run sums. */
  coldStartMs: number;
  /**
   * CPU time (user and system, all of the process's threads) of the same span, median: on a shared
   * machine it varies far less than the wall clock, since waiting for a core is not counted.
   */
  coldStartCpuMs: number;
  loadCpuMs: number;
  /** How the first invocation ended, the same in every run: `ok` or the error's first line. */
  outcome: string;
  runs: Array<{ loadMs: number; invokeMs: number; loadCpuMs: number; cpuMs: number }>;
}

export interface BundlesFigures {
  repeat: number;
  loadAverage: { before: number; after: number };
  functions: BundleFigures[];
  /** The same functions bundled from the baseline folder, measured in the same rounds. */
  baseline?: { root: string; functions: BundleFigures[] };
}

/** Values of the settings the constructs set for the platform's resources, given to each function that reads them; the platform provides the rest. */
const SETTING_VALUES: Partial<Record<SettingPath, string>> = {
  'datasets.events': 'benchEventsDataset',
  'datasets.scores': 'benchScoresDataset',
  'export.roleArn': 'arn:aws:iam::000000000000:role/bench-aep-access',
  'audience.low': '0.8',
  'audience.high': '1',
  'audience.name': 'bench audience',
};

/** The provisioner's event: delete a plan none of whose resources exist. */
const PROVISIONER_EVENT = { namePrefix: 'bench', scores: { retainDatasetOnDestroy: false }, tf: { action: 'delete', prev_input: null } };

// Loads the bundle as the Lambda runtime does, calls the handler once, and reports both times over IPC.
const RUNNER = `'use strict';
const { performance } = require('perf_hooks');
process.once('message', ({ bundle, event, context }) => {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const handler = require(bundle).handler;
  const loaded = performance.now();
  const loadCpu = process.cpuUsage(cpu);
  const report = (outcome) => {
    const settled = performance.now();
    const used = process.cpuUsage(cpu);
    const ms = (usage) => (usage.user + usage.system) / 1000;
    process.send({ loadMs: loaded - started, invokeMs: settled - loaded, loadCpuMs: ms(loadCpu), cpuMs: ms(used), outcome }, () => process.exit(0));
  };
  Promise.resolve()
    .then(() => handler(event, context))
    .then(
      () => report('ok'),
      (error) => report(String(error && error.message ? error.name + ': ' + error.message : error).replace(/\\s*\\(request id [^)]*\\)/g, '').replace(/\\s*\\n\\s*/g, ' ').slice(0, 200)),
    );
});
`;

interface Target {
  name: string;
  definition: FunctionDefinition;
  event: unknown;
}

interface Bundled extends Target {
  /** `name`, or `baseline/<name>` for the baseline's bundle. */
  key: string;
  bundle: ReturnType<typeof bundleHandler>;
}

function targets(): Target[] {
  return [
    { name: 'provision', definition: PROVISIONER, event: PROVISIONER_EVENT },
    ...STAGE_NAMES.map((name) => ({ name, definition: STAGES[name], event: { stage: name } })),
  ];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  // mid < length: callers pass at least one value.
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

type Run = BundleFigures['runs'][number] & { outcome: string };

function coldStart(runner: string, bundleDir: string, env: Record<string, string>, event: unknown, name: string, logFile: string): Promise<Run> {
  const log = fs.openSync(logFile, 'a');
  const child = fork(runner, [], { cwd: bundleDir, env, stdio: ['ignore', log, log, 'ipc'] });
  return new Promise((resolve, reject) => {
    let answered = false;
    child.once('message', (message: Run) => {
      answered = true;
      resolve(message);
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      fs.closeSync(log);
      if (!answered) reject(new Error(`The ${name} bundle exited with code ${code} before answering; see ${logFile}`));
    });
    const context = { awsRequestId: `bench-${name}`, functionName: name, functionVersion: '$LATEST', memoryLimitInMB: '512' };
    child.send({ bundle: path.join(bundleDir, 'index.js'), event, context });
  });
}

export async function bundlesBenchmark(options: { repeat: number; baselineRoot?: string | undefined }): Promise<BundlesFigures> {
  const root = findProjectRoot(__dirname);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'aep-bench-bundles-'));
  const loadBefore = os.loadavg()[0] ?? 0;
  try {
    const bundleAll = (projectRoot: string, prefix: string): Bundled[] =>
      targets().map((target) => {
        const key = `${prefix}${target.name}`;
        return { ...target, key, bundle: bundleHandler(target.definition.entry, { outDir: path.join(work, 'bundles', key), projectRoot }) };
      });
    const current = bundleAll(root, '');
    const baseline = options.baselineRoot ? bundleAll(path.resolve(options.baselineRoot), 'baseline/') : [];
    // Each function's baseline right before it, so the two meet the same moment of the machine.
    const bundled = current.flatMap((target, i) => (baseline[i] ? [baseline[i], target] : [target]));
    const runner = path.join(work, 'runner.js');
    fs.writeFileSync(runner, RUNNER);
    const platform = await startEmbeddedPlatform({ dataDir: path.join(work, 'platform') });
    const runs = new Map<string, Run[]>();
    try {
      const envOf = (target: Target): Record<string, string> => {
        const settings = Object.entries(SETTING_VALUES).filter(([p]) => inScope(p, target.definition.settings));
        const values = Object.fromEntries(settings.map(([p, value]) => [settingAt(p as SettingPath).variable, value]));
        return {
          PATH: process.env.PATH ?? '',
          ...platform.env,
          ...values,
          PIPELINE_POLL_INTERVAL_MS: '100',
          AWS_LAMBDA_FUNCTION_NAME: target.name,
          AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(target.definition.memorySize),
          AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
          // The AWS SDK from the project's node_modules, as the runtime provides its own.
          NODE_PATH: path.join(root, 'node_modules'),
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          // What PipelineFunction sets with its default source map.
          NODE_OPTIONS: '--enable-source-maps',
        };
      };
      // One unmeasured round first: the first process to read each file pays for the disk cache.
      for (let round = -1; round < options.repeat; round++) {
        for (const target of bundled) {
          const result = await coldStart(runner, target.bundle.outDir, envOf(target), target.event, target.name, path.join(work, `${target.key.replace('/', '-')}.log`));
          if (round < 0) continue;
          runs.set(target.key, [...(runs.get(target.key) ?? []), result]);
        }
        process.stderr.write(round < 0 ? 'bundles: warm-up round done\n' : `bundles: round ${round + 1} of ${options.repeat} done\n`);
      }
    } finally {
      await platform.stop();
    }
    const figuresOf = (target: Bundled): BundleFigures => {
      const own = runs.get(target.key) ?? [];
      const outcomes = [...new Set(own.map((r) => r.outcome))];
      return {
        name: target.name,
        entry: target.definition.entry,
        bytes: target.bundle.bytes,
        sourceMapBytes: target.bundle.sourceMapBytes,
        loadMs: median(own.map((r) => r.loadMs)),
        invokeMs: median(own.map((r) => r.invokeMs)),
        coldStartMs: median(own.map((r) => r.loadMs + r.invokeMs)),
        coldStartCpuMs: median(own.map((r) => r.cpuMs)),
        loadCpuMs: median(own.map((r) => r.loadCpuMs)),
        outcome: outcomes.join(' | '),
        runs: own.map(({ loadMs, invokeMs, loadCpuMs, cpuMs }) => ({ loadMs, invokeMs, loadCpuMs, cpuMs })),
      };
    };
    return {
      repeat: options.repeat,
      loadAverage: { before: loadBefore, after: os.loadavg()[0] ?? 0 },
      functions: current.map(figuresOf),
      ...(options.baselineRoot ? { baseline: { root: options.baselineRoot, functions: baseline.map(figuresOf) } } : {}),
    };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

const kb = (bytes: number) => (bytes / 1024).toFixed(1);
// Results written before a figure existed lack it.
const ms = (value: number | undefined) => (value === undefined ? '-' : value.toFixed(0));

/** The figures as a Markdown table; with `before`, each function's size and cold start beside the earlier run's, and their ratios. */
export function bundlesTable(figures: Pick<BundlesFigures, 'functions'>, before?: Pick<BundlesFigures, 'functions'>): string {
  if (!before) {
    return [
      '| function | bundle (KB) | source map (KB) | load (ms) | first invocation (ms) | cold start (ms) | load, CPU (ms) | cold start, CPU (ms) | first invocation ended |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---|',
      ...figures.functions.map(
        (f) =>
          `| ${f.name} | ${kb(f.bytes)} | ${kb(f.sourceMapBytes)} | ${ms(f.loadMs)} | ${ms(f.invokeMs)} | ${ms(f.coldStartMs)} | ` +
          `${ms(f.loadCpuMs)} | ${ms(f.coldStartCpuMs)} | ${f.outcome} |`,
      ),
    ].join('\n');
  }
  const earlier = new Map(before.functions.map((f) => [f.name, f]));
  return [
    '| function | bundle before (KB) | bundle after (KB) | after / before | cold start before (ms) | cold start after (ms) | after / before | cold start CPU before (ms) | cold start CPU after (ms) | after / before |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...figures.functions.map((f) => {
      const b = earlier.get(f.name);
      if (!b) return `| ${f.name} | - | ${kb(f.bytes)} | - | - | ${ms(f.coldStartMs)} | - | - | ${ms(f.coldStartCpuMs)} | - |`;
      const ratio = (after: number | undefined, before: number | undefined) => (after === undefined || before === undefined ? '-' : (after / before).toFixed(2));
      return (
        `| ${f.name} | ${kb(b.bytes)} | ${kb(f.bytes)} | ${ratio(f.bytes, b.bytes)} | ${ms(b.coldStartMs)} | ${ms(f.coldStartMs)} | ${ratio(f.coldStartMs, b.coldStartMs)} | ` +
        `${ms(b.coldStartCpuMs)} | ${ms(f.coldStartCpuMs)} | ${ratio(f.coldStartCpuMs, b.coldStartCpuMs)} |`
      );
    }),
  ].join('\n');
}
