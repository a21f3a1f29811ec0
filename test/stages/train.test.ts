import { randomBytes } from 'crypto';
import { createAepServices, type AepServices } from '../../lib/aep';
import { MODEL_DEFAULTS } from '../../lib/config/schema';
import { extendSpec, inputFeatures, trainingColumns, WEEK2_FEATURES } from '../../lib/features/spec';
import { newRunId, RunLedger, type RunRecord } from '../../lib/ledger/run-ledger';
import { seededRng, shuffleInPlace } from '../../lib/model/random';
import type { ObjectStore } from '../../lib/ports/object-store';
import { scoreProfiles } from '../../lib/stages/score';
import { ModelRegistry } from '../../lib/model/registry';
import { parquetRows, type ParquetRow } from '../../lib/parquet/rows';
import { parquetFile } from '../../lib/parquet/write';
import { systemClock, type Clock } from '../../lib/ports/clock';
import { silentLog } from '../../lib/ports/logger';
import type { ExportOutputs } from '../../lib/stages/export';
import { trainModel, type TrainOptions } from '../../lib/stages/train';
import { readTrainingSet } from '../../lib/stages/training-set';
import { generateUsers } from '../../lib/synthetic/generator';
import { seedSyntheticData } from '../../lib/synthetic/seed';
import { version as packageVersion } from '../../package.json';
import { outputsOf } from '../helpers/ledger';
import { interceptedStore } from '../helpers/object-store';
import { startTestPlatform } from '../helpers/platform';
import { exportColumnType } from '../helpers/scoring-data';
import { featurizeAndExport as featurizeAndExportNow } from '../helpers/week2';

const NOW = new Date('2026-03-01T12:00:00Z');
const DAY_MS = 24 * 60 * 60 * 1000;
/** An export folder's `exportTime` for a time, as AEP names it. */
const exportTimeOf = (at: Date) => at.toISOString().replace(/[-:T]/g, '').slice(0, 14);
/** Crafted exports are written now, inside the training window. */
const EXPORT_TIME = exportTimeOf(new Date());
const MODEL = 'propensity';
const FEATURES = inputFeatures(WEEK2_FEATURES).map((f) => f.name);
type Platform = Awaited<ReturnType<typeof startTestPlatform>>;

let platform: Platform;
let aep: AepServices;
let ledger: RunLedger;
let eventsDatasetId: string;
let firstExport: RunRecord<'export'>;

/** The defaults, but every run with a new export trains: the retraining cadence has tests of its own. */
function trainOptions(overrides: Partial<TrainOptions> = {}): TrainOptions {
  return { modelName: MODEL, modelsPrefix: 'models/', spec: WEEK2_FEATURES, ...MODEL_DEFAULTS, retrainEveryDays: undefined, ...overrides };
}
const trainNow = (overrides: Partial<TrainOptions> = {}, on: RunLedger = ledger) =>
  trainModel({ store: platform.bucket, ledger: on, clock: systemClock, log: silentLog }, trainOptions(overrides));
const registry = (name = MODEL, prefix = 'models/') => new ModelRegistry(platform.bucket, prefix, name);
const json = async (key: string) => JSON.parse((await platform.bucket.get(key)).toString('utf8'));

/** Featurizes what was ingested since the last featurization and exports it, as the scheduled stages do. */
async function featurizeAndExport(): Promise<RunRecord<'export'>> {
  const exported = await featurizeAndExportNow({ aep, store: platform.bucket, ledger }, { eventsDatasetId, namePrefix: 'train', tenantId: platform.tenantId });
  expect(exported.status).toBe('succeeded');
  return exported;
}

/** Ingests users `start..start+count-1` as a new batch (a new snapshot); another seed gives known users new events. */
async function ingestUsers(start: number, count: number, seed: number): Promise<void> {
  const batchId = await aep.ingestion.createBatch(eventsDatasetId, { format: 'json' });
  const lines = [...generateUsers(start, count, { seed, now: NOW, tenantId: `_${platform.tenantId}` })].flatMap((u) => u.events.map((e) => JSON.stringify(e)));
  await aep.ingestion.uploadFile(batchId, eventsDatasetId, `users-${start}.json`, Buffer.from(lines.join('\n')));
  await aep.ingestion.completeBatch(batchId);
  await aep.ingestion.waitForBatch(batchId, { clock: systemClock, timeoutMs: 60_000, pollIntervalMs: 20 });
}

async function rowsOf(keys: string[]): Promise<ParquetRow[]> {
  const rows: ParquetRow[] = [];
  for await (const row of parquetRows(platform.bucket, keys)) rows.push(row);
  return rows;
}

/** A ledger holding copies of the given export runs, for a training that must not see the main ledger's train runs. */
async function ledgerWith(prefix: string, exports: Array<RunRecord<'export'>>): Promise<RunLedger> {
  const copy = new RunLedger(platform.bucket, prefix, systemClock);
  for (const run of exports) await copy.record(run);
  return copy;
}

/** Writes training rows as an export file would hold them, optionally without some columns. */
async function putTrainingParquet(key: string, rows: ParquetRow[], drop: string[] = []): Promise<void> {
  const columns = trainingColumns(WEEK2_FEATURES)
    .filter((c) => !drop.includes(c))
    .map((name) => ({ name, type: exportColumnType(name) }));
  // The rows as read back hold timestamps as ISO text.
  const records = rows.map((row) => ({ ...row, timestamp: typeof row.timestamp === 'string' ? new Date(row.timestamp) : row.timestamp }));
  await platform.bucket.put(key, await parquetFile(columns, records));
}

/** Records an export run whose training files are `files`, as the export stage would, started at `now`. */
async function recordExport(on: RunLedger, folder: string, files: string[], rows: number, now = new Date()): Promise<RunRecord<'export'>> {
  const training = { datasetId: 'crafted', folder, rows, files };
  const run: RunRecord<'export'> = {
    stage: 'export',
    runId: newRunId(now),
    startedAt: now.toISOString(),
    finishedAt: now.toISOString(),
    status: 'succeeded',
    outputs: { featurizeRunId: 'crafted', flowId: 'crafted', training, scoring: training } satisfies ExportOutputs,
  };
  await on.record(run);
  // Run ids sort by the millisecond; keep the next one later.
  await new Promise((resolve) => setTimeout(resolve, 2));
  return run;
}

async function productionState() {
  const models = registry();
  return { pointer: await models.productionPointer(), versions: await models.versions(), history: await models.history() };
}

beforeAll(async () => {
  platform = await startTestPlatform();
  aep = createAepServices(platform.config);
  ledger = new RunLedger(platform.bucket, 'runs/', systemClock);
  const seeded = await seedSyntheticData(
    aep,
    { clock: systemClock, log: silentLog },
    { users: 3000, usersPerBatch: 3000, seed: 21, now: NOW, namePrefix: 'train', batchPollIntervalMs: 20, tenantId: platform.tenantId },
  );
  eventsDatasetId = seeded.datasetId;
  firstExport = await featurizeAndExport();
});
afterAll(async () => platform?.dispose());

describe('the train stage on the embedded platform', () => {
  let first: RunRecord<'train'>;

  it('learns a model far better than chance and at least as good as the logistic baseline, registers it and promotes it', async () => {
    first = await trainNow();
    expect(first.status).toBe('succeeded');
    const outputs = outputsOf(first);
    const exported = outputsOf(firstExport);
    expect(outputs.version).toBe(first.runId);
    expect(outputs.heldOut.auc).toBeGreaterThan(0.85);
    expect(outputs.heldOut.auc).toBeGreaterThanOrEqual(outputs.baseline.auc);
    expect(outputs.baseline.auc).toBeGreaterThan(0.6);
    expect(outputs).toMatchObject({ promoted: true, champion: null, rows: exported.training.rows, policy: { minAuc: 0.6, baselineMargin: 0.01, tolerance: 0 } });
    expect(outputs.reason).toBe(`No production model yet; Challenger AUC ${outputs.heldOut.auc.toFixed(4)} >= floor 0.6, >= baseline ${outputs.baseline.auc.toFixed(4)} + margin 0.01`);
    expect(outputs.heldOut.rows).toBe(Math.round((outputs.rows - outputs.positives) * 0.2) + Math.round(outputs.positives * 0.2));
    expect(first.inputs).toEqual({
      newestExportRunId: firstExport.runId,
      exportRunIds: [firstExport.runId],
      trainingWindow: { days: 28, from: new Date(Date.parse(first.startedAt) - 28 * DAY_MS).toISOString() },
    });

    const models = registry();
    expect(await models.versions()).toEqual([first.runId]);
    const production = await models.production();
    expect(production?.pointer).toMatchObject({ version: first.runId, auc: outputs.heldOut.auc });
    expect(production?.manifest).toMatchObject({
      features: FEATURES,
      trainedOn: { exportRunIds: [firstExport.runId], folders: [exported.training.folder], rows: exported.training.rows },
      codeVersion: packageVersion,
      heldOut: { auc: outputs.heldOut.auc, logLoss: outputs.heldOut.logLoss, threshold: 0.5, rows: outputs.heldOut.rows, positives: outputs.heldOut.positives },
    });
    expect(production?.model.trees).toHaveLength(100);
  });

  it('writes the held-out report: calibration, ROC curve, threshold counts, importances, coefficients, missing values', async () => {
    const manifest = await registry().manifest(first.runId);
    const metrics = await json(manifest!.files.metrics);
    const outputs = outputsOf(first);
    expect(metrics.model.auc).toBe(outputs.heldOut.auc);
    expect(metrics.baseline.auc).toBe(outputs.baseline.auc);
    const counts = metrics.model.atThreshold;
    expect(counts.tp + counts.fp + counts.tn + counts.fn).toBe(outputs.heldOut.rows);
    expect(counts.tp + counts.fn).toBe(outputs.heldOut.positives);
    expect(metrics.model.calibration).toHaveLength(10);
    expect(metrics.model.calibration.reduce((n: number, b: { count: number }) => n + b.count, 0)).toBe(outputs.heldOut.rows);
    expect(metrics.model.roc.length).toBeLessThanOrEqual(101);
    expect(metrics.model.roc[0]).toEqual({ threshold: null, fpr: 0, tpr: 0 });
    expect(metrics.model.roc[metrics.model.roc.length - 1]).toMatchObject({ fpr: 1, tpr: 1 });
    const importances = metrics.model.featureImportances as Array<{ feature: string; importance: number }>;
    expect(importances.map((i) => i.feature).sort()).toEqual([...FEATURES].sort());
    expect(importances.reduce((sum, i) => sum + i.importance, 0)).toBeCloseTo(1, 9);
    expect(Object.keys(metrics.baseline.coefficients.coefficients)).toEqual(FEATURES);
    // Null "minutes since" values are legitimate: no such event before the row.
    expect(metrics.data.missing.minutes_since_propositionDismiss).toBeGreaterThan(0);
    expect(metrics.data.missing.minutes_since_emailOpened).toBeGreaterThan(0);
    expect(metrics.data.missing.emailsReceived).toBe(0);
    expect(metrics.decision).toEqual({
      promoted: true,
      reason: outputs.reason,
      tolerance: 0,
      minAuc: 0.6,
      baselineMargin: 0.01,
      challengerAuc: outputs.heldOut.auc,
      baselineAuc: outputs.baseline.auc,
      championAuc: null,
      productionIssue: null,
    });
  });

  it('skips when no export is newer than the one it trained on, and when there is no export', async () => {
    expect(await trainNow()).toMatchObject({ status: 'skipped', reason: `Export ${firstExport.runId} was trained on by run ${first.runId}; nothing newer` });
    expect(await trainNow({}, new RunLedger(platform.bucket, 'runs-none/', systemClock))).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/^No export written in the training window of 28 days \(since /) });
    expect(await registry().versions()).toEqual([first.runId]);
  });

  it('trains the same model from the same export and seed, and another with another seed', async () => {
    const again = await trainNow({}, await ledgerWith('runs-again/', [firstExport]));
    const other = await trainNow({ seed: 7 }, await ledgerWith('runs-seed/', [firstExport]));
    const modelJson = async (version: string) => (await platform.bucket.get(`models/${MODEL}/${version}/model.json`)).toString('utf8');
    expect(await modelJson(again.runId)).toBe(await modelJson(first.runId));
    expect(await modelJson(other.runId)).not.toBe(await modelJson(first.runId));
    // An equal model re-scored on the same held-out rows ties with the champion, which promotes it.
    expect(again.outputs).toMatchObject({ promoted: true, champion: { version: first.runId, auc: outputsOf(first).heldOut.auc, rescored: true } });
  });

  it('registers a worse retrained model without moving production, and keeps both decisions', async () => {
    const before = await registry().productionPointer();
    // Known users with new events, and new users.
    await ingestUsers(2900, 600, 22);
    const second = await featurizeAndExport();
    const worse = await trainNow({ gbt: { nTrees: 1, maxDepth: 1 } });
    expect(worse.status).toBe('succeeded');
    const outputs = outputsOf(worse);
    expect(outputs.promoted).toBe(false);
    expect(outputs.champion).toMatchObject({ version: before!.version, rescored: true });
    expect(outputs.champion!.auc).toBeGreaterThan(outputs.heldOut.auc);
    expect(outputs.reason).toMatch(/< champion .*; production is unchanged \(champion .* re-scored on the same held-out rows\)$/);

    // Every user once: a user in both exports keeps the row of the later one.
    const users = new Set((await rowsOf([...outputsOf(firstExport).training.files, ...outputsOf(second).training.files])).map((r) => r.userId));
    expect(outputs.rows).toBe(users.size);
    expect(outputs.rows).toBeLessThan(outputsOf(firstExport).training.rows + outputsOf(second).training.rows);

    const models = registry();
    expect(await models.productionPointer()).toEqual(before);
    expect(await models.versions()).toContain(worse.runId);
    expect((await models.manifest(worse.runId))?.trainedOn.exportRunIds).toEqual([firstExport.runId, second.runId]);
    const history = await models.history();
    expect(history[0]).toMatchObject({ challenger: first.runId, promoted: true });
    expect(history.map((d) => d.challenger)).toEqual(expect.arrayContaining([first.runId, before!.version]));
    expect(history[history.length - 1]).toMatchObject({ challenger: worse.runId, promoted: false, champion: before!.version, championAuc: outputs.champion!.auc, challengerAuc: outputs.heldOut.auc, tolerance: 0 });
  });

  it('promotes a worse model when the tolerance allows it', async () => {
    const good = await trainNow({ modelName: 'lenient' }, await ledgerWith('runs-good/', [firstExport]));
    const lenient = await trainNow({ modelName: 'lenient', gbt: { nTrees: 10, maxDepth: 2 }, promotionTolerance: 0.5 }, await ledgerWith('runs-lenient/', [firstExport]));
    const outputs = outputsOf(lenient);
    expect(outputs).toMatchObject({ promoted: true, champion: { version: good.runId, rescored: true } });
    expect(outputs.heldOut.auc).toBeLessThan(outputs.champion!.auc);
    expect((await registry('lenient').productionPointer())).toMatchObject({ version: lenient.runId, previousVersion: good.runId });
  });

  it('reads every export and keeps, for a user in several, the row of the newest', async () => {
    const exports = (await ledger.recent('export', 10)).filter((r) => r.status === 'succeeded').reverse();
    expect(exports).toHaveLength(2);
    const sources = exports.map((r) => ({ runId: r.runId, folder: outputsOf(r).training.folder, files: outputsOf(r).training.files }));
    const set = await readTrainingSet(platform.bucket, sources, WEEK2_FEATURES);
    const [olderExport, newerExport] = sources;
    if (!olderExport || !newerExport) throw new Error('expected two exports');
    const older = new Map((await rowsOf(olderExport.files)).map((r) => [r.userId, r]));
    const newer = new Map((await rowsOf(newerExport.files)).map((r) => [r.userId, r]));
    const both = [...newer.keys()].filter((id) => older.has(id));
    expect(both.length).toBeGreaterThan(50);
    expect(set.rowsPerExport).toEqual([{ runId: olderExport.runId, rows: older.size }, { runId: newerExport.runId, rows: newer.size }]);
    expect(set.userIds).toEqual([...new Set([...older.keys(), ...newer.keys()])].sort());
    const changed = both.filter((id) => FEATURES.some((f) => older.get(id)![f] !== newer.get(id)![f]));
    expect(changed.length).toBeGreaterThan(0);
    for (const id of changed) {
      const i = set.userIds.indexOf(id as string);
      const expected = newer.get(id)!;
      expect(FEATURES.map((f, k) => [f, Number.isNaN(set.dataset.columns[k]?.[i]) ? null : set.dataset.columns[k]?.[i]])).toEqual(FEATURES.map((f) => [f, expected[f]]));
      expect(set.dataset.labels[i]).toBe(expected.subscriptionOccurred);
    }
  });

  it('compares with the recorded AUC of a champion that reads features the export lacks, saying so', async () => {
    const narrow = extendSpec(WEEK2_FEATURES, { remove: ['webLinkClicks', 'minutes_since_linkClick'] });
    const full = await trainNow({ modelName: 'narrowing' }, await ledgerWith('runs-full/', [firstExport]));
    const run = await trainNow({ modelName: 'narrowing', spec: narrow }, await ledgerWith('runs-narrow/', [firstExport]));
    const fullAuc = outputsOf(full).heldOut.auc;
    expect(run.outputs).toMatchObject({ champion: { version: full.runId, auc: fullAuc, rescored: false } });
    expect(outputsOf(run).reason).toContain(`champion ${full.runId} reads webLinkClicks, minutes_since_linkClick, which this export lacks; its recorded held-out AUC is used`);
    expect((await registry('narrowing').manifest(run.runId))?.features).toEqual(FEATURES.filter((f) => f !== 'webLinkClicks' && f !== 'minutes_since_linkClick'));
  });
});

describe('the train stage on bad input: fails naming the problem, registers nothing, leaves production', () => {
  let goodRows: ParquetRow[];
  let bad = 0;

  beforeAll(async () => {
    goodRows = await rowsOf(outputsOf(firstExport).training.files);
  });

  /** Trains on a ledger of the given exports and expects failure with `message`; production and the registry stay as they were. */
  async function expectFailure(exports: Array<RunRecord<'export'>>, message: string | RegExp, overrides: Partial<TrainOptions> = {}, prefix = `runs-bad-${bad++}/`): Promise<void> {
    const on = await ledgerWith(prefix, exports);
    const before = await productionState();
    await expect(trainNow(overrides, on)).rejects.toThrow(message);
    const [failed] = await on.recent('train', 1);
    expect(failed?.status).toBe('failed');
    expect(failed?.reason).toMatch(message);
    expect(await productionState()).toEqual(before);
  }
  async function craftedExport(name: string, rows: ParquetRow[], drop: string[] = []): Promise<RunRecord<'export'>> {
    const folder = `egress/crafted/${name}/exportTime=${EXPORT_TIME}/`;
    await putTrainingParquet(`${folder}part-00000.parquet`, rows, drop);
    return recordExport(new RunLedger(platform.bucket, `runs-crafted-${name}/`, systemClock), folder, [`${folder}part-00000.parquet`], rows.length);
  }

  it('a corrupt parquet file, named by key', async () => {
    const key = `egress/crafted/corrupt/exportTime=${EXPORT_TIME}/part-00000.parquet`;
    await platform.bucket.put(key, Buffer.concat([Buffer.from('PAR1'), randomBytes(500), Buffer.from('PAR1')]));
    const corrupt = await recordExport(new RunLedger(platform.bucket, 'runs-crafted-corrupt/', systemClock), `egress/crafted/corrupt/exportTime=${EXPORT_TIME}/`, [key], 100);
    await expectFailure([firstExport, corrupt], `Export file ${key} is not readable parquet`);
  });

  it('an export file that is gone, named by key', async () => {
    const key = `egress/crafted/gone/exportTime=${EXPORT_TIME}/part-00000.parquet`;
    const gone = await recordExport(new RunLedger(platform.bucket, 'runs-crafted-gone/', systemClock), `egress/crafted/gone/exportTime=${EXPORT_TIME}/`, [key], 100);
    await expectFailure([firstExport, gone], `Parquet file ${key} does not exist`);
  });

  it('a missing feature column, naming the file and the column', async () => {
    const lacking = await craftedExport('lacking', goodRows.slice(0, 500), ['minutes_since_linkClick']);
    const key = (outputsOf(lacking).training.files)[0];
    await expectFailure([firstExport, lacking], `Export file ${key} lacks the column minutes_since_linkClick`);
  });

  it('an empty export, naming it', async () => {
    const empty = await craftedExport('empty', []);
    await expectFailure([firstExport, empty], `Export ${empty.runId} holds no training rows (egress/crafted/empty/exportTime=${EXPORT_TIME}/); nothing new to learn from`);
  });

  it('labels of a single class', async () => {
    const allNegative = await craftedExport('negative', goodRows.filter((r) => r.subscriptionOccurred === 0));
    const n = goodRows.filter((r) => r.subscriptionOccurred === 0).length;
    await expectFailure([allNegative], `Cannot train on the ${n} users of exports ${allNegative.runId}: training needs both classes: got ${n} rows all labelled 0`);
  });

  it('too few users', async () => {
    const few = await craftedExport('few', goodRows.slice(0, 150));
    await expectFailure([few], `Cannot train on the 150 users of exports ${few.runId}: too few rows to train: got 150, need at least 200`);
    await expectFailure([firstExport], /too few rows to train: got \d+, need at least 100000/, { minRows: 100_000 });
  });

  it('a null label, naming the file and row', async () => {
    const rows = goodRows.slice(0, 300).map((r, i) => (i === 17 ? { ...r, subscriptionOccurred: null } : r));
    const unlabelled = await craftedExport('unlabelled', rows);
    const key = (outputsOf(unlabelled).training.files)[0];
    await expectFailure([unlabelled], `Export file ${key} row 17: the label subscriptionOccurred must be 0 or 1, got null`);
  });
});

/** Writes `rows` as an export's training file, written at `at` as AEP would name its folder, and records the export run. */
async function writeExport(on: RunLedger, name: string, rows: ParquetRow[], at = new Date()): Promise<RunRecord<'export'>> {
  const folder = `egress/written/${name}/exportTime=${exportTimeOf(at)}/`;
  await putTrainingParquet(`${folder}part-00000.parquet`, rows);
  return recordExport(on, folder, [`${folder}part-00000.parquet`], rows.length, at);
}

/** An object store that reports every object read and every key listed under `prefix`. */
function watched(store: ObjectStore, prefix: string): { store: ObjectStore; read: string[]; listed: string[] } {
  const read: string[] = [];
  const listed: string[] = [];
  const intercepted = interceptedStore(store, { beforeCall: (call, key) => void (call.startsWith('get') && key.startsWith(prefix) && read.push(key)) });
  return {
    read,
    listed,
    store: {
      ...intercepted,
      async *list(listPrefix, options) {
        for await (const object of intercepted.list(listPrefix, options)) {
          if (object.key.startsWith(prefix)) listed.push(object.key);
          yield object;
        }
      },
    },
  };
}

describe('training over time: the window inside the egress retention', () => {
  let goodRows: ParquetRow[];
  beforeAll(async () => {
    goodRows = await rowsOf(outputsOf(firstExport).training.files);
  });
  const daysAgo = (days: number) => new Date(Date.now() - days * DAY_MS);

  it('trains on what the lifecycle left: exports older than the retention are gone, the run succeeds on those in the window', async () => {
    const on = new RunLedger(platform.bucket, 'runs-retention/', systemClock);
    const expired = [await writeExport(on, 'day-45', goodRows.slice(0, 400), daysAgo(45)), await writeExport(on, 'day-31', goodRows.slice(400, 800), daysAgo(31))];
    // As the bucket's 30-day lifecycle rule does.
    for (const run of expired) for (const key of outputsOf(run).training.files) await platform.bucket.delete(key);
    const beyondWindow = await writeExport(on, 'day-29', goodRows.slice(800, 1200), daysAgo(29));
    const inWindow = await writeExport(on, 'day-10', goodRows.slice(1200, 1600), daysAgo(10));
    await on.record(firstExport);

    const run = await trainNow({ modelName: 'retention', egressRetentionDays: 30 }, on);
    expect(run.status).toBe('succeeded');
    expect(run.inputs).toMatchObject({ newestExportRunId: firstExport.runId, exportRunIds: [inWindow.runId, firstExport.runId] });
    expect(run.inputs?.exportRunIds).not.toContain(beyondWindow.runId);
    expect((await registry('retention').manifest(run.runId))?.trainedOn.exportRunIds).toEqual([inWindow.runId, firstExport.runId]);
  });

  it('reads no ledger record from before the window, however many past runs there are', async () => {
    const seeded = new RunLedger(platform.bucket, 'runs-history/', systemClock);
    for (let day = 400; day > 30; day -= 10) await recordExport(seeded, `egress/expired/day-${day}/exportTime=${exportTimeOf(daysAgo(day))}/`, [`egress/expired/day-${day}/gone.parquet`], 100, daysAgo(day));
    for (let day = 400; day > 30; day -= 10) await seeded.record({ stage: 'train', runId: newRunId(daysAgo(day - 1)), startedAt: daysAgo(day - 1).toISOString(), finishedAt: daysAgo(day - 1).toISOString(), status: 'skipped', reason: 'old' });
    await seeded.record(firstExport);

    const bucket = watched(platform.bucket, 'runs-history/');
    const run = await trainModel({ store: bucket.store, ledger: new RunLedger(bucket.store, 'runs-history/', systemClock), clock: systemClock, log: silentLog }, trainOptions({ modelName: 'history' }));
    expect(run.status).toBe('succeeded');
    expect(bucket.read).toEqual([`runs-history/export/${firstExport.runId}.json`]);
    expect(bucket.listed.filter((key) => key.startsWith('runs-history/export/'))).toEqual([`runs-history/export/${firstExport.runId}.json`]);
    // The stage's lease lies beside its records, after them in key order; no past train record is listed.
    expect(bucket.listed.filter((key) => key.startsWith('runs-history/train/'))).toEqual(['runs-history/train/_lease.json']);
  });

  it('refuses a window the egress retention does not cover, naming both', async () => {
    await expect(trainNow({ trainingWindowDays: 30, egressRetentionDays: 30 })).rejects.toThrow(
      "Cannot train: the training window of 30 days (model.trainingWindowDays) must be shorter than the egress retention of 30 days (the bucket's egressExpirationDays) by at least a day",
    );
  });
});

describe('the retraining cadence: a daily schedule that retrains every retrainEveryDays', () => {
  it('trains every day until a model is in production, then only once the period has passed', async () => {
    const goodRows = await rowsOf(outputsOf(firstExport).training.files);
    let now = Date.now();
    const clock: Clock = { now: () => new Date(now), sleep: async (ms) => void (now += ms) };
    const on = new RunLedger(platform.bucket, 'runs-cadence/', clock);
    const train = () => trainModel({ store: platform.bucket, ledger: on, clock, log: silentLog }, trainOptions({ modelName: 'cadence', retrainEveryDays: 7 }));
    const day = async (rows: ParquetRow[]) => {
      now += DAY_MS;
      await writeExport(on, `cadence-${now}`, rows, new Date(now - 60 * 60 * 1000));
      return train();
    };

    // The first training fails (one class only): nothing in production, so the next day trains again.
    const oneClass = goodRows.filter((row) => !row.subscriptionOccurred);
    expect(oneClass.length).toBeGreaterThan(300);
    await expect(day(oneClass.slice(0, 300))).rejects.toThrow(/class/);
    const first = await day(goodRows);
    expect(first).toMatchObject({ status: 'succeeded', outputs: { promoted: true } });

    const early = await day(goodRows.slice(0, 2000));
    const dueFrom = new Date(Date.parse(first.startedAt) + 7 * DAY_MS - 60 * 60 * 1000).toISOString();
    expect(early).toMatchObject({ status: 'skipped', reason: `Run ${first.runId} trained less than 7 days ago; the next retraining is due from ${dueFrom}` });
    // A schedule that fires a little early still counts as a whole period later.
    now = Date.parse(first.startedAt) + 6 * DAY_MS - 30 * 60 * 1000;
    expect((await day(goodRows.slice(0, 2000))).status).toBe('succeeded');
  });
});

describe('the promotion floor', () => {
  let goodRows: ParquetRow[];
  beforeAll(async () => {
    goodRows = await rowsOf(outputsOf(firstExport).training.files);
  });
  /** Every user of the first export with the labels shuffled among them: features that predict nothing. */
  function scrambled(seed: number): ParquetRow[] {
    const labels = goodRows.map((_, i) => i);
    shuffleInPlace(labels, seededRng(seed));
    return goodRows.map((row, i) => ({ ...row, subscriptionOccurred: goodRows[labels[i]!]!.subscriptionOccurred ?? null }));
  }

  it('never lets a challenger trained on scrambled labels replace a good champion, whatever the seed', async () => {
    const decisions: Array<{ seed: number; promoted: boolean; auc: number; championAuc: number | undefined; reason: string }> = [];
    for (const seed of [1, 2, 3, 4, 5]) {
      const modelName = `scrambled-${seed}`;
      const on = await ledgerWith(`runs-scrambled-${seed}/`, [firstExport]);
      const champion = await trainNow({ modelName, seed }, on);
      expect(champion.outputs).toMatchObject({ promoted: true });
      await writeExport(on, `scrambled-${seed}`, scrambled(seed));
      const challenger = outputsOf(await trainNow({ modelName, seed }, on));
      decisions.push({ seed, promoted: challenger.promoted, auc: challenger.heldOut.auc, championAuc: challenger.champion?.auc, reason: challenger.reason });
      expect((await registry(modelName).productionPointer())?.version).toBe(champion.runId);
    }
    expect(decisions.filter((d) => d.promoted)).toEqual([]);
    for (const d of decisions) expect(d.reason).toMatch(/^Challenger AUC 0\.\d{4} < floor 0\.6; /);
  });

  it('does not promote a first model below the floor; the score stage then skips, saying no model is in production', async () => {
    const on = new RunLedger(platform.bucket, 'runs-no-skill/', systemClock);
    await writeExport(on, 'no-skill', scrambled(11));
    const run = await trainNow({ modelName: 'no-skill' }, on);
    const outputs = outputsOf(run);
    expect(outputs).toMatchObject({ promoted: false, champion: null });
    expect(outputs.heldOut.auc).toBeLessThan(0.6);
    expect(outputs.reason).toMatch(/^Challenger AUC 0\.\d{4} < floor 0\.6; .*production is unchanged$/);
    const models = registry('no-skill');
    expect(await models.productionPointer()).toBeUndefined();
    expect(await models.versions()).toEqual([run.runId]);
    expect(await models.history()).toEqual([expect.objectContaining({ challenger: run.runId, promoted: false, minAuc: 0.6, baselineMargin: 0.01, baselineAuc: outputs.baseline.auc })]);

    const scored = await scoreProfiles({ store: platform.bucket, ledger: on, clock: systemClock, log: silentLog }, { ingressPrefix: 'ingress-no-skill/', modelsPrefix: 'models/', modelName: 'no-skill', scoresDatasetId: 'scores1' });
    expect(scored).toMatchObject({ status: 'skipped', reason: 'No production version of model no-skill yet' });
  });

  it('does not let a corrupt production model.json block training: recorded, treated as absent, replaced by a valid challenger; scoring names the file', async () => {
    const on = await ledgerWith('runs-corrupt-production/', [firstExport]);
    const first = await trainNow({ modelName: 'corrupted' }, on);
    const key = `models/corrupted/${first.runId}/model.json`;
    const bytes = await platform.bucket.get(key);
    await platform.bucket.put(key, bytes.subarray(0, 1000));

    const scoring = { ingressPrefix: 'ingress-corrupted/', modelsPrefix: 'models/', modelName: 'corrupted', scoresDatasetId: 'scores1' };
    await expect(scoreProfiles({ store: platform.bucket, ledger: on, clock: systemClock, log: silentLog }, scoring)).rejects.toThrow(`model file ${key} is not valid JSON`);

    await writeExport(on, 'after-corruption', goodRows);
    const run = await trainNow({ modelName: 'corrupted' }, on);
    const outputs = outputsOf(run);
    expect(outputs).toMatchObject({ promoted: true, champion: null, productionIssue: expect.stringContaining(`model file ${key} is not valid JSON (1000 bytes, truncated or corrupt)`) });
    expect(outputs.reason).toMatch(/^No production model yet; .* \(production is treated as absent: Model corrupted: model file /);
    expect((await registry('corrupted').production())?.pointer.version).toBe(run.runId);
  });
});

describe('the Lambda handler', () => {
  it('trains from the environment: the configured model name, prefixes and training settings', async () => {
    await ledgerWith('runs-handler/', [firstExport]);
    const saved = { ...process.env };
    const output: string[] = [];
    const capture = (chunk: string | Uint8Array) => {
      output.push(String(chunk));
      return true;
    };
    // Powertools writes through its own Console over the process streams.
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(capture);
    try {
      Object.assign(process.env, platform.env, {
        PIPELINE_RUNS_PREFIX: 'runs-handler/',
        PIPELINE_MODELS_PREFIX: 'models-handler/',
        PIPELINE_MODEL_NAME: 'from_handler',
        PIPELINE_MODEL_SEED: '7',
        PIPELINE_MODEL_TEST_FRACTION: '0.25',
      });
      const { handler } = await import('../../lib/handlers/train');
      const run = (await handler()) as RunRecord;
      expect(run).toMatchObject({ stage: 'train', status: 'succeeded', outputs: { promoted: true } });
      const models = registry('from_handler', 'models-handler/');
      expect((await models.productionPointer())?.version).toBe(run.runId);
      const metrics = await json((await models.manifest(run.runId))!.files.metrics);
      expect(metrics.data).toMatchObject({ seed: 7, testFraction: 0.25 });
      expect(output.join('')).toContain('"service":"aep-train"');
      expect(output.join('')).toContain('Model trained and promoted');
      expect((await handler()) as RunRecord).toMatchObject({ status: 'skipped' });
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });
});
