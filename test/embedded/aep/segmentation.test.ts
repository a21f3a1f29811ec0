/**
 * The embedded Segmentation service driven by the project's AEP client: segment definitions (checked
 * against the Profile union), and segment jobs evaluating the PQL rule over the profile store built
 * from Profile-enabled datasets, merged by primary identity.
 */
import { createAepServices, isAepError, type AepServices, type SegmentDefinitionRequest } from '../../../lib/aep';
import { propensityBandPql } from '../../../lib/audience';
import { systemClock } from '../../../lib/ports/clock';
import { silentLog } from '../../../lib/ports/logger';
import { provision, type ProvisionResult } from '../../../lib/provisioning/provision';
import { SCHEMA_REF_CONTENT_TYPE } from '../../../lib/xdm/schema';
import { KNOWN_DEVIATIONS } from '../../contract/deviations';
import { OpenApiContract, type RecordedExchange } from '../../contract/openapi-contract';
import { startTestPlatform } from '../../helpers/platform';
import { ingestProfileScores, type ScoreRow } from '../../helpers/profile-scores';

type Platform = Awaited<ReturnType<typeof startTestPlatform>>;
let platform: Platform;
let aep: AepServices;
let scores: ProvisionResult;
let tenant: string;
const exchanges: RecordedExchange[] = [];
const UPS = '/data/core/ups';

beforeAll(async () => {
  platform = await startTestPlatform();
  aep = createAepServices(platform.config);
  platform.aep.onExchange((ex) => exchanges.push(ex));
  scores = (await provision(aep, { namePrefix: 'segments', tf: { action: 'create', prev_input: null } }, { log: silentLog })) as ProvisionResult;
  tenant = scores.tenantId;
});
afterAll(async () => {
  await platform?.dispose();
});

function definition(name: string, pql: string): SegmentDefinitionRequest {
  return {
    name,
    description: `test ${name}`,
    schema: { name: '_xdm.context.profile' },
    expression: { type: 'PQL', format: 'pql/text', value: pql },
    evaluationInfo: { batch: { enabled: true }, continuous: { enabled: false }, synchronous: { enabled: false } },
  };
}

async function rejection(promise: Promise<unknown>): Promise<{ status?: number | undefined; message: string }> {
  try {
    await promise;
  } catch (error) {
    return { status: isAepError(error) ? error.status : undefined, message: (error as Error).message };
  }
  throw new Error('expected the request to be refused');
}

async function runJob(segmentIds: string[]) {
  const job = await aep.segmentation.createJob(segmentIds);
  expect(['NEW', 'QUEUED', 'PROCESSING']).toContain(job.status);
  return aep.segmentation.waitForJob(job.id, { clock: systemClock, timeoutMs: 60_000, pollIntervalMs: 20 });
}

describe('segment definitions', () => {
  it('are created once by name, read back, overwritten with PATCH and deleted (absent afterwards)', async () => {
    const request = definition('crud band', propensityBandPql(tenant, { low: 0.2, high: 0.4 }));
    const first = await aep.segmentation.ensureDefinition(request);
    const again = await aep.segmentation.ensureDefinition(request);
    expect(first.created).toBe(true);
    expect(again).toEqual({ resource: expect.objectContaining({ id: first.resource.id }), created: false });
    const id = first.resource.id;
    expect(await aep.segmentation.getDefinition(id)).toMatchObject({ id, name: 'crud band', expression: request.expression, schema: { name: '_xdm.context.profile' } });

    const moved = definition('crud band', propensityBandPql(tenant, { low: 0.5, high: 0.9 }));
    const updated = await aep.segmentation.updateDefinition(id, moved);
    expect(updated.expression.value).toBe(`_${tenant}.propensity >= 0.5 and _${tenant}.propensity <= 0.9`);
    expect((await aep.segmentation.findDefinition('crud band'))?.expression.value).toBe(moved.expression.value);

    expect(await aep.segmentation.deleteDefinition(id)).toBe(true);
    expect(await aep.segmentation.deleteDefinition(id)).toBe(false);
    expect(await aep.segmentation.findDefinition('crud band')).toBeUndefined();
  });

  it('are found by name past the first page, and listed page by page', async () => {
    const names = Array.from({ length: 205 }, (_, i) => `paged ${String(i).padStart(3, '0')}`);
    const ids: string[] = [];
    for (const name of names) {
      const created = await aep.client.request<{ id: string }>({ method: 'POST', path: `${UPS}/segment/definitions`, body: definition(name, `_${tenant}.propensity >= 0.5`) });
      ids.push(created.data.id);
    }
    expect((await aep.segmentation.findDefinition('paged 204'))?.name).toBe('paged 204');
    const page = await aep.client.request<{ segments: Array<{ name: string }>; page: Record<string, number>; link: { next?: string } }>({
      method: 'GET',
      path: `${UPS}/segment/definitions`,
      query: { limit: 2, page: 1, sort: 'name:asc' },
    });
    expect(page.data.segments.map((s) => s.name)).toEqual(['paged 002', 'paged 003']);
    expect(page.data.page).toMatchObject({ pageSize: 2, limit: 2 });
    expect(page.data.page.totalCount).toBeGreaterThanOrEqual(205);
    expect(page.data.link.next).toMatch(/start=4&limit=2/);
    for (const id of ids) expect(await aep.segmentation.deleteDefinition(id)).toBe(true);
  });

  it.each([
    ['PQL the platform does not evaluate', `homeAddress.countryCode.equals("US", false)`, /400.*Function calls such as 'homeAddress\.countryCode\.equals\(\.\.\.\)' are not supported/],
    ['a field of another tenant', '_othertenant.propensity >= 0.5', /400.*reads '_othertenant\.propensity', which is not a field of the Profile union schema/],
    ['a string compared with a number', '_TENANT.userid > 3', /400.*compares '_\w+\.userid' \(string\) with 3 \(number\)/],
    ['a broken rule', '_TENANT.propensity >= ', /400.*Expected a field or a value but found the end of the rule/],
  ])('refuses %s with a 400 naming it', async (_what, pql, message) => {
    const refused = await rejection(aep.segmentation.ensureDefinition(definition(`bad ${_what}`, pql.replace('TENANT', tenant))));
    expect(refused.status).toBe(400);
    expect(`${refused.status} ${refused.message}`).toMatch(message);
  });

  it('refuses a second definition of the same name, another schema, pql/json and JSON Patch operations', async () => {
    const created = await aep.segmentation.ensureDefinition(definition('unique', `_${tenant}.propensity >= 0.1`));
    const post = (body: unknown) => aep.client.request({ method: 'POST', path: `${UPS}/segment/definitions`, body });
    expect((await rejection(post(definition('unique', `_${tenant}.propensity >= 0.2`)))).status).toBe(422);
    expect((await rejection(post({ ...definition('events', 'x = 1'), schema: { name: '_xdm.context.experienceevent' } }))).message).toMatch(/schema\.name.*not supported/);
    expect((await rejection(post({ ...definition('json', 'x'), expression: { type: 'PQL', format: 'pql/json', value: '{}' } }))).message).toMatch(/pql\/json.*use "pql\/text"/);
    const patch = await rejection(
      aep.client.request({ method: 'PATCH', path: `${UPS}/segment/definitions/${created.resource.id}`, body: [{ op: 'add', path: '/description', value: 'x' }] }),
    );
    expect(patch).toMatchObject({ status: 400, message: expect.stringMatching(/not JSON Patch operations/) });
    await aep.segmentation.deleteDefinition(created.resource.id);
  });
});

describe('segment jobs', () => {
  /** Users 0..n-1 with a deterministic spread of propensities, some exactly on the band's ends. */
  function users(n: number, offset = 0): ScoreRow[] {
    return Array.from({ length: n }, (_, i) => ({ userid: `user-${i + offset}`, propensity: [0.3, 0.6, 0.29999999999999993, 0.6000000000000001, (i * 37) % 100 / 100][i % 5]! })); // i % 5 picks one of the five
  }

  it('count the merged profiles in each segment: newest record per identity, Profile-enabled datasets only', async () => {
    const first = users(300);
    // A later batch moves some users and leaves one without a propensity; the newest record wins.
    const second: ScoreRow[] = [
      { userid: 'user-1', propensity: 0.95 },
      { userid: 'user-2', propensity: 0.45 },
      { userid: 'user-3', propensity: null },
      { userid: 'user-new', propensity: 0.5 },
    ];
    await ingestProfileScores(aep, scores.scoresDatasetId, tenant, first);
    await ingestProfileScores(aep, scores.scoresDatasetId, tenant, second);
    // Records in a dataset not enabled for Profile do not make profiles.
    const schemaOnly = await aep.catalog.ensureDataset({ name: 'segments not in profile', schemaRef: { id: scores.schemaId, contentType: SCHEMA_REF_CONTENT_TYPE } });
    await ingestProfileScores(aep, schemaOnly.resource.id, tenant, [{ userid: 'ghost', propensity: 0.5 }, { userid: 'user-4', propensity: 0.01 }]);

    const newest = new Map<string, number | null>();
    for (const row of [...first, ...second]) newest.set(row.userid, row.propensity);
    const inBand = (low: number, high: number) => [...newest.values()].filter((p) => p !== null && p >= low && p <= high).length;

    const band = await aep.segmentation.ensureDefinition(definition('job band', propensityBandPql(tenant, { low: 0.3, high: 0.6 })));
    const top = await aep.segmentation.ensureDefinition(definition('job top', `_${tenant}.propensity > 0.9 or _${tenant}.propensity = 0`));
    const job = await runJob([band.resource.id, top.resource.id]);

    expect(job.status).toBe('SUCCEEDED');
    expect(job.metrics?.totalProfiles).toBe(newest.size);
    expect(job.metrics?.segmentedProfileCounter).toEqual({
      [band.resource.id]: inBand(0.3, 0.6),
      [top.resource.id]: [...newest.values()].filter((p) => p !== null && (p > 0.9 || p === 0)).length,
    });
    expect(inBand(0.3, 0.6)).toBeGreaterThan(100);
    expect(job.metrics?.segmentedProfileByNamespaceCounter).toEqual({
      [band.resource.id]: { ECID: inBand(0.3, 0.6) },
      [top.resource.id]: { ECID: expect.any(Number) },
    });
    expect(job.segments).toEqual([
      expect.objectContaining({ segmentId: band.resource.id, segment: expect.objectContaining({ expression: expect.objectContaining({ value: band.resource.expression.value }) }) }),
      expect.objectContaining({ segmentId: top.resource.id }),
    ]);
  });

  it('refuse an empty request and unknown definitions; an unknown job is 404', async () => {
    const post = (body: unknown) => aep.client.request({ method: 'POST', path: `${UPS}/segment/jobs`, body });
    expect((await rejection(post([])))).toMatchObject({ status: 400, message: expect.stringMatching(/non-empty array/) });
    expect((await rejection(aep.segmentation.createJob(['no-such-definition'])))).toMatchObject({ status: 400, message: expect.stringMatching(/'no-such-definition' does not exist/) });
    expect((await rejection(aep.segmentation.getJob('00000000-0000-0000-0000-000000000000'))).status).toBe(404);
  });
});

describe('the scheduled segmentation', () => {
  type Schedule = { id: string; name: string; type: string; schedule: string; state: string; properties: { segments: string[] } };
  const schedules = () => aep.client.request<{ _page: { totalCount: number }; children: Schedule[] }>({ method: 'GET', path: `${UPS}/config/schedules` });

  it('is the sandbox\'s one daily batch_segmentation schedule, active at its configured time, fired once a day', async () => {
    const listed = (await schedules()).data;
    expect(listed._page.totalCount).toBe(1);
    const [schedule] = listed.children;
    expect(schedule).toMatchObject({ type: 'batch_segmentation', schedule: '0 30 6 * * ?', state: 'active', properties: { segments: ['*'] } });
    const work = platform.aep.scheduledSegmentation;
    expect(work.nextAt(new Date('2025-03-01T05:00:00Z'))).toEqual(new Date('2025-03-01T06:30:00Z'));
    expect(work.nextAt(new Date('2025-03-01T06:30:00Z'))).toEqual(new Date('2025-03-02T06:30:00Z'));
    expect((await rejection(aep.client.request({ method: 'POST', path: `${UPS}/config/schedules`, body: { name: 'twin', type: 'batch_segmentation', properties: { segments: ['*'] }, schedule: '0 0 1 * * ?' } }))).message).toMatch(
      /already has a batch_segmentation schedule/,
    );
  });

  it('changes time and state by JSON Patch; refuses a schedule that fires more than once a day', async () => {
    const id = (await schedules()).data.children[0]!.id;
    const patch = (body: unknown) => aep.client.request({ method: 'PATCH', path: `${UPS}/config/schedules/${id}`, body });
    expect((await rejection(patch([{ op: 'add', path: '/schedule', value: '0 0 */6 * * ?' }]))).message).toMatch(/does not fire once every day at a fixed time/);
    await patch([{ op: 'add', path: '/schedule', value: '0 15 2 * * ?' }, { op: 'add', path: '/state', value: 'inactive' }]);
    // The OpenAPI file asks for Content-Type even on this GET.
    const read = await aep.client.request<Schedule>({ method: 'GET', path: `${UPS}/config/schedules/${id}`, headers: { 'Content-Type': 'application/json' } });
    expect(read.data).toMatchObject({ schedule: '0 15 2 * * ?', state: 'inactive' });
    expect(platform.aep.scheduledSegmentation.nextAt(new Date('2025-03-01T00:00:00Z'))).toBeUndefined();
    await patch([{ op: 'add', path: '/schedule', value: '0 30 6 * * ?' }, { op: 'add', path: '/state', value: 'active' }]);
    expect(platform.aep.scheduledSegmentation.nextAt(new Date('2025-03-01T00:00:00Z'))).toEqual(new Date('2025-03-01T06:30:00Z'));
  });

  it('evaluates every definition with batch evaluation on, listed by GET /segment/jobs as a scheduler job with its counts', async () => {
    const batch = await aep.segmentation.ensureDefinition(definition('scheduled band', propensityBandPql(tenant, { low: 0.5, high: 1 })));
    const streaming = await aep.segmentation.ensureDefinition({
      ...definition('streaming only', `_${tenant}.propensity >= 0.5`),
      evaluationInfo: { batch: { enabled: false }, continuous: { enabled: true }, synchronous: { enabled: false } },
    });
    const at = new Date('2025-03-01T06:30:00Z');
    await platform.aep.scheduledSegmentation.run(at);
    const newest = (await aep.segmentation.recentJobs({ status: 'SUCCEEDED', limit: 5 })).find((j) => j.source === 'scheduler');
    expect(newest).toMatchObject({ source: 'scheduler', status: 'SUCCEEDED', creationTime: at.getTime(), properties: { scheduleId: expect.any(String), runId: expect.any(String) } });
    const evaluated = newest!.segments!.map((s) => s.segmentId);
    expect(evaluated).toContain(batch.resource.id);
    expect(evaluated).not.toContain(streaming.resource.id);
    const onDemand = await runJob([batch.resource.id]);
    expect(newest!.metrics?.segmentedProfileCounter?.[batch.resource.id]).toBe(onDemand.metrics?.segmentedProfileCounter?.[batch.resource.id]);
    const listed = await aep.segmentation.recentJobs({ limit: 100 });
    expect(listed.map((j) => j.creationTime)).toEqual(listed.map((j) => j.creationTime).sort((a, b) => b! - a!));
    expect(listed.filter((j) => j.source === 'scheduler').map((j) => j.id)).toEqual([newest!.id]);
  });
});

describe('the segmentation traffic', () => {
  it('matches Adobe\'s OpenAPI file, but for the documented deviations', () => {
    const contract = OpenApiContract.load();
    const calls = exchanges.filter((e) => new URL(e.url).pathname.startsWith(UPS));
    const operations = new Set(calls.map((e) => `${e.method} ${contract.findOperation(e.method, e.url)?.path ?? '(undocumented)'}`));
    expect([...operations].sort()).toEqual([
      'DELETE /segment/definitions/{SEGMENT_ID}',
      'GET /config/schedules',
      'GET /config/schedules/{SCHEDULE_ID}',
      'GET /segment/definitions',
      'GET /segment/definitions/{SEGMENT_ID}',
      'GET /segment/jobs',
      'GET /segment/jobs/{SEGMENT_JOB_ID}',
      'PATCH /config/schedules/{SCHEDULE_ID}',
      'PATCH /segment/definitions/{SEGMENT_ID}',
      'POST /config/schedules',
      'POST /segment/definitions',
      'POST /segment/jobs',
    ]);
    const deviations = KNOWN_DEVIATIONS;
    // The tests send some requests malformed on purpose; those are refused, and only their answers are checked.
    expect(calls.filter((e) => e.status < 400).flatMap((e) => contract.checkRequest(e, { deviations }))).toEqual([]);
    expect(calls.flatMap((e) => contract.checkResponse(e, { deviations }))).toEqual([]);
  });
});
