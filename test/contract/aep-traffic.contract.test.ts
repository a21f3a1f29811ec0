/**
 * Every request our AEP client sends and every response the embedded AEP stand-in returns, checked
 * against Adobe's OpenAPI files. Week 1's traffic and the score ingestion's (provisioning, a scheduled
 * ingestion run, the ingestion check, destroy) run through the stand-in for real; requests for the
 * services whose stand-in comes with later stages are captured before they leave the client.
 */
import { synthesizeLocalDeployment } from '../../constructs/local-deployment';
import axios, { type AxiosAdapter, type InternalAxiosRequestConfig } from 'axios';
import { AepClient, Activation, createAepServices, credentialsFrom, DataPrep, FlowService, FLOW_SPECS, QueryServiceApi, Segmentation } from '../../lib/aep';
import { runLocalPipeline } from '../../lib/cli/local-run';
import { newRunId, RunLedger } from '../../lib/ledger/run-ledger';
import { systemClock } from '../../lib/ports/clock';
import { silentLog } from '../../lib/ports/logger';
import { checkIngestion } from '../../lib/stages/ingestion-check';
import { provision, type ProvisionResult } from '../../lib/provisioning/provision';
import { startTestPlatform } from '../helpers/platform';
import { KNOWN_DEVIATIONS } from './deviations';
import { OpenApiContract, type RecordedExchange } from './openapi-contract';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const contract = OpenApiContract.load();

const DEVIATIONS = KNOWN_DEVIATIONS;

function isIms(url: string): boolean {
  return new URL(url, 'http://x').pathname.startsWith('/ims/');
}

describe('traffic of the whole pipeline between the client and the AEP stand-in', () => {
  const exchanges: RecordedExchange[] = [];

  beforeAll(async () => {
    const runsRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'contract-'));
    // runLocalPipeline starts its own platform; record that one's traffic by hooking the stand-in class.
    const { AepStandIn } = await import('../../lib/embedded/aep/server');
    // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with .call(this) on the instance below.
    const originalStart = AepStandIn.prototype.start;
    const spy = jest.spyOn(AepStandIn.prototype, 'start').mockImplementation(async function (this: InstanceType<typeof AepStandIn>) {
      this.onExchange((ex) => exchanges.push(ex));
      return originalStart.call(this);
    });
    try {
      await runLocalPipeline({ deploy: synthesizeLocalDeployment, users: 1000, usersPerBatch: 500, seed: 3, runsRoot, log: silentLog, now: new Date('2026-01-01T00:00:00Z') });
    } finally {
      spy.mockRestore();
      fs.rmSync(runsRoot, { recursive: true, force: true });
    }
  });

  it('exercised the operations every stage needs', () => {
    const operations = new Set(
      exchanges.filter((e) => !isIms(e.url)).map((e) => `${e.method} ${contract.findOperation(e.method, e.url)?.path ?? '(undocumented)'}`),
    );
    expect([...operations]).toEqual(
      expect.arrayContaining([
        'GET /stats',
        'GET /{CONTAINER_ID}/fieldgroups',
        'POST /tenant/fieldgroups',
        'GET /{CONTAINER_ID}/schemas',
        'POST /tenant/schemas',
        'GET /{CONTAINER_ID}/descriptors',
        'POST /tenant/descriptors',
        'GET /dataSets',
        'POST /dataSets',
        'GET /dataSets/{DATASET_ID}',
        'POST /batches',
        'PUT /batches/{batchId}/datasets/{datasetId}/files/{filePath}',
        'POST /batches/{batchId}',
        'GET /batches/{BATCH_ID}',
        // The scheduled stages, run as their bundled handlers: featurize, export, ingestion check, audience.
        'POST /queries',
        'POST /flows',
        'POST /adhocrun',
        'POST /mappingSets',
        'GET /runs',
        'POST /segment/definitions',
        // The audience reads AEP's scheduled segmentation job; it starts none of its own unless asked.
        'GET /segment/jobs',
      ]),
    );
  });

  it('every platform request matches its documented operation and parameters', () => {
    const violations = exchanges.filter((e) => !isIms(e.url)).flatMap((e) => contract.checkRequest(e, { deviations: DEVIATIONS }));
    expect(violations).toEqual([]);
  });

  it('every stand-in response matches its documented status and body', () => {
    const violations = exchanges.filter((e) => !isIms(e.url)).flatMap((e) => contract.checkResponse(e, { deviations: DEVIATIONS }));
    expect(violations).toEqual([]);
  });
});

describe('score ingestion traffic between the client and the AEP stand-in', () => {
  const exchanges: RecordedExchange[] = [];

  beforeAll(async () => {
    const platform = await startTestPlatform({ aep: { ingestionIntervalMs: 50 } });
    platform.aep.onExchange((ex) => exchanges.push(ex));
    try {
      const aep = createAepServices(platform.config);
      const plan = { namePrefix: 'contract', scores: { retainDatasetOnDestroy: false }, ingestion: { bucket: platform.bucket.bucket, path: 'ingress' } };
      const created = (await provision(aep, { ...plan, tf: { action: 'create', prev_input: null } }, { log: silentLog })) as ProvisionResult;
      const folder = `ingress/${created.scoresDatasetId}/exportTime=20260101000000/`;
      await platform.bucket.put(`${folder}part-00000.csv`, 'userId,prediction\n12345678901234567890123456789012345678,0.5\n');
      const ledger = new RunLedger(platform.bucket, 'runs/', systemClock);
      const now = new Date();
      await ledger.record({
        stage: 'score',
        runId: newRunId(now),
        startedAt: now.toISOString(),
        finishedAt: now.toISOString(),
        status: 'succeeded',
        outputs: { exportRunId: 'e', modelName: 'm', modelVersion: '1', scoresDatasetId: created.scoresDatasetId, folder, files: [`${folder}part-00000.csv`], rows: 1, manifest: `${folder}_manifest.json` },
      });
      const deadline = Date.now() + 30_000;
      let check = await checkIngestion({ aep, ledger, clock: systemClock, log: silentLog }, { flowId: created.ingestionFlowId! });
      while (check.status === 'skipped' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        check = await checkIngestion({ aep, ledger, clock: systemClock, log: silentLog }, { flowId: created.ingestionFlowId! });
      }
      expect(check.status).toBe('succeeded');
      // A succeeded check confirmed the score files' run.
      const runId = (check.outputs as { confirmed: Array<{ flowRunIds: string[] }> }).confirmed[0]!.flowRunIds[0]!;
      await aep.flowService.get('runs', runId);
      await provision(aep, { ...plan, tf: { action: 'delete', prev_input: plan } }, { log: silentLog });
    } finally {
      await platform.dispose();
    }
  });

  /** The ingestion's own traffic; the provisioner's Schema Registry and Catalog calls are checked in its tests. */
  const ingestionCalls = () =>
    exchanges.filter((e) => /^\/data\/foundation\/(conversion|flowservice)\//.test(new URL(e.url, 'http://x').pathname));

  it('exercised the Data Prep and Flow Service operations the ingestion needs', () => {
    const operations = new Set(
      ingestionCalls().map((e) => `${contract.findOperation(e.method, e.url)?.spec ?? '?'} ${e.method} ${contract.findOperation(e.method, e.url)?.path ?? '(undocumented)'}`),
    );
    expect([...operations]).toEqual(
      expect.arrayContaining([
        'data-prep GET /mappingSets',
        'data-prep POST /mappingSets',
        'destinations POST /connections',
        'destinations POST /sourceConnections',
        'destinations POST /targetConnections',
        'destinations POST /flows',
        'destinations GET /runs',
        'flow-service GET /runs/{RUN_ID}',
        'destinations DELETE /flows/{id}',
        'destinations DELETE /sourceConnections/{id}',
      ]),
    );
  });

  it('every request matches its documented operation and parameters', () => {
    const violations = ingestionCalls().flatMap((e) => contract.checkRequest(e, { deviations: DEVIATIONS }));
    expect(violations).toEqual([]);
  });

  it('every stand-in response matches its documented status and body', () => {
    const violations = ingestionCalls().flatMap((e) => contract.checkResponse(e, { deviations: DEVIATIONS }));
    expect(violations).toEqual([]);
  });
});

describe('the stand-in rejects what AEP rejects, in documented shapes', () => {
  it('answers unknown ids and bad requests with statuses the files document', async () => {
    const platform = await startTestPlatform();
    const exchanges: RecordedExchange[] = [];
    platform.aep.onExchange((ex) => exchanges.push(ex));
    try {
      const client = AepClient.fromConfig(platform.config);
      const calls = [
        client.request({ method: 'GET', path: '/data/foundation/catalog/dataSets/000000000000000000000000' }),
        client.request({ method: 'GET', path: '/data/foundation/catalog/batches/000000000000000000000000' }),
        client.request({ method: 'GET', path: '/data/foundation/query/queries/00000000-0000-0000-0000-000000000000' }),
        client.request({ method: 'POST', path: '/data/foundation/import/batches', body: { datasetId: '000000000000000000000000', inputFormat: { format: 'json' } } }),
      ];
      const outcomes = await Promise.allSettled(calls);
      expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
      const errors = exchanges.filter((e) => !isIms(e.url) && e.status >= 400);
      expect(errors.length).toBeGreaterThanOrEqual(4);
      expect(errors.flatMap((e) => contract.checkResponse(e))).toEqual([]);
    } finally {
      await platform.dispose();
    }
  });
});

describe('requests for the services later stages use', () => {
  /** Captures each request as it would leave the client and answers it with a minimal success. */
  function capturingClient(): { client: AepClient; captured: RecordedExchange[] } {
    const captured: RecordedExchange[] = [];
    const adapter: AxiosAdapter = async (config: InternalAxiosRequestConfig) => {
      const url = new URL(config.url ?? '', config.baseURL);
      for (const [key, value] of Object.entries(config.params ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
      const isIms = url.pathname.startsWith('/ims/');
      const body = typeof config.data === 'string' && !isIms ? JSON.parse(config.data) : undefined;
      if (!isIms) {
        captured.push({
          method: (config.method ?? 'get').toUpperCase(),
          url: url.toString(),
          requestHeaders: Object.fromEntries(Object.entries(config.headers ?? {}).map(([k, v]) => [k, String(v)])),
          requestBody: body,
          requestContentType: String(config.headers?.['Content-Type'] ?? ''),
          status: 200,
        });
      }
      const data = isIms ? { access_token: 'token', token_type: 'bearer', expires_in: 86399 } : config.method === 'get' ? { items: [], segments: [], data: [] } : { id: 'created-id', order: [] };
      return { data, status: isIms ? 200 : config.method === 'post' ? 201 : 200, statusText: 'OK', headers: {}, config };
    };
    const client = new AepClient({
      orgId: '0123456789ABCDEF01234567@AdobeOrg',
      sandbox: 'dev',
      platformEndpoint: 'https://platform.adobe.io',
      imsEndpoint: 'https://ims-na1.adobelogin.com',
      scopes: 'openid',
      credentials: credentialsFrom({ clientId: 'id', clientSecret: 'secret' }),
      retry: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0 },
      timeoutMs: 1000,
      http: axios.create({ adapter }),
    });
    return { client, captured };
  }

  it('match Adobe\'s files', async () => {
    const { client, captured } = capturingClient();
    const flows = new FlowService(client);
    await flows.ensureBaseConnection({
      name: 'pipeline s3',
      connectionSpec: { id: FLOW_SPECS.s3DestinationConnectionSpec, version: '1.0' },
      auth: { specName: 'Amazon S3 role-based Authentication', params: { s3Role: 'arn:aws:iam::123456789012:role/aep' } },
    });
    await flows.ensureSourceConnection({
      name: 'pipeline datasets',
      connectionSpec: { id: FLOW_SPECS.datasetSourceConnectionSpec, version: '1.0' },
      params: { datasets: [{ dataSetId: 'abc' }] },
    });
    await flows.ensureTargetConnection({
      name: 'pipeline egress',
      baseConnectionId: 'base',
      connectionSpec: { id: FLOW_SPECS.s3DestinationConnectionSpec, version: '1.0' },
      params: { mode: 'Server-to-server', bucketName: 'bucket', path: 'egress', datasetFileType: 'PARQUET', compression: 'GZIP' },
    });
    await flows.ensureFlow({
      name: 'pipeline export',
      flowSpec: { id: FLOW_SPECS.datasetExportFlowSpec, version: '1.0' },
      sourceConnectionIds: ['source'],
      targetConnectionIds: ['target'],
      scheduleParams: { interval: 3, timeUnit: 'hour', startTime: 1767225600 },
    });
    await flows.runsOf('flow');
    await new Activation(client).runDatasetExport('flow', ['dataset-a']);
    await new DataPrep(client).ensure({
      name: 'scores mapping',
      outputSchema: { schemaRef: { id: 'https://ns.adobe.com/acme/schemas/abc', contentType: 'application/vnd.adobe.xed-full+json;version=1' } },
      mappings: [{ sourceType: 'ATTRIBUTE', source: 'prediction', destination: '_acme.propensity' }],
    });
    const segmentation = new Segmentation(client);
    await segmentation.ensureDefinition({
      name: 'propensity 0.8 to 1',
      schema: { name: '_xdm.context.profile' },
      expression: { type: 'PQL', format: 'pql/text', value: '_acme.propensity >= 0.8 and _acme.propensity <= 1' },
    });
    await segmentation.updateDefinition('segment', {
      name: 'propensity 0.8 to 1',
      schema: { name: '_xdm.context.profile' },
      expression: { type: 'PQL', format: 'pql/text', value: '_acme.propensity >= 0.8 and _acme.propensity <= 1' },
    });
    await segmentation.createJob(['segment']);
    await segmentation.getJob('job');
    const queries = new QueryServiceApi(client);
    await queries.submit({ dbName: 'dev:all', sql: 'SELECT 1', name: 'probe' });
    await queries.findTemplate('features');
    await queries.connectionParameters();

    expect(captured.length).toBeGreaterThanOrEqual(15);
    const unmatched = captured.filter((e) => !contract.findOperation(e.method, e.url)).map((e) => `${e.method} ${e.url}`);
    expect(unmatched).toEqual([]);
    expect(captured.flatMap((e) => contract.checkRequest(e, { deviations: DEVIATIONS }))).toEqual([]);
  });
});
