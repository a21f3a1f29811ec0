/**
 * Dataset snapshots: every successful batch and every batch query that writes a dataset makes one,
 * its rows carry the snapshot id, and `history_meta('<table>')` lists them oldest first.
 */
import { withExclusiveSession } from '../../../lib/embedded/postgres';
import {
  CATALOG,
  createEventsDataset,
  expectStatus,
  ingest,
  jsonLines,
  makeEvents,
  QUERY,
  SANDBOX,
  StandInFixture,
  startStandIn,
  waitForQuery,
} from './stand-in-helpers';

interface Snapshot {
  snapshot_id: number;
  made_current_at: Date;
}

describe('dataset snapshots', () => {
  let f: StandInFixture;
  let events: { id: string; table: string };

  const sql = async <T>(text: string, params: unknown[] = []): Promise<T[]> =>
    (await withExclusiveSession(f.pg.db, () => f.pg.db.query<T>(text, params))).rows;
  const history = async (table: string): Promise<Snapshot[]> =>
    (await sql<{ snapshot_id: number | bigint; made_current_at: Date }>(`SELECT * FROM history_meta($1)`, [table])).map((r) => ({
      snapshot_id: Number(r.snapshot_id),
      made_current_at: r.made_current_at,
    }));
  const rowsPerSnapshot = async (table: string): Promise<Record<string, number>> =>
    Object.fromEntries(
      (await sql<{ s: number | null; n: number }>(`SELECT _acp_snapshot_id AS s, count(*)::int AS n FROM "${table}" GROUP BY 1`)).map((r) => [String(r.s), r.n]),
    );
  const submit = async (body: Record<string, unknown>) => {
    const res = await f.api.post(`${QUERY}/queries`, { dbName: `${SANDBOX}:all`, ...body });
    expectStatus(res, 202);
    return waitForQuery(f, res.data.id);
  };

  beforeAll(async () => {
    f = await startStandIn();
    events = await createEventsDataset(f, 'Snapshot events');
  });
  afterAll(async () => {
    await f?.stop();
  });

  it('makes one snapshot per successful batch, tags its rows, and lists them with history_meta in order', async () => {
    expect(await history(events.table)).toEqual([]);
    const first = await ingest(f, events.id, { 'a.json': jsonLines(makeEvents(30, 5)) });
    const second = await ingest(f, events.id, { 'b.json': jsonLines(makeEvents(20, 5, 30)) });
    expect([first.status, second.status]).toEqual(['success', 'success']);

    const snapshots = await history(events.table);
    expect(snapshots).toHaveLength(2);
    const [s1, s2] = snapshots.map((s) => s.snapshot_id);
    if (s1 === undefined || s2 === undefined) throw new Error('expected two snapshots');
    expect(s2).toBeGreaterThan(s1);
    expect(snapshots[1]?.made_current_at.getTime()).toBeGreaterThanOrEqual(snapshots[0]!.made_current_at.getTime()); // two, as just checked
    expect(await rowsPerSnapshot(events.table)).toEqual({ [s1]: 30, [s2]: 20 });
    // The snapshot table names the batch that made each snapshot.
    expect(await sql(`SELECT table_name, snapshot_id::int AS snapshot_id, batch_id FROM aep_snapshots WHERE table_name = $1 ORDER BY 2`, [events.table])).toEqual([
      { table_name: events.table, snapshot_id: s1, batch_id: first.id },
      { table_name: events.table, snapshot_id: s2, batch_id: second.id },
    ]);
    // Data Distiller's incremental read: rows of the snapshots after s1 up to s2.
    const between = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${events.table}" WHERE _acp_snapshot_id > $1 AND _acp_snapshot_id <= $2`, [s1, s2]);
    expect(between[0]?.n).toBe(20);
    // The table name is matched as Data Distiller does: case-insensitively, optionally schema-qualified.
    expect((await history(`public.${events.table.toUpperCase()}`)).map((s) => s.snapshot_id)).toEqual([s1, s2]);
  });

  it('makes no snapshot for a failed batch', async () => {
    const before = await history(events.table);
    const rowsBefore = await rowsPerSnapshot(events.table);
    const bad = await ingest(f, events.id, { 'bad.json': Buffer.from(`${JSON.stringify(makeEvents(1, 1, 999)[0])}\nnot json\n`) });
    expect(bad.status).toBe('failed');
    expect(await history(events.table)).toEqual(before);
    expect(await rowsPerSnapshot(events.table)).toEqual(rowsBefore);
  });

  it('answers history_meta for an unknown table with an error', async () => {
    await expect(sql(`SELECT * FROM history_meta('no_such_table')`)).rejects.toThrow(/no_such_table.*does not exist/);
  });

  it('makes CREATE TABLE AS a new dataset with a first snapshot, and every INSERT INTO a further one', async () => {
    const ctas = await submit({
      sql: `CREATE TABLE snap_features AS SELECT "_id" AS event_id, "eventType" AS event_type, "timestamp" AS ts FROM "${events.table}" WHERE "eventType" LIKE 'web%'`,
      description: 'features',
    });
    expect(ctas.state).toBe('SUCCESS');
    expect(ctas.rowCount).toBe(10);
    const datasetId = ctas._links.created_dataset.id as string;
    const columns = await sql<{ name: string; type: string }>(
      `SELECT column_name AS name, data_type AS type FROM information_schema.columns WHERE table_name = 'snap_features' ORDER BY ordinal_position`,
    );
    expect(columns).toEqual([
      { name: 'event_id', type: 'text' },
      { name: 'event_type', type: 'text' },
      { name: 'ts', type: 'timestamp with time zone' },
      { name: '_acp_snapshot_id', type: 'bigint' },
    ]);
    const [c1] = (await history('snap_features')).map((s) => s.snapshot_id);
    expect(await rowsPerSnapshot('snap_features')).toEqual({ [String(c1)]: 10 });

    const insert = await submit({ sql: `INSERT INTO snap_features SELECT "_id", "eventType", "timestamp" FROM "${events.table}" WHERE "eventType" LIKE 'commerce%'` });
    expect(insert.state).toBe('SUCCESS');
    expect(insert.isInsertInto).toBe(true);
    expect(insert.rowCount).toBe(10);
    // insertIntoParameters name the dataset instead of the table.
    const byParams = await submit({ sql: `SELECT 'x', 'manual', now()`, insertIntoParameters: { datasetName: 'snap_features' } });
    expect(byParams.state).toBe('SUCCESS');
    expect(byParams.rowCount).toBe(1);

    const snapshots = (await history('snap_features')).map((s) => s.snapshot_id);
    expect(snapshots).toHaveLength(3);
    expect([...snapshots].sort((a, b) => a - b)).toEqual(snapshots);
    expect(await rowsPerSnapshot('snap_features')).toEqual({ [String(snapshots[0])]: 10, [String(snapshots[1])]: 10, [String(snapshots[2])]: 1 });

    // Catalog: the dataset's last batch is the one the last INSERT INTO wrote, a successful batch of 1 record.
    const dataset = (await f.api.get(`${CATALOG}/dataSets/${datasetId}`)).data[datasetId];
    const lastBatch = dataset.lastBatchId as string;
    expect(dataset.lastBatchStatus).toBe('success');
    const batch = (await f.api.get(`${CATALOG}/batches/${lastBatch}`)).data[lastBatch];
    expect(batch).toEqual(expect.objectContaining({ status: 'success', recordCount: 1, relatedObjects: [{ type: 'dataSet', id: datasetId }] }));
    expect(await sql(`SELECT batch_id FROM aep_snapshots WHERE snapshot_id = $1`, [snapshots[2]])).toEqual([{ batch_id: lastBatch }]);
  });

  it('makes no snapshot for an INSERT INTO that fails or writes no row', async () => {
    const before = await history('snap_features');
    const failed = await submit({ sql: `INSERT INTO snap_features SELECT 'a', 'b', 'not a timestamp'::timestamptz` });
    expect(failed.state).toBe('FAILED');
    const empty = await submit({ sql: `INSERT INTO snap_features SELECT 'a', 'b', now() WHERE false` });
    expect(empty.state).toBe('SUCCESS');
    expect(empty.rowCount).toBe(0);
    expect(await history('snap_features')).toEqual(before);
    // No trigger is left behind: a direct insert (not a batch query) carries no snapshot id.
    await sql(`INSERT INTO snap_features VALUES ('direct', 'direct', now())`);
    expect((await rowsPerSnapshot('snap_features')).null).toBe(1);
    await sql(`DELETE FROM snap_features WHERE event_id = 'direct'`);
  });

  it('gives a table copied with SELECT * its own snapshot id, and snapshots a notebook-style CTAS + INSERT query once per table', async () => {
    const copy = await submit({ sql: `CREATE TABLE snap_copy AS SELECT * FROM "${events.table}"` });
    expect(copy.state).toBe('SUCCESS');
    const [own] = (await history('snap_copy')).map((s) => s.snapshot_id);
    const eventSnapshots = (await history(events.table)).map((s) => s.snapshot_id);
    expect(eventSnapshots).not.toContain(own);
    expect(await rowsPerSnapshot('snap_copy')).toEqual({ [String(own)]: 50 });

    const combined = await submit({
      sql: `CREATE TABLE IF NOT EXISTS snap_combined AS SELECT "_id" AS id FROM "${events.table}" WHERE false;
            INSERT INTO snap_combined SELECT "_id" FROM "${events.table}" LIMIT 7;`,
    });
    expect(combined.state).toBe('SUCCESS');
    const combinedSnapshots = await history('snap_combined');
    expect(combinedSnapshots).toHaveLength(1);
    expect(await rowsPerSnapshot('snap_combined')).toEqual({ [String(combinedSnapshots[0]?.snapshot_id)]: 7 });
    const again = await submit({
      sql: `CREATE TABLE IF NOT EXISTS snap_combined AS SELECT "_id" AS id FROM "${events.table}" WHERE false;
            INSERT INTO snap_combined SELECT "_id" FROM "${events.table}" LIMIT 3;`,
    });
    expect(again.state).toBe('SUCCESS');
    const after = await history('snap_combined');
    expect(after).toHaveLength(2);
    expect(await rowsPerSnapshot('snap_combined')).toEqual({ [String(after[0]?.snapshot_id)]: 7, [String(after[1]?.snapshot_id)]: 3 });
  });
});
