import { synthesizeLocalDeployment } from '../../constructs/local-deployment';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runLocalPipeline, type LocalRunResult } from '../../lib/cli/local-run';
import { localRunLedger } from '../../lib/cli/runs';
import { createAepServices } from '../../lib/aep';
import { EMAIL_FUNNEL, SUBSCRIPTION_EVENT } from '../../lib/explore/explore';
import { systemClock } from '../../lib/ports/clock';
import { silentLog } from '../../lib/ports/logger';
import { generateUsers, type SyntheticUser } from '../../lib/synthetic/generator';
import { seedSyntheticData, SeedInputError } from '../../lib/synthetic/seed';
import { startTestPlatform } from '../helpers/platform';

const USERS = 1500;
const SEED = 7;
const NOW = new Date('2026-03-01T12:00:00Z');

function pearson(xs: number[], ys: number[]): number | null {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  // i < n, the length of xs and of ys.
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? null : sxy / Math.sqrt(sxx * syy);
}

describe('week 1 on the embedded platform', () => {
  let runsRoot: string;
  let result: LocalRunResult;
  let users: SyntheticUser[];

  beforeAll(async () => {
    runsRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'week1-e2e-'));
    // Batches of 600 users: three batches, the last one partial.
    result = await runLocalPipeline({ deploy: synthesizeLocalDeployment, users: USERS, usersPerBatch: 600, seed: SEED, runsRoot, log: silentLog, now: NOW });
    users = [...generateUsers(0, USERS, { seed: SEED, now: NOW, tenantId: `_${result.seed.tenantId}` })];
  });
  afterAll(() => fs.rmSync(runsRoot, { recursive: true, force: true }));

  it('ingests every generated event through Batch Ingestion', () => {
    const events = users.reduce((n, u) => n + u.events.length, 0);
    expect(result.seed.batches.map((b) => b.users)).toEqual([600, 600, 300]);
    expect(result.seed.events).toBe(events);
    expect(result.seed.batches.reduce((n, b) => n + (b.recordsIngested ?? 0), 0)).toBe(events);
    expect(result.exploration.rows).toBe(events);
    // A user whose Poisson draws all came out zero has no events, so the table cannot know them.
    expect(result.exploration.users).toBe(users.filter((u) => u.events.length > 0).length);
  });

  it('explores with Query Service SQL to the same figures as an independent computation', () => {
    const byType = new Map<string, number>();
    for (const u of users) for (const e of u.events) byType.set(e.eventType, (byType.get(e.eventType) ?? 0) + 1);
    expect(Object.fromEntries(result.exploration.eventTypes.map((t) => [t.eventType, t.events]))).toEqual(Object.fromEntries(byType));

    const usersWith = (type: string) => users.filter((u) => u.events.some((e) => e.eventType === type)).length;
    expect(result.exploration.funnel.map((f) => f.users)).toEqual(EMAIL_FUNNEL.map((f) => usersWith(f.eventType)));
    const subscribers = users.filter((u) => u.subscribed).length;
    expect(result.exploration.subscribers).toBe(subscribers);
    expect(result.exploration.subscriberShare).toBeCloseTo(subscribers / result.exploration.users, 10);

    const seen = users.filter((u) => u.events.length > 0);
    const subscribed = seen.map((u) => (u.subscribed ? 1 : 0));
    for (const c of result.exploration.correlations) {
      const counts = seen.map((u) => u.events.filter((e) => e.eventType === c.eventType).length);
      const expected = pearson(counts, subscribed);
      if (expected === null) expect(c.correlation).toBeNull();
      else expect(c.correlation).toBeCloseTo(expected, 9);
    }
    expect(result.exploration.correlations.map((c) => c.eventType)).not.toContain(SUBSCRIPTION_EVENT);
    expect(result.exploration.correlations).toHaveLength(byType.size - 1);
  });

  it('looks like the notebook data: about 10.6 events per user, about 15% subscribers', () => {
    expect(result.exploration.eventsPerUser).toBeGreaterThan(9.6);
    expect(result.exploration.eventsPerUser).toBeLessThan(11.6);
    expect(result.exploration.subscriberShare).toBeGreaterThan(0.11);
    expect(result.exploration.subscriberShare).toBeLessThan(0.19);
  });

  it('records the seed and explore runs in the runs/ ledger', async () => {
    const local = await localRunLedger(result.runDir);
    try {
      const [seedRun] = await local.ledger.recent('seed', 1);
      const [exploreRun] = await local.ledger.recent('explore', 1);
      expect(seedRun).toMatchObject({ status: 'succeeded', outputs: { datasetId: result.seed.datasetId, events: result.seed.events } });
      expect(seedRun?.outputs?.batchIds).toEqual(result.seed.batches.map((b) => b.id));
      expect(exploreRun).toMatchObject({ status: 'succeeded', outputs: { rows: result.exploration.rows, users: result.exploration.users } });
    } finally {
      await local.close();
    }
  });

  it('leaves the results in the run folder, without the run secret', () => {
    const seedFile = fs.readFileSync(path.join(result.runDir, 'seed.json'), 'utf8');
    const explorationFile = JSON.parse(fs.readFileSync(path.join(result.runDir, 'exploration.json'), 'utf8'));
    expect(JSON.parse(seedFile).datasetId).toBe(result.seed.datasetId);
    expect(explorationFile.rows).toBe(result.exploration.rows);
    expect(fs.existsSync(result.objectStoreDir)).toBe(true);
    expect(seedFile).not.toMatch(/secret/i);
  });
});

describe('seeding again', () => {
  it('refuses to add the events twice to a dataset that already holds them', async () => {
    const platform = await startTestPlatform();
    try {
      const aep = createAepServices(platform.config);
      const options = { users: 50, usersPerBatch: 50, seed: 1, now: NOW, namePrefix: 'twice', batchPollIntervalMs: 20 };
      const first = await seedSyntheticData(aep, { clock: systemClock, log: silentLog }, options);
      await expect(seedSyntheticData(aep, { clock: systemClock, log: silentLog }, options)).rejects.toThrow(SeedInputError);
      await expect(seedSyntheticData(aep, { clock: systemClock, log: silentLog }, options)).rejects.toThrow(/already holds 1 ingested batch/);
      const rows = await aep.queryConnections.runner().query<{ n: string }>(`SELECT COUNT(*) AS n FROM "${first.tableName}"`);
      expect(Number(rows[0]?.n)).toBe(first.events);
    } finally {
      await platform.dispose();
    }
  });

  it('refuses a user count that is not a positive whole number', async () => {
    const platform = await startTestPlatform();
    try {
      const aep = createAepServices(platform.config);
      for (const users of [0, -5, 2.5, Number.NaN]) {
        await expect(
          seedSyntheticData(aep, { clock: systemClock, log: silentLog }, { users, usersPerBatch: 10, seed: 1, now: NOW, namePrefix: 'bad' }),
        ).rejects.toThrow(/user count must be a whole number of at least 1/);
      }
    } finally {
      await platform.dispose();
    }
  });
});
