import { parse } from 'csv-parse/sync';
import { newRunId, RunLedger, type RunRecord } from '../../lib/ledger/run-ledger';
import { predictRow, type GbtModel } from '../../lib/model/gbt';
import { ParquetReadError } from '../../lib/parquet/rows';
import type { Clock } from '../../lib/ports/clock';
import { silentLog, type Log } from '../../lib/ports/logger';
import type { ExportOutputs } from '../../lib/stages/export';
import { formatPrediction, scoreProfiles, ScoreInputError, type ScoreManifest, type ScoreOptions } from '../../lib/stages/score';
import { outputsOf } from '../helpers/ledger';
import { interceptedStore, recordingStore } from '../helpers/object-store';
import { STAGES, type BucketFolder } from '../../lib/stages/registry';
import { startTestPlatform } from '../helpers/platform';
import {
  profileFeatures,
  promoteModel,
  scoringParquet,
  scoringProfile,
  scoringProfiles,
  trainingModel,
  WEEK2_SCORING_COLUMNS,
  type ScoringProfile,
} from '../helpers/scoring-data';

type Platform = Awaited<ReturnType<typeof startTestPlatform>>;
let platform: Platform;
let model: GbtModel;
const MODEL = 'propensity';

beforeAll(async () => {
  platform = await startTestPlatform();
  model = trainingModel(2000, { nTrees: 30, maxDepth: 3, minSamplesLeaf: 10 });
  await promoteModel(platform.bucket, MODEL, 'v1', model);
});
afterAll(async () => platform?.dispose());

/** A second per reading, so run ids sort and every run gets its own exportTime folder. */
function tickingClock(start = Date.parse('2026-03-01T12:00:00Z')): Clock {
  let now = start;
  return { now: () => new Date((now += 1000)), sleep: async (ms) => void (now += ms) };
}

let sequence = 0;

/** A test's own ledger, ingress prefix and scores dataset, so tests do not see each other's runs and files. */
function setup(overrides: Partial<ScoreOptions> = {}, log: Log = silentLog) {
  const n = ++sequence;
  const clock = tickingClock();
  const ledger = new RunLedger(platform.bucket, `runs-${n}/`, clock);
  const store = recordingStore(platform.bucket);
  const options: ScoreOptions = { ingressPrefix: `ingress-${n}/`, modelsPrefix: 'models/', modelName: MODEL, scoresDatasetId: `scores${n}`, ...overrides };
  const egress = `egress-${n}/scoringds/exportTime=20260301110000/`;
  return {
    n,
    clock,
    ledger,
    store,
    options,
    score: () => scoreProfiles({ store, ledger, clock, log }, options),
    /** What the runs left under the ingress prefix and its staging sibling. */
    written: async () => [...(await keysUnder(`ingress-${n}/`)), ...(await keysUnder(`ingress-${n}_staging/`))],
    /**
     * Writes parquet files of the given profiles and records a succeeded export of them, of one
     * featurization unless `featurizations` says more (an export after a failed one carries two).
     */
    async exportFiles(files: Array<Buffer | Iterable<ScoringProfile>>, rows?: number, featurizations = 1): Promise<RunRecord<'export'>> {
      const keys: string[] = [];
      let total = 0;
      for (const [i, content] of files.entries()) {
        const key = `${egress}part-${String(i).padStart(5, '0')}-x.parquet`;
        if (Buffer.isBuffer(content)) {
          await platform.bucket.put(key, content);
        } else {
          const profiles = [...content];
          total += profiles.length;
          await platform.bucket.put(key, await scoringParquet(profiles, { rowGroupRows: 400 }));
        }
        keys.push(key);
      }
      return recordExport(ledger, clock, { folder: egress, files: keys, rows: rows ?? total }, featurizations);
    },
  };
}

async function recordExport(ledger: RunLedger, clock: Clock, scoring: { folder: string; files: string[]; rows: number }, featurizations = 1): Promise<RunRecord<'export'>> {
  const at = clock.now();
  // The export stage records every featurization it carries, newest first; featurizeRunId is the newest.
  const featurizeRunIds = Array.from({ length: featurizations }, () => newRunId(clock.now())).reverse();
  const outputs: ExportOutputs = {
    featurizeRunId: featurizeRunIds[0]!,
    flowId: 'flow',
    training: { datasetId: 'trainingds', folder: scoring.folder, rows: scoring.rows, files: [] },
    scoring: { datasetId: 'scoringds', ...scoring },
  };
  const run: RunRecord<'export'> = {
    stage: 'export',
    runId: newRunId(at),
    startedAt: at.toISOString(),
    finishedAt: at.toISOString(),
    status: 'succeeded',
    inputs: { featurizeRunIds },
    outputs,
  };
  await ledger.record(run);
  return run;
}

async function keysUnder(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of platform.bucket.list(prefix)) keys.push(object.key);
  return keys.sort();
}

async function csvRows(keys: string[]): Promise<Array<{ userId: string; prediction: string }>> {
  const rows: Array<{ userId: string; prediction: string }> = [];
  for (const key of keys) {
    const text = (await platform.bucket.get(key)).toString('utf8');
    expect(text.startsWith('userId,prediction\n')).toBe(true);
    rows.push(...parse<{ userId: string; prediction: string }>(text, { columns: true }));
  }
  return rows;
}

const expectedPrediction = (profile: ScoringProfile) => Math.round(predictRow(model, profileFeatures(profile, model.featureNames)) * 1e6) / 1e6;

it('scores every profile once with the production model, in parts of partRows, manifest last', async () => {
  const t = setup({ partRows: 1000 });
  const exported = await t.exportFiles([scoringProfiles(0, 1300), scoringProfiles(1300, 950)]);

  const run = await t.score();

  expect(run.status).toBe('succeeded');
  const outputs = outputsOf(run);
  const folder = outputs.folder;
  expect(folder).toMatch(new RegExp(`^ingress-${t.n}/scores${t.n}/exportTime=\\d{14}/$`));
  expect(outputs).toEqual({
    exportRunId: exported.runId,
    modelName: MODEL,
    modelVersion: 'v1',
    scoresDatasetId: `scores${t.n}`,
    folder,
    files: [`${folder}part-00000.csv`, `${folder}part-00001.csv`, `${folder}part-00002.csv`],
    rows: 2250,
    supersededRows: 0,
    manifest: `${folder}_manifest.json`,
  });
  expect(await keysUnder(`ingress-${t.n}/`)).toEqual([...outputs.files, outputs.manifest].sort());

  const manifest = JSON.parse((await platform.bucket.get(outputs.manifest)).toString('utf8')) as ScoreManifest;
  expect(manifest).toEqual({
    runId: run.runId,
    modelName: MODEL,
    modelVersion: 'v1',
    exportRunId: exported.runId,
    rows: 2250,
    files: outputs.files.map((key, i) => ({ key, rows: [1000, 1000, 250][i] })),
  });

  const rows = await csvRows(outputs.files);
  expect(rows).toHaveLength(2250);
  const byUser = new Map(rows.map((r) => [r.userId, Number(r.prediction)]));
  expect(byUser.size).toBe(2250);
  for (let i = 0; i < 2250; i++) {
    const profile = scoringProfile(i);
    const prediction = byUser.get(profile.userId as string);
    expect(prediction).toBe(expectedPrediction(profile));
    expect(prediction).toBeGreaterThanOrEqual(0);
    expect(prediction).toBeLessThanOrEqual(1);
  }
  // The folder AEP watches gets complete copies, then the manifest; staging is emptied after.
  const ops = t.store.operations;
  const manifestAt = ops.indexOf(`put ${outputs.manifest}`);
  expect(outputs.files.map((f) => ops.indexOf(`copy ${f}`)).every((i) => i >= 0 && i < manifestAt)).toBe(true);
  expect(ops.filter((op) => op.includes(`ingress-${t.n}/`) && !op.startsWith('copy') && op !== `put ${outputs.manifest}`)).toEqual([]);
  const stagedDeletes = ops.filter((op) => op.startsWith(`delete ingress-${t.n}_staging/`));
  expect(stagedDeletes).toHaveLength(3);
  expect(ops.indexOf(stagedDeletes[0]!)).toBeGreaterThan(manifestAt); // three, as just checked
  expect(await keysUnder(`ingress-${t.n}_staging/`)).toEqual([]);
});

it('scores an export once: the next run is skipped, and so is one with nothing newer', async () => {
  const t = setup();
  expect(await t.score()).toMatchObject({ status: 'skipped', reason: 'No export to score yet' });
  const exported = await t.exportFiles([scoringProfiles(0, 10)]);
  const first = await t.score();
  expect(first.status).toBe('succeeded');
  const again = await t.score();
  expect(again).toMatchObject({ status: 'skipped', reason: `Export ${exported.runId} is already scored (score run ${first.runId}); nothing newer` });
  expect(await keysUnder(`ingress-${t.n}/`)).toHaveLength(2);

  // A newer export is scored into a folder of its own.
  const newer = await t.exportFiles([scoringProfiles(10, 5)]);
  const second = await t.score();
  expect(second.outputs).toMatchObject({ exportRunId: newer.runId, rows: 5 });
  expect(outputsOf(second).folder).not.toBe(outputsOf(first).folder);
});

/**
 * User `index`'s row of a later featurization: other features (drawn with another seed) and a later
 * timestamp, as a featurization that saw more of the user's events writes it.
 */
function laterRow(index: number, hoursLater = 24): ScoringProfile {
  const earlier = scoringProfile(index);
  return { ...scoringProfile(index, 2), userId: earlier.userId as string, timestamp: new Date((earlier.timestamp as Date).getTime() + hoursLater * 3_600_000) };
}

it('publishes one row per user, the newest, when the export carries two featurizations (a failed export before it)', async () => {
  const t = setup({ partRows: 7 });
  // Users 0-29 have their older row in the first file and the newer in the second; users 30-59 the
  // other way round; users 60-99 were featurized once. The newer row wins whatever the file order.
  const first = [...scoringProfiles(0, 30), ...Array.from({ length: 30 }, (_, i) => laterRow(30 + i)), ...scoringProfiles(60, 40)];
  const second = [...Array.from({ length: 30 }, (_, i) => laterRow(i)), ...scoringProfiles(30, 30)];
  const exported = await t.exportFiles([first, second], undefined, 2);
  const newest = (i: number) => (i < 60 ? laterRow(i) : scoringProfile(i));
  // The two rows of a user score differently, so a stale score published is caught.
  expect(Array.from({ length: 60 }, (_, i) => expectedPrediction(laterRow(i)) !== expectedPrediction(scoringProfile(i))).filter(Boolean).length).toBeGreaterThan(30);

  const run = await t.score();

  expect(run.status).toBe('succeeded');
  const outputs = outputsOf(run);
  expect(outputs).toMatchObject({ exportRunId: exported.runId, rows: 100, supersededRows: 60 });
  const rows = await csvRows(outputs.files);
  expect(rows).toHaveLength(100);
  const byUser = new Map(rows.map((r) => [r.userId, Number(r.prediction)]));
  expect(byUser.size).toBe(100);
  for (let i = 0; i < 100; i++) expect(byUser.get(newest(i).userId as string)).toBe(expectedPrediction(newest(i)));
  // Parts are still full but the last, though rows were skipped in between.
  const manifest = JSON.parse((await platform.bucket.get(outputs.manifest)).toString('utf8')) as ScoreManifest;
  expect(manifest.rows).toBe(100);
  expect(manifest.files.map((f) => f.rows)).toEqual([...Array<number>(14).fill(7), 2]);
});

it('keeps the row read later when a user has two rows of the same time', async () => {
  const t = setup();
  const again = { ...laterRow(0, 0) };
  await t.exportFiles([[scoringProfile(0), scoringProfile(1)], [again]], undefined, 2);
  const run = await t.score();
  expect(outputsOf(run)).toMatchObject({ rows: 2, supersededRows: 1 });
  const rows = await csvRows(outputsOf(run).files);
  expect(rows.map((r) => [r.userId, Number(r.prediction)])).toEqual([
    [scoringProfile(1).userId, expectedPrediction(scoringProfile(1))],
    [again.userId, expectedPrediction(again)],
  ]);
});

it('reads an export of one featurization once, and one of several (or that does not say) twice', async () => {
  const headsPerFile = async (featurizations: number | undefined) => {
    const t = setup();
    const exported = await t.exportFiles([scoringProfiles(0, 20), scoringProfiles(20, 20)], undefined, featurizations ?? 1);
    if (featurizations === undefined) await t.ledger.record({ ...exported, inputs: {} }); // recorded before exports named their featurizations
    const heads = new Map<string, number>();
    const store = interceptedStore(t.store, { beforeCall: (call, key) => void (call === 'head' && key.startsWith('egress-') && heads.set(key, (heads.get(key) ?? 0) + 1)) });
    const run = await scoreProfiles({ store, ledger: t.ledger, clock: t.clock, log: silentLog }, t.options);
    expect(outputsOf(run)).toMatchObject({ rows: 40, supersededRows: 0 });
    return [...heads.values()];
  };
  expect(await headsPerFile(1)).toEqual([1, 1]);
  expect(await headsPerFile(2)).toEqual([2, 2]);
  expect(await headsPerFile(undefined)).toEqual([2, 2]);
});

it('refuses a timestamp that is not a time when it must pick the newest row, naming the file and the row', async () => {
  const t = setup();
  const exported = await t.exportFiles([await scoringParquet([{ ...scoringProfile(0), timestamp: '2026-02-01T00:00:00.000Z' }, { ...scoringProfile(1), timestamp: 'soon' }], { types: { timestamp: 'UTF8' } })], 2, 2);
  await expect(t.score()).rejects.toThrow(new ScoreInputError(`Export file ${outputsOf(exported).scoring.files[0]}: row 1 has the timestamp "soon", not a time`));
  expect(await t.written()).toEqual([]);
});

it('scores the newest export and says which older ones it passed over', async () => {
  const warnings: Array<Record<string, unknown> | undefined> = [];
  const t = setup({}, { ...silentLog, warn: (_message, attributes) => void warnings.push(attributes) });
  const older = await t.exportFiles([scoringProfiles(0, 4)]);
  const newer = await t.exportFiles([scoringProfiles(4, 6)]);
  const run = await t.score();
  expect(run.outputs).toMatchObject({ exportRunId: newer.runId, rows: 6 });
  expect(run.inputs).toMatchObject({ exportRunId: newer.runId, passedOverExportRunIds: [older.runId] });
  expect(warnings).toEqual([expect.objectContaining({ passedOver: [older.runId] })]);
});

it('accepts null features: a profile with no minutes-since values is scored as predictRow scores missing values', async () => {
  const t = setup();
  const profiles = [...scoringProfiles(0, 50)].map((p): ScoringProfile => {
    const nulls = Object.fromEntries(WEEK2_SCORING_COLUMNS.filter((c) => c.startsWith('minutes_since_')).map((c) => [c, null]));
    return { ...p, ...nulls, emailsOpened: null };
  });
  await t.exportFiles([profiles]);
  const run = await t.score();
  const rows = await csvRows(outputsOf(run).files);
  expect(rows).toHaveLength(50);
  for (const [i, row] of rows.entries()) {
    const profile = profiles[i]!; // as many rows as profiles, as just checked
    expect(row.userId).toBe(profile.userId);
    expect(Number(row.prediction)).toBe(expectedPrediction(profile));
  }
});

it('writes a user id that needs quoting through the CSV writer', async () => {
  const t = setup();
  const odd = [{ ...scoringProfile(0), userId: 'id,with "quotes"' }, { ...scoringProfile(1), userId: 'line\nbreak' }, scoringProfile(2)];
  await t.exportFiles([odd]);
  const run = await t.score();
  const rows = await csvRows(outputsOf(run).files);
  expect(rows.map((r) => r.userId)).toEqual(['id,with "quotes"', 'line\nbreak', scoringProfile(2).userId]);
  expect(rows.map((r) => Number(r.prediction))).toEqual(odd.map(expectedPrediction));
});

it('skips an empty export, naming it, and writes nothing', async () => {
  const t = setup();
  const empty = await recordExport(t.ledger, t.clock, { folder: 'egress/scoringds/exportTime=20260301110000/', files: [], rows: 0 });
  expect(await t.score()).toMatchObject({ status: 'skipped', reason: `Export ${empty.runId} holds no profiles to score (egress/scoringds/exportTime=20260301110000/)` });
  expect(t.store.operations).toEqual([]);
});

it('skips when no model is in production yet', async () => {
  const t = setup({ modelName: 'never_trained' });
  await t.exportFiles([scoringProfiles(0, 3)]);
  expect(await t.score()).toMatchObject({ status: 'skipped', reason: 'No production version of model never_trained yet' });
  expect(await t.written()).toEqual([]);
});

it('leaves nothing where AEP looks when a later file is corrupt, and scores the export once it is readable', async () => {
  const t = setup({ partRows: 300 });
  const exported = await t.exportFiles([scoringProfiles(0, 700), Buffer.from('PAR1 not parquet at all PAR1')], 900);
  const corrupt = outputsOf(exported).scoring.files[1]!; // the two files exported just above

  const failure = t.score();
  await expect(failure).rejects.toBeInstanceOf(ParquetReadError);
  await expect(failure).rejects.toThrow(`Export file ${corrupt} is not readable parquet`);

  // Two parts were staged before the corrupt file was reached; nothing ever went to the watched folder.
  expect(t.store.operations.filter((op) => op.startsWith(`put ingress-${t.n}_staging/`))).toHaveLength(2);
  expect(t.store.operations.filter((op) => op.includes(`ingress-${t.n}/`))).toEqual([]);
  expect(await t.written()).toEqual([]);
  const [failed] = await t.ledger.recent('score', 1);
  expect(failed).toMatchObject({ status: 'failed', reason: expect.stringContaining(corrupt) });

  await platform.bucket.put(corrupt, await scoringParquet(scoringProfiles(700, 200)));
  const retried = await t.score();
  expect(retried.outputs).toMatchObject({ exportRunId: exported.runId, rows: 900 });
  expect(await csvRows(outputsOf(retried).files)).toHaveLength(900);
});

it('names the file and the column when a feature column is missing', async () => {
  const t = setup();
  const without = WEEK2_SCORING_COLUMNS.filter((c) => c !== 'minutes_since_emailClick');
  const exported = await t.exportFiles([await scoringParquet(scoringProfiles(0, 20), { columns: without })], 20);
  const file = outputsOf(exported).scoring.files[0];
  await expect(t.score()).rejects.toThrow(`Export file ${file} lacks the column minutes_since_emailClick`);
  expect(await t.written()).toEqual([]);
});

it('refuses a feature column that holds text, naming the file and the column', async () => {
  const t = setup();
  const texts = await t.exportFiles([await scoringParquet([{ ...scoringProfile(0), emailsOpened: 'many' }], { types: { emailsOpened: 'UTF8' } })], 1);
  const failure = t.score();
  await expect(failure).rejects.toBeInstanceOf(ParquetReadError);
  await expect(failure).rejects.toThrow(`Export file ${outputsOf(texts).scoring.files[0]}: column emailsOpened holds "many", not a number`);
  expect(await t.written()).toEqual([]);
});

it('refuses a profile without a userId, naming the file and the row', async () => {
  const t = setup();
  const exported = await t.exportFiles([[scoringProfile(0), { ...scoringProfile(1), userId: null }]]);
  await expect(t.score()).rejects.toThrow(new ScoreInputError(`Export file ${outputsOf(exported).scoring.files[0]}: row 1 has no userId`));
  expect(await t.written()).toEqual([]);
});

it('refuses an export whose files do not hold the rows it recorded', async () => {
  const t = setup();
  const exported = await t.exportFiles([scoringProfiles(0, 12)], 13);
  await expect(t.score()).rejects.toThrow(`Export ${exported.runId} recorded 13 scoring rows, but its files hold 12`);
  expect(await t.written()).toEqual([]);
});

it('refuses options that would write somewhere unexpected', async () => {
  await expect(setup({ scoresDatasetId: '../x' }).score()).rejects.toThrow('The scores dataset id "../x" is not a dataset id');
  await expect(setup({ partRows: 0 }).score()).rejects.toThrow('partRows must be an integer from 1 to 1000000, got 0');
  await expect(setup({ partRows: 1_000_001 }).score()).rejects.toThrow('got 1000001');
});

it('writes a prediction with six decimals that reads back as the rounded probability', () => {
  expect([0, 1, 0.5, 0.0421704, 0.0000005, 0.00000049, 0.9999996].map(formatPrediction)).toEqual([
    '0.000000',
    '1.000000',
    '0.500000',
    '0.042170',
    '0.000001',
    '0.000000',
    '1.000000',
  ]);
  for (const p of [0.123456789, 1 / 3, 2 / 3, 0.1 + 0.2, 1e-300]) expect(Number(formatPrediction(p))).toBe(Math.round(p * 1e6) / 1e6);
  expect(() => formatPrediction(NaN)).toThrow('A prediction must be a probability, got NaN');
  expect(() => formatPrediction(1.5)).toThrow('got 1.5');
});

it("reads only the bucket folders its role may read (the stage table's `read`): a HeadObject under ingress/ needs s3:GetObject there", async () => {
  const t = setup();
  await t.exportFiles([scoringProfiles(0, 20)]);
  // This test's prefixes, by the folder of the stage table each stands for.
  const folders: Array<[string, BucketFolder]> = [
    [`ingress-${t.n}_staging/`, 'staging'],
    [`ingress-${t.n}/`, 'ingress'],
    [`runs-${t.n}/`, 'runs'],
    [`egress-${t.n}/`, 'egress'],
    ['models/', 'models'],
  ];
  const read = new Set<string>();
  const store = interceptedStore(platform.bucket, {
    beforeCall: (call, key) => {
      // Listing needs s3:ListBucket on the bucket, which every stage has; these need s3:GetObject on the key.
      if (['get', 'getStream', 'getRange', 'head'].includes(call)) read.add(folders.find(([prefix]) => key.startsWith(prefix))?.[1] ?? key);
    },
  });
  const run = await scoreProfiles({ store, ledger: t.ledger, clock: t.clock, log: silentLog }, t.options);

  expect(run.status).toBe('succeeded');
  expect(read).toContain('ingress');
  expect([...read].filter((folder) => !(STAGES.score.bucket?.read ?? []).includes(folder as BucketFolder))).toEqual([]);
});
