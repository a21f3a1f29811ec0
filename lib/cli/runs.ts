import Table from 'cli-table3';
import * as fs from 'fs';
import * as path from 'path';
import { createS3Client, S3ObjectStore } from '../aws/s3-object-store';
import type { PipelineConfig } from '../config/schema';
import { DEFAULT_PREFIXES } from '../config/schema';
import { EMBEDDED_S3_CREDENTIALS } from '../embedded/platform';
import { ObjectStoreServer } from '../embedded/object-store/server';
import { RunLedger, type StoredRunRecord } from '../ledger/run-ledger';
import { systemClock } from '../ports/clock';

/** The ledger of a local run folder, read through the same S3 code path by serving its objects/ folder. */
export async function localRunLedger(runDir: string): Promise<{ ledger: RunLedger; close(): Promise<void> }> {
  const objects = path.join(runDir, 'objects');
  const buckets = fs.existsSync(objects) ? fs.readdirSync(objects).filter((name) => !name.startsWith('.')) : [];
  const bucket = buckets.length === 1 ? buckets[0] : undefined;
  if (bucket === undefined) {
    throw new Error(`${runDir} is not a run folder of npm start: expected one bucket folder under ${objects}, found ${buckets.length}`);
  }
  const server = new ObjectStoreServer({ rootDir: objects });
  const { endpoint } = await server.start();
  const s3 = createS3Client({ bucket, region: 'us-east-1', endpoint, forcePathStyle: true, prefixes: { ...DEFAULT_PREFIXES } }, EMBEDDED_S3_CREDENTIALS);
  return { ledger: new RunLedger(new S3ObjectStore(s3, bucket), DEFAULT_PREFIXES.runs, systemClock), close: () => server.stop() };
}

/** The ledger in the configured bucket (AWS credentials from the usual chain). */
export function configuredLedger(config: PipelineConfig): RunLedger {
  return new RunLedger(new S3ObjectStore(createS3Client(config.storage), config.storage.bucket), config.storage.prefixes.runs, systemClock);
}

/** The newest runs of each stage folder in the ledger, or of the one named, newest first: as stored, whichever version wrote them. */
export async function recentRuns(ledger: RunLedger, options: { stage?: string; limit: number }): Promise<StoredRunRecord[]> {
  const stages = options.stage ? [options.stage] : await ledger.stages();
  const runs = (await Promise.all(stages.map((stage) => ledger.recentStored(stage, options.limit)))).flat();
  return runs.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

export function renderRuns(runs: StoredRunRecord[]): string {
  if (runs.length === 0) return 'No runs recorded.';
  const table = new Table({ style: { head: [], border: [] }, head: ['Stage', 'Run', 'Status', 'Started', 'Seconds', 'Outputs or reason'] });
  for (const run of runs) {
    const seconds = ((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000).toFixed(1);
    const detail = run.reason ?? JSON.stringify(run.outputs ?? {});
    table.push([run.stage, run.runId, run.status, run.startedAt, seconds, detail.length > 80 ? `${detail.slice(0, 77)}...` : detail]);
  }
  return table.toString();
}
