/**
 * `npm run bench`: speed and memory, reported in BENCHMARKS.md.
 * - `cdktf synth` of the example stack, bundling included, and the size of every function bundle;
 * - the whole pipeline on the embedded platform, each stage timed (each size in a fresh child process, so
 *   peak memory is its own; the stage functions run in child processes of theirs):
 *   npm run bench                    # synth, scoring, the pipeline at 10,000 and 100,000 users, training
 *   npm run bench -- --users 20000   # other sizes, comma-separated
 *   npm run bench -- --only synth    # one part
 * - training against scikit-learn's random forest on the same exported rows (bench/training.ts):
 *   npm run bench -- --only simulation               # 90 simulated days at 20,000 users (--days, --users, --faults <seed>)
 *   npm run bench -- --only training                 # at 20,000 and 100,000 users
 *   npm run bench -- --only training --users 20000
 * - scoring, parquet in to CSV out, at 100,000 and 1,000,000 profiles (bench/scoring.ts):
 *   npm run bench -- --only scoring --profiles 100000,1000000 --repeat 3
 * - each function's bundle, its size and its cold start (bench/bundles.ts):
 *   npm run bench -- --only bundles --repeat 7
 *   npm run bench -- --only bundles --compare before.json   # ratios against an earlier run's results
 *   npm run bench -- --only bundles --baseline ../base      # against a checkout of another commit, interleaved
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { hideSdkNodeVersionWarning } from '../lib/cli/warnings';
import type { LedgerStage } from '../lib/ledger/stage-outputs';
import { trainingBenchmark } from './training';
import type { ScoringFigures } from './scoring';

hideSdkNodeVersionWarning();

interface PipelineFigures {
  users: number;
  events: number;
  eventsPerUser: number;
  subscriberShare: number;
  /** Milliseconds per step, platform start to audience. */
  stages: Record<string, number>;
  totalMs: number;
  exportedTrainingRows: number;
  heldOutAuc: number;
  scoredProfiles: number;
  qualifiedProfiles: number | undefined;
  peakRssMb: number;
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function child(users: number): Promise<void> {
  const { runLocalPipeline } = await import('../lib/cli/local-run');
  const { synthesizeLocalDeployment } = await import('../constructs/local-deployment');
  const { silentLog } = await import('../lib/ports/logger');
  const { DEFAULT_AUDIENCE_BAND } = await import('../lib/cli/local-run');
  const runsRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'aep-bench-'));
  try {
    const result = await runLocalPipeline({
      deploy: synthesizeLocalDeployment,
      users,
      usersPerBatch: 10_000,
      seed: 42,
      runsRoot,
      log: silentLog,
      now: new Date('2026-01-01T00:00:00Z'),
      audience: DEFAULT_AUDIENCE_BAND,
    });
    const figures: PipelineFigures = {
      users,
      events: result.seed.events,
      eventsPerUser: result.exploration.eventsPerUser,
      subscriberShare: result.exploration.subscriberShare,
      stages: Object.fromEntries(result.timings.map((t) => [t.stage, t.ms])),
      totalMs: result.totalMs,
      exportedTrainingRows: result.exported.training.rows,
      heldOutAuc: result.trained.heldOut.auc,
      scoredProfiles: result.scored.rows,
      qualifiedProfiles: result.audience.qualifiedProfiles,
      // The stage functions run in child processes of their own; this is the platform's process.
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    };
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  } finally {
    fs.rmSync(runsRoot, { recursive: true, force: true });
  }
}

interface SynthFigures {
  synthSeconds: number;
  bundles: Array<{ asset: string; zippedBytes: number }>;
}

function filesNamed(dir: string, name: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesNamed(full, name) : entry.name === name ? [full] : [];
  });
}

/** The real `cdktf synth`, as a user runs it: CLI start, the app, esbuild bundling and archiving. */
function synthBenchmark(): SynthFigures {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'aep-bench-synth-'));
  try {
    const root = path.resolve(__dirname, '..');
    const started = process.hrtime.bigint();
    execFileSync(path.join(root, 'node_modules', '.bin', 'cdktf'), ['synth', '--output', out], {
      cwd: root,
      env: { ...process.env, CHECKPOINT_DISABLE: '1', CI: '1' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const synthSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const bundles = filesNamed(out, 'archive.zip').map((file) => ({
      asset: path.basename(path.dirname(path.dirname(file))).replace(/_code_[0-9A-F]+$/, ''),
      zippedBytes: fs.statSync(file).size,
    }));
    return { synthSeconds, bundles };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const only = argValue('--only');
  const machine = { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30) };
  process.stdout.write(`\nMachine: ${JSON.stringify(machine)}\n`);
  let synth: SynthFigures | undefined;
  if (!only || only === 'synth') {
    process.stderr.write('cdktf synth of the example stack ...\n');
    synth = synthBenchmark();
    process.stdout.write(
      `\ncdktf synth: ${synth.synthSeconds.toFixed(1)} s\n\n| function bundle | zipped (KB) |\n|---|---:|\n` +
        synth.bundles.map((b) => `| ${b.asset} | ${(b.zippedBytes / 1024).toFixed(0)} |`).join('\n') +
        '\n',
    );
  }
  let scoring: ScoringFigures | undefined;
  if (!only || only === 'scoring') {
    // Loaded here, not at the top: the seed children run this file and must not carry the scoring's modules.
    const { scoringBenchmark, scoringTable } = await import('./scoring');
    const profiles = (argValue('--profiles') ?? '100000,1000000').split(',').map(Number);
    scoring = await scoringBenchmark({ sizes: profiles, repeat: Number(argValue('--repeat') ?? 3) });
    process.stdout.write(`\nScoring, parquet in to CSV out:\n\n${scoringTable(scoring)}`);
  }
  if (only === 'bundles') {
    const { bundlesBenchmark, bundlesTable } = await import('./bundles');
    const bundles = await bundlesBenchmark({ repeat: Number(argValue('--repeat') ?? 7), baselineRoot: argValue('--baseline') });
    process.stdout.write(`\nFunction bundles, size and cold start (median of ${bundles.repeat}):\n\n${bundlesTable(bundles)}\n`);
    if (bundles.baseline) {
      process.stdout.write(`\nThe baseline (${bundles.baseline.root}), measured in the same rounds:\n\n${bundlesTable(bundles.baseline)}\n`);
      process.stdout.write(`\nBaseline against this tree:\n\n${bundlesTable(bundles, bundles.baseline)}\n`);
    }
    const compare = argValue('--compare');
    if (compare) {
      const before = (JSON.parse(fs.readFileSync(compare, 'utf8')) as { bundles?: typeof bundles }).bundles;
      if (!before) throw new Error(`${compare} holds no bundles results`);
      process.stdout.write(`\nAgainst ${path.basename(compare)}:\n\n${bundlesTable(bundles, before)}\n`);
    }
    writeResults({ machine, bundles });
    return;
  }
  if (only === 'simulation') {
    const { simulationBenchmark, simulationTable } = await import('./simulation');
    const faults = argValue('--faults');
    const simulation = simulationBenchmark({ days: Number(argValue('--days') ?? 90), users: Number(argValue('--users') ?? 20_000), faultSeed: faults === undefined ? undefined : Number(faults) });
    process.stdout.write(`\n${simulationTable(simulation)}`);
    writeResults({ machine, simulation });
    return;
  }
  if (only === 'training') {
    const training = trainingBenchmark((argValue('--users') ?? '20000,100000').split(',').map(Number));
    process.stdout.write(`\n${training.table}\n`);
    writeResults({ machine, training: training.results });
    return;
  }
  if (only && only !== 'seed') {
    writeResults({ machine, synth, scoring });
    return;
  }
  const sizes = (argValue('--users') ?? '10000,100000').split(',').map(Number);
  const results: PipelineFigures[] = [];
  for (const users of sizes) {
    process.stderr.write(`the whole pipeline on the embedded platform, ${users.toLocaleString('en-US')} users ...\n`);
    const output = execFileSync(process.execPath, [...process.execArgv, __filename, '--child', String(users)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 16 * 1024 * 1024,
    });
    results.push(JSON.parse(output.trim().split('\n').pop() as string) as PipelineFigures);
  }
  const seconds = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1000).toFixed(1));
  const int = (n: number | undefined) => (n === undefined ? '-' : n.toLocaleString('en-US'));
  const lines = [
    '| users | events | events/user | subscribers | platform start (s) | seed (s) | explore (s) | seed + explore (s) | peak RSS of the platform process (MB) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    // Every local run times its seed and explore stages (lib/cli/local-run.ts).
    ...results.map(
      (r) =>
        `| ${int(r.users)} | ${int(r.events)} | ${r.eventsPerUser.toFixed(2)} | ${(r.subscriberShare * 100).toFixed(1)}% | ` +
        `${seconds(r.stages.platform)} | ${seconds(r.stages.seed)} | ${seconds(r.stages.explore)} | ${seconds(r.stages.seed! + r.stages.explore!)} | ${r.peakRssMb} |`,
    ),
  ];
  const stageNames: LedgerStage[] = ['provision', 'featurize', 'export', 'train', 'score', 'ingestion-check', 'audience'];
  const stages = [
    `| users | ${stageNames.map((s) => `${s} (s)`).join(' | ')} | whole run (s) | training rows | held-out AUC | profiles scored | audience |`,
    `|---:|${stageNames.map(() => '---:').join('|')}|---:|---:|---:|---:|---:|`,
    ...results.map(
      (r) =>
        `| ${int(r.users)} | ${stageNames.map((s) => seconds(r.stages[s])).join(' | ')} | ${seconds(r.totalMs)} | ` +
        `${int(r.exportedTrainingRows)} | ${r.heldOutAuc.toFixed(4)} | ${int(r.scoredProfiles)} | ${int(r.qualifiedProfiles)} |`,
    ),
  ];
  process.stdout.write(`\n${lines.join('\n')}\n\n${stages.join('\n')}\n`);
  const training = only ? undefined : trainingBenchmark([20_000, 100_000]);
  if (training) process.stdout.write(`\n${training.table}\n`);
  writeResults({ machine, synth, scoring, pipeline: results, training: training?.results });
}

function writeResults(results: object): void {
  const outDir = path.join(__dirname, 'results');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
}

if (process.argv.includes('--child')) {
  child(Number(argValue('--child'))).catch((error) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exit(1);
  });
} else {
  main().catch((error) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exit(1);
  });
}
