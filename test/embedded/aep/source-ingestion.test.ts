/**
 * The stand-in's Data Prep mapping sets and the validation of the S3 source, data lake target and
 * CloudStorageToAEP flow requests: what AEP refuses is refused with a message naming the bad part.
 */
import { createAepServices, type AepServices } from '../../../lib/aep';
import { FLOW_SPECS } from '../../../lib/aep/services/flow-service';
import { silentLog } from '../../../lib/ports/logger';
import { provision, type ProvisionResult } from '../../../lib/provisioning/provision';
import { inLocation, mapRow, sourceLocation, type SourceLocation } from '../../../lib/embedded/aep/source-ingestion';
import { startTestPlatform } from '../../helpers/platform';

type Platform = Awaited<ReturnType<typeof startTestPlatform>>;
let platform: Platform;
let aep: AepServices;
let scores: ProvisionResult;
const XED = 'application/vnd.adobe.xed-full+json;version=1';
const MAPPING_SETS = '/data/foundation/conversion/mappingSets';

beforeAll(async () => {
  // No schedule: these tests look at requests only.
  platform = await startTestPlatform({ aep: { ingestionIntervalMs: 0 } });
  aep = createAepServices(platform.config);
  scores = (await provision(aep, { namePrefix: 'standin', tf: { action: 'create', prev_input: null } }, { log: silentLog })) as ProvisionResult;
});
afterAll(async () => {
  await platform?.dispose();
});

const tenant = () => `_${platform.tenantId}`;
const failure = (promise: Promise<unknown>) => promise.then(() => 'succeeded', (e: Error) => e.message);

describe('Data Prep mapping sets', () => {
  const mappingSet = (destination: string, sourceType = 'ATTRIBUTE') => ({
    name: `set ${destination}`,
    outputSchema: { schemaRef: { id: scores.schemaId, contentType: XED } },
    mappings: [{ sourceType, source: 'prediction', destination }],
  });

  it('refuses a destination the output schema lacks, naming the path', async () => {
    expect(await failure(aep.client.request({ method: 'POST', path: MAPPING_SETS, body: mappingSet(`${tenant()}.score`) }))).toMatch(
      new RegExp(`answered 400.*mappings\\[0\\]: destination '${tenant()}\\.score' is not a field of the output schema ${scores.schemaId.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`),
    );
    expect(await failure(aep.client.request({ method: 'POST', path: MAPPING_SETS, body: mappingSet(tenant()) }))).toMatch(/is an object of the output schema; map to one of its fields/);
    expect(await failure(aep.client.request({ method: 'POST', path: MAPPING_SETS, body: mappingSet(`${tenant()}.propensity`, 'EXPRESSION') }))).toMatch(/EXPRESSION mappings .* not supported/);
    expect(await failure(aep.client.request({ method: 'POST', path: MAPPING_SETS, body: { ...mappingSet(`${tenant()}.propensity`), outputSchema: { schemaRef: { id: 'https://ns.adobe.com/x/schemas/none' } } } }))).toMatch(
      /The output schema 'https:\/\/ns\.adobe\.com\/x\/schemas\/none' does not exist/,
    );
  });

  it('creates, lists by name, updates to a new version, and has no DELETE (data-prep.yaml documents none)', async () => {
    const created = await aep.dataPrep.ensure({ ...mappingSet(`${tenant()}.propensity`), name: 'versions' } as Parameters<AepServices['dataPrep']['ensure']>[0]);
    expect(created.created).toBe(true);
    expect(created.resource).toMatchObject({ id: expect.stringMatching(/^[0-9a-f]{32}$/), version: 0, createdDate: expect.any(Number) });
    const found = await aep.dataPrep.findByName('versions');
    expect(found?.mappings.map((m) => m.destination)).toEqual([`${tenant()}.propensity`]);

    const updated = await aep.dataPrep.update(created.resource.id, {
      name: 'versions',
      outputSchema: { schemaRef: { id: scores.schemaId, contentType: XED } },
      mappings: [{ sourceType: 'ATTRIBUTE', source: 'userId', destination: `${tenant()}.userid` }],
    });
    expect(updated).toMatchObject({ id: created.resource.id, version: 1 });
    expect((await aep.dataPrep.get(created.resource.id)).mappings.map((m) => m.source)).toEqual(['userId']);
    expect(await failure(aep.client.request({ method: 'DELETE', path: `${MAPPING_SETS}/${created.resource.id}` }))).toMatch(/answered 405/);
  });
});

describe('the S3 source, data lake target and CloudStorageToAEP flow requests', () => {
  const spec = (id: string) => ({ id, version: '1.0' });
  let baseId: string;

  beforeAll(async () => {
    baseId = (
      await aep.flowService.ensureBaseConnection({
        name: 'validation base',
        connectionSpec: spec(FLOW_SPECS.s3SourceConnectionSpec),
        auth: { specName: 'IAMRole Based', params: { bucketName: 'scores-bucket' } },
      })
    ).resource.id;
  });

  it('refuses a source path outside the base connection\'s bucket, a format it cannot read, and an auth it does not know', async () => {
    const source = (params: Record<string, unknown>, data: Record<string, unknown> = { format: 'delimited' }) =>
      aep.flowService.ensureSourceConnection({ name: `source ${JSON.stringify(params)}${JSON.stringify(data)}`, baseConnectionId: baseId, connectionSpec: spec(FLOW_SPECS.s3SourceConnectionSpec), data, params });
    expect(await failure(source({ path: 'other-bucket/ingress', type: 'folder' }))).toMatch(/is in bucket 'other-bucket', but base connection .* is for bucket 'scores-bucket'/);
    expect(await failure(source({ path: 'scores-bucket/ingress' }, { format: 'parquet' }))).toMatch(/ingests delimited files only/);
    expect(await failure(source({ path: 'scores-bucket/a*/b.csv' }))).toMatch(/may have '\*' only in its last segment/);
    expect(await failure(
      aep.flowService.ensureBaseConnection({ name: 'bad auth', connectionSpec: spec(FLOW_SPECS.s3SourceConnectionSpec), auth: { specName: 'Amazon S3 role-based Authentication', params: { s3Role: 'arn:aws:iam::123456789012:role/r' } } }),
    )).toMatch(/is not an authentication of the Amazon S3 source; use 'IAMRole Based' or 'Access Key'/);
  });

  it('refuses a target of another schema than its dataset\'s, and a flow without a Mapping transformation or faster than every 15 minutes', async () => {
    expect(await failure(
      aep.flowService.ensureTargetConnection({ name: 'wrong schema', connectionSpec: spec(FLOW_SPECS.dataLakeTargetConnectionSpec), data: { schema: { id: 'https://ns.adobe.com/x/schemas/other', version: XED } }, params: { dataSetId: scores.scoresDatasetId } }),
    )).toMatch(/is not the schema of dataset/);
    const source = await aep.flowService.ensureSourceConnection({ name: 'good source', baseConnectionId: baseId, connectionSpec: spec(FLOW_SPECS.s3SourceConnectionSpec), data: { format: 'delimited' }, params: { path: 'scores-bucket/ingress/*.csv', type: 'folder', recursive: true } });
    const target = await aep.flowService.ensureTargetConnection({ name: 'good target', connectionSpec: spec(FLOW_SPECS.dataLakeTargetConnectionSpec), data: { schema: { id: scores.schemaId, version: XED } }, params: { dataSetId: scores.scoresDatasetId } });
    const set = await aep.dataPrep.ensure({ name: 'flow set', outputSchema: { schemaRef: { id: scores.schemaId, contentType: XED } }, mappings: [{ sourceType: 'ATTRIBUTE', source: 'userId', destination: `${tenant()}.userid` }] });
    const flow = (transformations: unknown[], scheduleParams: Record<string, unknown>) =>
      aep.flowService.ensureFlow({
        name: `flow ${JSON.stringify(transformations)}${JSON.stringify(scheduleParams)}`,
        flowSpec: spec(FLOW_SPECS.cloudStorageToAepFlowSpec),
        sourceConnectionIds: [source.resource.id],
        targetConnectionIds: [target.resource.id],
        transformations: transformations as Array<{ name: string; params: Record<string, unknown> }>,
        scheduleParams,
      });
    const every15 = { startTime: 1767225600, frequency: 'minute', interval: '15' };
    expect(await failure(flow([{ name: 'mapping', params: { mappingId: set.resource.id, mappingVersion: '0' } }], every15))).toMatch(/may hold only one named exactly 'Mapping'/);
    expect(await failure(flow([{ name: 'Mapping', params: { mappingId: 'nope', mappingVersion: '0' } }], every15))).toMatch(/Mapping set 'nope' .* does not exist/);
    expect(await failure(flow([{ name: 'Mapping', params: { mappingId: set.resource.id, mappingVersion: '0' } }], { ...every15, interval: '5' }))).toMatch(/interval' must be an integer of at least 15 for frequency 'minute'/);
    expect(await failure(flow([{ name: 'Mapping', params: { mappingId: set.resource.id, mappingVersion: '0' } }], every15))).toBe('succeeded');
  });
});

describe('source paths and row mapping', () => {
  const location = (path: string, recursive = true) => sourceLocation(path, 'folder', recursive) as SourceLocation;

  it('takes the files of a folder, recursively or not, matching a name pattern', () => {
    const csv = location('bucket/ingress/ds/*.csv');
    expect(csv).toMatchObject({ bucket: 'bucket', prefix: 'ingress/ds/' });
    expect(inLocation(csv, 'ingress/ds/exportTime=1/part-00000.csv')).toBe(true);
    expect(inLocation(csv, 'ingress/ds/exportTime=1/_manifest.json')).toBe(false);
    expect(inLocation(csv, 'ingress/other/part-00000.csv')).toBe(false);
    expect(inLocation(location('bucket/ingress/ds/*.csv', false), 'ingress/ds/exportTime=1/part-00000.csv')).toBe(false);
    expect(inLocation(location('/bucket/ingress/ds'), 'ingress/ds/a/b.txt')).toBe(true);
    expect(sourceLocation('/', 'folder', true)).toMatch(/must start with the bucket name/);
  });

  it('converts each value to its field\'s type and fails rows that lack the primary identity', () => {
    const mappings = [
      { id: '1', sourceType: 'ATTRIBUTE' as const, source: 'prediction', destination: '_t.propensity', path: ['_t', 'propensity'], field: { type: 'number' as const } },
      { id: '2', sourceType: 'ATTRIBUTE' as const, source: 'userId', destination: '_t.userid', path: ['_t', 'userid'], field: { type: 'string' as const } },
    ];
    const target = { mappings, primaryIdentities: [['_t', 'userid']] };
    expect(mapRow({ prediction: ' 0.125 ', userId: '007' }, target)).toEqual({ record: { _t: { propensity: 0.125, userid: '007' } } });
    expect(mapRow({ prediction: '', userId: 'u' }, target)).toEqual({ record: { _t: { userid: 'u' } } });
    expect(mapRow({ prediction: '1e400', userId: 'u' }, target)).toEqual({ error: "prediction -> _t.propensity: '1e400' is not a number" });
    expect(mapRow({ prediction: '0.5', userId: '' }, target)).toEqual({ error: 'the primary identity _t.userid is missing' });
  });
});
