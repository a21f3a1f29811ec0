import { checkDay, lifecycleWindowHeld, readsBounded, trainInputsPresent, type DayContext, type StageInvocation } from '../../lib/simulation/invariants';
import { formatDayLine, summarizeDay } from '../../lib/simulation/day';

const DAY = 86_400_000;
const start = Date.UTC(2026, 0, 5);
const run = (stage: string, day: number, objectReads: number, outcome: StageInvocation['outcome'] = 'succeeded', reason?: string): StageInvocation => ({ stage, at: new Date(start + (day - 1) * DAY), outcome, reason, objectReads });
const context = (day: number, invocations: StageInvocation[][], objects: Array<{ key: string; lastModified: Date }> = []): DayContext => ({
  day,
  now: new Date(start + day * DAY),
  invocations,
  listObjects: () => Promise.resolve(objects),
  lifecycleRules: [{ id: 'expire-egress', status: 'Enabled', filter: [{ and: [{ prefix: 'egress/', object_size_greater_than: 0 }] }], expiration: [{ days: 30 }] }],
});

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

it('prints one line for the day with the stages, rows, audience and production model', () => {
  const runs: StageInvocation[] = [
    run('featurize', 1, 3),
    run('export', 1, 5),
    { ...run('score', 1, 9), outputs: { rows: 20118, modelVersion: 'v3' } },
    ...Array.from({ length: 24 }, (_, i) => run('ingestion-check', 1, 2, i < 3 ? 'succeeded' : 'skipped')),
    { ...run('audience', 1, 2), outputs: { qualifiedProfiles: 1042 } },
  ];
  const figures = summarizeDay(12, new Date('2026-01-13T00:00:00Z'), runs, { events: 100, joined: 5, subscribed: 1, users: 2000 });
  expect(formatDayLine(figures)).toBe('day 12  2026-01-13  featurize ok · export ok · train – · score ok 20,118 rows · ingestion-check 3/24 ok · audience 1,042  [model v3 production]');
});
