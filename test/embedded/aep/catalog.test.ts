import { columnsFor, quoteIdent, tableNameFor } from '../../../lib/embedded/aep/xdm-tables';
import { withExclusiveSession } from '../../../lib/embedded/postgres';
import {
  CATALOG,
  createDataset,
  createEventsDataset,
  createFieldGroup,
  createSchema,
  expectStatus,
  PROFILE_CLASS,
  SR,
  StandInFixture,
  startStandIn,
  TENANT,
} from './stand-in-helpers';

/** The table's columns; the snapshot system column (`_acp_snapshot_id`) only when `system` is set. */
async function columns(f: StandInFixture, table: string, system = false): Promise<Record<string, string>> {
  const res = await withExclusiveSession(f.pg.db, () =>
    f.pg.db.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
      [table],
    ),
  );
  return Object.fromEntries(res.rows.filter((r) => system || r.column_name !== '_acp_snapshot_id').map((r) => [r.column_name, r.data_type]));
}

describe('Catalog stand-in', () => {
  let f: StandInFixture;
  beforeAll(async () => {
    f = await startStandIn();
  });
  afterAll(async () => {
    await f?.stop();
  });

  it('creates a dataset whose table has one column per top-level schema field', async () => {
    const { id, table, schemaId } = await createEventsDataset(f, 'Synthetic Events (week 1)');
    expect(id).toMatch(/^[0-9a-f]{24}$/);
    expect(table).toBe('synthetic_events__week_1_');
    expect(await columns(f, table)).toEqual({
      _id: 'text',
      timestamp: 'timestamp with time zone',
      eventType: 'text',
      identityMap: 'jsonb',
      web: 'jsonb',
      commerce: 'jsonb',
      directMarketing: 'jsonb',
      advertising: 'jsonb',
      _experience: 'jsonb',
      [`_${TENANT}`]: 'jsonb',
    });
    // Besides the fields, every dataset table has the snapshot system column.
    expect((await columns(f, table, true))._acp_snapshot_id).toBe('bigint');
    const got = await f.api.get(`${CATALOG}/dataSets/${id}`);
    expectStatus(got, 200);
    expect(Object.keys(got.data)).toEqual([id]);
    expect(got.data[id]).toEqual(
      expect.objectContaining({
        name: 'Synthetic Events (week 1)',
        imsOrg: 'EMBEDDED0000000000000000@AdobeOrg',
        schemaRef: { id: schemaId, contentType: 'application/vnd.adobe.xed-full+json;version=1' },
        tags: { 'adobe/pqs/table': [table] },
        created: expect.any(Number),
      }),
    );
  });

  it('maps XDM types to SQL types and quotes identifiers', () => {
    expect(
      columnsFor({
        _id: { type: 'string' },
        timestamp: { type: 'string', format: 'date-time' },
        score: { type: 'number' },
        visits: { type: 'integer' },
        active: { type: 'boolean' },
        tags: { type: 'array', items: { type: 'string' } },
        _tenant: { type: 'object', properties: {} },
      }).map((c) => `${quoteIdent(c.name)} ${c.sqlType}`),
    ).toEqual(['"_id" text', '"timestamp" timestamptz', '"score" double precision', '"visits" bigint', '"active" boolean', '"tags" jsonb', '"_tenant" jsonb']);
    expect(quoteIdent('we"ird')).toBe('"we""ird"');
    expect(tableNameFor('2024 Events', () => false)).toBe('ds_2024_events');
    expect(tableNameFor('x'.repeat(80), (n) => n === 'x'.repeat(63))).toBe(`${'x'.repeat(61)}_2`);
  });

  it('makes table names unique and rejects duplicate dataset names', async () => {
    const fg = await createFieldGroup(f, 'Naming fields');
    const schema = await createSchema(f, 'Naming schema', PROFILE_CLASS, [String(fg.$id)]);
    const a = await createDataset(f, 'Scores', String(schema.$id));
    const b = await createDataset(f, 'SCORES!', String(schema.$id));
    expect(a.table).toBe('scores');
    expect(b.table).toBe('scores_');
    const c = await createDataset(f, 'scores_', String(schema.$id));
    expect(c.table).toBe('scores__2');
    const dup = await f.api.post(`${CATALOG}/dataSets`, {
      name: 'Scores',
      schemaRef: { id: schema.$id, contentType: 'application/vnd.adobe.xed+json;version=1' },
    });
    expect(dup.status).toBe(409);
    expect(dup.data.detail).toContain("'Scores'");
  });

  it('validates schemaRef', async () => {
    const missing = await f.api.post(`${CATALOG}/dataSets`, { name: 'No schema' });
    expect(missing.status).toBe(400);
    expect(missing.data.detail).toMatch(/schemaRef/);
    const unknown = await f.api.post(`${CATALOG}/dataSets`, {
      name: 'Unknown schema',
      schemaRef: { id: `https://ns.adobe.com/${TENANT}/schemas/ffffffffffffffffffffffffffffffff`, contentType: 'application/vnd.adobe.xed+json;version=1' },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.data.detail).toContain('ffffffffffffffffffffffffffffffff');
    const badType = await f.api.post(`${CATALOG}/dataSets`, { name: 'Bad content type', schemaRef: { id: 'x', contentType: 'application/json' } });
    expect(badType.status).toBe(400);
  });

  it('lists datasets keyed by id with name filters, properties, ordering and paging', async () => {
    const byName = await f.api.get(`${CATALOG}/dataSets`, { params: { name: 'Scores' } });
    expectStatus(byName, 200);
    const ids = Object.keys(byName.data);
    expect(ids).toHaveLength(1);
    expect(byName.data[ids[0]!].name).toBe('Scores'); // one id, as just checked

    const byProperty = await f.api.get(`${CATALOG}/dataSets`, { params: { property: 'name==Scores', properties: 'name,tags' } });
    expect(Object.values(byProperty.data)).toEqual([{ name: 'Scores', tags: { 'adobe/pqs/table': ['scores'] } }]);

    const regex = await f.api.get(`${CATALOG}/dataSets`, { params: { property: 'name~^[Ss][Cc]', orderBy: 'desc:name', properties: 'name' } });
    expect(Object.values(regex.data).map((d) => (d as { name: string }).name)).toEqual(['scores_', 'Scores', 'SCORES!']);

    const page1 = await f.api.get(`${CATALOG}/dataSets`, { params: { property: 'name~^[Ss][Cc]', orderBy: 'asc:name', limit: 2, start: 0, properties: 'name' } });
    const page2 = await f.api.get(`${CATALOG}/dataSets`, { params: { property: 'name~^[Ss][Cc]', orderBy: 'asc:name', limit: 2, start: 2, properties: 'name' } });
    expect(Object.values(page1.data).map((d) => (d as { name: string }).name)).toEqual(['SCORES!', 'Scores']);
    expect(Object.values(page2.data).map((d) => (d as { name: string }).name)).toEqual(['scores_']);

    const none = await f.api.get(`${CATALOG}/dataSets`, { params: { name: 'nothing like it' } });
    expect(none.data).toEqual({});
    expect((await f.api.get(`${CATALOG}/dataSets`, { params: { limit: 500 } })).status).toBe(400);
  });

  it('answers unknown ids with 404 problem details', async () => {
    for (const path of [`${CATALOG}/dataSets/000000000000000000000000`, `${CATALOG}/batches/01AAAAAAAAAAAAAAAAAAAAAAAA`]) {
      const res = await f.api.get(path);
      expect(res.status).toBe(404);
      expect(res.data).toEqual({
        type: expect.stringMatching(/^http:\/\/ns\.adobe\.com\/aep\/errors\/CAT-\d+-404$/),
        title: 'Not Found',
        status: 404,
        detail: expect.stringContaining(path.split('/').pop()!),
      });
    }
    expect((await f.api.delete(`${CATALOG}/dataSets/000000000000000000000000`)).status).toBe(404);
  });

  it('patches tags (e.g. enabling Profile) without touching the table tag', async () => {
    const { id, table } = await createEventsDataset(f, 'Patch me');
    const patched = await f.api.patch(`${CATALOG}/dataSets/${id}`, { tags: { unifiedProfile: ['enabled:true'] } });
    expectStatus(patched, 200);
    expect(patched.data).toEqual([`@/dataSets/${id}`]);
    const got = (await f.api.get(`${CATALOG}/dataSets/${id}`)).data[id];
    expect(got.tags).toEqual({ unifiedProfile: ['enabled:true'], 'adobe/pqs/table': [table] });
    const jsonPatch = await f.api.patch(`${CATALOG}/dataSets/${id}`, [{ op: 'add', path: '/tags/unifiedIdentity', value: ['enabled:true'] }], {
      headers: { 'Content-Type': 'application/json-patch+json' },
    });
    expectStatus(jsonPatch, 200);
    expect((await f.api.get(`${CATALOG}/dataSets/${id}`)).data[id].tags.unifiedIdentity).toEqual(['enabled:true']);
  });

  it('adds columns when the schema of a dataset grows, and refuses breaking changes', async () => {
    const fg = await createFieldGroup(f, 'Growing fields', [PROFILE_CLASS]);
    const schema = await createSchema(f, 'Growing schema', PROFILE_CLASS, []);
    const ds = await createDataset(f, 'Growing', String(schema.$id));
    expect(Object.keys(await columns(f, ds.table))).toEqual(['_id', 'identityMap']);
    const schemaId = encodeURIComponent(String(schema.$id));
    const withGroup = await f.api.patch(`${SR}/tenant/schemas/${schemaId}`, [{ op: 'add', path: '/allOf/-', value: { $ref: fg.$id } }]);
    expectStatus(withGroup, 200);
    expect(await columns(f, ds.table)).toEqual({ _id: 'text', identityMap: 'jsonb', [`_${TENANT}`]: 'jsonb' });

    const id = encodeURIComponent(String(fg.$id));
    const grown = await f.api.patch(`${SR}/tenant/fieldgroups/${id}`, [
      { op: 'add', path: `/definitions/customFields/properties/_${TENANT}/properties/segment`, value: { type: 'string' } },
    ]);
    expectStatus(grown, 200);
    expect(grown.data.version).toBe('1.1');
    const full = await f.api.get(`${SR}/tenant/schemas/${schemaId}`, { headers: { Accept: 'application/vnd.adobe.xed-full+json; version=1' } });
    expect(full.data.properties[`_${TENANT}`].properties.segment).toEqual(expect.objectContaining({ type: 'string' }));

    const removal = await f.api.patch(`${SR}/tenant/fieldgroups/${id}`, [
      { op: 'remove', path: `/definitions/customFields/properties/_${TENANT}/properties/userid` },
    ]);
    expect(removal.status).toBe(400);
    expect(removal.data.detail).toMatch(/userid.*breaking/);
    const del = await f.api.delete(`${SR}/tenant/schemas/${schemaId}`);
    expect(del.status).toBe(409);
  });

  it('drops the table when the dataset is deleted', async () => {
    const { id, table } = await createEventsDataset(f, 'Short lived');
    expect(Object.keys(await columns(f, table)).length).toBeGreaterThan(0);
    const res = await f.api.delete(`${CATALOG}/dataSets/${id}`);
    expectStatus(res, 200);
    expect(res.data).toEqual([`@/dataSets/${id}`]);
    expect(await columns(f, table)).toEqual({});
    expect((await f.api.get(`${CATALOG}/dataSets/${id}`)).status).toBe(404);
  });
});
