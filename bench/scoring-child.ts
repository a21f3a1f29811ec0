/**
 * One run of the score stage for bench/scoring.ts, which bundles this file as a Lambda handler is bundled
 * (esbuild, the AWS SDK left to the runtime) and runs it in a fresh process against the object store the
 * parent serves: the process's peak memory is the scoring's own, with nothing of ts-node or the parent.
 * Credentials come from the environment, as in Lambda.
 */
import { createS3Client, S3ObjectStore } from '../lib/aws/s3-object-store';
import { DEFAULT_PREFIXES } from '../lib/config/schema';
import { RunLedger } from '../lib/ledger/run-ledger';
import { systemClock } from '../lib/ports/clock';
import { silentLog } from '../lib/ports/logger';
import { scoreProfiles } from '../lib/stages/score';

export interface ScoringTask {
  endpoint: string;
  bucket: string;
  runsPrefix: string;
  modelName: string;
  scoresDatasetId: string;
}

export interface ScoringRunFigures {
  profiles: number;
  seconds: number;
  profilesPerSecond: number;
  /** The process's maximum resident set size. */
  peakRssMb: number;
  /** Sampled every 5 ms while scoring. */
  peakHeapUsedMb: number;
  /** Memory outside the JS heap (buffers), sampled likewise. */
  peakArrayBuffersMb: number;
  csvFiles: number;
}

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

export async function handler(task: ScoringTask): Promise<ScoringRunFigures> {
  const storage = { bucket: task.bucket, region: 'us-east-1', endpoint: task.endpoint, forcePathStyle: true, prefixes: { ...DEFAULT_PREFIXES } };
  const store = new S3ObjectStore(createS3Client(storage), task.bucket);
  const ledger = new RunLedger(store, task.runsPrefix, systemClock);
  // The SDK's first request sets up the client (credential chain, modules loaded on first use), once per
  // Lambda container: it happens before the clock starts.
  await store.head(`${task.runsPrefix}warm-up`);
  let peakHeap = 0;
  let peakArrayBuffers = 0;
  const sample = () => {
    const usage = process.memoryUsage();
    peakHeap = Math.max(peakHeap, usage.heapUsed);
    peakArrayBuffers = Math.max(peakArrayBuffers, usage.arrayBuffers);
  };
  const sampler = setInterval(sample, 5);
  const started = process.hrtime.bigint();
  const run = await scoreProfiles(
    { store, ledger, clock: systemClock, log: silentLog },
    { ingressPrefix: DEFAULT_PREFIXES.ingress, modelsPrefix: DEFAULT_PREFIXES.models, modelName: task.modelName, scoresDatasetId: task.scoresDatasetId },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  clearInterval(sampler);
  sample();
  if (run.status !== 'succeeded') throw new Error(`The score run did not succeed: ${run.reason ?? run.status}`);
  const { outputs } = run;
  return {
    profiles: outputs.rows,
    seconds,
    profilesPerSecond: Math.round(outputs.rows / seconds),
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    peakHeapUsedMb: mb(peakHeap),
    peakArrayBuffersMb: mb(peakArrayBuffers),
    csvFiles: outputs.files.length,
  };
}

if (require.main === module) {
  const task = process.argv[2];
  if (task === undefined) throw new Error('scoring-child: pass the task, as JSON, as the first argument');
  handler(JSON.parse(task) as ScoringTask).then(
    (figures) => process.stdout.write(`${JSON.stringify(figures)}\n`),
    (error) => {
      process.stderr.write(`${(error as Error).stack}\n`);
      process.exit(1);
    },
  );
}
