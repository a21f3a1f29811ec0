import {
  checkDay,
  lifecycleWindowHeld,
  onDemandWithinBudget,
  productionAboveFloor,
  readsBounded,
  scoresFresh,
  scoresIngestedOnce,
  trainInputsPresent,
  type DayContext,
  type StageInvocation,
} from '../../lib/simulation/invariants';
import { MANIFEST_NAME, type ScoreManifest } from '../../lib/stages/score';
import { formatDayLine, summarizeDay } from '../../lib/simulation/day';

const DAY = 86_400_000;
const start = Date.UTC(2026, 0, 5);
const run = (stage: string, day: number, objectReads: number, outcome: StageInvocation['outcome'] = 'succeeded', reason?: string): StageInvocation => ({ stage, at: new Date(start + (day - 1) * DAY), outcome, reason, objectReads });
const context = (day: number, invocations: StageInvocation[][], objects: Array<{ key: string; lastModified: Date }> = [], more: Partial<DayContext> = {}): DayContext => ({
  day,
  now: new Date(start + day * DAY),
  invocations,
  listObjects: () => Promise.resolve(objects),
  lifecycleRules: [{ id: 'expire-egress', status: 'Enabled', filter: [{ and: [{ prefix: 'egress/', object_size_greater_than: 0 }] }], expiration: [{ days: 30 }] }],
  readObject: () => Promise.resolve(undefined),
  scoresPrefix: 'ingress/scores1/',
  ingestionRuns: () => [],
  segmentJobs: () => [],
  profileScores: () => Promise.resolve(new Map()),
  production: () => Promise.resolve(undefined),
  settings: { scorePeriodMs: DAY, minAuc: 0.6, baselineMargin: 0.01, onDemandPerDay: 2, onDemandPerYear: 50, readWindowDays: {}, deployedAt: new Date(start) },
  ...more,
});

/** A bucket holding published score folders, with what AEP ingested of them. */
function publishedScores(folders: Array<{ day: number; runId: string; exportRunId: string; files: Record<string, string>; manifest?: boolean; extra?: string[] }>) {
  const objects = new Map<string, { text: string; lastModified: Date }>();
  for (const f of folders) {
    const folder = `ingress/scores1/exportTime=${f.day}/`;
    const lastModified = new Date(start + (f.day - 1) * DAY + 3_600_000);
    const files = Object.entries(f.files).map(([name, csv]) => ({ key: `${folder}${name}`, rows: csv.trim().split('\n').length - 1 }));
    for (const [name, csv] of Object.entries(f.files)) objects.set(`${folder}${name}`, { text: csv, lastModified });
    for (const name of f.extra ?? []) objects.set(`${folder}${name}`, { text: 'userId,prediction\n', lastModified });
    const manifest: ScoreManifest = { runId: f.runId, exportRunId: f.exportRunId, modelName: 'm', modelVersion: 'v1', rows: files.reduce((n, p) => n + p.rows, 0), files };
    if (f.manifest !== false) objects.set(`${folder}${MANIFEST_NAME}`, { text: JSON.stringify(manifest), lastModified });
  }
  return {
    listObjects: () => Promise.resolve([...objects].map(([key, o]) => ({ key, lastModified: o.lastModified }))),
    readObject: (key: string) => Promise.resolve(objects.get(key)?.text),
  };
}
const csv = (rows: Array<[string, number]>) => `userId,prediction\n${rows.map(([u, p]) => `${u},${p}`).join('\n')}\n`;
const loaded = (...files: Array<[string, number]>) => ({ id: `run-${files[0]?.[0]}`, state: 'success', files: files.map(([key, records]) => ({ key, records, failed: 0 })) });

it('fails the run naming the day and the invariant when a staged object outlives its window', async () => {
  const old = { key: 'egress/run-1/part-0.parquet', lastModified: new Date(start) };
  await expect(checkDay([lifecycleWindowHeld], context(31, [], [old]))).resolves.toBeUndefined();
  await expect(checkDay([lifecycleWindowHeld], context(33, [], [old]))).rejects.toThrow(/^Day 33: no staged object outlives its lifecycle window: egress\/run-1\/part-0.parquet .* outlived rule expire-egress \(30 days\)/);
});

it('finds a train run that failed on a missing input', async () => {
  const days = [[run('train', 1, 10, 'failed', 'NoSuchKey: egress/run-1/part-0.parquet does not exist')]];
  await expect(checkDay([trainInputsPresent], context(1, days))).rejects.toThrow(/Day 1: no train run failed because an input object was missing: .*NoSuchKey/);
});

it('tells reads that grow with every run from reads that stay bounded', async () => {
  const growing = [1, 2, 3, 4, 5].map((day) => [run('train', day, 10 + day)]);
  await expect(checkDay([readsBounded], context(5, growing))).rejects.toThrow(/train read 11, 12, 13, 14, 15 objects in its last 5 runs/);
  const bounded = [1, 2, 3, 4, 5].map((day) => [run('train', day, Math.min(12, 10 + day))]);
  await expect(checkDay([readsBounded], context(5, bounded))).resolves.toBeUndefined();
});

it('compares the reads of a stage with a window of history by design only once that window is full', async () => {
  // A weekly train over a 28-day window reads more each week until the window is full, then no more.
  const weekly = (reads: number[]) => Array.from({ length: 7 * reads.length }, (_, i) => (i % 7 === 0 ? [run('train', i + 1, reads[i / 7]!)] : []));
  const filling = weekly([10, 20, 30, 40, 50, 50, 50, 50, 50, 50]);
  const withWindow = (day: number, invocations: StageInvocation[][]) =>
    context(day, invocations, [], { settings: { ...context(day, []).settings, readWindowDays: { train: 29 } } });
  await expect(checkDay([readsBounded], withWindow(64, filling))).resolves.toBeUndefined();
  // Without the window, the filling weeks look like growth.
  await expect(checkDay([readsBounded], context(29, filling.slice(0, 29)))).rejects.toThrow(/train read 10, 20, 30, 40, 50/);
  // Growth that goes on past the window is still caught.
  const growing = weekly([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  await expect(checkDay([readsBounded], withWindow(64, growing))).rejects.toThrow(/train read 60, 70, 80, 90, 100/);
});

it('prints one line for the day with the stages, rows, audience and production model', () => {
  const runs: StageInvocation[] = [
    run('featurize', 1, 3),
    run('export', 1, 5),
    { ...run('score', 1, 9), outputs: { rows: 20118, modelVersion: 'v3' } },
    ...Array.from({ length: 24 }, (_, i) => run('ingestion-check', 1, 2, i < 3 ? 'succeeded' : 'skipped')),
    { ...run('audience', 1, 2), outputs: { qualifiedProfiles: 1042 } },
  ];
  const figures = summarizeDay(12, new Date('2026-01-13T00:00:00Z'), runs, { events: 100, joined: 5, subscribed: 1, users: 2000 });
  expect(formatDayLine(figures)).toBe('day 12  2026-01-13  featurize ok · export ok · train – · score ok 20,118 rows · ingestion-check 3 ok, 21 skipped · audience 1,042  [model v3 production]');
});

it('tells killed and timed-out invocations and the day\'s faults apart in the day line', () => {
  const runs: StageInvocation[] = [
    { ...run('score', 1, 9, 'error', 'Runtime.ExitError: exited with SIGKILL before answering'), fault: 'killed' },
    ...Array.from({ length: 24 }, (_, i) => run('ingestion-check', 1, 2, i === 0 ? 'failed' : i < 3 ? 'succeeded' : 'skipped')),
    { ...run('audience', 1, 2, 'error', 'Sandbox.Timedout: Task timed out after 900.00 seconds'), fault: 'timed out' },
  ];
  const figures = summarizeDay(3, new Date('2026-01-07T00:00:00Z'), runs, { events: 1, joined: 0, subscribed: 0, users: 10 });
  figures.faults = { 'process-kill': 1, 'aep-throttle': 2 };
  expect(figures.killed).toEqual({ score: 1 });
  expect(figures.timedOut).toEqual({ audience: 1 });
  expect(figures.failures[0]).toBe('score: killed: Runtime.ExitError: exited with SIGKILL before answering');
  expect(formatDayLine(figures)).toBe(
    'day  3  2026-01-07  featurize – · export – · train – · score FAILED (1 killed) · ingestion-check 2 ok, 21 skipped, 1 FAILED · audience FAILED (1 timed out)  [no production model]  faults: process-kill 1, aep-throttle 2',
  );
});

describe("every score run's rows reach AEP exactly once", () => {
  const folder1 = { day: 1, runId: 's1', exportRunId: 'e1', files: { 'part-00000.csv': csv([['u1', 0.1], ['u2', 0.2]]) } };
  const part1 = 'ingress/scores1/exportTime=1/part-00000.csv';

  it('holds for a folder published whole and ingested once', async () => {
    const bucket = publishedScores([folder1]);
    await expect(checkDay([scoresIngestedOnce()], context(2, [[run('score', 1, 1)]], [], { ...bucket, ingestionRuns: () => [loaded([part1, 2])] }))).resolves.toBeUndefined();
  });

  it('fails on a file AEP ingested twice', async () => {
    const bucket = publishedScores([folder1]);
    const twice = () => [loaded([part1, 2]), { ...loaded([part1, 2]), id: 'again' }];
    await expect(checkDay([scoresIngestedOnce()], context(2, [], [], { ...bucket, ingestionRuns: twice }))).rejects.toThrow(/^Day 2: every score run's rows reach AEP exactly once: .*part-00000.csv was ingested 2 times/);
  });

  it('fails on one score run published in two folders', async () => {
    const bucket = publishedScores([folder1, { ...folder1, day: 2 }]);
    await expect(checkDay([scoresIngestedOnce()], context(2, [], [], bucket))).rejects.toThrow(/score run s1 is published twice, in ingress\/scores1\/exportTime=1\/ and ingress\/scores1\/exportTime=2\//);
  });

  it('fails on a profile row published twice within one run', async () => {
    const bucket = publishedScores([{ ...folder1, files: { 'part-00000.csv': csv([['u1', 0.1]]), 'part-00001.csv': csv([['u1', 0.1]]) } }]);
    const runs = () => [loaded([part1, 1], ['ingress/scores1/exportTime=1/part-00001.csv', 1])];
    await expect(checkDay([scoresIngestedOnce()], context(2, [], [], { ...bucket, ingestionRuns: runs }))).rejects.toThrow(/score run s1 .* publishes 1 profile rows more than once/);
  });

  it('fails on a file in a folder that its manifest does not list', async () => {
    const bucket = publishedScores([{ ...folder1, extra: ['part-00009.csv'] }]);
    await expect(checkDay([scoresIngestedOnce()], context(2, [], [], bucket))).rejects.toThrow(/part-00009.csv is in .* but not in its manifest/);
  });

  it('allows a half-published folder until a later score run has got through, then fails', async () => {
    const bucket = publishedScores([{ ...folder1, manifest: false }]);
    const killed: StageInvocation = { ...run('score', 1, 1, 'error'), fault: 'killed' };
    await expect(checkDay([scoresIngestedOnce()], context(1, [[killed]], [], bucket))).resolves.toBeUndefined();
    const later = [[killed], [run('score', 2, 1, 'skipped')]];
    await expect(checkDay([scoresIngestedOnce()], context(2, later, [], bucket))).rejects.toThrow(/exportTime=1\/ holds 1 files and no _manifest.json after the score run at .* finished/);
  });
});

describe('once faults stop, every profile in the scoring set has a fresh score', () => {
  const exportRun = (day: number, runId: string): StageInvocation => ({ ...run('export', day, 1), runId });
  const folder = (day: number, exportRunId: string, rows: Array<[string, number]>) => ({ day, runId: `s${day}`, exportRunId, files: { 'part-00000.csv': csv(rows) } });
  const part = (day: number) => `ingress/scores1/exportTime=${day}/part-00000.csv`;
  const faultsEndAt = new Date(start + 2 * DAY);
  const afterFaults = { settings: { ...context(1, []).settings, faultsEndAt }, production: () => Promise.resolve({ version: 'v1', heldOutAuc: 0.9 }) };

  it('is not checked until the score period and a day have passed since faults stopped', async () => {
    const ctx = context(3, [[exportRun(1, 'e1')], [], []], [], { ...afterFaults });
    await expect(checkDay([scoresFresh], ctx)).resolves.toBeUndefined();
  });

  it('is not checked while no model is in production: there is nothing to score with', async () => {
    const ctx = context(5, [[], [], [exportRun(3, 'e3')], [], []], [], { settings: afterFaults.settings });
    await expect(checkDay([scoresFresh], ctx)).resolves.toBeUndefined();
  });

  it('holds when every profile of the scored export holds its newest score', async () => {
    const bucket = publishedScores([folder(3, 'e3', [['u1', 0.5], ['u2', 0.25]])]);
    const ctx = context(5, [[], [], [exportRun(3, 'e3')], [], []], [], {
      ...bucket,
      ...afterFaults,
      ingestionRuns: () => [loaded([part(3), 2])],
      profileScores: () => Promise.resolve(new Map([['u1', 0.5], ['u2', 0.25]])),
    });
    await expect(checkDay([scoresFresh], ctx)).resolves.toBeUndefined();
  });

  it('fails when no export has succeeded for longer than the score period and a day: every score is then stale', async () => {
    const bucket = publishedScores([folder(3, 'e3', [['u1', 0.5], ['u2', 0.25]])]);
    const failing = (day: number): StageInvocation => ({ ...run('export', day, 3, 'failed', 'Export holds 2239 rows; the query produced 6738') });
    const ctx = context(8, [[], [], [exportRun(3, 'e3')], [failing(4)], [failing(5)], [failing(6)], [failing(7)], [failing(8)]], [], {
      ...bucket,
      ...afterFaults,
      ingestionRuns: () => [loaded([part(3), 2])],
      profileScores: () => Promise.resolve(new Map([['u1', 0.5], ['u2', 0.25]])),
    });
    await expect(checkDay([scoresFresh], ctx)).rejects.toThrow(/no export succeeded from .* the newest scores AEP can hold are of export e3/);
  });

  it('fails naming a profile that holds an old score or none', async () => {
    const bucket = publishedScores([folder(3, 'e3', [['u1', 0.5], ['u2', 0.25]])]);
    const ctx = context(5, [[], [], [exportRun(3, 'e3')], [], []], [], {
      ...bucket,
      ...afterFaults,
      ingestionRuns: () => [loaded([part(3), 2])],
      profileScores: () => Promise.resolve(new Map([['u1', 0.9]])),
    });
    await expect(checkDay([scoresFresh], ctx)).rejects.toThrow(/^Day 5: once faults stop, every profile in the scoring set has a fresh score: profile u1 holds the score 0.9 in AEP, not 0.5 .*; profile u2 has no score in AEP/);
  });

  it('fails when the due export was never scored or its scores never ingested', async () => {
    const settings = afterFaults.settings;
    const production = afterFaults.production;
    await expect(checkDay([scoresFresh], context(5, [[], [], [exportRun(3, 'e3')], [], []], [], { settings, production }))).rejects.toThrow(/the export e3 of .* has no published scores within 48 hours/);
    const bucket = publishedScores([folder(3, 'e3', [['u1', 0.5]])]);
    await expect(checkDay([scoresFresh], context(5, [[], [], [exportRun(3, 'e3')], [], []], [], { ...bucket, settings, production }))).rejects.toThrow(/the scores of export e3 .* were not ingested within 48 hours/);
  });
});

describe('production never holds a model below the quality floor', () => {
  const decision = { decidedAt: '2026-01-05T05:00:00Z', challenger: 'v1', challengerAuc: 0.9, baselineAuc: 0.8, tolerance: 0, promoted: true, reason: 'ok' };

  it('holds for a version promoted above the floor, and before any promotion', async () => {
    await expect(checkDay([productionAboveFloor], context(1, []))).resolves.toBeUndefined();
    const production = () => Promise.resolve({ version: 'v1', heldOutAuc: 0.9, decision });
    await expect(checkDay([productionAboveFloor], context(1, [], [], { production }))).resolves.toBeUndefined();
  });

  it('fails on a version below the minimum AUC, not above the baseline, or with no decision', async () => {
    const below = () => Promise.resolve({ version: 'v1', heldOutAuc: 0.55, decision: { ...decision, challengerAuc: 0.55 } });
    await expect(checkDay([productionAboveFloor], context(3, [], [], { production: below }))).rejects.toThrow(/^Day 3: production never holds a model below the quality floor: production version v1 has held-out AUC 0.55, below the floor 0.6/);
    const nearBaseline = () => Promise.resolve({ version: 'v1', heldOutAuc: 0.805, decision: { ...decision, challengerAuc: 0.805 } });
    await expect(checkDay([productionAboveFloor], context(3, [], [], { production: nearBaseline }))).rejects.toThrow(/v1 was promoted with AUC 0.805, below the floor \(0.6, baseline 0.8 \+ 0.01\)/);
    const undecided = () => Promise.resolve({ version: 'v1', heldOutAuc: 0.9 });
    await expect(checkDay([productionAboveFloor], context(3, [], [], { production: undecided }))).rejects.toThrow(/has no recorded decision promoting it/);
  });
});

describe('on-demand segment jobs never exceed the budget', () => {
  const job = (hours: number, source = 'api') => ({ id: `j${hours}`, source, creationTime: start + hours * 3_600_000 });

  it('counts on-demand jobs only, in any 24 hours', async () => {
    const withinDay = () => [job(1), job(20), job(26), job(2, 'scheduler'), job(3, 'scheduler')];
    await expect(checkDay([onDemandWithinBudget], context(2, [], [], { segmentJobs: withinDay }))).resolves.toBeUndefined();
    const threeInADay = () => [job(1), job(20), job(24.5)];
    await expect(checkDay([onDemandWithinBudget], context(2, [], [], { segmentJobs: threeInADay }))).rejects.toThrow(/^Day 2: on-demand segment jobs never exceed the budget: 3 on-demand segment jobs in the 24 hours to .*, the budget allows 2/);
  });

  it('and in any 365 days', async () => {
    const weekly = () => Array.from({ length: 51 }, (_, week) => job(week * 24 * 7));
    await expect(checkDay([onDemandWithinBudget], context(360, [], [], { segmentJobs: weekly }))).rejects.toThrow(/51 on-demand segment jobs in the 365 days .* the budget allows 50/);
  });
});
