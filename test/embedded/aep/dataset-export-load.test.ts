/**
 * Exports a featurized dataset of 100,000 rows (one per user, 18 columns as week 2 makes them) with an
 * ad hoc run and prints how long the run took (a measurement, not a timing assertion); and a run whose
 * output (tens of MB, so a multipart upload) cannot be written ends as failed instead of waiting forever.
 */
import { createAepServices, FLOW_SPECS, type AepServices, type FlowRun } from '../../../lib/aep';
import { readParquet } from '../../helpers/parquet';
import { startTestPlatform } from '../../helpers/platform';

const ROWS = 100_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const counts = ['emailsReceived', 'emailsOpened', 'emailsClicked', 'productsViewed', 'propositionInteracts', 'propositionDismissed', 'webLinkClicks'];
const minutes = ['emailSent', 'emailOpened', 'emailClick', 'productView', 'propositionInteract', 'propositionDismiss', 'linkClick'];

describe('dataset export under load', () => {
  let platform: Awaited<ReturnType<typeof startTestPlatform>>;
  let aep: AepServices;
  let datasetId: string;
  let baseId: string;
  let sourceId: string;
  const spec = (id: string) => ({ id, version: '1.0' });

  async function flowTo(name: string, params: Record<string, unknown>): Promise<string> {
    const target = await aep.flowService.ensureTargetConnection({
      name: `${name} target`,
      baseConnectionId: baseId,
      connectionSpec: spec(FLOW_SPECS.s3DestinationConnectionSpec),
      params: { mode: 'Server-to-server', path: 'egress', ...params },
    });
    const flow = await aep.flowService.ensureFlow({
      name: `${name} flow`,
      flowSpec: spec(FLOW_SPECS.datasetExportFlowSpec),
      sourceConnectionIds: [sourceId],
      targetConnectionIds: [target.resource.id],
      scheduleParams: { interval: 12, timeUnit: 'hour', startTime: Math.floor(Date.now() / 1000) },
    });
    return flow.resource.id;
  }

  beforeAll(async () => {
    platform = await startTestPlatform();
    aep = createAepServices(platform.config);
    const q = await aep.queryService.submit({
      dbName: aep.queryService.allDatabase,
      sql: `CREATE TABLE load_features AS SELECT
              lpad(i::text, 38, '7') AS "userId",
              CASE WHEN i % 7 = 0 THEN 'web.formFilledOut' ELSE 'directMarketing.emailSent' END AS "eventType",
              timestamptz '2025-01-01T00:00:00Z' + i * interval '7 seconds' AS "timestamp",
              (i % 7 = 0)::int::bigint AS "subscriptionOccurred",
              ${counts.map((c, k) => `((i * ${k + 3}) % 17)::bigint AS "${c}"`).join(',\n')},
              ${minutes.map((m, k) => `CASE WHEN (i + ${k}) % 4 = 0 THEN NULL ELSE ((i * ${k + 11}) % 10007) / 3.0 END::float8 AS "minutes_since_${m}"`).join(',\n')}
            FROM generate_series(1, ${ROWS}) AS i`,
    });
    const done = await aep.queryService.waitFor(q.id, { clock: { now: () => new Date(), sleep }, timeoutMs: 60_000, pollIntervalMs: 20 });
    datasetId = (done._links as { created_dataset: { id: string } }).created_dataset.id;
    baseId = (
      await aep.flowService.ensureBaseConnection({
        name: 'load base',
        connectionSpec: spec(FLOW_SPECS.s3DestinationConnectionSpec),
        auth: { specName: 'Amazon S3 role-based Authentication', params: { s3Role: 'arn:aws:iam::123456789012:role/aep' } },
      })
    ).resource.id;
    sourceId = (
      await aep.flowService.ensureSourceConnection({ name: 'load source', connectionSpec: spec(FLOW_SPECS.datasetSourceConnectionSpec), params: { datasets: [{ dataSetId: datasetId }] } })
    ).resource.id;
  });
  afterAll(async () => {
    await platform?.dispose();
  });

  it(`exports ${ROWS} rows to one gzip parquet file`, async () => {
    const flowId = await flowTo('load', { bucketName: platform.bucket.bucket, datasetFileType: 'PARQUET', compression: 'GZIP' });
    const heapBefore = process.memoryUsage().heapUsed;
    let heapPeak = heapBefore;
    const sampler = setInterval(() => (heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)), 25);
    const started = Date.now();
    const outcome = await aep.activation.runDatasetExport(flowId, [datasetId]);
    if (outcome.kind !== 'started') throw new Error(outcome.kind);
    await platform.aep.idle();
    const ms = Date.now() - started;
    clearInterval(sampler);

    const run = await aep.flowService.get<FlowRun>('runs', String(outcome.orders[0]?.statusURL).split('/').pop()!);
    expect(run.status?.value).toBe('success');
    const metrics = run.metrics as Record<string, any>;
    expect(metrics.recordSummary.outputRecordCount).toBe(ROWS);
    expect(metrics.fileSummary.outputFileCount).toBe(1);
    const key = metrics.fileSummary.manifest.fileInfo[0].path as string;
    const file = await readParquet(await platform.bucket.get(key));
    expect(file.rowCount).toBe(ROWS);
    expect(file.rows).toHaveLength(ROWS);
    expect(Object.keys(file.columns)).toHaveLength(4 + counts.length + minutes.length);
    console.log(
      `Dataset export stand-in: ${ROWS} rows x 18 columns to gzip parquet (${(metrics.sizeSummary.outputBytes / 1e6).toFixed(1)} MB) ` +
        `in ${(ms / 1000).toFixed(2)} s, from the ad hoc request to the finished run; heap grew by at most ${((heapPeak - heapBefore) / 1e6).toFixed(0)} MB`,
    );
  });

  it('fails, rather than hangs, a large run whose bucket is missing', async () => {
    const flowId = await flowTo('lost', { bucketName: 'missing-bucket', datasetFileType: 'JSON', compression: 'NONE' });
    const outcome = await aep.activation.runDatasetExport(flowId, [datasetId]);
    if (outcome.kind !== 'started') throw new Error(outcome.kind);
    await platform.aep.idle();
    const run = await aep.flowService.get<FlowRun>('runs', String(outcome.orders[0]?.statusURL).split('/').pop()!);
    expect(run.status?.value).toBe('failed');
    expect(run.status?.errors?.[0]?.message).toMatch(/NoSuchBucket|does not exist/);
  });
});
