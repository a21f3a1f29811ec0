import axios from 'axios';
import { AepClient, credentialsFrom } from '../../lib/aep';
import { lastScheduledLook, nextScheduledLook } from '../../lib/embedded/aep/flow-service/ingestion-runs';
import { SimulatedClock } from '../../lib/embedded/time/simulated-clock';
import { startTestPlatform } from '../helpers/platform';

const DAY_MS = 86_400_000;
const START = new Date('2030-06-01T08:00:00Z');

describe('the embedded platform on a simulated clock', () => {
  // Frozen between jumps, so every stamp is exactly the time the test set.
  const clock = new SimulatedClock(START, () => 0);
  let platform: Awaited<ReturnType<typeof startTestPlatform>>;
  beforeAll(async () => {
    platform = await startTestPlatform({ clock });
  });
  afterAll(async () => {
    await platform?.dispose();
  });

  function pipelineClient(): AepClient {
    const env = platform.env;
    return new AepClient({
      orgId: env.AEP_ORG_ID!,
      sandbox: env.AEP_SANDBOX!,
      platformEndpoint: env.AEP_PLATFORM_ENDPOINT!,
      imsEndpoint: env.AEP_IMS_ENDPOINT!,
      scopes: 'openid',
      credentials: credentialsFrom({ clientId: env.AEP_CLIENT_ID!, clientSecret: env.AEP_CLIENT_SECRET! }),
      retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 1 },
      timeoutMs: 10_000,
      clock,
    });
  }

  async function token(): Promise<string> {
    const env = platform.env;
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: env.AEP_CLIENT_ID!, client_secret: env.AEP_CLIENT_SECRET! });
    const res = await axios.post(`${env.AEP_IMS_ENDPOINT}/ims/token/v3`, form.toString(), { headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    return res.data.access_token as string;
  }

  const gatewayHeaders = (bearer: string) => ({
    Authorization: `Bearer ${bearer}`,
    'x-api-key': platform.env.AEP_CLIENT_ID!,
    'x-gw-ims-org-id': platform.env.AEP_ORG_ID!,
    'x-sandbox-name': platform.env.AEP_SANDBOX!,
  });

  it('stamps AEP records and objects with the simulated time', async () => {
    const templates = `${platform.env.AEP_PLATFORM_ENDPOINT}/data/foundation/query/query-templates`;
    const headers = gatewayHeaders(await token());
    const created = await axios.post(templates, { name: 'stamped', sql: 'SELECT 1' }, { headers });
    expect(created.data.updated).toBe(START.toISOString());
    await platform.bucket.put('stamped/object.txt', Buffer.from('x'));
    expect((await platform.bucket.head('stamped/object.txt'))?.lastModified?.toISOString()).toBe(START.toISOString());
  });

  it('refuses a token 24 hours after IMS issued it, while the pipeline client fetches a fresh one by its own clock', async () => {
    const aep = pipelineClient();
    const imsCalls: number[] = [];
    const refused: number[] = [];
    const stop = platform.aep.onExchange((ex) => {
      if (ex.url.includes('/ims/token/v3')) imsCalls.push(ex.status);
      else if (ex.status === 401) refused.push(ex.status);
    });
    try {
      const stats = () => aep.request<unknown>({ method: 'GET', path: '/data/foundation/schemaregistry/stats' });
      await stats();
      const issued = await token();
      const call = () =>
        axios.get(`${platform.env.AEP_PLATFORM_ENDPOINT}/data/foundation/schemaregistry/stats`, { headers: gatewayHeaders(issued), validateStatus: () => true });
      clock.advanceTo(new Date(clock.now().getTime() + DAY_MS - 1000));
      expect((await call()).status).toBe(200);
      clock.advanceTo(new Date(clock.now().getTime() + 1000));
      const expired = await call();
      expect(expired.status).toBe(401);
      expect(expired.data).toEqual({ error_code: '401013', message: 'Oauth token is not valid' });
      refused.length = 0;
      await stats();
      // The client saw its token had lapsed and fetched another before calling: no request was refused.
      expect(imsCalls.filter((s) => s === 200).length).toBe(3);
      expect(refused).toEqual([]);
    } finally {
      stop();
    }
  });

  it('leaves its time-driven work to the caller: the ingestion schedules, the scheduled segmentation and the lifecycle sweep', () => {
    expect(platform.timedWork.map((w) => w.name)).toEqual(['AEP ingestion dataflows (cloud storage source schedule)', platform.aep.scheduledSegmentation.name, 'S3 lifecycle sweep']);
    // No flow and no lifecycle rule yet: only the sandbox's daily segmentation is due.
    const [ingestion, segmentation, sweep] = platform.timedWork.map((w) => w.nextAt(clock.now()));
    expect([ingestion, sweep]).toEqual([undefined, undefined]);
    expect(segmentation?.getTime()).toBeGreaterThan(clock.now().getTime());
  });
});

describe('a cloud storage source flow schedule', () => {
  const start = Date.parse('2030-06-01T08:00:00Z');
  const every15 = { startTime: start / 1000, frequency: 'minute', interval: 15 };

  it('looks at its start time and then every interval after it', () => {
    expect(nextScheduledLook(every15, start - 1)).toBe(start);
    expect(nextScheduledLook(every15, start)).toBe(start + 15 * 60_000);
    expect(nextScheduledLook(every15, start + 20 * 60_000)).toBe(start + 30 * 60_000);
    expect(lastScheduledLook(every15, start - 1)).toBeUndefined();
    expect(lastScheduledLook(every15, start + 29 * 60_000)).toBe(start + 15 * 60_000);
    expect(nextScheduledLook({ startTime: String(start / 1000), frequency: 'hour', interval: '2' }, start)).toBe(start + 2 * 3_600_000);
  });

  it('looks once for a flow of frequency once', () => {
    const once = { startTime: start / 1000, frequency: 'once' };
    expect(nextScheduledLook(once, start - 1)).toBe(start);
    expect(nextScheduledLook(once, start)).toBeUndefined();
    expect(lastScheduledLook(once, start + DAY_MS)).toBe(start);
  });
});
