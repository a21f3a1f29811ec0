/**
 * Drives every operation the stand-in implements (successes and the errors a client meets) and checks
 * each response against Adobe's OpenAPI files with the project's contract checker.
 */
import { OpenApiContract, type KnownDeviation } from '../../contract/openapi-contract';
import type { RecordedExchange } from '../../../lib/embedded/aep/server';
import {
  CATALOG,
  createBatch,
  createDataset,
  createFieldGroup,
  createSchema,
  EE_CLASS,
  EE_FIELD_GROUPS,
  IMPORT,
  ingest,
  jsonLines,
  makeEvents,
  PROFILE_CLASS,
  QUERY,
  SANDBOX,
  SR,
  StandInFixture,
  startStandIn,
  TENANT,
  tenantFieldGroup,
  uploadFile,
  waitForQuery,
} from './stand-in-helpers';

/**
 * Responses that follow AEP (or the brief) where the files say otherwise; each is explained.
 */
const DEVIATIONS: KnownDeviation[] = [
  {
    operation: 'schema-registry GET /{CONTAINER_ID}/descriptors',
    part: 'response',
    match: /must be object/,
    reason:
      'The xdm-id / xdm-link Accept variants list descriptor ids or links (strings) grouped by type, as the parameter documentation describes; ' +
      'listDescriptorsResponse only models the full-object variant.',
  },
  {
    operation: 'schema-registry POST /tenant/fieldgroups',
    part: 'response',
    match: 'status 409 is not documented',
    reason: 'A title that already exists in the tenant container is a conflict (409), as AEP answers; the file lists only 201 and 400.',
  },
  {
    operation: 'schema-registry GET /{CONTAINER_ID}/fieldgroups/{FIELD_GROUP_ID}',
    part: 'response',
    match: 'status 404 is not documented',
    reason: 'An unknown field group is 404, as for schemas (whose lookup documents 404); the field group lookup lists only 200 and 400.',
  },
  {
    operation: 'schema-registry DELETE /tenant/fieldgroups/{FIELD_GROUP_ID}',
    part: 'response',
    match: 'status 409 is not documented',
    reason: 'A field group still used by a schema cannot be deleted (409 Conflict); the file lists only 204.',
  },
];

describe('stand-in responses against Adobe\'s OpenAPI files', () => {
  const contract = OpenApiContract.load();
  let f: StandInFixture;
  const exchanges: RecordedExchange[] = [];

  beforeAll(async () => {
    f = await startStandIn();
    f.aep.onExchange((ex) => exchanges.push(ex));
    const api = f.api;
    // Schema Registry
    await api.get(`${SR}/stats`);
    const fg = await createFieldGroup(f, 'Contract fields');
    const enc = (id: unknown) => encodeURIComponent(String(id));
    await api.get(`${SR}/tenant/fieldgroups`, { headers: { Accept: 'application/vnd.adobe.xed-id+json' }, params: { property: 'title==Contract fields' } });
    await api.get(`${SR}/tenant/fieldgroups`, { headers: { Accept: 'application/vnd.adobe.xed+json' }, params: { orderby: 'title', limit: 1 } });
    await api.get(`${SR}/tenant/fieldgroups/${enc(fg.$id)}`, { headers: { Accept: 'application/vnd.adobe.xed+json; version=1' } });
    await api.get(`${SR}/tenant/fieldgroups/${enc(fg.$id)}`, { headers: { Accept: 'application/vnd.adobe.xed-full-notext+json; version=1' } });
    await api.patch(`${SR}/tenant/fieldgroups/${enc(fg.$id)}`, [
      { op: 'add', path: `/definitions/customFields/properties/_${TENANT}/properties/extra`, value: { type: 'string' } },
    ]);
    const schema = await createSchema(f, 'Contract events', EE_CLASS, [...EE_FIELD_GROUPS, String(fg.$id)]);
    const profile = await createSchema(f, 'Contract profiles', PROFILE_CLASS, [String(fg.$id)]);
    await api.get(`${SR}/tenant/schemas`, { headers: { Accept: 'application/vnd.adobe.xed-id+json' } });
    await api.get(`${SR}/tenant/schemas`, { headers: { Accept: 'application/vnd.adobe.xed+json' } });
    await api.get(`${SR}/tenant/schemas/${enc(schema.$id)}`, { headers: { Accept: 'application/vnd.adobe.xed-full+json; version=1' } });
    await api.patch(`${SR}/tenant/schemas/${enc(profile.$id)}`, [{ op: 'add', path: '/meta:immutableTags', value: ['union'] }]);
    const descriptor = await api.post(`${SR}/tenant/descriptors`, {
      '@type': 'xdm:descriptorIdentity',
      'xdm:sourceSchema': profile.$id,
      'xdm:sourceVersion': 1,
      'xdm:sourceProperty': `/_${TENANT}/userid`,
      'xdm:namespace': 'ECID',
      'xdm:property': 'xdm:code',
      'xdm:isPrimary': true,
    });
    for (const accept of ['application/vnd.adobe.xdm+json', 'application/vnd.adobe.xdm-v2+json', 'application/vnd.adobe.xdm-id+json']) {
      await api.get(`${SR}/tenant/descriptors`, { headers: { Accept: accept } });
    }
    await api.get(`${SR}/tenant/descriptors/${descriptor.data['@id']}`);
    await api.get(`${SR}/tenant/unions`, { headers: { Accept: 'application/vnd.adobe.xed-id+json' } });
    await api.get(`${SR}/tenant/unions`, { headers: { Accept: 'application/vnd.adobe.xed+json' } });
    await api.get(`${SR}/tenant/fieldgroups`, { headers: { Accept: 'application/json' } });
    await api.get(`${SR}/tenant/fieldgroups/${enc(fg.$id)}`, { headers: { Accept: 'application/vnd.adobe.xed+json' } });
    await api.post(`${SR}/tenant/fieldgroups`, { title: 'Contract fields', type: 'object' });
    await api.post(`${SR}/tenant/fieldgroups`, tenantFieldGroup('Contract fields'));
    await api.get(`${SR}/tenant/fieldgroups/_${TENANT}.mixins.00000000000000000000000000000000`, { headers: { Accept: 'application/vnd.adobe.xed+json; version=1' } });
    await api.get(`${SR}/tenant/schemas/_${TENANT}.schemas.00000000000000000000000000000000`, { headers: { Accept: 'application/vnd.adobe.xed+json; version=1' } });
    await api.delete(`${SR}/tenant/fieldgroups/${enc(fg.$id)}`);
    await api.delete(`${SR}/tenant/descriptors/${descriptor.data['@id']}`);
    const spare = await createFieldGroup(f, 'Contract spare');
    await api.delete(`${SR}/tenant/fieldgroups/${enc(spare.$id)}`);

    // Catalog and Batch Ingestion
    const ds = await createDataset(f, 'Contract events', String(schema.$id));
    await api.get(`${CATALOG}/dataSets`, { params: { name: 'Contract events', limit: 10, start: 0 } });
    await api.get(`${CATALOG}/dataSets`, { params: { property: 'name~^Contract', properties: 'name,tags' } });
    await api.patch(`${CATALOG}/dataSets/${ds.id}`, { tags: { unifiedProfile: ['enabled:true'] } });
    await api.get(`${CATALOG}/dataSets/000000000000000000000000`);
    const ok = await ingest(f, ds.id, { 'events.json': jsonLines(makeEvents(20, 5)) });
    const bad = await ingest(f, ds.id, { 'bad.json': Buffer.from('{"_id": 1}\nnot json\n') });
    await api.get(`${CATALOG}/batches`, { params: { dataSet: ds.id, limit: 100, start: 0 } });
    await api.get(`${CATALOG}/batches/${ok.id}`);
    await api.get(`${CATALOG}/batches/${bad.id}`);
    await api.get(`${CATALOG}/batches/01AAAAAAAAAAAAAAAAAAAAAAAA`);
    const csvDataset = await createDataset(f, 'Contract scores', String(profile.$id));
    const csvBatch = await createBatch(f, csvDataset.id, { format: 'csv', delimiter: ',', header: true });
    await uploadFile(f, csvBatch, csvDataset.id, 'scores.csv', Buffer.from(`_id,_${TENANT}.propensity\na,0.5\n`));
    await api.post(`${IMPORT}/batches/${csvBatch}`, undefined, { params: { action: 'COMPLETE' } });
    const aborted = await createBatch(f, ds.id);
    await api.post(`${IMPORT}/batches/${aborted}`, undefined, { params: { action: 'ABORT' } });
    await api.post(`${IMPORT}/batches`, { datasetId: '000000000000000000000000', inputFormat: { format: 'json' } });
    await api.post(`${IMPORT}/batches/01AAAAAAAAAAAAAAAAAAAAAAAA`, undefined, { params: { action: 'COMPLETE' } });
    await uploadFile(f, aborted, ds.id, 'late.json', jsonLines(makeEvents(1, 1)));

    // Query Service
    await api.get(`${QUERY}/connection_parameters`);
    const q = await api.post(`${QUERY}/queries`, { dbName: `${SANDBOX}:all`, sql: `SELECT count(*) FROM "${ds.table}"`, name: 'count' });
    await waitForQuery(f, q.data.id);
    const failed = await api.post(`${QUERY}/queries`, { dbName: `${SANDBOX}:all`, sql: 'SELECT * FROM nothing_here' });
    await waitForQuery(f, failed.data.id);
    await api.get(`${QUERY}/queries`, { params: { orderby: '-created', limit: 1 } });
    await api.get(`${QUERY}/queries`, { params: { property: 'state==FAILED' } });
    await api.patch(`${QUERY}/queries/${q.data.id}`, { op: 'soft_delete' });
    await api.get(`${QUERY}/queries/00000000-0000-0000-0000-000000000000`);
    await api.post(`${QUERY}/queries`, { dbName: `${SANDBOX}:all` });
    const t = await api.post(`${QUERY}/query-templates`, { name: 'contract template', sql: 'SELECT $x', queryParameters: { x: '1' } });
    await api.get(`${QUERY}/query-templates`, { params: { property: 'name~contract', limit: 1 } });
    await api.get(`${QUERY}/query-templates/${t.data.id}`);
    await api.put(`${QUERY}/query-templates/${t.data.id}`, { name: 'contract template', sql: 'SELECT 2' });
    await api.delete(`${QUERY}/query-templates/${t.data.id}`);
    await api.get(`${QUERY}/query-templates/${t.data.id}`);
    await f.aep.idle();
  });

  afterAll(async () => {
    await f?.stop();
  });

  it('covers the operations the stand-in implements', () => {
    const ops = new Set(exchanges.filter((e) => !e.url.includes('/ims/')).map((e) => contract.findOperation(e.method, e.url)?.label ?? `undocumented ${e.method} ${e.url}`));
    expect([...ops].filter((o) => o.startsWith('undocumented'))).toEqual([]);
    expect(ops.size).toBeGreaterThanOrEqual(30);
  });

  it('answers every call with a documented status and body', () => {
    const violations = exchanges.filter((e) => !e.url.includes('/ims/')).flatMap((e) => contract.checkResponse(e, { deviations: DEVIATIONS }));
    expect(violations).toEqual([]);
  });
});
