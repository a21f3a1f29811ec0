import { Client } from 'pg';
import { withExclusiveSession } from '../../../lib/embedded/postgres';
import {
  CATALOG,
  createEventsDataset,
  expectStatus,
  ingest,
  jsonLines,
  makeEvents,
  ORG,
  QUERY,
  SANDBOX,
  StandInFixture,
  startStandIn,
  TENANT,
  waitForQuery,
} from './stand-in-helpers';

describe('Query Service stand-in', () => {
  let f: StandInFixture;
  let events: { id: string; table: string };
  beforeAll(async () => {
    f = await startStandIn();
    events = await createEventsDataset(f, 'Query events');
    const batch = await ingest(f, events.id, { 'events.json': jsonLines(makeEvents(300, 30)) });
    expect(batch.status).toBe('success');
  });
  afterAll(async () => {
    await f?.stop();
  });

  const submit = (body: Record<string, unknown>) => f.api.post(`${QUERY}/queries`, { dbName: `${SANDBOX}:all`, ...body });

  it('gives the wire-protocol endpoint, and pg connects with it as with Query Service', async () => {
    const res = await f.api.get(`${QUERY}/connection_parameters`);
    expectStatus(res, 200);
    expect(res.data).toEqual({ host: f.pg.host, port: f.pg.port, username: ORG, token: f.token, dbName: `${SANDBOX}:all`, version: 1 });
    const client = new Client({ host: res.data.host, port: res.data.port, database: res.data.dbName, user: res.data.username, password: res.data.token, ssl: false });
    await client.connect();
    try {
      const r = await client.query(`SELECT count(DISTINCT "_${TENANT}"->>'userid')::int AS users FROM "${events.table}" WHERE "eventType" = $1`, ['directMarketing.emailSent']);
      expect(r.rows[0].users).toBe(6);
    } finally {
      await client.end();
    }
  });

  it('runs a batch query to SUCCESS with its row count', async () => {
    const res = await submit({ sql: `SELECT "eventType", count(*) FROM "${events.table}" GROUP BY 1`, name: 'counts', description: 'per type' });
    expect(res.status).toBe(202);
    expect(res.data).toEqual(
      expect.objectContaining({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        state: 'SUBMITTED',
        request: expect.objectContaining({ dbName: `${SANDBOX}:all`, name: 'counts', description: 'per type' }),
        created: expect.any(String),
        errors: [],
      }),
    );
    const done = await waitForQuery(f, res.data.id);
    expect(done.state).toBe('SUCCESS');
    expect(done.rowCount).toBe(5);
    expect(done.elapsedTime).toEqual(expect.any(Number));
  });

  it('surfaces the PostgreSQL error of a FAILED query', async () => {
    const res = await submit({ sql: 'SELECT * FROM no_such_table' });
    expect(res.status).toBe(202);
    const done = await waitForQuery(f, res.data.id);
    expect(done.state).toBe('FAILED');
    expect(done.errors).toEqual([{ code: '42P01', message: expect.stringContaining('relation "no_such_table" does not exist'), errorType: 'USER_ERROR' }]);
  });

  it('substitutes $parameters and refuses SQL whose parameters have no value', async () => {
    const res = await submit({
      sql: `SELECT count(*) FROM "${events.table}" WHERE "eventType" = '$type' AND "timestamp" >= '$since'`,
      queryParameters: { type: 'web.webpagedetails.pageViews', since: '2020-01-01' },
    });
    const done = await waitForQuery(f, res.data.id);
    expect(done.state).toBe('SUCCESS');
    expect(done.sql).toContain("'web.webpagedetails.pageViews'");
    const missing = await submit({ sql: 'SELECT $a, $b', queryParameters: { a: '1' } });
    expect(missing.status).toBe(400);
    expect(missing.data).toEqual({ message: expect.stringContaining('$b'), statusCode: 400 });
    const dollarQuoted = await submit({ sql: 'SELECT $x$literal$x$ AS v' });
    expect((await waitForQuery(f, dollarQuoted.data.id)).state).toBe('SUCCESS');
  });

  it('validates the request', async () => {
    expect((await f.api.post(`${QUERY}/queries`, { sql: 'SELECT 1' })).status).toBe(400);
    const otherSandbox = await f.api.post(`${QUERY}/queries`, { dbName: 'prod:all', sql: 'SELECT 1' });
    expect(otherSandbox.status).toBe(400);
    expect(otherSandbox.data.message).toContain('prod:all');
    expect((await submit({})).status).toBe(400);
    expect((await submit({ templateId: '00000000-0000-0000-0000-000000000000' })).status).toBe(400);
  });

  it('registers the table of a CREATE TABLE AS query as a Catalog dataset, then inserts into it', async () => {
    const ctas = await submit({ sql: `CREATE TABLE user_features AS SELECT "_${TENANT}"->>'userid' AS user_id, count(*) AS events FROM "${events.table}" GROUP BY 1` });
    const done = await waitForQuery(f, ctas.data.id);
    expect(done.state).toBe('SUCCESS');
    expect(done.isCTAS).toBe(true);
    expect(done.rowCount).toBe(30);
    const datasetId = done._links.created_dataset.id;
    const dataset = (await f.api.get(`${CATALOG}/dataSets/${datasetId}`)).data[datasetId];
    expect(dataset.name).toBe('user_features');
    expect(dataset.tags['adobe/pqs/table']).toEqual(['user_features']);

    const insert = await submit({ sql: `INSERT INTO user_features SELECT 'extra', 1` });
    const inserted = await waitForQuery(f, insert.data.id);
    expect(inserted.state).toBe('SUCCESS');
    expect(inserted.isInsertInto).toBe(true);
    expect(inserted.rowCount).toBe(1);
    const n = await withExclusiveSession(f.pg.db, () => f.pg.db.query<{ n: number }>('SELECT count(*)::int AS n FROM user_features'));
    expect(n.rows[0]?.n).toBe(31);
  });

  it('saves query templates and runs them with parameter overrides', async () => {
    const created = await f.api.post(`${QUERY}/query-templates`, {
      name: 'events of a type',
      sql: `SELECT * FROM "${events.table}" WHERE "eventType" = '$type'`,
      queryParameters: { type: 'advertising.impressions' },
    });
    expect(created.status).toBe(202);
    const id = created.data.id;
    expect(created.data).toEqual(expect.objectContaining({ name: 'events of a type', queryParameters: { type: 'advertising.impressions' }, _links: expect.any(Object) }));

    const found = await f.api.get(`${QUERY}/query-templates`, { params: { property: 'name==events of a type' } });
    expectStatus(found, 200);
    expect(found.data.templates.map((t: { id: string }) => t.id)).toEqual([id]);
    const contains = await f.api.get(`${QUERY}/query-templates`, { params: { property: 'name~of a' } });
    expect(contains.data.templates).toHaveLength(1);

    const byDefault = await waitForQuery(f, (await submit({ templateId: id })).data.id);
    expect(byDefault.state).toBe('SUCCESS');
    expect(byDefault.rowCount).toBe(60);
    expect(byDefault.templateName).toBe('events of a type');
    const overridden = await waitForQuery(f, (await submit({ templateId: id, queryParameters: { type: 'nothing' } })).data.id);
    expect(overridden.rowCount).toBe(0);

    const updated = await f.api.put(`${QUERY}/query-templates/${id}`, { name: 'events of a type', sql: 'SELECT 2' });
    expect(updated.status).toBe(202);
    expect((await f.api.get(`${QUERY}/query-templates/${id}`)).data.sql).toBe('SELECT 2');
    expect((await f.api.post(`${QUERY}/query-templates`, { name: 'no sql' })).status).toBe(400);

    const deleted = await f.api.delete(`${QUERY}/query-templates/${id}`);
    expect(deleted.status).toBe(202);
    expect(deleted.data).toEqual({ message: 'Deleted', statusCode: '202' });
    const gone = await f.api.get(`${QUERY}/query-templates/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.data).toEqual({ message: expect.stringContaining(id), statusCode: 404 });
  });

  it('lists queries newest first with filters and paging', async () => {
    const all = await f.api.get(`${QUERY}/queries`);
    expectStatus(all, 200);
    const created: string[] = all.data.queries.map((q: { created: string }) => q.created);
    expect([...created].sort().reverse()).toEqual(created);
    const failed = await f.api.get(`${QUERY}/queries`, { params: { property: 'state==FAILED' } });
    expect(failed.data.queries.length).toBeGreaterThanOrEqual(1);
    expect(failed.data.queries.every((q: { state: string }) => q.state === 'FAILED')).toBe(true);
    const page = await f.api.get(`${QUERY}/queries`, { params: { limit: 2 } });
    expect(page.data.queries).toHaveLength(2);
    expect(page.data._page.next).toBe(page.data.queries[1].created);
    expect(page.data._links.next.href).toContain('start=');
    const next = await f.api.get(`${QUERY}/queries`, { params: { limit: 2, start: page.data._page.next } });
    expect(next.data.queries[0].created <= page.data.queries[1].created).toBe(true);
    expect(next.data.queries[0].id).not.toBe(page.data.queries[1].id);
  });

  it('finds queries by a string in their SQL (sql~), oldest first when asked', async () => {
    const marked = [];
    for (const n of [1, 2]) {
      const res = await submit({ sql: `SELECT ${n} AS n\n-- marker run-42 kind-${n}` });
      expectStatus(res, 202);
      marked.push(res.data.id as string);
    }
    const both = await f.api.get(`${QUERY}/queries`, { params: { property: 'sql~marker run-42', orderby: '+created' } });
    expectStatus(both, 200);
    expect(both.data.queries.map((q: { id: string }) => q.id)).toEqual(marked);
    const one = await f.api.get(`${QUERY}/queries`, { params: { property: 'sql~marker run-42 kind-2' } });
    expect(one.data.queries.map((q: { id: string }) => q.id)).toEqual([marked[1]]);
  });

  it('cancels a query that has not started, and answers unknown ids with 404', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const holding = withExclusiveSession(f.pg.db, () => held);
    try {
      const res = await submit({ sql: 'CREATE TABLE never_created AS SELECT 1 AS x' });
      const cancel = await f.api.patch(`${QUERY}/queries/${res.data.id}`, { op: 'cancel' });
      expect(cancel.status).toBe(202);
      expect((await f.api.get(`${QUERY}/queries/${res.data.id}`)).data.state).toBe('KILLED');
      expect((await f.api.patch(`${QUERY}/queries/${res.data.id}`, { op: 'cancel' })).status).toBe(409);
    } finally {
      release();
      await holding;
    }
    await f.aep.idle();
    const exists = await withExclusiveSession(f.pg.db, () => f.pg.db.query(`SELECT 1 FROM pg_class WHERE relname = 'never_created'`));
    expect(exists.rows).toHaveLength(0);

    const unknown = await f.api.get(`${QUERY}/queries/00000000-0000-0000-0000-000000000000`);
    expect(unknown.status).toBe(404);
    expect(unknown.data).toEqual({ message: expect.any(String), statusCode: 404 });
    expect((await f.api.patch(`${QUERY}/queries/00000000-0000-0000-0000-000000000000`, { op: 'cancel' })).status).toBe(404);
  });
});
