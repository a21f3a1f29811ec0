import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { createS3Client, S3ObjectStore } from '../../lib/aws/s3-object-store';
import { DEFAULT_PREFIXES } from '../../lib/config/schema';
import { EMBEDDED_S3_CREDENTIALS } from '../../lib/embedded/platform';
import { ObjectStoreServer } from '../../lib/embedded/object-store/server';
import { newRunId, RunLedger, type RunRecord } from '../../lib/ledger/run-ledger';
import { LEDGER_STAGES } from '../../lib/ledger/stage-outputs';
import { interceptedStore } from '../helpers/object-store';
import { recordingClock } from '../helpers/recording-clock';

/** The ledger's mechanics on stages of the tests' own, each with its outputs, like LedgerOutputs for the pipeline. */
interface TestOutputs {
  featurize: { datasetId: string };
  identity: { folder: string };
  export: object;
  score: { i?: number };
  newest: { n: number };
  'never-ran': object;
  audience: { n: number };
}

let dir: string;
let server: ObjectStoreServer;
let store: S3ObjectStore;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-'));
  server = new ObjectStoreServer({ rootDir: dir });
  const { endpoint } = await server.start();
  const s3 = createS3Client({ bucket: 'ledger-bucket', region: 'us-east-1', endpoint, forcePathStyle: true, prefixes: { ...DEFAULT_PREFIXES } }, EMBEDDED_S3_CREDENTIALS);
  await s3.send(new CreateBucketCommand({ Bucket: 'ledger-bucket' }));
  store = new S3ObjectStore(s3, 'ledger-bucket');
});
afterAll(async () => {
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('records a successful run with its outputs under runs/<stage>/', async () => {
  const clock = recordingClock();
  const ledger = new RunLedger<TestOutputs>(store, 'runs/', clock);
  const run = await ledger.run('featurize', async () => {
    await clock.sleep(1500);
    return { inputs: { snapshot: 7 }, outputs: { datasetId: 'abc' } };
  });
  expect(run).toMatchObject({ stage: 'featurize', status: 'succeeded', inputs: { snapshot: 7 }, outputs: { datasetId: 'abc' } });
  expect(Date.parse(run.finishedAt) - Date.parse(run.startedAt)).toBe(1500);
  const file = path.join(dir, 'ledger-bucket', 'runs', 'featurize', `${run.runId}.json`);
  expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(run);
});

it('tells the work its run id, the one the record carries', async () => {
  const ledger = new RunLedger<TestOutputs>(store, 'runs/', recordingClock());
  let seen: { runId: string; startedAt: string } | undefined;
  const run = await ledger.run('identity', async (identity) => {
    seen = identity;
    return { outputs: { folder: `staging/${identity.runId}/` } };
  });
  expect(seen).toEqual({ runId: run.runId, startedAt: run.startedAt });
  expect(run.outputs).toEqual({ folder: `staging/${run.runId}/` });
});

it('records a failed run with the reason, and rethrows', async () => {
  const ledger = new RunLedger<TestOutputs>(store, 'runs/', recordingClock());
  await expect(ledger.run('export', async () => Promise.reject(new Error('flow not ready')))).rejects.toThrow('flow not ready');
  const [latest] = await ledger.recent('export', 1);
  expect(latest).toMatchObject({ stage: 'export', status: 'failed', reason: 'flow not ready' });
});

it('lists the newest runs first, up to the limit, and the stages that ran', async () => {
  const clock = recordingClock(Date.parse('2026-05-01T00:00:00Z'));
  const ledger = new RunLedger<TestOutputs>(store, 'runs/', clock);
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    await clock.sleep(60_000);
    ids.push((await ledger.run('score', async () => ({ outputs: { i } }))).runId);
  }
  const recent = await ledger.recent('score', 3);
  expect(recent.map((r) => r.runId)).toEqual([ids[3], ids[2], ids[1]]);
  expect(await ledger.stages()).toEqual(expect.arrayContaining(['export', 'featurize', 'score']));
});

it('finds the newest matching run behind runs it does not take', async () => {
  const clock = recordingClock(Date.parse('2026-06-01T00:00:00Z'));
  const ledger = new RunLedger<TestOutputs>(store, 'runs/', clock);
  const older = await ledger.run('newest', async () => ({ outputs: { n: 1 } }));
  await clock.sleep(1000);
  const wanted = await ledger.run('newest', async () => ({ outputs: { n: 2 } }));
  for (let i = 0; i < 7; i++) {
    await clock.sleep(1000);
    await ledger.run('newest', async () => ({ status: 'skipped', reason: 'nothing new' }));
  }
  expect((await ledger.newest('newest', (r) => r.status === 'succeeded'))?.runId).toBe(wanted.runId);
  expect((await ledger.newest('newest', (r) => r.outputs?.n === 1))?.runId).toBe(older.runId);
  expect(await ledger.newest('newest', (r) => r.status === 'failed')).toBeUndefined();
  expect(await ledger.newest('never-ran', () => true)).toBeUndefined();
});

it('reads only the runs recorded after a given run, newest first', async () => {
  const clock = recordingClock(Date.parse('2026-07-01T00:00:00Z'));
  const ledger = new RunLedger<TestOutputs>(store, 'runs-after/', clock);
  const before = await ledger.run('audience', async () => ({ outputs: { n: 0 } }));
  await clock.sleep(1000);
  const pivot = await ledger.run('score', async () => ({ outputs: {} }));
  const later: string[] = [];
  for (let i = 1; i <= 3; i++) {
    await clock.sleep(1000);
    later.push((await ledger.run('audience', async () => ({ outputs: { n: i } }))).runId);
  }
  expect((await ledger.after('audience', pivot.runId)).map((r) => r.runId)).toEqual(later.reverse());
  expect((await ledger.after('audience', later[0]!)).length).toBe(0); // three runs, the newest first
  expect((await ledger.after('audience', '')).map((r) => r.runId)).toContain(before.runId);
});

it('reads one record at a time, newest first, up to the one taken; oldest first after a run; the newest after a run up to a limit', async () => {
  const clock = recordingClock(Date.parse('2026-08-01T00:00:00Z'));
  let gets = 0;
  const counted = interceptedStore(store, { beforeCall: (call) => void (call === 'get' && (gets += 1)) });
  const ledger = new RunLedger<TestOutputs>(counted, 'runs-one-at-a-time/', clock);
  const ids: string[] = [];
  for (let n = 0; n < 30; n++) {
    await clock.sleep(1000);
    ids.push((await ledger.run('newest', async () => ({ outputs: { n } }))).runId);
  }
  const reads = async <T>(lookup: () => Promise<T>): Promise<{ result: T; gets: number }> => {
    gets = 0;
    const result = await lookup();
    return { result, gets };
  };
  expect(await reads(async () => (await ledger.newest('newest', (r) => (r.outputs?.n ?? 0) <= 27))?.runId)).toEqual({ result: ids[27], gets: 3 });
  expect(await reads(async () => (await ledger.newest('newest', () => true, { after: ids[29]! }))?.runId)).toEqual({ result: undefined, gets: 0 });
  expect(await reads(async () => (await ledger.oldestAfter('newest', ids[4]!, (r) => (r.outputs?.n ?? 0) >= 6))?.runId)).toEqual({ result: ids[6], gets: 2 });
  expect(await reads(async () => (await ledger.after('newest', ids[10]!, 3)).map((r) => r.runId))).toEqual({ result: [ids[29], ids[28], ids[27]], gets: 3 });
  expect(await reads(() => ledger.runIds('newest', 2))).toEqual({ result: [ids[29], ids[28]], gets: 0 });
});

it('lists only recent runs to find the newest, further back only when none of them is taken', async () => {
  const now = Date.parse('2026-06-01T00:00:00Z');
  const hourly = new RunLedger<TestOutputs>(store, 'runs-lookback/', recordingClock(now));
  // 60 days of an hourly stage's records, the oldest the only success.
  const HOUR_MS = 3_600_000;
  for (let hour = 60 * 24; hour >= 1; hour--) {
    const at = new Date(now - hour * HOUR_MS);
    const runId = newRunId(at);
    const base = { stage: 'newest' as const, runId, startedAt: at.toISOString(), finishedAt: at.toISOString() };
    await hourly.record(hour === 60 * 24 ? { ...base, status: 'succeeded', outputs: { n: 0 } } : { ...base, status: 'skipped', outputs: { n: hour } });
  }
  const listed: string[] = [];
  const intercepted = interceptedStore(store, {});
  const listing = {
    ...intercepted,
    async *list(prefix: string, options?: { startAfter?: string | undefined }) {
      for await (const object of intercepted.list(prefix, options)) {
        listed.push(object.key);
        yield object;
      }
    },
  };
  const watched = new RunLedger<TestOutputs>(listing, 'runs-lookback/', recordingClock(now));
  // The newest skipped run is an hour old: only the last two days are listed.
  expect((await watched.newest('newest', (r) => r.status === 'skipped'))?.outputs?.n).toBe(1);
  expect(listed.length).toBeLessThanOrEqual(2 * 24 + 1);
  // The one success is 60 days old: found all the same, each record read once on the way.
  listed.length = 0;
  expect((await watched.newest('newest', (r) => r.status === 'succeeded'))?.outputs?.n).toBe(0);
  expect(listed.filter((key) => key.endsWith('.json')).length).toBeGreaterThanOrEqual(60 * 24);
});

it('refuses a stage name that could escape its prefix', async () => {
  // Names from outside the code (the runs command's --stage) are checked when the ledger is used.
  const ledger = new RunLedger<Record<string, object>>(store, 'runs/', recordingClock());
  await expect(ledger.run('../models', async () => ({ outputs: {} }))).rejects.toThrow(/Invalid stage name/);
  await expect(ledger.recent('Featurize')).rejects.toThrow(/Invalid stage name/);
  await expect(new RunLedger(store, 'runs/', recordingClock()).recentStored('../models')).rejects.toThrow(/Invalid stage name/);
});

it("keeps the pipeline's stages in folders it accepts, and types their records by stage", async () => {
  const ledger = new RunLedger(store, 'runs-typed/', recordingClock());
  for (const stage of LEDGER_STAGES) expect(await ledger.recent(stage)).toEqual([]);
  const run = await ledger.run('explore', async () => ({ outputs: { table: 'events', rows: 10, users: 2, subscriberShare: 0.5 } }));
  const [read] = await ledger.recent('explore');
  expect(read).toEqual(run);
  const rows: number | undefined = read?.outputs?.rows;
  expect(rows).toBe(10);
  expect((await ledger.recentStored('explore')).map((r) => r.runId)).toEqual([run.runId]);

  // What the compiler refuses (each line runs harmlessly): a stage that does not exist, outputs of another stage.
  // @ts-expect-error 'scroe' is not a stage
  expect(await ledger.recent('scroe')).toEqual([]);
  // @ts-expect-error an explore run records no scores folder
  const folder: string | undefined = read.outputs?.folder;
  expect(folder).toBeUndefined();
  // @ts-expect-error a score record must have a score run's outputs
  const wrong: RunRecord<'score'> = { ...run, stage: 'score' };
  expect(wrong.stage).toBe('score');
});
