import { AepClient, AepError, createAepServices, credentialsFrom, type RetryPolicy } from '../../lib/aep';
import { Catalog } from '../../lib/aep/services/catalog';
import { SchemaRegistry } from '../../lib/aep/services/schema-registry';
import { userIdFieldGroup } from '../../lib/synthetic/xdm';
import { startTestPlatform } from '../helpers/platform';
import { recordingClock } from '../helpers/recording-clock';

type Platform = Awaited<ReturnType<typeof startTestPlatform>>;
let platform: Platform;

beforeAll(async () => {
  platform = await startTestPlatform();
});
afterAll(async () => {
  await platform.dispose();
});
afterEach(() => {
  platform.aep.faults.clear();
});

const policy: RetryPolicy = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 2000, maxRetryAfterMs: 60_000 };

/** A variable of the embedded platform's environment, which sets every one this file reads. */
function variable(name: string): string {
  const value = platform.env[name];
  if (value === undefined) throw new Error(`The embedded platform sets no ${name}`);
  return value;
}

function client(overrides: Partial<ConstructorParameters<typeof AepClient>[0]> = {}, clock = recordingClock()) {
  return {
    clock,
    client: new AepClient({
      orgId: variable('AEP_ORG_ID'),
      sandbox: variable('AEP_SANDBOX'),
      platformEndpoint: variable('AEP_PLATFORM_ENDPOINT'),
      imsEndpoint: variable('AEP_IMS_ENDPOINT'),
      scopes: 'openid',
      credentials: credentialsFrom({ clientId: variable('AEP_CLIENT_ID'), clientSecret: variable('AEP_CLIENT_SECRET') }),
      retry: policy,
      timeoutMs: 10_000,
      clock,
      ...overrides,
    }),
  };
}

function record(): { urls: string[]; stop: () => void } {
  const urls: string[] = [];
  const stop = platform.aep.onExchange((ex) => urls.push(`${ex.method} ${new URL(ex.url, 'http://x').pathname} ${ex.status}`));
  return { urls, stop };
}

async function failure(promise: Promise<unknown>): Promise<AepError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AepError);
    return error as AepError;
  }
  throw new Error('expected the call to fail');
}

it('sends the platform headers and reuses one IMS token for many calls', async () => {
  const { client: aep } = client();
  const traffic = record();
  const headers: Array<Record<string, unknown>> = [];
  const stopHeaders = platform.aep.onExchange((ex) => headers.push(ex.requestHeaders));
  const registry = new SchemaRegistry(aep);
  await Promise.all([registry.tenantId(), registry.tenantId(), registry.tenantId()]);
  await registry.tenantId();
  traffic.stop();
  stopHeaders();
  expect(traffic.urls.filter((u) => u.includes('/ims/token/v3'))).toHaveLength(1);
  const platformCall = headers.find((h) => h['x-sandbox-name'] !== undefined) as Record<string, string>;
  expect(platformCall['x-api-key']).toBe(platform.env.AEP_CLIENT_ID);
  expect(platformCall['x-gw-ims-org-id']).toBe(platform.env.AEP_ORG_ID);
  expect(platformCall['x-sandbox-name']).toBe(platform.env.AEP_SANDBOX);
  expect(platformCall.authorization).toMatch(/^Bearer \S+/);
});

it('names wrong credentials clearly when IMS answers 401', async () => {
  const { client: aep } = client({ credentials: credentialsFrom({ clientId: variable('AEP_CLIENT_ID'), clientSecret: 'wrong-secret' }) });
  const error = await failure(new SchemaRegistry(aep).tenantId());
  expect(error.kind).toBe('auth');
  expect(error.status).toBe(401);
  expect(error.code).toBe('invalid_client');
  expect(error.message).toMatch(/IMS refused the client credentials for client id embedded-pipeline-client/);
  expect(error.message).not.toContain('wrong-secret');
});

it('renews a token that AEP stopped accepting and repeats the call once', async () => {
  const { client: aep } = client();
  const registry = new SchemaRegistry(aep);
  await registry.tenantId();
  platform.aep.revokeTokens();
  const traffic = record();
  await expect(registry.tenantId()).resolves.toBe(platform.tenantId);
  traffic.stop();
  expect(traffic.urls.filter((u) => u.includes('/stats'))).toEqual([expect.stringMatching(/401$/), expect.stringMatching(/200$/)]);
  expect(traffic.urls.filter((u) => u.includes('/ims/token/v3'))).toHaveLength(1);
});

it('renews the token ahead of its expiry', async () => {
  const clock = recordingClock();
  const { client: aep } = client({}, clock);
  const traffic = record();
  const registry = new SchemaRegistry(aep);
  await registry.tenantId();
  await clock.sleep(23 * 3600 * 1000); // well inside the 24 h lifetime: cached
  await registry.tenantId();
  await clock.sleep(55 * 60 * 1000); // within the renewal margin of expiry: renewed
  await registry.tenantId();
  traffic.stop();
  expect(traffic.urls.filter((u) => u.includes('/ims/token/v3'))).toHaveLength(2);
});

it('retries 429 after the Retry-After delay, then succeeds', async () => {
  const { client: aep, clock } = client();
  platform.aep.faults.add({ path: /\/stats$/, status: 429, times: 2, retryAfterSeconds: 3 });
  await expect(new SchemaRegistry(aep).tenantId()).resolves.toBe(platform.tenantId);
  expect(clock.sleeps).toHaveLength(2);
  for (const delay of clock.sleeps) expect(delay).toBeGreaterThanOrEqual(3000);
});

it('retries 503 with growing, jittered backoff, even for a POST, then succeeds', async () => {
  const { client: aep, clock } = client();
  platform.aep.faults.add({ method: 'POST', path: /\/tenant\/fieldgroups$/, status: 503, times: 2 });
  const created = await new SchemaRegistry(aep).ensureFieldGroup(userIdFieldGroup('retry after 503', platform.tenantId));
  expect(created.created).toBe(true);
  expect(clock.sleeps).toHaveLength(2);
  expect(clock.sleeps[0]).toBeLessThan(100);
  expect(clock.sleeps[1]).toBeLessThan(200);
});

it('gives up after the bound with the last error', async () => {
  const { client: aep, clock } = client();
  platform.aep.faults.add({ path: /\/stats$/, status: 503, times: 10 });
  const error = await failure(new SchemaRegistry(aep).tenantId());
  expect(error.kind).toBe('server');
  expect(error.status).toBe(503);
  expect(error.attempts).toBe(policy.maxAttempts);
  expect(error.message).toMatch(/answered 503.*after 4 attempts/);
  expect(clock.sleeps).toHaveLength(policy.maxAttempts - 1);
});

it('does not retry a POST after a 502, and leaves no twin behind', async () => {
  const { client: aep } = client();
  const registry = new SchemaRegistry(aep);
  const definition = userIdFieldGroup('no twins after 502', platform.tenantId);
  platform.aep.faults.add({ method: 'POST', path: /\/tenant\/fieldgroups$/, status: 502, times: 1 });
  const traffic = record();
  const error = await failure(registry.ensureFieldGroup(definition));
  traffic.stop();
  expect(error.status).toBe(502);
  expect(traffic.urls.filter((u) => u.startsWith('POST /data/foundation/schemaregistry'))).toHaveLength(1);
  const first = await registry.ensureFieldGroup(definition);
  const second = await registry.ensureFieldGroup(definition);
  expect(first.created).toBe(true);
  expect(second.created).toBe(false);
  expect(second.resource.$id).toBe(first.resource.$id);
});

it('reports an unknown id as not-found with the AEP code and request id', async () => {
  const { client: aep } = client();
  const error = await failure(new Catalog(aep).getDataset('000000000000000000000000'));
  expect(error.kind).toBe('not-found');
  expect(error.status).toBe(404);
  expect(error.requestId).toBeTruthy();
  expect(error.message).toContain('/data/foundation/catalog/dataSets/000000000000000000000000');
});

it('fails with a network error naming the cause when the endpoint is unreachable', async () => {
  const { client: aep, clock } = client({ platformEndpoint: 'http://127.0.0.1:1', imsEndpoint: 'http://127.0.0.1:1' });
  const error = await failure(new SchemaRegistry(aep).tenantId());
  expect(error.kind).toBe('network');
  expect(error.code).toBe('ECONNREFUSED');
  expect(error.message).toMatch(/failed without an answer \(ECONNREFUSED\) after 4 attempt/);
  expect(clock.sleeps).toHaveLength(3);
});

it('walks every page of a listing', async () => {
  const { client: aep } = client();
  const registry = new SchemaRegistry(aep);
  for (const title of ['page a', 'page b', 'page c']) {
    await registry.ensureFieldGroup(userIdFieldGroup(title, platform.tenantId));
  }
  const titles: string[] = [];
  for await (const item of aep.paginate<{ results: Array<{ title: string }>; _page?: { next?: string } }, { title: string }>(
    { method: 'GET', path: '/data/foundation/schemaregistry/tenant/fieldgroups', headers: { Accept: 'application/vnd.adobe.xed-id+json' }, query: { limit: 1 } },
    (page) => page.results,
    (page, query) => (page._page?.next ? { ...query, start: page._page.next } : undefined),
  )) {
    titles.push(item.title);
  }
  expect(titles).toEqual(expect.arrayContaining(['page a', 'page b', 'page c']));
  expect(new Set(titles).size).toBe(titles.length);
});

it('reads credentials from a Secrets Manager secret without exposing it', async () => {
  const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:aep-AbCdEf';
  const fetched: string[] = [];
  const source = credentialsFrom({ secretArn: arn }, async (a) => {
    fetched.push(a);
    return { client_id: platform.env.AEP_CLIENT_ID, client_secret: platform.env.AEP_CLIENT_SECRET };
  });
  const { client: aep } = client({ credentials: source });
  await expect(new SchemaRegistry(aep).tenantId()).resolves.toBe(platform.tenantId);
  expect(fetched[0]).toBe(arn);

  const empty = credentialsFrom({ secretArn: arn }, async () => {
    throw new Error("Secrets Manager can't find the specified secret value for VersionStage: AWSCURRENT");
  });
  await expect(empty()).rejects.toThrow(/Cannot read the AEP credentials secret[\s\S]*put-secret-value --secret-id arn:aws:secretsmanager/);

  const broken = credentialsFrom({ secretArn: arn }, async () => ({ clientId: 'only-the-id', note: 'super-secret-value' }));
  await expect(broken()).rejects.toThrow(/must be JSON with clientId and clientSecret/);
  await expect(broken()).rejects.not.toThrow(/super-secret-value/);
});

it('builds every service module from configuration', () => {
  const services = createAepServices(platform.config);
  expect(Object.keys(services).sort()).toEqual(
    ['activation', 'catalog', 'client', 'dataPrep', 'flowService', 'ingestion', 'queryConnections', 'queryService', 'schemaRegistry', 'segmentation'].sort(),
  );
});
