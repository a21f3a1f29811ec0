import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AepClient, credentialsFrom } from '../../lib/aep';
import { SchemaRegistry } from '../../lib/aep/services/schema-registry';
import { gatewayFault } from '../../lib/embedded/aep/faults';
import { slowDown } from '../../lib/embedded/object-store/errors';
import { EMBEDDED_AEP_S3_CREDENTIALS, EMBEDDED_S3_CREDENTIALS } from '../../lib/embedded/platform';
import { systemClock } from '../../lib/ports/clock';
import {
  attachFaults,
  type AepFaultDecision,
  type FaultInjection,
  type InvocationFaults,
  type ObjectStoreFaultDecision,
} from '../../lib/simulation/faults';
import { startTestPlatform } from '../helpers/platform';
import { recordingClock } from '../helpers/recording-clock';

type Platform = Awaited<ReturnType<typeof startTestPlatform>>;
let platform: Platform;
let injection: FaultInjection | undefined;

beforeAll(async () => {
  platform = await startTestPlatform();
});
afterAll(async () => {
  await platform.dispose();
});
afterEach(() => {
  injection?.detach();
  injection = undefined;
  platform.aep.faults.clear();
});

interface Script {
  killAtRequest?: number;
  aep?: (method: string, path: string) => AepFaultDecision | undefined;
  store?: (method: string, bucket: string, key: string) => ObjectStoreFaultDecision | undefined;
}

/** A plan that decides what the test says, for every invocation. */
function scripted(script: Script): { invocation(): InvocationFaults } {
  return {
    invocation: () => ({
      killAtRequest: script.killAtRequest,
      aepRequest: script.aep ?? (() => undefined),
      objectStoreRequest: script.store ?? (() => undefined),
    }),
  };
}

/** Each decision once, for the first request it applies to. */
function once<A extends unknown[], D>(decision: D, applies: (...args: A) => boolean = () => true): (...args: A) => D | undefined {
  let used = false;
  return (...args: A) => {
    if (used || !applies(...args)) return undefined;
    used = true;
    return decision;
  };
}

function variable(name: string): string {
  const value = platform.env[name];
  if (value === undefined) throw new Error(`The embedded platform sets no ${name}`);
  return value;
}

function aepClient(timeoutMs = 10_000) {
  const clock = recordingClock();
  return {
    clock,
    client: new AepClient({
      orgId: variable('AEP_ORG_ID'),
      sandbox: variable('AEP_SANDBOX'),
      platformEndpoint: variable('AEP_PLATFORM_ENDPOINT'),
      imsEndpoint: variable('AEP_IMS_ENDPOINT'),
      scopes: 'openid',
      credentials: credentialsFrom({ clientId: variable('AEP_CLIENT_ID'), clientSecret: variable('AEP_CLIENT_SECRET') }),
      retry: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 100, maxRetryAfterMs: 60_000 },
      timeoutMs,
      clock,
    }),
  };
}

function recordAep(): { lines: string[]; stop: () => void } {
  const lines: string[] = [];
  const stop = platform.aep.onExchange((ex) => lines.push(`${ex.method} ${new URL(ex.url).pathname} ${ex.status}`));
  return { lines, stop };
}

const onStats = (_method: string, path: string) => path.endsWith('/stats');

describe('the AEP stand-in under a fault policy', () => {
  it("answers the policy's 429 with Retry-After and the gateway's error body, and shows the request to observers", async () => {
    const seen: string[] = [];
    const stopObserving = platform.aep.onRequest((method, path) => seen.push(`${method} ${path}`));
    platform.aep.faults.setPolicy((_method, path) => (path.endsWith('/stats') ? gatewayFault(429, 3) : undefined));
    const response = await fetch(`${platform.aep.baseUrl}/data/foundation/schemaregistry/stats`);
    stopObserving();
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('3');
    expect(response.headers.get('x-request-id')).toBeTruthy();
    expect(await response.json()).toEqual({ error_code: '429050', message: 'Too many requests' });
    expect(seen).toEqual(['GET /data/foundation/schemaregistry/stats']);
  });

  it('holds a response without holding up the requests that come after it', async () => {
    platform.aep.faults.setPolicy(once({ holdMs: 1500 }, (_method: string, path: string) => path.endsWith('/stats')));
    const finished: string[] = [];
    const held = fetch(`${platform.aep.baseUrl}/data/foundation/schemaregistry/stats`).then((r) => {
      finished.push('held');
      return r.status;
    });
    const other = fetch(`${platform.aep.baseUrl}/data/foundation/catalog/dataSets`).then((r) => {
      finished.push('other');
      return r.status;
    });
    // Both are refused for want of a token: the held one only after its hold.
    expect(await Promise.all([held, other])).toEqual([401, 401]);
    expect(finished).toEqual(['other', 'held']);
  });
});

describe('the object store under a fault policy', () => {
  afterEach(() => platform.objectStore.setFaultPolicy(undefined));

  it("answers the policy's error with S3's XML error document", async () => {
    platform.objectStore.setFaultPolicy(({ key }) => (key === 'ingress/slow.csv' ? slowDown() : undefined));
    const response = await fetch(`${platform.objectStore.endpoint}/${platform.bucket.bucket}/ingress/slow.csv`);
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toBe('application/xml');
    const body = await response.text();
    expect(body).toContain('<Code>SlowDown</Code>');
    expect(body).toContain('<Message>Please reduce your request rate.</Message>');
  });
});

describe('attachFaults on the embedded platform', () => {
  it("revokes every token at a request; the pipeline's AepClient signs in again and succeeds", async () => {
    const { client } = aepClient();
    const registry = new SchemaRegistry(client);
    await registry.tenantId();
    injection = attachFaults(platform, scripted({ aep: once({ kind: 'token-revocation' }, onStats) }), systemClock);
    const traffic = recordAep();
    injection.beginInvocation('score', () => undefined);
    await expect(registry.tenantId()).resolves.toBe(platform.tenantId);
    const done = injection.endInvocation();
    traffic.stop();
    expect(traffic.lines).toEqual([
      'GET /data/foundation/schemaregistry/stats 401',
      'POST /ims/token/v3 200',
      'GET /data/foundation/schemaregistry/stats 200',
    ]);
    expect(injection.tally.byKind()).toMatchObject({ 'token-revocation': 1, 'process-kill': 0 });
    expect(done).toMatchObject({ stage: 'score', aepRequests: 3, objectStoreRequests: 0, faults: 1, killed: false });
  });

  it("holds a response past the client's timeout; the client retries the read and succeeds", async () => {
    const { client } = aepClient(300);
    injection = attachFaults(platform, scripted({ aep: once({ kind: 'aep-timeout', holdMs: 2000 }, onStats) }), systemClock);
    const traffic = recordAep();
    injection.beginInvocation('featurize', () => undefined);
    await expect(new SchemaRegistry(client).tenantId()).resolves.toBe(platform.tenantId);
    injection.endInvocation();
    const stats = () => traffic.lines.filter((line) => line.includes('/stats'));
    // The held exchange is recorded when its hold ends, after the retry's.
    while (stats().length < 2) await new Promise((resolve) => setTimeout(resolve, 100));
    traffic.stop();
    expect(stats()).toEqual(['GET /data/foundation/schemaregistry/stats 200', 'GET /data/foundation/schemaregistry/stats 200']);
    expect(injection.tally.count('aep-timeout')).toBe(1);
  });

  it("answers 429 and 5xx with the gateway's statuses; the client waits Retry-After and retries", async () => {
    const decisions: AepFaultDecision[] = [
      { kind: 'aep-throttle', status: 429, retryAfterSeconds: 4 },
      { kind: 'aep-server-error', status: 503 },
    ];
    const { client, clock } = aepClient();
    injection = attachFaults(platform, scripted({ aep: (method, path) => (onStats(method, path) ? decisions.shift() : undefined) }), systemClock);
    const traffic = recordAep();
    injection.beginInvocation('audience', () => undefined);
    await expect(new SchemaRegistry(client).tenantId()).resolves.toBe(platform.tenantId);
    injection.endInvocation();
    traffic.stop();
    expect(traffic.lines.filter((line) => line.includes('/stats')).map((line) => line.split(' ')[2])).toEqual(['429', '503', '200']);
    expect(clock.sleeps[0]).toBeGreaterThanOrEqual(4000);
    expect(injection.tally.byKind()).toMatchObject({ 'aep-throttle': 1, 'aep-server-error': 1 });
  });

  it("fails object store requests with S3's 503 SlowDown and 500 InternalError, which the SDK retries", async () => {
    const slowDownPut = once<[string, string, string], ObjectStoreFaultDecision>({ kind: 'object-store-error', status: 503, code: 'SlowDown' }, (method) => method === 'PUT');
    const failGet = once<[string, string, string], ObjectStoreFaultDecision>({ kind: 'object-store-error', status: 500, code: 'InternalError' }, (method) => method === 'GET');
    const answers: string[] = [];
    const stopObserving = platform.objectStore.onRequest((request) => answers.push(`${request.method} ${request.key} ${request.accessKeyId}`));
    injection = attachFaults(platform, scripted({ store: (...request) => slowDownPut(...request) ?? failGet(...request) }), systemClock);
    injection.beginInvocation('score', () => undefined);
    await platform.bucket.put('ingress/faults/part-0.csv', 'userId,score\nu1,0.5\n', 'text/csv');
    const read = await platform.bucket.get('ingress/faults/part-0.csv');
    const done = injection.endInvocation();
    stopObserving();
    expect(read.toString()).toBe('userId,score\nu1,0.5\n');
    const pipelineKey = EMBEDDED_S3_CREDENTIALS.accessKeyId;
    expect(answers).toEqual([
      `PUT ingress/faults/part-0.csv ${pipelineKey}`,
      `PUT ingress/faults/part-0.csv ${pipelineKey}`,
      `GET ingress/faults/part-0.csv ${pipelineKey}`,
      `GET ingress/faults/part-0.csv ${pipelineKey}`,
    ]);
    expect(done).toMatchObject({ objectStoreRequests: 4, objectStoreReads: 2, faults: 2 });
    expect(injection.tally.count('object-store-error')).toBe(2);
  });

  it("leaves AEP's own requests to the store alone, and every request outside an invocation", async () => {
    const always = (): ObjectStoreFaultDecision => ({ kind: 'object-store-error', status: 503, code: 'SlowDown' });
    injection = attachFaults(platform, scripted({ store: always, aep: () => ({ kind: 'aep-server-error', status: 500 }) }), systemClock);
    const asAep = new S3Client({
      endpoint: platform.objectStore.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: EMBEDDED_AEP_S3_CREDENTIALS,
      maxAttempts: 1,
    });
    injection.beginInvocation('featurize', () => undefined);
    await asAep.send(new PutObjectCommand({ Bucket: platform.bucket.bucket, Key: 'egress/export/part-0.parquet', Body: 'x' }));
    const done = injection.endInvocation();
    asAep.destroy();
    expect(done.objectStoreRequests).toBe(0);
    await expect(platform.bucket.head('egress/export/part-0.parquet')).resolves.toMatchObject({ size: 1 });
    await expect(new SchemaRegistry(aepClient().client).tenantId()).resolves.toBe(platform.tenantId);
    expect(injection.tally.total).toBe(0);
  });

  it("kills the invocation once, as its k-th request arrives, and counts what it read", async () => {
    const kills: number[] = [];
    let completed = 0;
    injection = attachFaults(platform, scripted({ killAtRequest: 3 }), systemClock);
    injection.beginInvocation('train', () => kills.push(completed));
    await platform.bucket.put('models/kill/a.json', '{}');
    completed += 1;
    for (let i = 0; i < 4; i++) {
      await platform.bucket.head('models/kill/a.json');
      completed += 1;
    }
    const done = injection.endInvocation();
    expect(kills).toEqual([2]);
    expect(done).toMatchObject({ stage: 'train', killed: true, objectStoreRequests: 3, objectStoreReads: 2 });
    expect(injection.tally.count('process-kill')).toBe(1);
  });

  it('spreads the next kill of a stage over the requests its last run made', async () => {
    const expected: Array<number | undefined> = [];
    const plan = {
      invocation: (_ordinal: number, _at: Date, expectedRequests?: number): InvocationFaults => {
        expected.push(expectedRequests);
        return scripted({}).invocation();
      },
    };
    injection = attachFaults(platform, plan, systemClock);
    injection.beginInvocation('score', () => undefined);
    await platform.bucket.head('nothing/here');
    await platform.bucket.head('nothing/there');
    injection.endInvocation();
    injection.beginInvocation('train', () => undefined);
    injection.endInvocation();
    injection.beginInvocation('score', () => undefined);
    injection.endInvocation();
    expect(expected).toEqual([undefined, undefined, 2]);
  });

  it('refuses a second invocation while one is open', () => {
    injection = attachFaults(platform, scripted({}), systemClock);
    injection.beginInvocation('score', () => undefined);
    expect(() => injection!.beginInvocation('score', () => undefined)).toThrow(/one of score is open/);
    injection.endInvocation();
    expect(() => injection!.endInvocation()).toThrow(/without beginInvocation/);
  });
});

