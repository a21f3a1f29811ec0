/**
 * The PostgreSQL form on hand-made events that the synthetic data rarely or never produces: events at
 * the same instant (ties broken by `_id`, byte-wise), several label events, rows without a user id,
 * single-event users. Runs on the embedded PostgreSQL alone.
 */
import { compileFeatureQuery } from '../../lib/features/compile';
import { WEEK2_FEATURES } from '../../lib/features/spec';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../lib/embedded/postgres';
import { literal, postgres } from '../../lib/sql/dialect';
import { isoTimestamp, mismatches } from './compare';
import { referenceScoringRow, referenceTrainingRow, type RefEvent } from './reference';

interface EdgeEvent extends RefEvent {
  userId: string | null;
}

const T0 = Date.parse('2026-01-05T10:00:00.000Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

/** Users whose events share timestamps; the `_id`s sort differently byte-wise than by number or case. */
function tiedUsers(count: number): EdgeEvent[] {
  const out: EdgeEvent[] = [];
  for (let u = 0; u < count; u++) {
    const userId = `tied-${u}`;
    const ids = ['9', '10', 'B', 'a', 'b-2', 'b-10'].map((s) => `${userId}-${s}`);
    const types = ['directMarketing.emailSent', 'directMarketing.emailOpened', 'commerce.productViews', 'directMarketing.emailClicked', 'web.formFilledOut', 'web.webinteraction.linkClicks'];
    // Every event of this user at one of two instants; a subscription for every other user.
    ids.forEach((id, i) => {
      const eventType = types[(i + u) % types.length]!; // the remainder is an index
      if (eventType === 'web.formFilledOut' && u % 2 === 1) return;
      out.push({ userId, _id: id, timestamp: at(u % 3 === 0 ? 5 : i < 3 ? 5 : 7.5), eventType });
    });
  }
  return out;
}

/** Users with two subscriptions at the same instant: the one with the smaller `_id` is the first. */
function twinSubscriptions(count: number): EdgeEvent[] {
  return Array.from({ length: count }, (_, u) => [
    { userId: `twin-${u}`, _id: `twin-${u}-c`, timestamp: at(4), eventType: 'web.formFilledOut' },
    { userId: `twin-${u}`, _id: `twin-${u}-b`, timestamp: at(4), eventType: 'directMarketing.emailSent' },
    { userId: `twin-${u}`, _id: `twin-${u}-a`, timestamp: at(4), eventType: 'web.formFilledOut' },
  ]).flat();
}

const EVENTS: EdgeEvent[] = [
  ...tiedUsers(60),
  ...twinSubscriptions(20),
  // Two subscriptions: the first one's row is kept.
  { userId: 'twice', _id: 'x1', timestamp: at(0), eventType: 'directMarketing.emailSent' },
  { userId: 'twice', _id: 'x2', timestamp: at(10), eventType: 'web.formFilledOut' },
  { userId: 'twice', _id: 'x3', timestamp: at(20), eventType: 'directMarketing.emailSent' },
  { userId: 'twice', _id: 'x4', timestamp: at(30), eventType: 'web.formFilledOut' },
  // One event only.
  { userId: 'single', _id: 's1', timestamp: at(3), eventType: 'directMarketing.emailSent' },
  // No user id: ignored.
  { userId: null, _id: 'n1', timestamp: at(1), eventType: 'web.formFilledOut' },
  { userId: null, _id: 'n2', timestamp: at(2), eventType: 'directMarketing.emailSent' },
  // Sub-second gaps.
  { userId: 'fine', _id: 'f1', timestamp: new Date(T0 + 1).toISOString(), eventType: 'commerce.productViews' },
  { userId: 'fine', _id: 'f2', timestamp: new Date(T0 + 1_234).toISOString(), eventType: 'directMarketing.emailSent' },
];

let pg: EmbeddedPostgres;

beforeAll(async () => {
  pg = await startEmbeddedPostgres();
  await pg.db.exec(`CREATE TABLE "edge_events" ("_id" text, "timestamp" timestamptz, "eventType" text, "_edge" jsonb)`);
  // Inserted in reverse, so that physical order disagrees with the (timestamp, _id) order.
  const values = [...EVENTS]
    .reverse()
    .map((e) => `(${literal(e._id)}, ${literal(e.timestamp)}, ${literal(e.eventType)}, ${e.userId === null ? `'{}'::jsonb` : literal(JSON.stringify({ userid: e.userId }))})`);
  await pg.db.exec(`INSERT INTO "edge_events" VALUES ${values.join(', ')}`);
});
afterAll(async () => {
  await pg?.stop();
});

function byUser(): Map<string, RefEvent[]> {
  const users = new Map<string, RefEvent[]>();
  for (const e of EVENTS) {
    if (e.userId === null) continue;
    users.set(e.userId, [...(users.get(e.userId) ?? []), e]);
  }
  return users;
}

async function run(kind: 'training' | 'scoring'): Promise<Record<string, unknown>[]> {
  const result = await pg.db.query<Record<string, unknown>>(compileFeatureQuery(WEEK2_FEATURES, postgres, { kind, eventsTable: 'edge_events', tenantId: 'edge' }));
  return result.rows;
}

describe('edge cases in the PostgreSQL form', () => {
  it.each(['training', 'scoring'] as const)('%s rows equal the independent computation', async (kind) => {
    const rows = await run(kind);
    const expected = [...byUser()].map(([userId, events]) => (kind === 'training' ? referenceTrainingRow(WEEK2_FEATURES, userId, events) : referenceScoringRow(WEEK2_FEATURES, userId, events)));
    expect(rows).toHaveLength(expected.length);
    expect(mismatches(WEEK2_FEATURES, kind, rows, expected)).toEqual([]);
  });

  it('keeps the first of two subscriptions, ignores events without a user, and gives 0 minutes on a matching row', async () => {
    const rows = new Map((await run('training')).map((r) => [String(r.userId), r]));
    expect(rows.has('null')).toBe(false);
    expect([...rows.keys()].every((k) => k !== '')).toBe(true);
    const twice = rows.get('twice') as Record<string, unknown>;
    expect(isoTimestamp(twice.timestamp)).toBe(at(10));
    expect(twice).toMatchObject({ subscriptionOccurred: 1, minutes_since_emailSent: 10, minutes_since_productView: null });
    expect(Number(twice.emailsReceived)).toBe(1);
    const single = rows.get('single') as Record<string, unknown>;
    expect(single).toMatchObject({ subscriptionOccurred: 0, minutes_since_emailSent: 0, minutes_since_emailOpened: null });
    expect(Number(single.emailsReceived)).toBe(1);
    const scoring = new Map((await run('scoring')).map((r) => [String(r.userId), r]));
    expect((scoring.get('fine') as Record<string, unknown>).minutes_since_productView).toBeCloseTo(1.233 / 60, 12);
  });
});
