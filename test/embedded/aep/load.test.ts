/**
 * Loads ~200k generated ExperienceEvents in two batches through the Batch Ingestion API and prints
 * how long the stand-in took per 100k events (a measurement, not a timing assertion).
 */
import { withExclusiveSession } from '../../../lib/embedded/postgres';
import { createBatch, createEventsDataset, expectStatus, IMPORT, jsonLines, makeEvents, StandInFixture, startStandIn, TENANT, uploadFile, waitForBatch } from './stand-in-helpers';

const PER_BATCH = 100_000;
const USERS = 10_000;

describe('Batch Ingestion stand-in under load', () => {
  let f: StandInFixture;
  beforeAll(async () => {
    f = await startStandIn();
  });
  afterAll(async () => {
    await f?.stop();
  });

  it('ingests 200k events in two batches', async () => {
    const { id, table } = await createEventsDataset(f, 'Load events');
    const timings: { records: number; bytes: number; ms: number }[] = [];
    for (let b = 0; b < 2; b++) {
      const data = jsonLines(makeEvents(PER_BATCH, USERS, b * PER_BATCH));
      const batchId = await createBatch(f, id);
      expectStatus(await uploadFile(f, batchId, id, `events-${b}.json`, data), 201);
      const started = Date.now();
      expectStatus(await f.api.post(`${IMPORT}/batches/${batchId}`, undefined, { params: { action: 'COMPLETE' } }), 200);
      const batch = await waitForBatch(f, batchId, 120_000);
      const ms = Date.now() - started;
      expect(batch.status).toBe('success');
      expect(batch.metrics.outputRecordCount).toBe(PER_BATCH);
      timings.push({ records: PER_BATCH, bytes: data.length, ms });
    }
    const counts = await withExclusiveSession(f.pg.db, () =>
      f.pg.db.query<{ rows: number; users: number }>(
        `SELECT count(*)::int AS rows, count(DISTINCT "_${TENANT}"->>'userid')::int AS users FROM "${table}"`,
      ),
    );
    expect(counts.rows[0]).toEqual({ rows: 2 * PER_BATCH, users: USERS });
    const total = timings.reduce((n, t) => n + t.ms, 0);
    const mb = timings.reduce((n, t) => n + t.bytes, 0) / 1e6;
    console.log(
      `Batch Ingestion stand-in: ${2 * PER_BATCH} events (${mb.toFixed(1)} MB JSON Lines) in ${total} ms ` +
        `(${timings.map((t) => `${t.ms} ms`).join(' + ')}), ${Math.round(total / 2)} ms per 100k events`,
    );
  });
});
