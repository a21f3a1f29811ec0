/**
 * The PostgreSQL form of the compiled feature SQL, run on the embedded platform over synthetic events,
 * against an independent TypeScript computation of the same definitions (reference.ts).
 */
import { createAepServices } from '../../lib/aep';
import { compileFeatureQuery, compileFeatureStatement } from '../../lib/features/compile';
import { extendSpec, WEEK2_FEATURES, type FeatureSpec } from '../../lib/features/spec';
import { systemClock } from '../../lib/ports/clock';
import { silentLog } from '../../lib/ports/logger';
import type { QueryRunner } from '../../lib/ports/query-runner';
import { postgres } from '../../lib/sql/dialect';
import { generateUsers, type SyntheticUser, type XdmExperienceEvent } from '../../lib/synthetic/generator';
import { seedSyntheticData } from '../../lib/synthetic/seed';
import { startTestPlatform } from '../helpers/platform';
import { mismatches } from './compare';
import { referenceScoringRow, referenceTrainingRow, type RefEvent, type RefRow } from './reference';
import { createEventsDataset, ingestBatch, snapshotIds } from './snapshot-fixture';

const USERS = 1500;
const SEED = 11;
const NOW = new Date('2026-03-01T12:00:00Z');

type Platform = Awaited<ReturnType<typeof startTestPlatform>>;

function reference(spec: FeatureSpec, kind: 'training' | 'scoring', users: ReadonlyArray<{ ecid: string; events: readonly RefEvent[] }>): RefRow[] {
  return users
    .filter((u) => u.events.length > 0)
    .map((u) => (kind === 'training' ? referenceTrainingRow(spec, u.ecid, u.events) : referenceScoringRow(spec, u.ecid, u.events)));
}

let platform: Platform;
let runner: QueryRunner;
let tenantId: string;

beforeAll(async () => {
  platform = await startTestPlatform();
  runner = createAepServices(platform.config).queryConnections.runner();
});
afterAll(async () => {
  await platform?.dispose();
});

describe('training and scoring sets over the whole events table', () => {
  let table: string;
  let users: SyntheticUser[];

  beforeAll(async () => {
    const aep = createAepServices(platform.config);
    const seeded = await seedSyntheticData(
      aep,
      { clock: systemClock, log: silentLog },
      { users: USERS, usersPerBatch: 500, seed: SEED, now: NOW, namePrefix: 'features', batchPollIntervalMs: 20 },
    );
    tenantId = seeded.tenantId;
    table = seeded.tableName;
    users = [...generateUsers(0, USERS, { seed: SEED, now: NOW, tenantId: `_${tenantId}` })];
  });

  const run = (spec: FeatureSpec, kind: 'training' | 'scoring') => runner.query(compileFeatureQuery(spec, postgres, { kind, eventsTable: table, tenantId }));

  it('gives every user with events one training row equal to the independent computation', async () => {
    const rows = await run(WEEK2_FEATURES, 'training');
    const expected = reference(WEEK2_FEATURES, 'training', users);
    expect(rows).toHaveLength(expected.length);
    expect(mismatches(WEEK2_FEATURES, 'training', rows, expected)).toEqual([]);

    // The data exercises what is compared: both labels, nulls and values in every minutes column.
    const subscribers = users.filter((u) => u.subscribed).length;
    expect(rows.filter((r) => r.subscriptionOccurred === 1)).toHaveLength(subscribers);
    expect(subscribers).toBeGreaterThan(100);
    for (const f of WEEK2_FEATURES.features.filter((x) => x.kind === 'minutesSinceLast')) {
      expect(rows.some((r) => r[f.name] === null)).toBe(true);
      expect(rows.some((r) => typeof r[f.name] === 'number' && (r[f.name] as number) > 0)).toBe(true);
    }
    // The dismiss columns are not the notebook's always-null ones.
    expect(rows.filter((r) => r.minutes_since_propositionDismiss !== null).length).toBeGreaterThan(0);
    expect(rows.filter((r) => Number(r.propositionDismissed) > 0).length).toBeGreaterThan(0);
  });

  it('keeps the first subscription row of each subscriber and a seeded pseudo-random row of the others', async () => {
    const rows = await run(WEEK2_FEATURES, 'training');
    const byUser = new Map(rows.map((r) => [String(r.userId), (r.timestamp as Date).toISOString()]));
    for (const u of users.filter((x) => x.subscribed)) {
      const first = u.events.find((e) => e.eventType === 'web.formFilledOut') as XdmExperienceEvent;
      expect(byUser.get(u.ecid)).toBe(first.timestamp);
    }
    // Another seed picks another row for many non-subscribers (with several events), and the same for subscribers.
    const reseeded = extendSpec(WEEK2_FEATURES, { seed: 'another-seed' });
    const other = await run(reseeded, 'training');
    expect(mismatches(reseeded, 'training', other, reference(reseeded, 'training', users))).toEqual([]);
    const moved = other.filter((r) => r.subscriptionOccurred === 0 && byUser.get(String(r.userId)) !== (r.timestamp as Date).toISOString());
    expect(moved.length).toBeGreaterThan(100);
    expect(other.filter((r) => r.subscriptionOccurred === 1).every((r) => byUser.get(String(r.userId)) === (r.timestamp as Date).toISOString())).toBe(true);
  });

  it('gives every user one scoring row: the features as of their last event, without a label', async () => {
    const rows = await run(WEEK2_FEATURES, 'scoring');
    const expected = reference(WEEK2_FEATURES, 'scoring', users);
    expect(rows).toHaveLength(expected.length);
    expect(mismatches(WEEK2_FEATURES, 'scoring', rows, expected)).toEqual([]);
    expect(Object.keys(rows[0]!)).not.toContain('subscriptionOccurred'); // one row per user, as just checked
  });

  it('compiles an extended specification the same way', async () => {
    const spec = extendSpec(WEEK2_FEATURES, {
      remove: ['webLinkClicks'],
      features: [
        { kind: 'runningCount', name: 'pageViews', eventType: 'web.webpagedetails.pageViews' },
        { kind: 'minutesSinceLast', name: 'minutes_since_purchase', eventType: 'commerce.purchases' },
        { kind: 'runningCount', name: 'neverHappens', eventType: 'no.such.event' },
      ],
    });
    for (const kind of ['training', 'scoring'] as const) {
      const rows = await run(spec, kind);
      expect(rows).toHaveLength(users.filter((u) => u.events.length > 0).length);
      expect(mismatches(spec, kind, rows, reference(spec, kind, users))).toEqual([]);
      expect(rows.every((r) => Number(r.neverHappens) === 0)).toBe(true);
    }
  });
});

describe('incremental runs over snapshots', () => {
  const INCREMENTAL_USERS = 600;
  let table: string;
  let snapshots: number[];
  /** Each user's events, with the number (0, 1, 2) of the batch that carried them. */
  let users: Array<{ ecid: string; events: Array<XdmExperienceEvent & { batch: number }> }>;

  beforeAll(async () => {
    const aep = createAepServices(platform.config);
    const dataset = await createEventsDataset(aep, platform.tenantId, 'incremental');
    table = dataset.tableName;
    // Three batches by event time: before week 5 of the window, weeks 5 to 8, after week 8. Users with no
    // events in a slice are absent from that batch, and a user's running counts cross batches.
    const generated = [...generateUsers(0, INCREMENTAL_USERS, { seed: SEED + 1, now: NOW, tenantId: `_${platform.tenantId}` })];
    const times = generated.flatMap((u) => u.events.map((e) => Date.parse(e.timestamp)));
    const start = Math.min(...times);
    const week = 7 * 24 * 3_600_000;
    const batchOf = (e: XdmExperienceEvent) => (Date.parse(e.timestamp) < start + 5 * week ? 0 : Date.parse(e.timestamp) < start + 8 * week ? 1 : 2);
    users = generated.map((u) => ({ ecid: u.ecid, events: u.events.map((e) => ({ ...e, batch: batchOf(e) })) }));

    const runner = aep.queryConnections.runner();
    for (let b = 0; b < 3; b++) {
      const events = generated.flatMap((u) => u.events.filter((e) => batchOf(e) === b));
      await ingestBatch(aep, dataset, events, `slice-${b}.json`);
    }
    snapshots = await snapshotIds(runner, table);
  });

  /** The id of snapshot `k` (0, 1 or 2): one per batch ingested above. */
  const snapshot = (k: number): number => {
    const id = snapshots[k];
    if (id === undefined) throw new Error(`there is no snapshot ${k}; ${snapshots.length} were made`);
    return id;
  };

  /** The users as known at snapshot index `upTo` (history up to and including that batch). */
  const asOf = (upTo: number) => users.map((u) => ({ ecid: u.ecid, events: u.events.filter((e) => e.batch <= upTo) }));
  /** Users with an event in batches (from, upTo]. */
  const changedIn = (from: number, upTo: number) => new Set(users.filter((u) => u.events.some((e) => e.batch > from && e.batch <= upTo)).map((u) => u.ecid));

  it('has one snapshot per batch', () => {
    expect(snapshots).toHaveLength(3);
    expect([...snapshots].sort((a, b) => a - b)).toEqual(snapshots);
  });

  it('emits, for snapshots (from, to], the users with events in that range, with features over their full history up to `to`', async () => {
    for (const [from, to] of [
      [0, 2],
      [0, 1],
      [1, 2],
    ] as const) {
      const changed = changedIn(from, to);
      expect(changed.size).toBeGreaterThan(50);
      expect(changed.size).toBeLessThan(users.filter((u) => u.events.some((e) => e.batch <= to)).length);
      for (const kind of ['training', 'scoring'] as const) {
        const rows = await runner.query(
          compileFeatureQuery(WEEK2_FEATURES, postgres, { kind, eventsTable: table, tenantId: platform.tenantId, snapshots: { from: snapshot(from), to: snapshot(to) } }),
        );
        const expected = reference(WEEK2_FEATURES, kind, asOf(to)).filter((r) => changed.has(r.userId));
        expect(new Set(rows.map((r) => String(r.userId)))).toEqual(changed);
        expect(mismatches(WEEK2_FEATURES, kind, rows, expected)).toEqual([]);
      }
    }
  });

  it('counts across the range boundary: running counts over the later range include the earlier snapshots', async () => {
    const rows = await runner.query(
      compileFeatureQuery(WEEK2_FEATURES, postgres, { kind: 'scoring', eventsTable: table, tenantId: platform.tenantId, snapshots: { from: snapshot(1), to: snapshot(2) } }),
    );
    const onlyLater = (ecid: string) => users.find((u) => u.ecid === ecid)?.events.filter((e) => e.batch === 2 && e.eventType === 'directMarketing.emailSent').length ?? 0;
    // A restart at the boundary would make these equal for every user.
    expect(rows.filter((r) => Number(r.emailsReceived) > onlyLater(String(r.userId))).length).toBeGreaterThan(20);
  });

  it('reads everything up to `to` on a first run, and ignores later snapshots', async () => {
    const rows = await runner.query(
      compileFeatureQuery(WEEK2_FEATURES, postgres, { kind: 'training', eventsTable: table, tenantId: platform.tenantId, snapshots: { to: snapshot(0) } }),
    );
    const expected = reference(WEEK2_FEATURES, 'training', asOf(0));
    expect(rows).toHaveLength(expected.length);
    expect(mismatches(WEEK2_FEATURES, 'training', rows, expected)).toEqual([]);
  });

  it('creates the training table on the first run and inserts into it after', async () => {
    const base = { kind: 'training' as const, eventsTable: table, tenantId: platform.tenantId, outputTable: 'training_features' };
    await runner.query(compileFeatureStatement(WEEK2_FEATURES, postgres, { ...base, mode: 'create', snapshots: { to: snapshot(0) } }));
    await runner.query(compileFeatureStatement(WEEK2_FEATURES, postgres, { ...base, mode: 'insert', snapshots: { from: snapshot(0), to: snapshot(2) } }));
    const rows = await runner.query('SELECT * FROM "training_features"');
    const first = reference(WEEK2_FEATURES, 'training', asOf(0));
    const changed = changedIn(0, 2);
    const second = reference(WEEK2_FEATURES, 'training', asOf(2)).filter((r) => changed.has(r.userId));
    expect(rows).toHaveLength(first.length + second.length);
    // The newest row of each user (the second run's where there is one) is the full-history row.
    const latest = new Map<string, Record<string, unknown>>();
    for (const r of rows) {
      const seen = latest.get(String(r.userId));
      if (!seen || (seen.timestamp as Date) <= (r.timestamp as Date)) latest.set(String(r.userId), r);
    }
    const expectedLatest = new Map(first.map((r) => [r.userId, r]));
    for (const r of second) expectedLatest.set(r.userId, r);
    // A user's second-run row is never earlier than the first-run row: its history only grew.
    expect(mismatches(WEEK2_FEATURES, 'training', [...latest.values()], [...expectedLatest.values()])).toEqual([]);
  });
});
