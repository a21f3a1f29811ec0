import { parse } from 'csv-parse/sync';
import { newRunId, RunLedger, type RunRecord } from '../../lib/ledger/run-ledger';
import type { Clock } from '../../lib/ports/clock';
import { silentLog } from '../../lib/ports/logger';
import type { ObjectStore } from '../../lib/ports/object-store';
import type { ExportOutputs } from '../../lib/stages/export';
import { MANIFEST_NAME, scoreProfiles, type ScoreManifest, type ScoreOptions } from '../../lib/stages/score';
import { interceptedStore } from '../helpers/object-store';
import { startTestPlatform } from '../helpers/platform';
import { promoteModel, scoringParquet, scoringProfiles, trainingModel } from '../helpers/scoring-data';

type Platform = Awaited<ReturnType<typeof startTestPlatform>>;
let platform: Platform;
const MODEL = 'exactly_once';
const PROFILES = 100;
/** The score function's timeout, and a minute more: a lease of a run that died has expired by then. */
const AFTER_LEASE_MS = 16 * 60_000;

beforeAll(async () => {
  platform = await startTestPlatform();
  await promoteModel(platform.bucket, MODEL, 'v1', trainingModel(500, { nTrees: 5, maxDepth: 2, minSamplesLeaf: 10 }));
});
afterAll(async () => platform?.dispose());

/** Simulated time: a second passes at every reading, and `advance` jumps ahead. */
function simulatedClock(start = Date.parse('2026-03-01T05:30:00Z')): Clock & { advance(ms: number): void } {
  let now = start;
  return { now: () => new Date((now += 1000)), sleep: async (ms) => void (now += ms), advance: (ms) => void (now += ms) };
}

class Killed extends Error {
  constructor() {
    super('the process was killed');
  }
}

/**
 * The bucket as a process that is killed at its `killAt`-th call that changes the bucket sees it: that
 * call and every later one never reach the store, as nothing more does once a Lambda is stopped.
 */
function killedAt(store: ObjectStore, killAt: number): ObjectStore & { mutations(): number } {
  let mutations = 0;
  let dead = false;
  const wrapped = interceptedStore(store, {
    beforeCall: () => {
      if (dead) throw new Killed();
    },
    beforeMutation: () => {
      if (++mutations === killAt) {
        dead = true;
        throw new Killed();
      }
    },
  });
  return { ...wrapped, mutations: () => mutations };
}

let sequence = 0;

/** A bucket area of its own (ledger, ingress, staging) holding one export of PROFILES profiles. */
async function scenario() {
  const n = ++sequence;
  const clock = simulatedClock();
  const prefixes = { runs: `once-runs-${n}/`, ingress: `once-ingress-${n}/`, staging: `once-ingress-${n}_staging/` };
  const options: ScoreOptions = { ingressPrefix: prefixes.ingress, modelsPrefix: 'models/', modelName: MODEL, scoresDatasetId: `once${n}`, partRows: 40 };
  const key = `once-egress-${n}/scoring/exportTime=20260301040000/part-00000.parquet`;
  await platform.bucket.put(key, await scoringParquet([...scoringProfiles(0, PROFILES)], { rowGroupRows: 30 }));
  const at = clock.now();
  const outputs: ExportOutputs = {
    featurizeRunId: newRunId(at),
    flowId: 'flow',
    training: { datasetId: 'trainingds', folder: `once-egress-${n}/training/`, rows: 0, files: [] },
    scoring: { datasetId: 'scoringds', folder: `once-egress-${n}/scoring/`, rows: PROFILES, files: [key] },
  };
  const exported: RunRecord<'export'> = { stage: 'export', runId: newRunId(at), startedAt: at.toISOString(), finishedAt: at.toISOString(), status: 'succeeded', outputs };
  await new RunLedger(platform.bucket, prefixes.runs, clock).record(exported);
  return {
    clock,
    prefixes,
    exported,
    /** One score run by a process whose bucket is `store`. */
    score: (store: ObjectStore = platform.bucket) => scoreProfiles({ store, ledger: new RunLedger(store, prefixes.runs, clock), clock, log: silentLog }, options),
    ledger: () => new RunLedger(platform.bucket, prefixes.runs, clock),
  };
}

async function keysUnder(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of platform.bucket.list(prefix)) keys.push(object.key);
  return keys.sort();
}

/**
 * What AEP's dataflow would ingest (every CSV under the watched folder) holds every profile exactly
 * once, in one folder whose manifest names its parts; nothing is left staged or announced.
 */
async function expectPublishedOnce(s: Awaited<ReturnType<typeof scenario>>, context: string): Promise<void> {
  const watched = await keysUnder(s.prefixes.ingress);
  const folders = [...new Set(watched.map((k) => k.slice(0, k.lastIndexOf('/') + 1)))];
  expect({ context, folders: folders.length }).toEqual({ context, folders: 1 });
  const csvs = watched.filter((k) => k.endsWith('.csv'));
  const users: string[] = [];
  for (const key of csvs) users.push(...parse<{ userId: string }>((await platform.bucket.get(key)).toString('utf8'), { columns: true }).map((r) => r.userId));
  expect({ context, rows: users.length, distinct: new Set(users).size }).toEqual({ context, rows: PROFILES, distinct: PROFILES });
  const manifest = JSON.parse((await platform.bucket.get(`${folders[0]}${MANIFEST_NAME}`)).toString('utf8')) as ScoreManifest;
  expect({ context, files: manifest.files.map((f) => f.key) }).toEqual({ context, files: csvs });
  expect({ context, staged: await keysUnder(s.prefixes.staging), intents: await keysUnder(`${s.prefixes.runs}score/_intents/`) }).toEqual({ context, staged: [], intents: [] });
  const succeeded = (await s.ledger().recent('score', 20)).filter((r) => r.status === 'succeeded');
  expect({ context, succeeded: succeeded.map((r) => [r.outputs.exportRunId, r.outputs.folder]) }).toEqual({ context, succeeded: [[s.exported.runId, folders[0]]] });
}

it('publishes every scored row exactly once however a score run is killed, once the next run has run', async () => {
  const clean = await scenario();
  const counting = killedAt(platform.bucket, Number.POSITIVE_INFINITY);
  expect((await clean.score(counting)).status).toBe('succeeded');
  const mutations = counting.mutations();
  expect(mutations).toBeGreaterThan(10);

  for (let killAt = 1; killAt <= mutations; killAt++) {
    const s = await scenario();
    // Killed after its record was written (deleting staged parts, giving the lease back), the run still
    // ends as recorded; killed before, it stops with the kill.
    await s.score(killedAt(platform.bucket, killAt)).catch((error: unknown) => {
      if (!(error instanceof Killed)) throw error;
    });
    // The next scheduled run comes after the dead run's lease expired.
    s.clock.advance(AFTER_LEASE_MS);
    const next = await s.score();
    expect(next.status === 'succeeded' || next.status === 'skipped').toBe(true);
    await expectPublishedOnce(s, `killed at mutating call ${killAt} of ${mutations}`);
  }
});

it('lets one of two score runs started at once publish; the other records a skip naming the holder', async () => {
  const s = await scenario();
  const [a, b] = await Promise.all([s.score(), s.score()]);
  const winner = [a, b].find((r) => r.status === 'succeeded')!;
  const loser = [a, b].find((r) => r.status === 'skipped')!;
  expect(winner).toBeDefined();
  expect(loser).toMatchObject({ status: 'skipped', reason: expect.stringContaining(`Run ${winner.runId} holds the score lease until`), inputs: { leaseHolder: winner.runId } });
  await expectPublishedOnce(s, 'two runs at once');
  expect(await s.ledger().recent('score', 10)).toHaveLength(2);
});

it("keeps the next runs out while a dead run's lease lasts, then takes it over and finishes the dead run's publishing", async () => {
  const s = await scenario();
  // Killed at its manifest, its parts in the watched folder already: which call that is, a clean run says.
  let killAt = 0;
  const dry = await scenario();
  const watching = killedAt(platform.bucket, Number.POSITIVE_INFINITY);
  await dry.score(interceptedStore(watching, { afterMutation: (m) => void (m.key.endsWith(MANIFEST_NAME) && (killAt = watching.mutations())) }));

  await expect(s.score(killedAt(platform.bucket, killAt))).rejects.toThrow('the process was killed');
  expect((await keysUnder(s.prefixes.ingress)).filter((k) => k.endsWith('.csv'))).toHaveLength(3);
  const early = await s.score();
  expect(early).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/^Run \S+ holds the score lease until \S+; two runs of a stage never work at once$/) });

  s.clock.advance(AFTER_LEASE_MS);
  const next = await s.score();
  expect(next).toMatchObject({ status: 'skipped', inputs: { finishedScoreRunIds: [expect.any(String)] } });
  await expectPublishedOnce(s, 'finished by the next run');
  const [finished] = await s.ledger().runs('score', (next.inputs as { finishedScoreRunIds: string[] }).finishedScoreRunIds);
  expect(finished).toMatchObject({ status: 'succeeded', reason: expect.stringContaining(`run ${next.runId} finished publishing`) });
});
