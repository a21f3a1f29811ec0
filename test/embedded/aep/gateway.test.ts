import axios from 'axios';
import { AepStandIn, type RecordedExchange } from '../../../lib/embedded/aep/server';
import { CATALOG, CLIENT_ID, CLIENT_SECRET, expectStatus, IMPORT, ORG, QUERY, SANDBOX, SR, StandInFixture, startStandIn } from './stand-in-helpers';

describe('AEP stand-in: IMS and the gateway', () => {
  let f: StandInFixture;
  beforeAll(async () => {
    f = await startStandIn();
  });
  afterAll(async () => {
    await f?.stop();
  });

  const tokenRequest = (fields: Record<string, string>) =>
    axios.post(`${f.baseUrl}/ims/token/v3`, new URLSearchParams(fields).toString(), {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      validateStatus: () => true,
    });

  it('issues client-credentials tokens that live 24 hours', async () => {
    const res = await tokenRequest({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: CLIENT_SECRET, scope: 'openid,AdobeID' });
    expectStatus(res, 200);
    expect(res.data).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: 86400 });
    expect(res.data.access_token.split('.')).toHaveLength(3);
    expect(res.headers['x-request-id']).toBeTruthy();
  });

  it('rejects a wrong secret or client id with 401 invalid_client, and other grants with 400', async () => {
    const badSecret = await tokenRequest({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: 'nope' });
    expect(badSecret.status).toBe(401);
    expect(badSecret.data).toEqual({ error: 'invalid_client', error_description: expect.stringContaining('client_secret') });
    const badClient = await tokenRequest({ grant_type: 'client_credentials', client_id: 'someone-else', client_secret: CLIENT_SECRET });
    expect(badClient.status).toBe(401);
    expect(badClient.data.error).toBe('invalid_client');
    const password = await tokenRequest({ grant_type: 'password', client_id: CLIENT_ID, client_secret: CLIENT_SECRET });
    expect(password.status).toBe(400);
    expect(password.data.error).toBe('unsupported_grant_type');
  });

  it('requires a valid bearer token on platform calls', async () => {
    const missing = await f.api.get(`${SR}/stats`, { headers: { Authorization: '' } });
    expect(missing.status).toBe(401);
    expect(missing.data).toEqual({ error_code: '401013', message: 'Oauth token is not valid' });
    const invalid = await f.api.get(`${SR}/stats`, { headers: { Authorization: 'Bearer not-a-token' } });
    expect(invalid.status).toBe(401);
    expect(invalid.data.error_code).toBe('401013');
    expectStatus(await f.api.get(`${SR}/stats`), 200);
  });

  it('rejects revoked tokens until a new one is fetched', async () => {
    f.aep.revokeTokens();
    const revoked = await f.api.get(`${CATALOG}/dataSets`);
    expect(revoked.status).toBe(401);
    expect(revoked.data.error_code).toBe('401013');
    f.token = await f.newToken();
    expectStatus(await f.api.get(`${CATALOG}/dataSets`), 200);
  });

  it('rejects expired tokens', async () => {
    const short = new AepStandIn({
      db: f.pg.db,
      orgId: ORG,
      sandbox: SANDBOX,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      tenantId: 'embedded',
      queryService: { host: f.pg.host, port: f.pg.port },
      tokenTtlSeconds: 1,
    });
    const { baseUrl } = await short.start();
    try {
      const token = await axios.post(
        `${baseUrl}/ims/token/v3`,
        new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: CLIENT_SECRET }).toString(),
        { headers: { 'Content-Type': 'application/x-www-form-urlencoded' } },
      );
      expect(token.data.expires_in).toBe(1);
      const headers = { Authorization: `Bearer ${token.data.access_token}`, 'x-api-key': CLIENT_ID, 'x-gw-ims-org-id': ORG, 'x-sandbox-name': SANDBOX };
      const call = () => axios.get(`${baseUrl}${SR}/stats`, { headers, validateStatus: () => true });
      expect((await call()).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1100));
      const expired = await call();
      expect(expired.status).toBe(401);
      expect(expired.data.error_code).toBe('401013');
    } finally {
      await short.stop();
    }
  });

  it('checks the API key, the org and the sandbox', async () => {
    const noKey = await f.api.get(`${SR}/stats`, { headers: { 'x-api-key': '' } });
    expect(noKey.status).toBe(403);
    expect(noKey.data).toEqual({ error_code: '403000', message: 'Api Key is required' });
    const wrongKey = await f.api.get(`${SR}/stats`, { headers: { 'x-api-key': 'other-client' } });
    expect(wrongKey.status).toBe(403);
    expect(wrongKey.data.message).toBe('Api Key is invalid');
    const wrongOrg = await f.api.get(`${SR}/stats`, { headers: { 'x-gw-ims-org-id': 'OTHER@AdobeOrg' } });
    expect(wrongOrg.status).toBe(403);
    expect(wrongOrg.data.message).toContain('OTHER@AdobeOrg');
    const wrongSandbox = await f.api.get(`${CATALOG}/dataSets`, { headers: { 'x-sandbox-name': 'prod' } });
    expect(wrongSandbox.status).toBeGreaterThanOrEqual(400);
    expect(wrongSandbox.status).toBeLessThan(500);
    expect(wrongSandbox.data.message).toContain("'prod'");
  });

  it('sends x-request-id on every response, echoing the caller\'s', async () => {
    const ok = await f.api.get(`${SR}/stats`, { headers: { 'x-request-id': 'my-request-1' } });
    expect(ok.headers['x-request-id']).toBe('my-request-1');
    const err = await f.api.get(`${QUERY}/queries/nope`);
    expect(err.status).toBe(404);
    expect(err.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const unknown = await f.api.get('/data/foundation/nothing-here');
    expect(unknown.status).toBe(404);
    expect(unknown.headers['x-request-id']).toBeTruthy();
  });

  it('answers malformed JSON with 400 in the service\'s error shape', async () => {
    const raw = { headers: { 'Content-Type': 'application/json' }, transformRequest: [(d: unknown) => d] };
    const catalog = await f.api.post(`${CATALOG}/dataSets`, '{"name": ', raw);
    expect(catalog.status).toBe(400);
    expect(catalog.data.detail).toMatch(/not valid JSON/);
    const query = await f.api.post(`${QUERY}/queries`, '{oops}', raw);
    expect(query.status).toBe(400);
    expect(query.data).toEqual({ message: expect.stringMatching(/not valid JSON/), statusCode: 400 });
    const registry = await f.api.post(`${SR}/tenant/schemas`, '[1,', raw);
    expect(registry.status).toBe(400);
    expect(registry.data.type).toMatch(/XDM-.*-400/);
  });

  it('injects faults: 429 with Retry-After for the next N matching calls, then success', async () => {
    f.aep.faults.add({ method: 'GET', path: /\/catalog\/dataSets$/, status: 429, times: 2, retryAfterSeconds: 3 });
    const first = await f.api.get(`${CATALOG}/dataSets`);
    expect(first.status).toBe(429);
    expect(first.headers['retry-after']).toBe('3');
    expect(first.data).toEqual({ error_code: '429050', message: 'Too many requests' });
    // a non-matching call is unaffected
    expectStatus(await f.api.get(`${SR}/stats`), 200);
    expect((await f.api.get(`${CATALOG}/dataSets`)).status).toBe(429);
    expectStatus(await f.api.get(`${CATALOG}/dataSets`), 200);

    f.aep.faults.add({ path: /\/import\/batches/, status: 503, times: 5, body: { custom: true } });
    const custom = await f.api.post(`${IMPORT}/batches`, { datasetId: 'x', inputFormat: { format: 'json' } });
    expect(custom.status).toBe(503);
    expect(custom.data).toEqual({ custom: true });
    f.aep.faults.clear();
    expect((await f.api.post(`${IMPORT}/batches`, { datasetId: 'x', inputFormat: { format: 'json' } })).status).toBe(400);
  });

  it('records every exchange for the contract test', async () => {
    const seen: RecordedExchange[] = [];
    const off = f.aep.onExchange((ex) => seen.push(ex));
    await f.api.post(`${QUERY}/query-templates`, { name: 'recorded', sql: 'SELECT 1' });
    await f.api.get(`${CATALOG}/dataSets/000000000000000000000000`);
    off();
    await f.api.get(`${SR}/stats`);
    expect(seen).toHaveLength(2);
    expect(seen[0]).toEqual(
      expect.objectContaining({
        method: 'POST',
        url: `${f.baseUrl}${QUERY}/query-templates`,
        requestBody: { name: 'recorded', sql: 'SELECT 1' },
        requestContentType: expect.stringContaining('application/json'),
        status: 202,
        responseBody: expect.objectContaining({ name: 'recorded', sql: 'SELECT 1', id: expect.any(String) }),
        responseContentType: expect.stringContaining('application/json'),
      }),
    );
    expect(seen[0]?.requestHeaders['x-gw-ims-org-id']).toBe(ORG);
    expect(seen[0]?.requestHeaders['x-sandbox-name']).toBe(SANDBOX);
    expect(seen[0]?.responseHeaders['x-request-id']).toBeTruthy();
    expect(seen[1]?.status).toBe(404);
  });
});
