/**
 * Scoring throughput and peak memory (issue "train-score"), reported in BENCHMARKS.md:
 *   npm run bench -- --only scoring                 # 100,000 and 1,000,000 profiles, 3 runs each
 *   npm run bench -- --only scoring --profiles 200000 --repeat 1
 *   npx ts-node --transpile-only bench/scoring.ts   # the same, on its own
 *
 * The parent starts the embedded platform's object store and fills it: scoring parquet shaped like the
 * week-2 export (its columns and types, gzip, row groups of 10,000, part files of 500,000 rows), a
 * production model trained with the train stage's tree settings (TRAINING_GBT_PARAMS) on 50,000 labelled rows, and the export's
 * ledger record. Each run of the score stage then happens in a fresh process running
 * bench/scoring-child.ts bundled as a Lambda handler is, talking to that store over HTTP as a Lambda talks
 * to S3: its peak RSS and heap are the scoring's own, so 1,000,000 profiles compare with 100,000 like for
 * like. Timed: `scoreProfiles` from start to recorded run, parquet in to CSV out, publishing included.
 */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bundleHandler } from '../lib/bundling/bundle-handler';
import { createS3Client, S3ObjectStore } from '../lib/aws/s3-object-store';
import { DEFAULT_PREFIXES } from '../lib/config/schema';
import { EMBEDDED_S3_CREDENTIALS } from '../lib/embedded/platform';
import { ObjectStoreServer } from '../lib/embedded/object-store/server';
import { newRunId, RunLedger } from '../lib/ledger/run-ledger';
import { predictRow } from '../lib/model/gbt';
import { GbtBatchScorer } from '../lib/model/gbt-scorer';
import { systemClock } from '../lib/ports/clock';
import type { ExportOutputs } from '../lib/stages/export';
import type { ScoringRunFigures, ScoringTask } from './scoring-child';
import { profileFeatures, promoteModel, scoringParquet, scoringProfiles, trainingModel } from '../test/helpers/scoring-data';
import { TRAINING_GBT_PARAMS } from '../lib/stages/train';

const BUCKET = 'scoring-bench';
const MODEL = 'bench_model';
/** As the embedded dataset export writes them. */
const EXPORT_ROWS_PER_FILE = 500_000;

export interface ScoringFigures {
  /** The machine's 1-minute load average before and after: the machine may be shared. */
  loadAverage: { before: number; after: number };
  model: { trees: number; maxDepth: number; features: number; trainingRows: number };
  /** Prediction alone on the same rows in memory: predictRow row by row versus the batch scorer. */
  predictionOnly: { rows: number; predictRowPerSecond: number; batchScorerPerSecond: number };
  runs: ScoringRunFigures[];
}

/** Runs the bundled child once; its figures are the last line of its output. */
function runChild(bundle: string, task: ScoringTask): Promise<ScoringRunFigures> {
  return new Promise((resolve, reject) => {
    // Asynchronous: this process serves the object store the child reads and writes.
    const env = { ...process.env, AWS_ACCESS_KEY_ID: EMBEDDED_S3_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: EMBEDDED_S3_CREDENTIALS.secretAccessKey };
    execFile(process.execPath, [bundle, JSON.stringify(task)], { env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`Scoring child failed: ${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop() as string) as ScoringRunFigures);
    });
  });
}

/** Export-shaped parquet for `profiles` profiles, part files of EXPORT_ROWS_PER_FILE rows; returns the keys. */
async function writeScoringSet(store: S3ObjectStore, folder: string, profiles: number): Promise<string[]> {
  const keys: string[] = [];
  for (let from = 0, part = 0; from < profiles; from += EXPORT_ROWS_PER_FILE, part++) {
    const key = `${folder}part-${String(part).padStart(5, '0')}-bench.parquet`;
    await store.put(key, await scoringParquet(scoringProfiles(from, Math.min(EXPORT_ROWS_PER_FILE, profiles - from))));
    keys.push(key);
  }
  return keys;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted[Math.floor(sorted.length / 2)];
  if (middle === undefined) throw new Error('median: no values');
  return middle;
}

/** Builds the data, then scores each size `repeat` times, each in a fresh child. */
export async function scoringBenchmark(options: { sizes: number[]; repeat: number; log?: (line: string) => void }): Promise<ScoringFigures> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const loadBefore = os.loadavg()[0]!; // loadavg gives the 1, 5 and 15-minute averages
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aep-bench-scoring-'));
  const server = new ObjectStoreServer({ rootDir: dir });
  // Inside the project, so the bundle finds the AWS SDK in node_modules as a Lambda finds it in the runtime.
  const bundleDir = path.join(__dirname, 'results', 'scoring-child');
  try {
    const bundle = path.join(bundleHandler('bench/scoring-child.ts', { outDir: bundleDir, projectRoot: path.resolve(__dirname, '..'), target: 'node20' }).outDir, 'index.js');
    const { endpoint } = await server.start();
    const storage = { bucket: BUCKET, region: 'us-east-1', endpoint, forcePathStyle: true, prefixes: { ...DEFAULT_PREFIXES } };
    const s3 = createS3Client(storage, EMBEDDED_S3_CREDENTIALS);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const store = new S3ObjectStore(s3, BUCKET);

    log('scoring: training the production model (the train stage\'s tree settings, 50,000 rows) ...');
    const model = trainingModel(50_000, { ...TRAINING_GBT_PARAMS });
    await promoteModel(store, MODEL, 'v1', model);

    const predictionRows = 100_000;
    const columns = model.featureNames.map(() => new Float64Array(predictionRows));
    let i = 0;
    for (const profile of scoringProfiles(0, predictionRows, 99)) {
      // One feature value, and one column, per feature name.
      profileFeatures(profile, model.featureNames).forEach((value, f) => (columns[f]![i] = value ?? NaN));
      i++;
    }
    // Each way once over the first 10,000 rows to warm up, then timed over all of them.
    const row = new Float64Array(model.featureNames.length);
    const byRow = (rows: number) => {
      let sum = 0;
      for (let r = 0; r < rows; r++) {
        for (let f = 0; f < row.length; f++) row[f] = columns[f]![r]!; // a column per feature, predictionRows long
        sum += predictRow(model, row);
      }
      return sum;
    };
    const scorer = new GbtBatchScorer(model);
    const out = new Float64Array(10_000);
    const batched = (rows: number) => {
      let sum = 0;
      for (let start = 0; start < rows; start += 10_000) {
        scorer.predict(columns.map((c) => c.subarray(start, start + 10_000)), 10_000, out);
        sum += out[0]!; // out holds 10,000 predictions
      }
      return sum;
    };
    const seconds = (work: () => unknown) => {
      const started = process.hrtime.bigint();
      work();
      return Number(process.hrtime.bigint() - started) / 1e9;
    };
    byRow(10_000);
    batched(10_000);
    const predictRowSeconds = seconds(() => byRow(predictionRows));
    const batchSeconds = seconds(() => batched(predictionRows));

    const runs: ScoringRunFigures[] = [];
    for (const size of options.sizes) {
      log(`scoring: writing ${size.toLocaleString('en-US')} export-shaped profiles ...`);
      const folder = `egress/scoringds${size}/exportTime=20260301120000/`;
      const files = await writeScoringSet(store, folder, size);
      const sizeRuns: ScoringRunFigures[] = [];
      for (let attempt = 0; attempt < options.repeat; attempt++) {
        // Each run scores its own export record, so it is never "already scored".
        const runsPrefix = `runs-${size}-${attempt}/`;
        const at = new Date();
        const scoring = { datasetId: `scoringds${size}`, folder, rows: size, files };
        const outputs: ExportOutputs = { featurizeRunId: newRunId(at), flowId: 'bench', training: { ...scoring, files: [] }, scoring };
        await new RunLedger(store, runsPrefix, systemClock).record({
          stage: 'export',
          runId: newRunId(at),
          startedAt: at.toISOString(),
          finishedAt: at.toISOString(),
          status: 'succeeded',
          outputs,
        });
        const run = await runChild(bundle, { endpoint, bucket: BUCKET, runsPrefix, modelName: MODEL, scoresDatasetId: `scores${size}x${attempt}` });
        log(
          `scoring: ${size.toLocaleString('en-US')} profiles, run ${attempt + 1} of ${options.repeat}: ${run.profilesPerSecond.toLocaleString('en-US')}/s, ` +
            `peak RSS ${run.peakRssMb} MB, heap ${run.peakHeapUsedMb} MB, buffers ${run.peakArrayBuffersMb} MB`,
        );
        sizeRuns.push(run);
      }
      // Throughput: the median run; memory: the highest peak seen.
      const typical = sizeRuns.find((r) => r.profilesPerSecond === median(sizeRuns.map((s) => s.profilesPerSecond))) as ScoringRunFigures;
      runs.push({
        ...typical,
        peakRssMb: Math.max(...sizeRuns.map((r) => r.peakRssMb)),
        peakHeapUsedMb: Math.max(...sizeRuns.map((r) => r.peakHeapUsedMb)),
        peakArrayBuffersMb: Math.max(...sizeRuns.map((r) => r.peakArrayBuffersMb)),
      });
    }
    return {
      loadAverage: { before: Math.round(loadBefore * 10) / 10, after: Math.round(os.loadavg()[0]! * 10) / 10 },
      model: {
        trees: model.trees.length,
        maxDepth: model.params.maxDepth,
        features: model.featureNames.length,
        trainingRows: model.trainingRows,
      },
      predictionOnly: {
        rows: predictionRows,
        predictRowPerSecond: Math.round(predictionRows / predictRowSeconds),
        batchScorerPerSecond: Math.round(predictionRows / batchSeconds),
      },
      runs,
    };
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(bundleDir, { recursive: true, force: true });
  }
}

/** The BENCHMARKS.md table. */
export function scoringTable(figures: ScoringFigures): string {
  const [first, ...others] = figures.runs;
  const lines = [
    '| profiles | CSV files | time (s) | profiles/s | peak RSS (MB) | peak heap used (MB) | peak buffers (MB) |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...figures.runs.map(
      (r) =>
        `| ${r.profiles.toLocaleString('en-US')} | ${r.csvFiles} | ${r.seconds.toFixed(2)} | ${r.profilesPerSecond.toLocaleString('en-US')} | ` +
        `${r.peakRssMb} | ${r.peakHeapUsedMb} | ${r.peakArrayBuffersMb} |`,
    ),
  ];
  const ratios = others.map((r) => `${r.profiles.toLocaleString('en-US')} vs ${first!.profiles.toLocaleString('en-US')}: peak RSS x${(r.peakRssMb / first!.peakRssMb).toFixed(2)}`); // others follow a first
  const p = figures.predictionOnly;
  return (
    `${lines.join('\n')}\n\n${ratios.join('; ')}; 1-minute load average ${figures.loadAverage.before} before, ${figures.loadAverage.after} after.\n\n` +
    `Model: ${figures.model.trees} trees of depth ${figures.model.maxDepth}, ${figures.model.features} features, trained on ${figures.model.trainingRows.toLocaleString('en-US')} rows. ` +
    `Prediction alone on ${p.rows.toLocaleString('en-US')} rows in memory: predictRow ${p.predictRowPerSecond.toLocaleString('en-US')}/s, batch scorer ${p.batchScorerPerSecond.toLocaleString('en-US')}/s.\n`
  );
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (require.main === module) {
  const sizes = (argValue('--profiles') ?? '100000,1000000').split(',').map(Number);
  scoringBenchmark({ sizes, repeat: Number(argValue('--repeat') ?? 3) })
    .then((figures) => process.stdout.write(`\n${scoringTable(figures)}`))
    .catch((error) => {
      process.stderr.write(`${(error as Error).stack}\n`);
      process.exit(1);
    });
}
