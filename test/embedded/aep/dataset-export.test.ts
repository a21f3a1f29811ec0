/**
 * Dataset export to S3 on the embedded platform, driven by the project's own AEP client: the Flow
 * Service resources of a dataset-export dataflow, ad hoc runs that write parquet (or JSON Lines) to
 * the bucket, and AEP's refusals. Every response is checked against Adobe's OpenAPI files.
 */
import { gunzipSync } from 'zlib';
import { createAepServices, FLOW_SPECS, isAepError, type AepServices, type FlowRun } from '../../../lib/aep';
import type { RecordedExchange } from '../../../lib/embedded/aep/server';
import { withExclusiveSession } from '../../../lib/embedded/postgres';
import { OpenApiContract } from '../../contract/openapi-contract';
import { readParquet } from '../../helpers/parquet';
import { startTestPlatform } from '../../helpers/platform';
import { EXPORT_DEVIATIONS } from './export-deviations';

const ROLE = 'arn:aws:iam::123456789012:role/aep-dataset-export';
const FLOWS = '/data/foundation/flowservice';
const ADHOC = '/data/core/activation/disflowprovider/adhocrun';
const DATASET_ACCEPT = 'application/vnd.adobe.adhoc.dataset.activation+json; version=1';

describe('dataset export to S3', () => {
  let platform: Awaited<ReturnType<typeof startTestPlatform>>;
  let aep: AepServices;
  const exchanges: RecordedExchange[] = [];
  let featuresId: string;
  let emptyId: string;
  let flowId: string;
  let targetId: string;

  const sql = async <T>(text: string): Promise<T[]> => (await withExclusiveSession(platform.postgres.db, () => platform.postgres.db.query<T>(text))).rows;

  /** Runs a batch query that creates a dataset; returns its id. */
  async function ctas(text: string): Promise<string> {
    const q = await aep.queryService.submit({ dbName: aep.queryService.allDatabase, sql: text });
    const done = await aep.queryService.waitFor(q.id, { clock: { now: () => new Date(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) }, timeoutMs: 30_000, pollIntervalMs: 20 });
    return (done._links as { created_dataset: { id: string } }).created_dataset.id;
  }

  async function waitForRun(runId: string): Promise<FlowRun> {
    for (let i = 0; i < 1500; i++) {
      const run = await aep.flowService.get<FlowRun>('runs', runId);
      if (run.status?.value === 'success' || run.status?.value === 'failed') return run;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`run ${runId} did not finish`);
  }

  const runIdOf = (statusURL: unknown) => String(statusURL).split('/').pop()!;

  async function dataflow(name: string, datasetIds: string[], params: Record<string, unknown>): Promise<{ flowId: string; targetId: string }> {
    const base = await aep.flowService.ensureBaseConnection({
      name: `${name} base`,
      connectionSpec: { id: FLOW_SPECS.s3DestinationConnectionSpec, version: '1.0' },
      auth: { specName: 'Amazon S3 role-based Authentication', params: { s3Role: ROLE } },
    });
    const source = await aep.flowService.ensureSourceConnection({
      name: `${name} source`,
      connectionSpec: { id: FLOW_SPECS.datasetSourceConnectionSpec, version: '1.0' },
      params: { datasets: datasetIds.map((dataSetId) => ({ dataSetId })) },
    });
    const target = await aep.flowService.ensureTargetConnection({
      name: `${name} target`,
      baseConnectionId: base.resource.id,
      connectionSpec: { id: FLOW_SPECS.s3DestinationConnectionSpec, version: '1.0' },
      params: { mode: 'Server-to-server', bucketName: platform.bucket.bucket, ...params },
    });
    const flow = await aep.flowService.ensureFlow({
      name: `${name} flow`,
      flowSpec: { id: FLOW_SPECS.datasetExportFlowSpec, version: '1.0' },
      sourceConnectionIds: [source.resource.id],
      targetConnectionIds: [target.resource.id],
      scheduleParams: { exportMode: 'FIRST_FULL_THEN_INCREMENTAL', interval: 3, timeUnit: 'hour', startTime: Math.floor(Date.now() / 1000) },
    });
    return { flowId: flow.resource.id, targetId: target.resource.id };
  }

  beforeAll(async () => {
    platform = await startTestPlatform({ aep: { exportRowsPerFile: 250 } });
    platform.aep.onExchange((ex) => exchanges.push(ex));
    aep = createAepServices(platform.config);
    featuresId = await ctas(`
      CREATE TABLE export_features AS
      SELECT i AS n_int, i::bigint * 1000000000 AS n_big, i / 3.0::float8 AS ratio, (i % 2 = 0) AS even,
             'user-' || i AS "userId", timestamptz '2025-01-01T00:00:00Z' + i * interval '1 minute' AS ts,
             jsonb_build_object('k', i, 'tags', jsonb_build_array('a', i)) AS payload,
             CASE WHEN i % 5 = 0 THEN NULL ELSE 'v' || i END AS maybe,
             date '2025-01-01' + i AS day, (i::numeric / 8)::numeric(10, 3) AS amount
      FROM generate_series(1, 600) AS i`);
    emptyId = await ctas(`CREATE TABLE export_empty AS SELECT 1 AS x WHERE false`);
    ({ flowId, targetId } = await dataflow('features', [featuresId, emptyId], { path: '/egress/', datasetFileType: 'PARQUET', compression: 'GZIP' }));
  });
  afterAll(async () => {
    await platform?.dispose();
  });

  it('creates, finds, reads, pages and deletes the dataflow resources', async () => {
    const fs = aep.flowService;
    const flow = await fs.get('flows', flowId);
    expect(flow).toEqual(
      expect.objectContaining({
        id: flowId,
        name: 'features flow',
        flowSpec: { id: FLOW_SPECS.datasetExportFlowSpec, version: '1.0' },
        state: 'enabled',
        scheduleParams: expect.objectContaining({ interval: 3, timeUnit: 'hour' }),
        transformations: [],
        etag: expect.stringMatching(/^"[0-9a-f-]+"$/),
      }),
    );
    expect(flow.inheritedAttributes).toEqual({
      properties: { isDestinationFlow: true },
      sourceConnections: [{ id: (flow.sourceConnectionIds as string[])[0], connectionSpec: { id: FLOW_SPECS.datasetSourceConnectionSpec, version: '1.0' } }],
      targetConnections: [expect.objectContaining({ id: targetId, connectionSpec: { id: FLOW_SPECS.s3DestinationConnectionSpec, version: '1.0' } })],
    });
    expect((await fs.findByName('flows', 'features flow'))?.id).toBe(flowId);
    expect(await fs.findByName('flows', 'no such flow')).toBeUndefined();
    const target = await fs.get('targetConnections', targetId);
    expect(target.params).toEqual({ mode: 'Server-to-server', bucketName: platform.bucket.bucket, path: '/egress/', datasetFileType: 'PARQUET', compression: 'GZIP' });
    const base = await fs.get('connections', String(target.baseConnectionId));
    expect(base.auth).toEqual({ specName: 'Amazon S3 role-based Authentication', params: { s3Role: ROLE } });

    // Names are not unique in AEP: a second connection of the same name is a new resource.
    const twinBody = {
      name: 'features base',
      connectionSpec: { id: FLOW_SPECS.s3DestinationConnectionSpec, version: '1.0' },
      auth: { specName: 'Amazon S3 role-based Authentication', params: { s3Role: ROLE } },
    };
    const twin = (await aep.client.request<{ id: string; etag: string }>({ method: 'POST', path: `${FLOWS}/connections`, body: twinBody })).data;
    expect(twin.id).not.toBe(base.id);
    expect((await fs.list('connections', 'name==features base')).map((c) => c.id).sort()).toEqual([base.id, twin.id].sort());

    // Paging: limit 1 walks every connection through continuation tokens, newest first.
    const page1 = (await aep.client.request<{ items: { id: string }[]; _links: { next?: { href: string } } }>({ method: 'GET', path: `${FLOWS}/connections`, query: { limit: 1 } })).data;
    expect(page1.items.map((i) => i.id)).toEqual([twin.id]);
    const next = new URL(page1._links.next!.href);
    expect(next.pathname).toBe(`${FLOWS}/connections`);
    const page2 = (await aep.client.request<{ items: { id: string }[]; _links: { next?: { href: string } } }>({
      method: 'GET',
      path: `${FLOWS}/connections`,
      query: Object.fromEntries(next.searchParams),
    })).data;
    expect(page2.items.map((i) => i.id)).toEqual([base.id]);
    expect(page2._links.next).toBeUndefined();

    // DELETE needs the current etag when If-Match is given; then the resource is gone.
    await expect(aep.client.request({ method: 'DELETE', path: `${FLOWS}/connections/${twin.id}`, headers: { 'If-Match': '"stale"' } })).rejects.toMatchObject({ status: 412 });
    expect(await fs.delete('connections', twin.id)).toBe(true);
    await expect(fs.get('connections', twin.id)).rejects.toMatchObject({ status: 404, kind: 'not-found' });
    expect(await fs.delete('connections', twin.id)).toBe(false);
  });

  it('refuses invalid dataflow resources with the field at fault', async () => {
    const post = (collection: string, body: unknown) => aep.client.request({ method: 'POST', path: `${FLOWS}/${collection}`, body });
    const failure = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        if (isAepError(e)) return { status: e.status, text: `${e.title ?? ''} ${e.detail ?? ''}` };
        throw e;
      }
      throw new Error('the request succeeded');
    };
    const s3 = { id: FLOW_SPECS.s3DestinationConnectionSpec, version: '1.0' };
    expect(await failure(post('connections', { name: 'x', connectionSpec: s3, auth: { specName: 'Amazon S3 role-based Authentication', params: { s3Role: 'arn:aws:iam::12:user/me' } } }))).toEqual({
      status: 400,
      text: expect.stringContaining('s3Role'),
    });
    expect(await failure(post('connections', { name: 'x', connectionSpec: { id: s3.id }, auth: {} }))).toEqual({ status: 422, text: expect.stringContaining('version') });
    // Azure Blob: a connection spec the embedded platform does not serve (Amazon S3 is served as destination and source).
    expect(await failure(post('connections', { name: 'x', connectionSpec: { id: '4c10e202-c428-4796-9208-5f1f5732b1cf', version: '1.0' } }))).toEqual({
      status: 400,
      text: expect.stringContaining('valid spec id'),
    });
    expect(
      await failure(post('sourceConnections', { name: 'x', connectionSpec: { id: FLOW_SPECS.datasetSourceConnectionSpec, version: '1.0' }, params: { datasets: [{ dataSetId: 'nope' }] } })),
    ).toEqual({ status: 400, text: expect.stringContaining("Dataset 'nope'") });
    const base = await aep.flowService.findByName('connections', 'features base');
    expect(
      await failure(post('targetConnections', { name: 'x', baseConnectionId: base!.id, connectionSpec: s3, params: { bucketName: 'Bad_Bucket', path: 'p', datasetFileType: 'PARQUET', compression: 'GZIP' } })),
    ).toEqual({ status: 400, text: expect.stringContaining('bucketName') });
    expect(
      await failure(post('targetConnections', { name: 'x', baseConnectionId: base!.id, connectionSpec: s3, params: { bucketName: 'ok-bucket', path: 'p', datasetFileType: 'CSV', compression: 'GZIP' } })),
    ).toEqual({ status: 400, text: expect.stringContaining('datasetFileType') });
    const flow = (await aep.flowService.get('flows', flowId)) as unknown as { sourceConnectionIds: string[]; targetConnectionIds: string[] };
    const flowBody = (scheduleParams: unknown) => ({
      name: 'x',
      flowSpec: { id: FLOW_SPECS.datasetExportFlowSpec, version: '1.0' },
      sourceConnectionIds: flow.sourceConnectionIds,
      targetConnectionIds: flow.targetConnectionIds,
      scheduleParams,
    });
    expect(await failure(post('flows', flowBody({ interval: 4, timeUnit: 'hour', startTime: 1767225600 })))).toEqual({ status: 400, text: expect.stringContaining('3, 6, 9 or 12 hours') });
    expect(await failure(post('flows', flowBody({ interval: 3, timeUnit: 'hour', startTime: 1767225600000 })))).toEqual({ status: 400, text: expect.stringContaining('seconds') });
    expect(await failure(post('flows', { ...flowBody({ interval: 1, timeUnit: 'day', startTime: 1767225600 }), targetConnectionIds: ['nope'] }))).toEqual({
      status: 400,
      text: expect.stringContaining("Target connection 'nope'"),
    });
    // A daily schedule is interval 1, timeUnit day.
    const daily = (await post('flows', flowBody({ interval: 1, timeUnit: 'day', startTime: 1767225600 }))) as { data: { id: string } };
    expect(await aep.flowService.delete('flows', daily.data.id)).toBe(true);
    for (const c of ['connections', 'sourceConnections', 'targetConnections', 'flows', 'runs'] as const) {
      await expect(aep.flowService.get(c, '00000000-0000-0000-0000-000000000000')).rejects.toMatchObject({ status: 404 });
    }
  });

  it('exports a dataset with an ad hoc run: gzip parquet parts under <path>/<datasetId>/exportTime=<UTC>/', async () => {
    const started = Date.now();
    const outcome = await aep.activation.runDatasetExport(flowId, [featuresId]);
    expect(outcome.kind).toBe('started');
    if (outcome.kind !== 'started') return;
    expect(outcome.orders).toEqual([{ flowId, datasetId: featuresId, order: flowId, statusURL: expect.stringMatching(new RegExp(`${FLOWS}/runs/[0-9a-f-]{36}$`)) }]);
    const run = await waitForRun(runIdOf(outcome.orders[0]?.statusURL));
    expect(run.status).toEqual({ value: 'success', errors: [] });
    expect(run.flowId).toBe(flowId);

    const keys: { key: string; size: number }[] = [];
    for await (const o of platform.bucket.list(`egress/${featuresId}/`)) keys.push({ key: o.key, size: o.size });
    expect(keys).toHaveLength(3);
    const firstKey = keys[0]!.key; // three keys, as just checked
    const folder = /^egress\/([0-9a-f]{24})\/exportTime=(\d{14})\/$/.exec(firstKey.slice(0, firstKey.lastIndexOf('/') + 1));
    expect(folder?.[1]).toBe(featuresId);
    const exportTime = folder![2]!; // a match has both groups
    const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14);
    expect(exportTime >= stamp(started - 1000) && exportTime <= stamp(Date.now())).toBe(true);
    const names = keys.map((k) => k.key.split('/').pop()!).sort();
    const fileId = /^part-00000-([0-9a-f-]{36})\.parquet$/.exec(names[0] ?? '')?.[1];
    expect(fileId).toBeDefined();
    expect(names).toEqual([0, 1, 2].map((i) => `part-0000${i}-${fileId}.parquet`));

    // The files hold the table: same rows, same columns (without the snapshot column), same values.
    const files = await Promise.all(keys.sort((a, b) => a.key.localeCompare(b.key)).map(async (k) => readParquet(await platform.bucket.get(k.key))));
    expect(files.map((f) => f.rows.length)).toEqual([250, 250, 100]);
    expect(files.every((f) => f.codecs.length === 1 && /GZIP|^2$/.test(f.codecs[0] ?? ''))).toBe(true);
    const types = Object.fromEntries(Object.entries(files[0]?.columns ?? {}).map(([name, c]) => [name, [c.converted_type ?? c.type, c.repetition_type]]));
    expect(types).toEqual({
      n_int: ['INT64', 'OPTIONAL'],
      n_big: ['INT64', 'OPTIONAL'],
      ratio: ['DOUBLE', 'OPTIONAL'],
      even: ['BOOLEAN', 'OPTIONAL'],
      userId: ['UTF8', 'OPTIONAL'],
      ts: ['TIMESTAMP_MILLIS', 'OPTIONAL'],
      payload: ['UTF8', 'OPTIONAL'],
      maybe: ['UTF8', 'OPTIONAL'],
      day: ['DATE', 'OPTIONAL'],
      amount: ['DOUBLE', 'OPTIONAL'],
    });
    const exported = files.flatMap((f) => f.rows).sort((a, b) => Number(a.n_int) - Number(b.n_int));
    const table = await sql<Record<string, unknown>>(
      `SELECT n_int, n_big, ratio, even, "userId", ts, payload::text AS payload, maybe, to_char(day, 'YYYY-MM-DD') AS day, amount::float8 AS amount FROM export_features ORDER BY n_int`,
    );
    expect(exported).toHaveLength(table.length);
    exported.forEach((row, i) => {
      const t = table[i]!; // as many rows, as just checked
      const normalized = {
        n_int: Number(row.n_int),
        n_big: Number(row.n_big),
        ratio: row.ratio,
        even: row.even,
        userId: row.userId,
        ts: (row.ts as Date).toISOString(),
        payload: JSON.parse(String(row.payload)),
        maybe: row.maybe ?? null,
        day: (row.day as Date).toISOString().slice(0, 10),
        amount: row.amount,
      };
      expect(normalized).toEqual({ ...t, n_big: Number(t.n_big), ts: (t.ts as Date).toISOString(), payload: JSON.parse(String(t.payload)) });
    });
    expect(typeof exported[0]?.n_big).toBe('bigint');

    // The run's metrics: records read and written, files, bytes; the manifest lists the keys.
    const metrics = run.metrics as Record<string, any>;
    expect(metrics.recordSummary).toEqual(expect.objectContaining({ inputRecordCount: 600, outputRecordCount: 600, failedRecordCount: 0 }));
    expect(metrics.fileSummary.outputFileCount).toBe(3);
    expect(metrics.fileSummary.manifest.fileInfo.map((f: { path: string }) => f.path).sort()).toEqual(keys.map((k) => k.key).sort());
    expect(metrics.sizeSummary.outputBytes).toBe(keys.reduce((n, k) => n + k.size, 0));
    expect(metrics.durationSummary.completedAtUTC).toBeGreaterThanOrEqual(metrics.durationSummary.startedAtUTC);
    expect(metrics.statusSummary).toEqual({ status: 'success' });

    // The flow's runs, newest first, and its last run.
    expect((await aep.flowService.runsOf(flowId)).map((r) => r.id)).toContain(run.id);
    expect((await aep.flowService.get('flows', flowId)).lastRunDetails).toEqual(expect.objectContaining({ id: run.id, state: 'success' }));
  });

  it('exports an empty dataset as a successful run without files', async () => {
    const outcome = await aep.activation.runDatasetExport(flowId, [emptyId]);
    if (outcome.kind !== 'started') throw new Error(outcome.kind);
    const run = await waitForRun(runIdOf(outcome.orders[0]?.statusURL));
    expect(run.status?.value).toBe('success');
    expect((run.metrics as Record<string, any>).recordSummary.outputRecordCount).toBe(0);
    expect((run.metrics as Record<string, any>).fileSummary.outputFileCount).toBe(0);
    const keys: string[] = [];
    for await (const o of platform.bucket.list(`egress/${emptyId}/`)) keys.push(o.key);
    expect(keys).toEqual([]);
  });

  it('writes gzip JSON Lines for a JSON target, and plain parquet without compression', async () => {
    const json = await dataflow('json', [featuresId], { path: 'json-out', datasetFileType: 'JSON', compression: 'GZIP' });
    const plain = await dataflow('plain', [featuresId], { path: 'plain-out', datasetFileType: 'PARQUET', compression: 'NONE' });
    const outcomes = [await aep.activation.runDatasetExport(json.flowId, [featuresId]), await aep.activation.runDatasetExport(plain.flowId, [featuresId])];
    for (const o of outcomes) {
      if (o.kind !== 'started') throw new Error(o.kind);
      expect((await waitForRun(runIdOf(o.orders[0]?.statusURL))).status?.value).toBe('success');
    }
    const jsonKeys: string[] = [];
    for await (const o of platform.bucket.list(`json-out/${featuresId}/`)) jsonKeys.push(o.key);
    expect(jsonKeys).toHaveLength(3);
    expect(jsonKeys.every((k) => /\/exportTime=\d{14}\/part-0000\d-[0-9a-f-]{36}\.json\.gz$/.test(k))).toBe(true);
    const lines = (await Promise.all(jsonKeys.map(async (k) => gunzipSync(await platform.bucket.get(k)).toString('utf8').trim().split('\n')))).flat();
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>).sort((a, b) => Number(a.n_int) - Number(b.n_int));
    expect(records).toHaveLength(600);
    expect(records[4]).toEqual({
      n_int: 5,
      n_big: 5_000_000_000,
      ratio: 5 / 3,
      even: false,
      userId: 'user-5',
      ts: '2025-01-01T00:05:00.000Z',
      payload: { k: 5, tags: ['a', 5] },
      day: '2025-01-06',
      amount: 0.625,
    });
    expect(records.some((r) => '_acp_snapshot_id' in r)).toBe(false);

    const plainKeys: string[] = [];
    for await (const o of platform.bucket.list(`plain-out/${featuresId}/`)) plainKeys.push(o.key);
    const [plainKey] = plainKeys.sort();
    if (plainKey === undefined) throw new Error('the export without compression wrote no file');
    const plainFile = await readParquet(await platform.bucket.get(plainKey));
    expect(plainFile.codecs.every((c) => /UNCOMPRESSED|^0$/.test(c))).toBe(true);
    expect(plainFile.rows).toHaveLength(250);
  });

  it('fails a run whose bucket does not exist, with status errors and no files', async () => {
    const missing = await dataflow('missing', [featuresId], { bucketName: 'no-such-bucket', path: 'x', datasetFileType: 'PARQUET', compression: 'GZIP' });
    const outcome = await aep.activation.runDatasetExport(missing.flowId, [featuresId]);
    if (outcome.kind !== 'started') throw new Error(outcome.kind);
    const run = await waitForRun(runIdOf(outcome.orders[0]?.statusURL));
    expect(run.status?.value).toBe('failed');
    expect(run.status?.errors).toEqual([{ code: expect.stringMatching(/^[A-Z]{3,6}-\d{3,6}-[1-5]\d\d$/), message: expect.stringContaining(featuresId) }]);
    expect((run.metrics as Record<string, any>).statusSummary.status).toBe('failed');
    expect((run.metrics as Record<string, any>).fileSummary.outputFileCount).toBe(0);
  });

  it('answers unknown dataflows and datasets, datasets outside the dataflow and other variants as AEP does', async () => {
    const adhoc = (body: unknown, accept = DATASET_ACCEPT) =>
      aep.client.request({ method: 'POST', path: ADHOC, headers: { Accept: accept }, body }).then(
        () => ({ status: 200, text: '' }),
        (e: unknown) => (isAepError(e) ? { status: e.status, text: `${e.title ?? ''} ${e.detail ?? ''}` } : Promise.reject(e)),
      );
    const body = (flow: string, dataset: string) => ({ activationInfo: { destinations: [{ flowId: flow, datasets: [{ id: dataset }] }] } });
    expect(await adhoc(body('00000000-0000-0000-0000-000000000000', featuresId))).toEqual({ status: 404, text: expect.stringContaining('00000000-0000-0000-0000-000000000000') });
    expect(await adhoc(body(flowId, '000000000000000000000000'))).toEqual({ status: 404, text: expect.stringContaining('000000000000000000000000') });
    const other = await ctas('CREATE TABLE export_other AS SELECT 1 AS x');
    expect(await adhoc(body(flowId, other))).toEqual({ status: 400, text: expect.stringContaining('not part of this dataflow') });
    expect(await adhoc(body(flowId, featuresId), 'application/json')).toEqual({ status: 400, text: expect.stringContaining(DATASET_ACCEPT) });
    expect(await adhoc({ activationInfo: {} })).toEqual({ status: 400, text: expect.stringContaining('activationInfo.destinations') });
    await platform.aep.idle();
  });

  it("answers every call with a documented status and body (Adobe's OpenAPI files)", () => {
    const contract = OpenApiContract.load();
    const checked = exchanges.filter((e) => !new URL(e.url).pathname.startsWith('/ims/'));
    const operations = new Set(checked.map((e) => contract.findOperation(e.method, e.url)?.label ?? `undocumented ${e.method} ${e.url}`));
    expect([...operations].filter((o) => o.startsWith('undocumented'))).toEqual([]);
    for (const op of ['POST /connections', 'GET /flows/{id}', 'DELETE /connections/{id}', 'POST /adhocrun', 'GET /runs']) {
      expect([...operations].some((o) => o.endsWith(op))).toBe(true);
    }
    const violations = checked.flatMap((e) => contract.checkResponse(e, { deviations: EXPORT_DEVIATIONS }));
    expect(violations).toEqual([]);
  });
});
