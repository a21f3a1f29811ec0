import { randomBytes } from 'crypto';
import { createAepServices, type AepServices } from '../../lib/aep';
import { PQS_TABLE_TAG } from '../../lib/aep/services/catalog';
import type { Log } from '../../lib/ports/logger';
import { ProvisionError, ProvisioningInputError } from '../../lib/provisioning/errors';
import { resourceNames, type ProvisioningPlanInput } from '../../lib/provisioning/plan';
import { provision, type DeprovisionResult, type ProvisionResult } from '../../lib/provisioning/provision';
import { propensityFieldGroup } from '../../lib/provisioning/scores-schema';
import { userIdFieldGroup } from '../../lib/synthetic/xdm';
import { PROFILE_CLASS } from '../../lib/xdm/schema';
import { FLOW_SPECS } from '../../lib/aep/services/flow-service';
import { ingestionDataflowNames } from '../../lib/dataflows/ingestion-dataflow';
import { KNOWN_DEVIATIONS } from '../contract/deviations';
import { OpenApiContract, type RecordedExchange } from '../contract/openapi-contract';
import { startTestPlatform } from '../helpers/platform';

type Platform = Awaited<ReturnType<typeof startTestPlatform>>;
let platform: Platform;
let aep: AepServices;
/** Every exchange of the file, checked against Adobe's OpenAPI files at the end. */
const exchanges: RecordedExchange[] = [];

const REGISTRY = '/data/foundation/schemaregistry';

beforeAll(async () => {
  platform = await startTestPlatform();
  aep = createAepServices(platform.config);
  platform.aep.onExchange((ex) => exchanges.push(ex));
});
afterAll(async () => {
  await platform?.dispose();
});
afterEach(() => {
  platform.aep.faults.clear();
});

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

interface LogLine {
  level: string;
  message: string;
  attributes?: Record<string, unknown> | undefined;
}

function recordingLog(): Log & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (message: string, attributes?: Record<string, unknown>) => lines.push({ level, message, attributes });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

type Action = 'create' | 'update' | 'delete';

function event(action: Action, plan: ProvisioningPlanInput, previous: ProvisioningPlanInput | null = null): Record<string, unknown> {
  // On delete Terraform sends the last applied input both as the input and as prev_input.
  return { ...plan, tf: { action, prev_input: action === 'delete' ? plan : previous } };
}

async function run(action: Action, plan: ProvisioningPlanInput, previous: ProvisioningPlanInput | null = null, log: Log = recordingLog()) {
  return provision(aep, event(action, plan, previous), { log });
}

async function create(plan: ProvisioningPlanInput): Promise<ProvisionResult> {
  return (await run('create', plan)) as ProvisionResult;
}

/** Requests the stand-in answers from now on, as "METHOD path". */
function traffic(): { calls: string[]; stop: () => void } {
  const calls: string[] = [];
  const stop = platform.aep.onExchange((ex) => calls.push(`${ex.method} ${new URL(ex.url, 'http://x').pathname}`));
  return { calls, stop };
}

async function titled(kind: 'fieldgroups' | 'schemas', title: string): Promise<Array<{ $id: string; title: string }>> {
  const response = await aep.client.request<{ results: Array<{ $id: string; title: string }> }>({
    method: 'GET',
    path: `${REGISTRY}/tenant/${kind}`,
    headers: { Accept: 'application/vnd.adobe.xed-id+json' },
    query: { limit: 500 },
  });
  return response.data.results.filter((r) => r.title === title);
}

async function datasetsNamed(name: string): Promise<string[]> {
  const response = await aep.client.request<Record<string, { name: string }>>({
    method: 'GET',
    path: '/data/foundation/catalog/dataSets',
    query: { limit: 100 },
  });
  return Object.entries(response.data)
    .filter(([, d]) => d.name === name)
    .map(([id]) => id);
}

async function tableColumns(table: string): Promise<string[]> {
  const rows = await aep.queryConnections
    .runner()
    .query<{ column_name: string }>('SELECT column_name FROM information_schema.columns WHERE table_name = $1', [table]);
  return rows.map((r) => r.column_name);
}

/** What the stand-in holds under a plan's names. */
async function holdings(prefix: string) {
  const names = resourceNames({ namePrefix: prefix });
  const fieldGroups = await titled('fieldgroups', names.fieldGroup);
  const schemas = await titled('schemas', names.schema);
  const datasets = await datasetsNamed(names.scoresDataset);
  const descriptors = schemas.length === 1 ? await aep.schemaRegistry.listDescriptors(schemas[0]!.$id) : []; // one, as just checked
  return { names, fieldGroups, schemas, datasets, descriptors };
}

describe('create', () => {
  it('creates the field group, profile schema, identity, Profile enablement and scores dataset, and returns their ids', async () => {
    const log = recordingLog();
    const result = (await run('create', { namePrefix: 'Acme churn', scores: { retainDatasetOnDestroy: false } }, null, log)) as ProvisionResult;
    const tenant = platform.tenantId;
    expect(Object.keys(result).sort()).toEqual(['descriptorId', 'fieldGroupId', 'schemaId', 'scoresDatasetId', 'scoresTable', 'tenantId']);
    expect(result.tenantId).toBe(tenant);

    const names = resourceNames({ namePrefix: 'Acme churn' });
    expect(names).toEqual({ fieldGroup: 'Acme churn propensity', schema: 'Acme churn propensity profiles', scoresDataset: 'Acme churn propensity scores' });

    const fieldGroup = await aep.schemaRegistry.findFieldGroup(names.fieldGroup);
    expect(fieldGroup?.$id).toBe(result.fieldGroupId);
    const fieldGroupFull = await aep.schemaRegistry.getFieldGroup(result.fieldGroupId);
    expect(fieldGroupFull['meta:intendedToExtend']).toEqual([PROFILE_CLASS]);

    const schema = await aep.schemaRegistry.findSchema(names.schema);
    expect(schema?.$id).toBe(result.schemaId);
    const schemaFull = await aep.schemaRegistry.getSchema(result.schemaId);
    expect(schemaFull['meta:class']).toBe(PROFILE_CLASS);
    expect((schemaFull.allOf ?? []).map((a) => a.$ref)).toEqual([PROFILE_CLASS, result.fieldGroupId]);
    expect(schemaFull['meta:immutableTags']).toEqual(['union']);
    const unions = await aep.client.request<{ results: Array<{ 'meta:class': string; 'meta:extends': string[] }> }>({
      method: 'GET',
      path: `${REGISTRY}/tenant/unions`,
      headers: { Accept: 'application/vnd.adobe.xed+json' },
    });
    const profileUnion = unions.data.results.find((u) => u['meta:class'] === PROFILE_CLASS);
    expect(profileUnion?.['meta:extends']).toContain(result.schemaId);

    const descriptors = await aep.schemaRegistry.listDescriptors(result.schemaId);
    expect(descriptors).toHaveLength(1);
    expect(descriptors[0]).toMatchObject({
      '@id': result.descriptorId,
      '@type': 'xdm:descriptorIdentity',
      'xdm:sourceProperty': `/_${tenant}/userid`,
      'xdm:namespace': 'ECID',
      'xdm:isPrimary': true,
    });

    const dataset = await aep.catalog.findDataset(names.scoresDataset);
    expect(dataset?.id).toBe(result.scoresDatasetId);
    expect(dataset?.schemaRef?.id).toBe(result.schemaId);
    expect(dataset?.tags?.[PQS_TABLE_TAG]).toEqual([result.scoresTable]);
    expect(dataset?.tags?.unifiedProfile).toEqual(['enabled:true']);
    expect(dataset?.tags?.unifiedIdentity).toEqual(['enabled:true']);
    expect(await tableColumns(result.scoresTable)).toContain(`_${tenant}`);

    // Each step is logged with its ids.
    const logged = JSON.stringify(log.lines);
    for (const id of [result.fieldGroupId, result.schemaId, result.descriptorId, result.scoresDatasetId]) expect(logged).toContain(id);
  });

  it('is idempotent: a second create returns the same ids and creates nothing', async () => {
    const plan = { namePrefix: 'twice' };
    const first = await create(plan);
    const recorder = traffic();
    const second = await create(plan);
    recorder.stop();
    expect(second).toEqual(first);
    expect(recorder.calls.filter((c) => !c.startsWith('GET '))).toEqual([]);

    const held = await holdings('twice');
    expect(held.fieldGroups).toHaveLength(1);
    expect(held.schemas).toHaveLength(1);
    expect(held.descriptors).toHaveLength(1);
    expect(held.datasets).toEqual([first.scoresDatasetId]);
  });

  it('rolls back what it created when a step fails, keeping a field group that existed before', async () => {
    const names = resourceNames({ namePrefix: 'rollback kept' });
    const before = await aep.schemaRegistry.ensureFieldGroup(propensityFieldGroup(names.fieldGroup, platform.tenantId));
    expect(before.created).toBe(true);
    platform.aep.faults.add({ method: 'POST', path: /\/dataSets$/, status: 400, times: 1 });

    const error = await run('create', { namePrefix: 'rollback kept' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProvisionError);
    const failure = error as ProvisionError;
    expect(failure.step).toBe('ensure dataset "rollback kept propensity scores"');
    expect(failure.message).toMatch(/failed at step "ensure dataset "rollback kept propensity scores"": POST \/data\/foundation\/catalog\/dataSets answered 400/);
    expect(failure.message).toMatch(/Left in place, as they existed before: field group "rollback kept propensity"/);
    expect(failure.rolledBack.map((r) => r.kind)).toEqual(['descriptor', 'schema']);
    expect(failure.notRolledBack).toEqual([]);

    const held = await holdings('rollback kept');
    expect(held.fieldGroups.map((f) => f.$id)).toEqual([before.resource.$id]);
    expect(held.schemas).toEqual([]);
    expect(held.datasets).toEqual([]);
    const schemaId = failure.rolledBack.find((r) => r.kind === 'schema')!.id;
    expect(await aep.schemaRegistry.listDescriptors(schemaId)).toEqual([]);
    expect(platform.aep.faults.pending).toBe(0);
  });

  it('rolls back everything it created when the dataset answers 500, and a retry then succeeds', async () => {
    platform.aep.faults.add({ method: 'POST', path: /\/dataSets$/, status: 500, times: 1 });
    await expect(run('create', { namePrefix: 'rollback all' })).rejects.toThrow(
      /step "ensure dataset "rollback all propensity scores"": POST \/data\/foundation\/catalog\/dataSets answered 500[\s\S]*Rolled back what this invocation created: identity descriptor .*, schema "rollback all propensity profiles" .*, field group "rollback all propensity"/,
    );
    const held = await holdings('rollback all');
    expect([held.fieldGroups, held.schemas, held.datasets]).toEqual([[], [], []]);

    const result = await create({ namePrefix: 'rollback all' });
    expect((await holdings('rollback all')).datasets).toEqual([result.scoresDatasetId]);
  });

  it('refuses to build on a resource of the same name that does not fit, and leaves nothing behind', async () => {
    const names = resourceNames({ namePrefix: 'clash' });
    // A field group of the plan's title, but for experience events rather than profiles.
    const foreign = await aep.schemaRegistry.ensureFieldGroup(userIdFieldGroup(names.fieldGroup, platform.tenantId));
    await expect(run('create', { namePrefix: 'clash' })).rejects.toThrow(
      /step "check field group "clash propensity"": a field group titled "clash propensity" .* does not extend the profile class/,
    );
    const held = await holdings('clash');
    expect(held.fieldGroups.map((f) => f.$id)).toEqual([foreign.resource.$id]);
    expect(held.schemas).toEqual([]);
  });
});

describe('update', () => {
  it('with the same names ensures the resources, repairing what was deleted out of band', async () => {
    const plan = { namePrefix: 'steady', scores: { retainDatasetOnDestroy: true } };
    const first = await create(plan);
    expect(await aep.catalog.deleteDataset(first.scoresDatasetId)).toBe(true);

    const updated = (await run('update', { namePrefix: 'steady', scores: { retainDatasetOnDestroy: false } }, plan)) as ProvisionResult;
    expect(updated.fieldGroupId).toBe(first.fieldGroupId);
    expect(updated.schemaId).toBe(first.schemaId);
    expect(updated.descriptorId).toBe(first.descriptorId);
    expect(updated.scoresDatasetId).not.toBe(first.scoresDatasetId);
    expect((await holdings('steady')).datasets).toEqual([updated.scoresDatasetId]);

    const again = await run('update', { namePrefix: 'steady' }, { namePrefix: 'steady', scores: { retainDatasetOnDestroy: false } });
    expect(again).toEqual(updated);
  });

  it('enables an existing scores dataset for Profile when it is not', async () => {
    const plan = { namePrefix: 'profile repair' };
    const first = await create(plan);
    await aep.client.request({
      method: 'PATCH',
      path: `/data/foundation/catalog/dataSets/${first.scoresDatasetId}`,
      headers: { 'Content-Type': 'application/json-patch+json' },
      body: [{ op: 'remove', path: '/tags/unifiedProfile' }],
    });
    expect((await aep.catalog.getDataset(first.scoresDatasetId)).tags?.unifiedProfile).toBeUndefined();

    expect(await run('update', plan, plan)).toEqual(first);
    const tags = (await aep.catalog.getDataset(first.scoresDatasetId)).tags;
    expect(tags?.unifiedProfile).toEqual(['enabled:true']);
    expect(tags?.unifiedIdentity).toEqual(['enabled:true']);
    expect(tags?.[PQS_TABLE_TAG]).toEqual([first.scoresTable]);
  });

  it('with a new prefix creates the new resources and deletes the old ones, dataset included when not retained', async () => {
    const old = { namePrefix: 'old drop', scores: { retainDatasetOnDestroy: false } };
    const before = await create(old);
    const plan = { namePrefix: 'new drop', scores: { retainDatasetOnDestroy: false } };
    const after = (await run('update', plan, old)) as ProvisionResult;

    const fresh = await holdings('new drop');
    expect(fresh.fieldGroups.map((f) => f.$id)).toEqual([after.fieldGroupId]);
    expect(fresh.schemas.map((s) => s.$id)).toEqual([after.schemaId]);
    expect(fresh.descriptors.map((d) => d['@id'])).toEqual([after.descriptorId]);
    expect(fresh.datasets).toEqual([after.scoresDatasetId]);

    const gone = await holdings('old drop');
    expect([gone.fieldGroups, gone.schemas, gone.datasets]).toEqual([[], [], []]);
    expect(await aep.schemaRegistry.listDescriptors(before.schemaId)).toEqual([]);
    expect(await tableColumns(before.scoresTable)).toEqual([]);
  });

  it('with a new prefix keeps the old dataset, and the schema it is built on, when retained', async () => {
    const old = { namePrefix: 'old keep' };
    const before = await create(old);
    const log = recordingLog();
    const after = (await run('update', { namePrefix: 'new keep' }, old, log)) as ProvisionResult;

    const fresh = await holdings('new keep');
    expect(fresh.datasets).toEqual([after.scoresDatasetId]);
    expect(fresh.schemas.map((s) => s.$id)).toEqual([after.schemaId]);

    const kept = await holdings('old keep');
    expect(kept.datasets).toEqual([before.scoresDatasetId]);
    expect(kept.schemas.map((s) => s.$id)).toEqual([before.schemaId]);
    expect(kept.fieldGroups.map((f) => f.$id)).toEqual([before.fieldGroupId]);
    expect(kept.descriptors.map((d) => d['@id'])).toEqual([before.descriptorId]);
    expect(await tableColumns(before.scoresTable)).toContain(`_${platform.tenantId}`);
    const warning = log.lines.find((l) => l.level === 'warn');
    expect(warning?.message).toMatch(/scores dataset retained/);
    expect(warning?.attributes).toMatchObject({ datasetId: before.scoresDatasetId });
  });

  it('rolls back the new resources and leaves the old ones alone when a step fails', async () => {
    const old = { namePrefix: 'old safe', scores: { retainDatasetOnDestroy: false } };
    const before = await create(old);
    platform.aep.faults.add({ method: 'POST', path: /\/dataSets$/, status: 500, times: 1 });
    await expect(run('update', { namePrefix: 'new safe', scores: { retainDatasetOnDestroy: false } }, old)).rejects.toThrow(
      /step "ensure dataset "new safe propensity scores""/,
    );
    const fresh = await holdings('new safe');
    expect([fresh.fieldGroups, fresh.schemas, fresh.datasets]).toEqual([[], [], []]);
    const kept = await holdings('old safe');
    expect(kept.datasets).toEqual([before.scoresDatasetId]);
    expect(kept.schemas.map((s) => s.$id)).toEqual([before.schemaId]);
  });
});

describe('delete', () => {
  it('deletes everything in reverse order when the dataset is not retained, and can be run again', async () => {
    const plan = { namePrefix: 'doomed', scores: { retainDatasetOnDestroy: false } };
    const created = await create(plan);
    const recorder = traffic();
    const result = (await run('delete', plan)) as DeprovisionResult;
    recorder.stop();
    expect(result).toEqual({
      tenantId: platform.tenantId,
      deleted: {
        scoresDataset: created.scoresDatasetId,
        descriptor: created.descriptorId,
        schema: created.schemaId,
        fieldGroup: created.fieldGroupId,
      },
      retained: {},
      // This pipeline never featurized: it has no feature datasets to delete.
      absent: ['trainingFeaturesDataset', 'scoringFeaturesDataset'],
    });
    expect(recorder.calls.filter((c) => c.startsWith('DELETE ')).map((c) => c.split('/').slice(-2, -1)[0])).toEqual([
      'dataSets',
      'descriptors',
      'schemas',
      'fieldgroups',
    ]);
    const gone = await holdings('doomed');
    expect([gone.fieldGroups, gone.schemas, gone.datasets]).toEqual([[], [], []]);
    expect(await tableColumns(created.scoresTable)).toEqual([]);

    const again = (await run('delete', plan)) as DeprovisionResult;
    expect(again).toEqual({ tenantId: platform.tenantId, deleted: {}, retained: {}, absent: ['trainingFeaturesDataset', 'scoringFeaturesDataset', 'scoresDataset', 'descriptor', 'schema', 'fieldGroup'] });
  });

  it('keeps the dataset and what it is built on when retained (the default), and can be run again', async () => {
    const plan = { namePrefix: 'precious' };
    const created = await create(plan);
    const expected = {
      tenantId: platform.tenantId,
      deleted: {},
      retained: {
        scoresDataset: created.scoresDatasetId,
        descriptor: created.descriptorId,
        schema: created.schemaId,
        fieldGroup: created.fieldGroupId,
      },
      absent: ['trainingFeaturesDataset', 'scoringFeaturesDataset'],
    };
    expect(await run('delete', plan)).toEqual(expected);
    expect(await run('delete', plan)).toEqual(expected);
    const kept = await holdings('precious');
    expect(kept.datasets).toEqual([created.scoresDatasetId]);
    expect(kept.schemas.map((s) => s.$id)).toEqual([created.schemaId]);
  });

  it('deletes the rest when a retained dataset is already gone', async () => {
    const plan = { namePrefix: 'half gone' };
    const created = await create(plan);
    await aep.catalog.deleteDataset(created.scoresDatasetId);
    const result = (await run('delete', plan)) as DeprovisionResult;
    expect(result.deleted).toEqual({ descriptor: created.descriptorId, schema: created.schemaId, fieldGroup: created.fieldGroupId });
    expect(result.absent).toEqual(['trainingFeaturesDataset', 'scoringFeaturesDataset', 'scoresDataset']);
  });

  it('names the step and AEP answer when a deletion fails', async () => {
    const plan = { namePrefix: 'stuck', scores: { retainDatasetOnDestroy: false } };
    await create(plan);
    platform.aep.faults.add({ method: 'DELETE', path: /\/tenant\/schemas\//, status: 400, times: 1 });
    await expect(run('delete', plan)).rejects.toThrow(
      /failed at step "delete schema "stuck propensity profiles" \(.*\)": DELETE .* answered 400.*Already deleted: scores dataset .*, identity descriptor/,
    );
    const result = (await run('delete', plan)) as DeprovisionResult;
    expect(Object.keys(result.deleted)).toEqual(['schema', 'fieldGroup']);
    expect(result.absent).toEqual(['trainingFeaturesDataset', 'scoringFeaturesDataset', 'scoresDataset', 'descriptor']);
  });
});

describe('export destination', () => {
  const ROLE = 'arn:aws:iam::123456789012:role/aep-access';
  const withExport = (namePrefix: string, extra: Partial<ProvisioningPlanInput> = {}): ProvisioningPlanInput => ({
    namePrefix,
    scores: { retainDatasetOnDestroy: false },
    export: { roleArn: ROLE, bucket: 'pipeline-bucket', path: 'egress' },
    ...extra,
  });
  const connections = async (prefix: string) => ({
    base: await aep.flowService.findByName<{ id: string; name: string; auth?: unknown }>('connections', `${prefix} S3 egress`),
    target: await aep.flowService.findByName<{ id: string; name: string; params?: Record<string, unknown> }>('targetConnections', `${prefix} S3 egress folder`),
  });
  const countNamed = async (collection: 'connections' | 'targetConnections', name: string) =>
    (await aep.flowService.list<{ id: string; name: string }>(collection)).filter((c) => c.name === name).length;

  it('creates the base and target connections after the scores resources and returns their ids', async () => {
    const result = await create(withExport('exp create'));
    const held = await connections('exp create');
    expect(held.base?.id).toBeDefined();
    expect(held.target?.id).toBeDefined();
    expect(result.exportBaseConnectionId).toBe(held.base!.id);
    expect(result.exportTargetConnectionId).toBe(held.target!.id);
    expect(held.target!.params).toMatchObject({ bucketName: 'pipeline-bucket', path: 'egress', datasetFileType: 'PARQUET', compression: 'GZIP' });
    expect(JSON.stringify(held.base)).toContain(ROLE);
  });

  it('refuses an update that changes the bucket or the role under the same names, naming each change, before any AEP call', async () => {
    const plan = withExport('exp moved');
    const before = await create(plan);
    const moved = withExport('exp moved', { export: { roleArn: 'arn:aws:iam::123456789012:role/other', bucket: 'new-bucket', path: 'egress' } });
    const calls = traffic();
    const refused = run('update', moved, plan);
    await expect(refused).rejects.toThrow(/export destination of "exp moved" cannot change in place/);
    await expect(refused).rejects.toThrow(/export\.bucket: changed from "pipeline-bucket" to "new-bucket"/);
    await expect(refused).rejects.toThrow(/export\.roleArn: changed from "arn:aws:iam::123456789012:role\/aep-access" to "arn:aws:iam::123456789012:role\/other"/);
    calls.stop();
    expect(calls.calls).toEqual([]);
    expect((await connections('exp moved')).target?.id).toBe(before.exportTargetConnectionId);
    // Unchanged export settings update as before.
    expect(await run('update', plan, plan)).toMatchObject({ exportTargetConnectionId: before.exportTargetConnectionId });
    await run('delete', plan);
  });

  it('is idempotent: a second create finds the same connections', async () => {
    const plan = withExport('exp twice');
    const first = await create(plan);
    const recorder = traffic();
    const second = await create(plan);
    recorder.stop();
    expect(second).toEqual(first);
    expect(recorder.calls.filter((c) => !c.startsWith('GET '))).toEqual([]);
    expect(await countNamed('connections', 'exp twice S3 egress')).toBe(1);
    expect(await countNamed('targetConnections', 'exp twice S3 egress folder')).toBe(1);
  });

  it('deletes the connections first on delete, and can be run again', async () => {
    const plan = withExport('exp doomed');
    const created = await create(plan);
    const recorder = traffic();
    const result = (await run('delete', plan)) as DeprovisionResult;
    recorder.stop();
    expect(result.deleted).toEqual({
      exportTargetConnection: created.exportTargetConnectionId,
      exportBaseConnection: created.exportBaseConnectionId,
      scoresDataset: created.scoresDatasetId,
      descriptor: created.descriptorId,
      schema: created.schemaId,
      fieldGroup: created.fieldGroupId,
    });
    expect(recorder.calls.filter((c) => c.startsWith('DELETE ')).map((c) => c.split('/').slice(-2, -1)[0])).toEqual([
      'targetConnections',
      'connections',
      'dataSets',
      'descriptors',
      'schemas',
      'fieldgroups',
    ]);
    expect(await connections('exp doomed')).toEqual({ base: undefined, target: undefined });

    const again = (await run('delete', plan)) as DeprovisionResult;
    expect(again.deleted).toEqual({});
    expect(again.absent).toEqual(['exportTargetConnection', 'exportBaseConnection', 'trainingFeaturesDataset', 'scoringFeaturesDataset', 'scoresDataset', 'descriptor', 'schema', 'fieldGroup']);
  });

  it('removes the connections of a retained plan too, keeping the dataset', async () => {
    const plan = withExport('exp kept', { scores: { retainDatasetOnDestroy: true } });
    const created = await create(plan);
    const result = (await run('delete', plan)) as DeprovisionResult;
    expect(Object.keys(result.deleted)).toEqual(['exportTargetConnection', 'exportBaseConnection']);
    expect(result.retained.scoresDataset).toBe(created.scoresDatasetId);
    expect(await connections('exp kept')).toEqual({ base: undefined, target: undefined });
  });

  it('rolls back the base connection and everything else it created when the target connection fails', async () => {
    platform.aep.faults.add({ method: 'POST', path: /\/targetConnections$/, status: 400, times: 1 });
    const error = await run('create', withExport('exp rollback')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProvisionError);
    const failure = error as ProvisionError;
    expect(failure.step).toBe('ensure export target connection "exp rollback S3 egress folder"');
    expect(failure.rolledBack.map((r) => r.kind)).toEqual(['exportBaseConnection', 'scoresDataset', 'descriptor', 'schema', 'fieldGroup']);
    expect(failure.notRolledBack).toEqual([]);
    expect(platform.aep.faults.pending).toBe(0);
    expect(await connections('exp rollback')).toEqual({ base: undefined, target: undefined });
    const held = await holdings('exp rollback');
    expect([held.fieldGroups, held.schemas, held.datasets]).toEqual([[], [], []]);

    const retried = await create(withExport('exp rollback'));
    expect(retried.exportTargetConnectionId).toBe((await connections('exp rollback')).target?.id);
  });

  it('keeps connections that existed before when a later step fails', async () => {
    const prefix = 'exp existing';
    const before = await create(withExport(prefix));
    await aep.flowService.delete('targetConnections', before.exportTargetConnectionId!);
    platform.aep.faults.add({ method: 'POST', path: /\/targetConnections$/, status: 500, times: 1 });
    const failure = (await run('create', withExport(prefix)).catch((e: unknown) => e)) as ProvisionError;
    expect(failure).toBeInstanceOf(ProvisionError);
    expect(failure.rolledBack).toEqual([]);
    expect((await connections(prefix)).base?.id).toBe(before.exportBaseConnectionId);
  });

  it('on update, removes the connections when export is dropped from the plan, and creates them when added', async () => {
    const prefix = 'exp toggled';
    const plain: ProvisioningPlanInput = { namePrefix: prefix, scores: { retainDatasetOnDestroy: false } };
    const first = await create(plain);
    expect(first.exportBaseConnectionId).toBeUndefined();
    const added = (await run('update', withExport(prefix), plain)) as ProvisionResult;
    expect(added.exportBaseConnectionId).toBe((await connections(prefix)).base?.id);
    const dropped = (await run('update', plain, withExport(prefix))) as ProvisionResult;
    expect(dropped).toEqual(first);
    expect(await connections(prefix)).toEqual({ base: undefined, target: undefined });
  });

  it('on update with a new prefix, creates the new connections and deletes the old ones', async () => {
    const old = await create(withExport('exp old'));
    const renamed = (await run('update', withExport('exp new'), withExport('exp old'))) as ProvisionResult;
    expect(renamed.exportBaseConnectionId).not.toBe(old.exportBaseConnectionId);
    expect(await connections('exp old')).toEqual({ base: undefined, target: undefined });
    expect((await connections('exp new')).target?.id).toBe(renamed.exportTargetConnectionId);
  });

  it('rejects a malformed export setting before any AEP call', async () => {
    const recorder = traffic();
    await expect(
      run('create', { namePrefix: 'exp bad', export: { roleArn: 'not-an-arn', bucket: 'b', path: '/egress', format: 'csv' } } as unknown as ProvisioningPlanInput),
    ).rejects.toThrow(/export\.roleArn: must be an IAM role ARN[\s\S]*export\.path: must not start with "\/"[\s\S]*export\.format: must be "parquet" or "json"/);
    recorder.stop();
    expect(recorder.calls).toEqual([]);
  });
});

describe('ingestion dataflow', () => {
  const withIngestion = (namePrefix: string, extra: Partial<ProvisioningPlanInput> = {}): ProvisioningPlanInput => ({
    namePrefix,
    scores: { retainDatasetOnDestroy: false },
    ingestion: { bucket: 'pipeline-bucket', path: 'ingress' },
    ...extra,
  });
  const COLLECTIONS = ['connections', 'sourceConnections', 'targetConnections', 'flows'] as const;
  /** The stand-in's ingestion resources of a prefix, counted by name. */
  const ingestionHeld = async (prefix: string) => {
    const names = ingestionDataflowNames(prefix);
    const named = async (collection: (typeof COLLECTIONS)[number], name: string) =>
      (await aep.flowService.list<{ id: string; name: string }>(collection)).filter((c) => c.name === name).map((c) => c.id);
    const mappingSets = await aep.client.request<{ data: Array<{ id: string; name?: string }> }>({
      method: 'GET',
      path: '/data/foundation/conversion/mappingSets',
      query: { limit: 1000, start: 0 },
    });
    return {
      base: await named('connections', names.baseConnection),
      source: await named('sourceConnections', names.sourceConnection),
      target: await named('targetConnections', names.targetConnection),
      flow: await named('flows', names.flow),
      mappingSet: mappingSets.data.data.filter((m) => m.name === names.mappingSet).map((m) => m.id),
    };
  };

  it('creates the S3 source, the data lake target, the mapping set and the 15-minute flow after the dataset, and returns their ids', async () => {
    const result = await create(withIngestion('ing create'));
    const tenant = platform.tenantId;
    const held = await ingestionHeld('ing create');
    expect(held).toEqual({
      base: [result.ingestionBaseConnectionId],
      source: [result.ingestionSourceConnectionId],
      target: [result.ingestionTargetConnectionId],
      flow: [result.ingestionFlowId],
      mappingSet: [result.ingestionMappingSetId],
    });
    const base = await aep.flowService.get<{ id: string; auth: unknown; connectionSpec: { id: string } }>('connections', result.ingestionBaseConnectionId!);
    expect(base).toMatchObject({ connectionSpec: { id: FLOW_SPECS.s3SourceConnectionSpec }, auth: { specName: 'IAMRole Based', params: { bucketName: 'pipeline-bucket' } } });
    const source = await aep.flowService.get<{ id: string; params: unknown; data: unknown }>('sourceConnections', result.ingestionSourceConnectionId!);
    expect(source).toMatchObject({
      baseConnectionId: result.ingestionBaseConnectionId,
      data: { format: 'delimited' },
      params: { path: `pipeline-bucket/ingress/${result.scoresDatasetId}/*.csv`, type: 'folder', recursive: true },
    });
    const target = await aep.flowService.get<{ id: string; params: unknown; data: unknown }>('targetConnections', result.ingestionTargetConnectionId!);
    expect(target).toMatchObject({
      connectionSpec: { id: FLOW_SPECS.dataLakeTargetConnectionSpec },
      params: { dataSetId: result.scoresDatasetId },
      data: { schema: { id: result.schemaId } },
    });
    const mappingSet = await aep.dataPrep.get(result.ingestionMappingSetId!);
    expect(mappingSet.outputSchema.schemaRef.id).toBe(result.schemaId);
    expect(mappingSet.mappings.map((m) => [m.source, m.destination])).toEqual([
      ['prediction', `_${tenant}.propensity`],
      ['userId', `_${tenant}.userid`],
    ]);
    const flow = await aep.flowService.get<{ id: string; flowSpec: unknown; transformations: unknown; scheduleParams: unknown }>('flows', result.ingestionFlowId!);
    expect(flow).toMatchObject({
      flowSpec: { id: FLOW_SPECS.cloudStorageToAepFlowSpec },
      sourceConnectionIds: [result.ingestionSourceConnectionId],
      targetConnectionIds: [result.ingestionTargetConnectionId],
      transformations: [{ name: 'Mapping', params: { mappingId: result.ingestionMappingSetId, mappingVersion: '0' } }],
      scheduleParams: { frequency: 'minute', interval: '15', backfill: true, startTime: expect.any(Number) },
    });
  });

  it('is idempotent: a second create sends no write and leaves one of each resource', async () => {
    const plan = withIngestion('ing twice');
    const first = await create(plan);
    const recorder = traffic();
    const second = await create(plan);
    recorder.stop();
    expect(second).toEqual(first);
    expect(recorder.calls.filter((c) => !c.startsWith('GET '))).toEqual([]);
    const held = await ingestionHeld('ing twice');
    expect(Object.values(held).map((ids) => ids.length)).toEqual([1, 1, 1, 1, 1]);
  });

  it('deletes the flow, then its connections, before the dataset; keeps the mapping set, which Data Prep cannot delete; can run again', async () => {
    const plan = withIngestion('ing doomed');
    const created = await create(plan);
    const recorder = traffic();
    const result = (await run('delete', plan)) as DeprovisionResult;
    recorder.stop();
    expect(result.deleted).toMatchObject({
      ingestionFlow: created.ingestionFlowId,
      ingestionSourceConnection: created.ingestionSourceConnectionId,
      ingestionTargetConnection: created.ingestionTargetConnectionId,
      ingestionBaseConnection: created.ingestionBaseConnectionId,
      scoresDataset: created.scoresDatasetId,
    });
    expect(result.retained).toEqual({ ingestionMappingSet: created.ingestionMappingSetId });
    expect(recorder.calls.filter((c) => c.startsWith('DELETE ')).map((c) => c.split('/').slice(-2, -1)[0])).toEqual([
      'flows',
      'sourceConnections',
      'targetConnections',
      'connections',
      'dataSets',
      'descriptors',
      'schemas',
      'fieldgroups',
    ]);
    const held = await ingestionHeld('ing doomed');
    expect(held).toEqual({ base: [], source: [], target: [], flow: [], mappingSet: [created.ingestionMappingSetId] });

    const again = (await run('delete', plan)) as DeprovisionResult;
    expect(again.deleted).toEqual({});
    expect(again.absent).toEqual(expect.arrayContaining(['ingestionFlow', 'ingestionSourceConnection', 'ingestionTargetConnection', 'ingestionBaseConnection']));

    // Deployed again, the kept mapping set is adopted and brought up to the new schema, not duplicated.
    const redeployed = await create(plan);
    expect(redeployed.ingestionMappingSetId).toBe(created.ingestionMappingSetId);
    expect((await aep.dataPrep.get(created.ingestionMappingSetId!)).outputSchema.schemaRef.id).toBe(redeployed.schemaId);
    const flow = await aep.flowService.get<{ id: string; transformations: Array<{ params: { mappingVersion: string } }> }>('flows', redeployed.ingestionFlowId!);
    expect(flow.transformations[0]?.params.mappingVersion).toBe('1');
    expect((await ingestionHeld('ing doomed')).mappingSet).toEqual([created.ingestionMappingSetId]);
  });

  it('fails clearly and rolls back when the mapping names a field the schema lacks', async () => {
    const prefix = 'ing badfield';
    const names = resourceNames({ namePrefix: prefix });
    // A field group of the plan's title, on profiles, but without the propensity field.
    const definition = propensityFieldGroup(names.fieldGroup, platform.tenantId);
    const tenantObject = (definition.definitions.propensityScore as { properties: Record<string, { properties: Record<string, unknown> }> }).properties[`_${platform.tenantId}`];
    if (!tenantObject) throw new Error('the field group has no tenant object');
    delete tenantObject.properties.propensity;
    const before = await aep.schemaRegistry.ensureFieldGroup(definition);

    const failure = (await run('create', withIngestion(prefix)).catch((e: unknown) => e)) as ProvisionError;
    expect(failure).toBeInstanceOf(ProvisionError);
    expect(failure.step).toBe('ensure ingestion mapping set "ing badfield scores mapping"');
    expect(failure.message).toMatch(/POST \/data\/foundation\/conversion\/mappingSets answered 400.*destination '_\w+\.propensity' is not a field of the output schema/);
    expect(failure.rolledBack.map((r) => r.kind)).toEqual([
      'ingestionTargetConnection',
      'ingestionSourceConnection',
      'ingestionBaseConnection',
      'scoresDataset',
      'descriptor',
      'schema',
    ]);
    expect(failure.notRolledBack).toEqual([]);
    expect(await ingestionHeld(prefix)).toEqual({ base: [], source: [], target: [], flow: [], mappingSet: [] });
    const held = await holdings(prefix);
    expect([held.fieldGroups.map((f) => f.$id), held.schemas, held.datasets]).toEqual([[before.resource.$id], [], []]);
  });

  it('rolls back the connections and the scores chain when the flow fails, keeping the mapping set for the retry', async () => {
    platform.aep.faults.add({ method: 'POST', path: /\/flowservice\/flows$/, status: 400, times: 1 });
    const failure = (await run('create', withIngestion('ing flowfail')).catch((e: unknown) => e)) as ProvisionError;
    expect(failure.step).toBe('ensure ingestion dataflow "ing flowfail scores ingestion"');
    expect(failure.message).toMatch(/Kept, as Data Prep cannot delete mapping sets .*ingestion mapping set "ing flowfail scores mapping"/);
    expect(failure.rolledBack.map((r) => r.kind)).toEqual([
      'ingestionTargetConnection',
      'ingestionSourceConnection',
      'ingestionBaseConnection',
      'scoresDataset',
      'descriptor',
      'schema',
      'fieldGroup',
    ]);
    const kept = (await ingestionHeld('ing flowfail')).mappingSet;
    expect(kept).toHaveLength(1);
    const retried = await create(withIngestion('ing flowfail'));
    expect(retried.ingestionMappingSetId).toBe(kept[0]);
    expect((await ingestionHeld('ing flowfail')).flow).toEqual([retried.ingestionFlowId]);
  });

  it('on update, removes the dataflow when ingestion is dropped, and replaces it when the folder changes', async () => {
    const prefix = 'ing toggled';
    const first = await create(withIngestion(prefix));
    const moved = withIngestion(prefix, { ingestion: { bucket: 'pipeline-bucket', path: 'scores/in' } });
    const replaced = (await run('update', moved, withIngestion(prefix))) as ProvisionResult;
    expect(replaced.ingestionSourceConnectionId).not.toBe(first.ingestionSourceConnectionId);
    const source = await aep.flowService.get<{ id: string; params: { path: string } }>('sourceConnections', replaced.ingestionSourceConnectionId!);
    expect(source.params.path).toBe(`pipeline-bucket/scores/in/${replaced.scoresDatasetId}/*.csv`);
    expect((await ingestionHeld(prefix)).source).toEqual([replaced.ingestionSourceConnectionId]);

    const plain = { namePrefix: prefix, scores: { retainDatasetOnDestroy: false } };
    const dropped = (await run('update', plain, moved)) as ProvisionResult;
    expect(dropped.ingestionFlowId).toBeUndefined();
    expect(await ingestionHeld(prefix)).toEqual({ base: [], source: [], target: [], flow: [], mappingSet: [replaced.ingestionMappingSetId] });
  });

  it('on a rename, removes the old dataflow even when the old dataset is retained', async () => {
    const old = withIngestion('ing old', { scores: { retainDatasetOnDestroy: true } });
    const before = await create(old);
    const renamed = (await run('update', withIngestion('ing new'), old)) as ProvisionResult;
    expect((await ingestionHeld('ing old')).flow).toEqual([]);
    expect((await ingestionHeld('ing new')).flow).toEqual([renamed.ingestionFlowId]);
    expect((await holdings('ing old')).datasets).toEqual([before.scoresDatasetId]);
  });

  it('rejects a malformed ingestion setting before any AEP call', async () => {
    const recorder = traffic();
    await expect(
      run('create', { namePrefix: 'ing bad', ingestion: { bucket: 'Not_A_Bucket', path: '/ingress', roleArn: 'x' } } as unknown as ProvisioningPlanInput),
    ).rejects.toThrow(/ingestion\.bucket: must be an S3 bucket name[\s\S]*ingestion\.path: must not start with "\/"[\s\S]*ingestion\.roleArn: is not a setting/);
    recorder.stop();
    expect(recorder.calls).toEqual([]);
  });
});

describe('malformed events', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['not an object', 'create', /\(event\): must be a JSON object/],
    ['no tf key', { namePrefix: 'x' }, /tf: is missing/],
    ['tf not an object', { namePrefix: 'x', tf: 'create' }, /tf: must be an object \{ action, prev_input \}/],
    ['unknown action', { namePrefix: 'x', tf: { action: 'destroy', prev_input: null } }, /tf\.action: must be "create", "update" or "delete", got "destroy"/],
    ['update without prev_input', { namePrefix: 'x', tf: { action: 'update', prev_input: null } }, /tf\.prev_input: must be the previous input object on update, got null/],
    ['bad previous plan', { namePrefix: 'x', tf: { action: 'update', prev_input: { namePrefix: '' } } }, /tf\.prev_input\.namePrefix: must be 1-40/],
    ['missing prefix', { tf: { action: 'create', prev_input: null } }, /namePrefix: is required/],
    ['prefix with a slash', { namePrefix: 'a/b', tf: { action: 'create', prev_input: null } }, /namePrefix: must be 1-40 letters, digits, spaces/],
    ['prefix too long', { namePrefix: 'x'.repeat(41), tf: { action: 'create', prev_input: null } }, /namePrefix: must be 1-40/],
    ['retain not boolean', { namePrefix: 'x', scores: { retainDatasetOnDestroy: 'yes' }, tf: { action: 'delete', prev_input: null } }, /scores\.retainDatasetOnDestroy: must be true or false/],
    ['unknown key', { namePrefix: 'x', clientSecret: 'oops', tf: { action: 'create', prev_input: null } }, /clientSecret: is not a setting of the provisioning plan/],
  ];

  it.each(cases)('%s: a clear error before any AEP call', async (_name, bad, message) => {
    const recorder = traffic();
    const error = await provision(aep, bad, { log: recordingLog() }).then(
      () => undefined,
      (e: unknown) => e,
    );
    recorder.stop();
    expect(error).toBeInstanceOf(ProvisioningInputError);
    expect((error as Error).message).toMatch(message);
    expect(recorder.calls).toEqual([]);
  });

  it('lists every problem at once and honours another terraform key', async () => {
    const error = await provision(aep, { namePrefix: ' x', scores: {}, tf: { action: 'create' } }, { log: recordingLog(), terraformKey: 'lifecycle' }).then(
      () => undefined,
      (e: unknown) => e as ProvisioningInputError,
    );
    expect(error?.issues.map((i) => i.path).sort()).toEqual(['lifecycle', 'namePrefix', 'tf']);
    const ok = await provision(aep, { namePrefix: 'custom key', lifecycle: { action: 'create', prev_input: null } }, { log: recordingLog(), terraformKey: 'lifecycle' });
    expect((ok as ProvisionResult).scoresDatasetId).toMatch(/^[A-Za-z0-9]+$/);
  });
});

describe('the Lambda handler', () => {
  it('runs end to end from the environment, reuses its client when warm, and returns and logs ids only', async () => {
    // The provisioner never uses S3; a random stand-in for the AWS secret key keeps the assertion below meaningful.
    const env: Record<string, string> = { ...platform.env, AWS_SECRET_ACCESS_KEY: randomBytes(18).toString('base64url') };
    const secrets = Object.entries(env)
      .filter(([name]) => name.includes('SECRET'))
      .map(([, value]) => value);
    expect(secrets.length).toBeGreaterThanOrEqual(2);

    const saved = { ...process.env };
    const output: string[] = [];
    const capture = (chunk: string | Uint8Array) => {
      output.push(String(chunk));
      return true;
    };
    // Powertools writes through its own Console over the process streams.
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(capture);
    const recorder = traffic();
    try {
      Object.assign(process.env, env);
      const { handler } = await import('../../lib/handlers/provision');
      const plan = { namePrefix: 'lambda', scores: { retainDatasetOnDestroy: false } };
      const created = (await handler(event('create', plan))) as ProvisionResult;
      const deleted = (await handler(event('delete', plan))) as DeprovisionResult;
      await expect(handler({ namePrefix: 'lambda' })).rejects.toThrow(/tf: is missing/);

      expect(created.tenantId).toBe(platform.tenantId);
      expect(Object.keys(deleted.deleted).sort()).toEqual(['descriptor', 'fieldGroup', 'schema', 'scoresDataset']);
      for (const result of [created, deleted]) {
        const json = JSON.stringify(result);
        for (const secret of secrets) expect(json).not.toContain(secret);
      }
      // Powertools logged the steps as JSON lines, with ids and without secrets.
      const logged = output.join('');
      expect(logged).toContain('"service":"aep-provisioner"');
      expect(logged).toContain(created.scoresDatasetId);
      expect(logged).toContain('aep-provisioner failed');
      for (const secret of secrets) expect(logged).not.toContain(secret);
      // One IMS token for both invocations: the client and its token cache live for the container.
      expect(recorder.calls.filter((c) => c === 'POST /ims/token/v3')).toHaveLength(1);
    } finally {
      recorder.stop();
      stdout.mockRestore();
      stderr.mockRestore();
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });
});

describe('the provisioner traffic', () => {
  it('matches the operations, parameters and bodies of Adobe\'s OpenAPI files', () => {
    const contract = OpenApiContract.load();
    const platformCalls = exchanges.filter((e) => !new URL(e.url, 'http://x').pathname.startsWith('/ims/'));
    const operations = new Set(platformCalls.map((e) => `${e.method} ${contract.findOperation(e.method, e.url)?.path ?? '(undocumented)'}`));
    expect([...operations]).toEqual(
      expect.arrayContaining([
        'PATCH /tenant/schemas/{SCHEMA_ID}',
        'PATCH /dataSets/{DATASET_ID}',
        'DELETE /dataSets/{DATASET_ID}',
        'DELETE /tenant/descriptors/{DESCRIPTOR_ID}',
        'POST /mappingSets',
        'GET /mappingSets',
        'PUT /mappingSets/{MAPPING_SET_ID}',
        'POST /flows',
        'DELETE /flows/{id}',
        'POST /sourceConnections',
      ]),
    );
    const deviations = KNOWN_DEVIATIONS;
    // Faults the tests inject are answered by the gateway before the body is read, in the gateway's shape.
    const handled = platformCalls.filter((e) => !(isObject(e.responseBody) && 'error_code' in e.responseBody));
    expect(handled.flatMap((e) => contract.checkRequest(e, { deviations }))).toEqual([]);
    expect(handled.flatMap((e) => contract.checkResponse(e, { deviations }))).toEqual([]);
  });
});
