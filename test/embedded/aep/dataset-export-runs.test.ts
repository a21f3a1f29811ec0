/**
 * AEP's two refusals of an ad hoc dataset export, on a platform whose stand-in makes them observable:
 * "not ready for dataset export" while the dataflow is younger than `exportReadyAfterMs`, and "a run
 * already exists" while a run of the same dataflow and dataset is queued (`exportRunDelayMs`).
 */
import axios from 'axios';
import { createAepServices, FLOW_SPECS, type AepServices, type FlowRun } from '../../../lib/aep';
import type { RecordedExchange } from '../../../lib/embedded/aep/server';
import { OpenApiContract } from '../../contract/openapi-contract';
import { readParquet } from '../../helpers/parquet';
import { startTestPlatform } from '../../helpers/platform';
import { EXPORT_DEVIATIONS } from './export-deviations';

const READY_AFTER_MS = 1500;
const RUN_DELAY_MS = 700;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('ad hoc dataset export refusals', () => {
  let platform: Awaited<ReturnType<typeof startTestPlatform>>;
  let aep: AepServices;
  let datasetId: string;
  let flowId: string;
  let flowCreatedAt: number;
  const exchanges: RecordedExchange[] = [];

  beforeAll(async () => {
    platform = await startTestPlatform({ aep: { exportReadyAfterMs: READY_AFTER_MS, exportRunDelayMs: RUN_DELAY_MS } });
    platform.aep.onExchange((ex) => exchanges.push(ex));
    aep = createAepServices(platform.config);
    const q = await aep.queryService.submit({ dbName: aep.queryService.allDatabase, sql: 'CREATE TABLE refusal_features AS SELECT i AS n FROM generate_series(1, 50) AS i' });
    const done = await aep.queryService.waitFor(q.id, { clock: { now: () => new Date(), sleep }, timeoutMs: 30_000, pollIntervalMs: 20 });
    datasetId = (done._links as { created_dataset: { id: string } }).created_dataset.id;
    const spec = (id: string) => ({ id, version: '1.0' });
    const base = await aep.flowService.ensureBaseConnection({
      name: 'refusals base',
      connectionSpec: spec(FLOW_SPECS.s3DestinationConnectionSpec),
      auth: { specName: 'Amazon S3 role-based Authentication', params: { s3Role: 'arn:aws:iam::123456789012:role/aep' } },
    });
    const source = await aep.flowService.ensureSourceConnection({
      name: 'refusals source',
      connectionSpec: spec(FLOW_SPECS.datasetSourceConnectionSpec),
      params: { datasets: [{ dataSetId: datasetId }] },
    });
    const target = await aep.flowService.ensureTargetConnection({
      name: 'refusals target',
      baseConnectionId: base.resource.id,
      connectionSpec: spec(FLOW_SPECS.s3DestinationConnectionSpec),
      params: { mode: 'Server-to-server', bucketName: platform.bucket.bucket, path: 'egress', datasetFileType: 'PARQUET', compression: 'GZIP' },
    });
    const flow = await aep.flowService.ensureFlow({
      name: 'refusals flow',
      flowSpec: spec(FLOW_SPECS.datasetExportFlowSpec),
      sourceConnectionIds: [source.resource.id],
      targetConnectionIds: [target.resource.id],
      scheduleParams: { interval: 6, timeUnit: 'hour', startTime: Math.floor(Date.now() / 1000) },
    });
    flowId = flow.resource.id;
    flowCreatedAt = Number((await aep.flowService.get('flows', flowId)).createdAt);
  });
  afterAll(async () => {
    await platform?.dispose();
  });

  it('answers "not ready for dataset export" until the dataflow is old enough, then exports', async () => {
    expect(Date.now()).toBeLessThan(flowCreatedAt + READY_AFTER_MS);
    const early = await aep.activation.runDatasetExport(flowId, [datasetId]);
    expect(early).toEqual({ kind: 'not-ready', message: expect.stringMatching(/not ready for dataset export, please wait for 10 minutes and retry/) });
    expect(await aep.flowService.runsOf(flowId)).toEqual([]);

    // The raw answer: 400, Flow Service problem details plus the `message` ad-hoc-activation.yaml documents.
    const raw = exchanges.filter((e) => e.url.endsWith('/adhocrun')).pop()!;
    expect(raw.status).toBe(400);
    expect(raw.responseBody).toEqual({
      type: expect.stringContaining('ACTIVATION-1103-400'),
      title: 'Bad Request',
      status: 400,
      detail: expect.stringContaining('Following order ID(s) are not ready for dataset export'),
      message: expect.stringContaining('Following order ID(s) are not ready for dataset export'),
    });

    await sleep(flowCreatedAt + READY_AFTER_MS - Date.now() + 50);
    const started = await aep.activation.runDatasetExport(flowId, [datasetId]);
    expect(started.kind).toBe('started');
  });

  it('answers "a run already exists" while a run of the dataflow and dataset is queued or in progress', async () => {
    const [active] = await aep.flowService.runsOf(flowId);
    if (!active) throw new Error('the dataflow has no run');
    expect(active.status?.value).toBe('queued');
    const again = await aep.activation.runDatasetExport(flowId, [datasetId]);
    expect(again).toEqual({ kind: 'already-running', message: expect.stringContaining(`Run already exists for dataset ${datasetId}`) });
    expect(again.kind === 'already-running' && again.message).toContain(active.id);
    expect(await aep.flowService.runsOf(flowId)).toHaveLength(1);

    // idle() waits for export runs too.
    await platform.aep.idle();
    const finished = await aep.flowService.get<FlowRun>('runs', active.id);
    expect(finished.status?.value).toBe('success');

    // First full, then incremental: new rows (a new snapshot) go out in a folder of their own.
    const insert = await aep.queryService.submit({ dbName: aep.queryService.allDatabase, sql: 'INSERT INTO refusal_features SELECT i AS n FROM generate_series(51, 57) AS i' });
    await aep.queryService.waitFor(insert.id, { clock: { now: () => new Date(), sleep }, timeoutMs: 30_000, pollIntervalMs: 20 });
    const next = await aep.activation.runDatasetExport(flowId, [datasetId]);
    expect(next.kind).toBe('started');
    await platform.aep.idle();
    const runs = await aep.flowService.runsOf(flowId);
    expect(runs.map((r) => r.status?.value)).toEqual(['success', 'success']);
    const folders = new Map<string, number>();
    for await (const o of platform.bucket.list(`egress/${datasetId}/`)) {
      const folder = o.key.slice(0, o.key.lastIndexOf('/'));
      const { rowCount } = await readParquet(await platform.bucket.get(o.key));
      folders.set(folder, (folders.get(folder) ?? 0) + rowCount);
    }
    expect([...folders.entries()].sort().map(([, rows]) => rows)).toEqual([50, 7]);

    // Nothing new since: the run succeeds and writes nothing.
    const idleRun = await aep.activation.runDatasetExport(flowId, [datasetId]);
    expect(idleRun.kind).toBe('started');
    await platform.aep.idle();
    let objects = 0;
    for await (const _ of platform.bucket.list(`egress/${datasetId}/`)) objects++;
    expect(objects).toBe(2);
  });

  it('answers the refusals as documented (400 with a message)', async () => {
    // A request straight from axios: the client library above is not needed to see the status.
    const token = await aep.client.tokens.getToken();
    const res = await axios.post(
      `${platform.config.aep.platformEndpoint}/data/core/activation/disflowprovider/adhocrun`,
      { activationInfo: { destinations: [{ flowId, datasets: [{ id: datasetId }] }] } },
      {
        validateStatus: () => true,
        headers: {
          Authorization: `Bearer ${token}`,
          'x-api-key': await aep.client.clientId,
          'x-gw-ims-org-id': platform.config.aep.orgId,
          'x-sandbox-name': platform.config.aep.sandbox,
          Accept: 'application/vnd.adobe.adhoc.dataset.activation+json; version=1',
        },
      },
    );
    expect(res.status).toBe(200);
    const second = await aep.activation.runDatasetExport(flowId, [datasetId]);
    expect(second.kind).toBe('already-running');
    await platform.aep.idle();
    const contract = OpenApiContract.load();
    const adhoc = exchanges.filter((e) => e.url.endsWith('/adhocrun'));
    expect(adhoc.map((e) => e.status)).toEqual([400, 200, 400, 200, 200, 200, 400]);
    expect(adhoc.flatMap((e) => contract.checkResponse(e, { deviations: EXPORT_DEVIATIONS }))).toEqual([]);
  });
});
