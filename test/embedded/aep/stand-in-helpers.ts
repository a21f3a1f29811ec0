/**
 * Starts the embedded PostgreSQL and the AEP stand-in for a test file, and drives the stand-in over
 * HTTP with axios (as any AEP client would), without depending on the project's AEP client.
 */
import axios, { AxiosInstance, AxiosResponse } from 'axios';
import { AepStandIn } from '../../../lib/embedded/aep/server';
import { startEmbeddedPostgres, EmbeddedPostgres } from '../../../lib/embedded/postgres';

export const ORG = 'EMBEDDED0000000000000000@AdobeOrg';
export const SANDBOX = 'embedded';
export const CLIENT_ID = 'test-client';
export const CLIENT_SECRET = 'test-secret';
export const TENANT = 'embedded';

export const SR = '/data/foundation/schemaregistry';
export const CATALOG = '/data/foundation/catalog';
export const IMPORT = '/data/foundation/import';
export const QUERY = '/data/foundation/query';

export const EE_CLASS = 'https://ns.adobe.com/xdm/context/experienceevent';
export const PROFILE_CLASS = 'https://ns.adobe.com/xdm/context/profile';
export const EE_FIELD_GROUPS = [
  'https://ns.adobe.com/xdm/context/experienceevent-web',
  'https://ns.adobe.com/xdm/context/experienceevent-commerce',
  'https://ns.adobe.com/xdm/context/experienceevent-directmarketing',
  'https://ns.adobe.com/xdm/context/experienceevent-advertising',
  'https://ns.adobe.com/experience/decisioning/experienceevent-proposition-interaction',
];

export interface StandInFixture {
  pg: EmbeddedPostgres;
  aep: AepStandIn;
  baseUrl: string;
  token: string;
  /** axios with the platform headers set; never throws on HTTP status. */
  api: AxiosInstance;
  /** A fresh token from IMS. */
  newToken(): Promise<string>;
  stop(): Promise<void>;
}

export async function startStandIn(options: { tokenTtlSeconds?: number } = {}): Promise<StandInFixture> {
  const pg = await startEmbeddedPostgres();
  const aep = new AepStandIn({
    db: pg.db,
    orgId: ORG,
    sandbox: SANDBOX,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    tenantId: TENANT,
    queryService: { host: pg.host, port: pg.port },
    ...options, // tokenTtlSeconds, when given
  });
  const { baseUrl } = await aep.start();
  const newToken = async () => {
    const res = await axios.post(
      `${baseUrl}/ims/token/v3`,
      new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: CLIENT_SECRET, scope: 'openid,AdobeID' }).toString(),
      { headers: { 'Content-Type': 'application/x-www-form-urlencoded' } },
    );
    return res.data.access_token as string;
  };
  const fixture: StandInFixture = {
    pg,
    aep,
    baseUrl,
    token: await newToken(),
    api: axios.create({ baseURL: baseUrl, validateStatus: () => true, maxBodyLength: Infinity, maxContentLength: Infinity }),
    newToken,
    async stop() {
      await aep.stop();
      await pg.stop();
    },
  };
  fixture.api.interceptors.request.use((config) => {
    config.headers.set('Authorization', config.headers.get('Authorization') ?? `Bearer ${fixture.token}`);
    if (!config.headers.has('x-api-key')) config.headers.set('x-api-key', CLIENT_ID);
    if (!config.headers.has('x-gw-ims-org-id')) config.headers.set('x-gw-ims-org-id', ORG);
    if (!config.headers.has('x-sandbox-name')) config.headers.set('x-sandbox-name', SANDBOX);
    return config;
  });
  return fixture;
}

export function expectStatus(res: AxiosResponse, status: number): void {
  if (res.status !== status) {
    throw new Error(`expected HTTP ${status} for ${res.config.method?.toUpperCase()} ${res.config.url}, got ${res.status}: ${JSON.stringify(res.data)}`);
  }
}

/** A field group with `_embedded.userid` (string) and `_embedded.propensity` (number). */
export function tenantFieldGroup(title: string, intendedToExtend: string[] = [EE_CLASS, PROFILE_CLASS]): Record<string, unknown> {
  return {
    title,
    description: 'Pipeline fields',
    type: 'object',
    'meta:intendedToExtend': intendedToExtend,
    definitions: {
      customFields: {
        properties: {
          [`_${TENANT}`]: {
            type: 'object',
            properties: {
              userid: { type: 'string', title: 'User id' },
              propensity: { type: 'number', title: 'Propensity' },
            },
          },
        },
      },
    },
    allOf: [{ $ref: '#/definitions/customFields' }],
  };
}

export async function createFieldGroup(f: StandInFixture, title: string, intendedToExtend?: string[]): Promise<Record<string, unknown>> {
  const res = await f.api.post(`${SR}/tenant/fieldgroups`, tenantFieldGroup(title, intendedToExtend));
  expectStatus(res, 201);
  return res.data;
}

export async function createSchema(f: StandInFixture, title: string, classId: string, fieldGroups: string[]): Promise<Record<string, unknown>> {
  const res = await f.api.post(`${SR}/tenant/schemas`, {
    title,
    description: `${title} schema`,
    type: 'object',
    allOf: [{ $ref: classId }, ...fieldGroups.map(($ref) => ({ $ref }))],
  });
  expectStatus(res, 201);
  return res.data;
}

export async function createDataset(f: StandInFixture, name: string, schemaId: string): Promise<{ id: string; table: string; dataset: Record<string, unknown> }> {
  const res = await f.api.post(`${CATALOG}/dataSets`, {
    name,
    schemaRef: { id: schemaId, contentType: 'application/vnd.adobe.xed-full+json;version=1' },
  });
  expectStatus(res, 201);
  const id = String(res.data[0]).replace('@/dataSets/', '');
  const got = await f.api.get(`${CATALOG}/dataSets/${id}`);
  expectStatus(got, 200);
  const dataset = got.data[id];
  return { id, table: dataset.tags['adobe/pqs/table'][0], dataset };
}

/** An ExperienceEvent schema with every pipeline field group, and a dataset on it. */
export async function createEventsDataset(f: StandInFixture, name: string): Promise<{ id: string; table: string; schemaId: string }> {
  const fg = await createFieldGroup(f, `${name} fields`);
  const schema = await createSchema(f, `${name} schema`, EE_CLASS, [...EE_FIELD_GROUPS, String(fg.$id)]);
  const ds = await createDataset(f, name, String(schema.$id));
  return { id: ds.id, table: ds.table, schemaId: String(schema.$id) };
}

export interface TestEvent {
  _id: string;
  timestamp: string;
  eventType: string;
  _embedded: { userid: string };
  [key: string]: unknown;
}

const EVENT_TYPES = ['directMarketing.emailSent', 'web.webpagedetails.pageViews', 'advertising.impressions', 'commerce.productViews', 'decisioning.propositionDisplay'];

/** Deterministic events for `users` users, `perUser` events each. */
export function makeEvents(count: number, users: number, offset = 0): TestEvent[] {
  const out: TestEvent[] = [];
  for (let i = 0; i < count; i++) {
    const n = offset + i;
    const user = String(1_000_000_000_000 + (n % users)).padStart(38, '7');
    const eventType = EVENT_TYPES[n % EVENT_TYPES.length]!; // the remainder is an index
    const e: TestEvent = {
      _id: `event-${n}`,
      timestamp: new Date(Date.UTC(2025, 0, 1) + n * 60_000).toISOString(),
      eventType,
      _embedded: { userid: user },
      identityMap: { ECID: [{ id: user, primary: true }] },
    };
    if (eventType.startsWith('directMarketing')) e.directMarketing = { sends: { value: 1 } };
    else if (eventType.startsWith('web')) e.web = { webPageDetails: { pageViews: { value: 1 }, name: 'home "page" \\ \u00e9' } };
    else if (eventType.startsWith('advertising')) e.advertising = { impressions: { value: 1 } };
    else if (eventType.startsWith('commerce')) e.commerce = { productViews: { value: 1 } };
    else e._experience = { decisioning: { propositionEventType: { display: 1 } } };
    out.push(e);
  }
  return out;
}

export function jsonLines(records: unknown[]): Buffer {
  return Buffer.from(records.map((r) => JSON.stringify(r)).join('\n') + '\n', 'utf8');
}

export async function createBatch(f: StandInFixture, datasetId: string, inputFormat: Record<string, unknown> = { format: 'json' }): Promise<string> {
  const res = await f.api.post(`${IMPORT}/batches`, { datasetId, inputFormat });
  expectStatus(res, 201);
  return res.data.id;
}

export async function uploadFile(f: StandInFixture, batchId: string, datasetId: string, name: string, data: Buffer): Promise<AxiosResponse> {
  return f.api.put(`${IMPORT}/batches/${batchId}/datasets/${datasetId}/files/${encodeURIComponent(name)}`, data, {
    headers: { 'Content-Type': 'application/octet-stream' },
  });
}

/** Polls Catalog until the batch leaves loading/processing; returns the Catalog batch object. */
export async function waitForBatch(f: StandInFixture, batchId: string, timeoutMs = 60_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await f.api.get(`${CATALOG}/batches/${batchId}`);
    expectStatus(res, 200);
    const batch = res.data[batchId];
    if (!['loading', 'processing'].includes(batch.status)) return batch;
    if (Date.now() > deadline) throw new Error(`batch ${batchId} still ${batch.status}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Creates a batch, uploads the files, completes it and waits for the outcome. */
export async function ingest(f: StandInFixture, datasetId: string, files: Record<string, Buffer>, inputFormat?: Record<string, unknown>): Promise<Record<string, any>> {
  const batchId = await createBatch(f, datasetId, inputFormat);
  for (const [name, data] of Object.entries(files)) expectStatus(await uploadFile(f, batchId, datasetId, name, data), 201);
  expectStatus(await f.api.post(`${IMPORT}/batches/${batchId}`, undefined, { params: { action: 'COMPLETE' } }), 200);
  return { id: batchId, ...(await waitForBatch(f, batchId)) };
}

export async function waitForQuery(f: StandInFixture, id: string, timeoutMs = 30_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await f.api.get(`${QUERY}/queries/${id}`);
    expectStatus(res, 200);
    if (!['SUBMITTED', 'IN_PROGRESS'].includes(res.data.state)) return res.data;
    if (Date.now() > deadline) throw new Error(`query ${id} still ${res.data.state}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
