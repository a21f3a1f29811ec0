/**
 * The audience stage end to end on the embedded platform: score files in the bucket, the scores on the
 * profiles through Batch Ingestion, the audience's segment definition provisioned, and a real segment
 * job evaluating its PQL rule.
 */
import { createAepServices, type AepServices } from '../../lib/aep';
import { RunLedger, newRunId, type RunRecord } from '../../lib/ledger/run-ledger';
import { seededRng } from '../../lib/model/random';
import { systemClock } from '../../lib/ports/clock';
import { silentLog } from '../../lib/ports/logger';
import { evaluateAudience, type AudienceOptions } from '../../lib/stages/audience';
import { confirmedScores, scoresIngested, type IngestionCheckOutputs } from '../../lib/stages/ingestion-check';
import type { ScoreOutputs } from '../../lib/stages/score';
import { provisionAudienceDefinition, type AudienceDefinitionResult } from '../../lib/provisioning/audience-definition';
import { provision, type ProvisionResult } from '../../lib/provisioning/provision';
import { outputsOf } from '../helpers/ledger';
import { startTestPlatform } from '../helpers/platform';
import { ingestProfileScores } from '../helpers/profile-scores';

type Platform = Awaited<ReturnType<typeof startTestPlatform>>;
let platform: Platform;
let aep: AepServices;
let ledger: RunLedger;
let scores: ProvisionResult;
let audience: AudienceDefinitionResult;

const BAND = { low: 0.3, high: 0.6 };
const AUDIENCE_NAME = 'Middle propensity';

beforeAll(async () => {
  // Segment jobs wait a little before they run, so a run can see one unfinished.
  platform = await startTestPlatform({ aep: { segmentJobDelayMs: 300 } });
  aep = createAepServices(platform.config);
  ledger = new RunLedger(platform.bucket, 'runs/', systemClock);
  scores = (await provision(aep, { namePrefix: 'audience stage', tf: { action: 'create', prev_input: null } }, { log: silentLog })) as ProvisionResult;
  audience = (await provisionAudienceDefinition(
    aep,
    { resource: 'audience', name: AUDIENCE_NAME, band: BAND, tf: { action: 'create', prev_input: null } },
    { log: silentLog },
  )) as AudienceDefinitionResult;
});
afterAll(async () => {
  await platform?.dispose();
});

interface Prediction {
  userId: string;
  prediction: number;
}

/** Predictions of `n` users: random, plus some exactly on the band's ends and on bucket edges. */
function predictions(n: number, seed: number): Prediction[] {
  const rng = seededRng(seed);
  const special = [0.3, 0.6, 0.29999999999999993, 0.6000000000000001, 0, 1, 0.05, 0.95];
  return Array.from({ length: n }, (_, i) => ({ userId: `${seed}-user-${i}`, prediction: special[i] ?? rng() }));
}

let scoreRunCount = 0;

/** Writes score files as the score stage does (CSV with a header under ingress/) and records its run. */
async function recordScoreRun(rows: Prediction[], options: { filesOf?: (rows: Prediction[]) => string[]; recordedRows?: number } = {}): Promise<{ run: RunRecord<'score'>; outputs: ScoreOutputs }> {
  scoreRunCount += 1;
  const folder = `ingress/${scores.scoresDatasetId}/exportTime=2026010100000${scoreRunCount}/`;
  const half = Math.ceil(rows.length / 2);
  const texts = options.filesOf?.(rows) ?? [rows.slice(0, half), rows.slice(half)].map((part) => `userId,prediction\n${part.map((r) => `${r.userId},${r.prediction}`).join('\n')}\n`);
  const files = texts.map((_, i) => `${folder}part-${String(i).padStart(5, '0')}.csv`);
  for (const [i, key] of files.entries()) await platform.bucket.put(key, texts[i]!, 'text/csv'); // a file per text
  const now = new Date();
  const outputs: ScoreOutputs = {
    exportRunId: 'export-run',
    modelName: 'cmle_propensity_model',
    modelVersion: 'v3',
    scoresDatasetId: scores.scoresDatasetId,
    folder,
    files,
    rows: options.recordedRows ?? rows.length,
    manifest: `${folder}_manifest.json`,
  };
  const run: RunRecord<'score'> = { stage: 'score', runId: newRunId(now), startedAt: now.toISOString(), finishedAt: now.toISOString(), status: 'succeeded', outputs };
  await ledger.record(run);
  return { run, outputs };
}

/** Records an ingestion check confirming these score runs, as `checkIngestion` would. */
async function confirmIngested(scoreRunIds: string[]): Promise<void> {
  const now = new Date();
  const soFar = await confirmedScores(ledger);
  const outputs: IngestionCheckOutputs = {
    flowId: 'flow',
    confirmed: scoreRunIds.map((scoreRunId) => ({ scoreRunId, folder: 'f', rows: 0, flowRunIds: [] })),
    pending: [],
    confirmedThrough: soFar.through,
    alsoConfirmed: [...soFar.also, ...scoreRunIds],
  };
  await ledger.record({ stage: 'ingestion-check', runId: newRunId(now), startedAt: now.toISOString(), finishedAt: now.toISOString(), status: 'succeeded', outputs });
}

function options(overrides: Partial<AudienceOptions> = {}): AudienceOptions {
  return { band: BAND, definition: { name: AUDIENCE_NAME }, jobWaitBudgetMs: 60_000, pollIntervalMs: 25, ...overrides };
}

function deps(clock = systemClock) {
  return { aep, store: platform.bucket, ledger, clock, log: silentLog };
}

function jobRequests(): { count: () => number; stop: () => void } {
  let count = 0;
  const stop = platform.aep.onExchange((ex) => {
    if (ex.method === 'POST' && new URL(ex.url).pathname === '/data/core/ups/segment/jobs') count += 1;
  });
  return { count: () => count, stop };
}

describe('evaluateAudience', () => {
  const rows = predictions(1200, 7);
  const inBand = rows.filter((r) => r.prediction >= BAND.low && r.prediction <= BAND.high).length;
  let scoreRun: RunRecord<'score'>;

  it('skips while there are no scores', async () => {
    const run = await evaluateAudience(deps(), options());
    expect(run).toMatchObject({ stage: 'audience', status: 'skipped', reason: 'No succeeded score run to evaluate yet' });
  });

  it('records the summary of new scores and holds the segment job until they are confirmed ingested', async () => {
    scoreRun = (await recordScoreRun(rows)).run;
    const jobs = jobRequests();
    const run = await evaluateAudience(deps(), options());
    jobs.stop();
    expect(run.status).toBe('skipped');
    expect(run.reason).toMatch(new RegExp(`scores of run ${scoreRun.runId} are not confirmed on the profiles yet`));
    const outputs = outputsOf(run);
    expect(outputs).toMatchObject({ scoreRunId: scoreRun.runId, definitionId: audience.definitionId, modelVersion: 'v3' });
    expect(outputs.segmentJobId).toBeUndefined();
    expect(jobs.count()).toBe(0);
    // Exact counts, checked the obvious way.
    expect(outputs.summary.count).toBe(rows.length);
    expect(outputs.summary.band).toEqual({ ...BAND, count: inBand });
    expect(outputs.summary.histogram).toHaveLength(20);
    for (const [i, bucket] of outputs.summary.histogram.entries()) {
      expect(bucket.count).toBe(rows.filter((r) => r.prediction >= i / 20 && (i === 19 || r.prediction < (i + 1) / 20)).length);
    }
    for (const reach of outputs.summary.reach) {
      expect(reach.atOrAbove).toBe(rows.filter((r) => r.prediction >= reach.threshold).length);
      expect(reach.below).toBe(rows.filter((r) => r.prediction < reach.threshold).length);
    }
    expect(await scoresIngested(ledger, scoreRun.runId)).toBe(false);
  });

  it('once ingested, reads the audience size from AEP\'s scheduled segmentation, starting no segment job', async () => {
    await ingestProfileScores(aep, scores.scoresDatasetId, scores.tenantId, rows.map((r) => ({ userid: r.userId, propensity: r.prediction })));
    await confirmIngested([scoreRun.runId]);
    expect(await scoresIngested(ledger, scoreRun.runId)).toBe(true);
    const jobs = jobRequests();

    // A scheduled job from before the scores were ingested does not describe them.
    await platform.aep.scheduledSegmentation.run(new Date(Date.now() - 60 * 60 * 1000));
    const waiting = await evaluateAudience(deps(), options());
    expect(waiting.status).toBe('skipped');
    expect(waiting.reason).toMatch(new RegExp(`scheduled segmentation has not evaluated "${AUDIENCE_NAME}" since the scores of run ${scoreRun.runId} were ingested`));

    await platform.aep.scheduledSegmentation.run(new Date());
    const run = await evaluateAudience(deps(), options({ definition: { id: audience.definitionId } }));
    jobs.stop();
    expect(run.status).toBe('succeeded');
    const outputs = outputsOf(run);
    expect(outputs.segmentJobSource).toBe('scheduled');
    expect(outputs.segmentJobId).toEqual(expect.any(String));
    expect(jobs.count()).toBe(0);
    expect(outputs.qualifiedProfiles).toBe(inBand);
    expect(outputs.qualifiedProfiles).toBe(outputs.summary.band.count);
    expect(outputs.totalProfiles).toBe(rows.length);
    expect(inBand).toBeGreaterThan(200);
  });

  it('does nothing more for scores already evaluated', async () => {
    const run = await evaluateAudience(deps(), options());
    expect(run).toMatchObject({ status: 'skipped', reason: expect.stringMatching(new RegExp(`Score run ${scoreRun.runId} is already evaluated`)) });
  });

  it('evaluates newer scores with a new job: profiles moved by the new scores leave or join the audience', async () => {
    const rescored = rows.map((r, i) => ({ userId: r.userId, prediction: i % 2 === 0 ? 0.45 : 0.99 }));
    const { run: newer } = await recordScoreRun(rescored);
    await ingestProfileScores(aep, scores.scoresDatasetId, scores.tenantId, rescored.map((r) => ({ userid: r.userId, propensity: r.prediction })));
    await confirmIngested([newer.runId]);
    const jobs = jobRequests();

    // Asked for, an on-demand job runs at once; given no time, the next run waits for that same job.
    const impatient = await evaluateAudience(deps(shiftedClock(0)), options({ onDemand: true, jobWaitBudgetMs: 0 }));
    expect(impatient.status).toBe('skipped');
    expect(impatient.reason).toMatch(/Segment job [\w-]+ is still (NEW|QUEUED|PROCESSING) after 0 s; a later run records its count/);
    const run = await evaluateAudience(deps(), options());
    jobs.stop();
    expect(run.status).toBe('succeeded');
    expect(outputsOf(run)).toMatchObject({ scoreRunId: newer.runId, segmentJobSource: 'on-demand', segmentJobId: outputsOf(impatient).segmentJobId });
    expect(outputsOf(run).qualifiedProfiles).toBe(rows.length / 2);
    expect(jobs.count()).toBe(1);
  });
});

/** The system clock moved by `offsetMs`; its sleeps take real time, so segment jobs finish while it waits. */
function shiftedClock(offsetMs: number) {
  return { now: () => new Date(Date.now() + offsetMs), sleep: (ms: number) => systemClock.sleep(ms) };
}

describe('the on-demand budget', () => {
  const rows = predictions(50, 11);
  const YEAR = 365 * 24 * 60 * 60 * 1000;
  // Far from the other tests' spending, which the budget must not see.
  let offset = 10 * YEAR;

  /** New scores on the profiles, with no scheduled job since: only an on-demand job can count them. */
  async function askOnDemand(budget?: AudienceOptions['onDemandBudget']) {
    const { run: scoreRun } = await recordScoreRun(rows);
    await confirmIngested([scoreRun.runId]);
    return evaluateAudience(deps(shiftedClock(offset)), options({ onDemand: true, onDemandBudget: budget }));
  }

  it('allows two on-demand jobs a day, refuses the third naming the limit, and allows it again a day later', async () => {
    const jobs = jobRequests();
    expect((await askOnDemand()).status).toBe('succeeded');
    expect((await askOnDemand()).status).toBe('succeeded');
    await expect(askOnDemand()).rejects.toThrow(/On-demand segment job refused: 2 already started in the last 24 hours, the budget allows 2 a day/);
    expect(jobs.count()).toBe(2);
    offset += 25 * 60 * 60 * 1000;
    expect((await askOnDemand()).status).toBe('succeeded');
    jobs.stop();
    expect(jobs.count()).toBe(3);
  });

  it('counts the year across runs in the ledger: past the yearly budget every request is refused', async () => {
    offset += 2 * 24 * 60 * 60 * 1000;
    const jobs = jobRequests();
    await expect(askOnDemand({ perYear: 3 })).rejects.toThrow(/3 already started in the last 365 days, the budget allows 3 a year/);
    jobs.stop();
    expect(jobs.count()).toBe(0);
    // The default yearly budget (50 outside a development sandbox) still has room.
    expect((await askOnDemand()).status).toBe('succeeded');
  });

  /** Records an on-demand job started `daysAgo` days before the budget's clock, carrying `spentBefore` when given. */
  async function recordSpent(daysAgo: number, spentBefore?: string[]) {
    const at = new Date(Date.now() + offset - daysAgo * 24 * 60 * 60 * 1000);
    const outputs = { definitionId: audience.definitionId, scoreRunId: 'score-run', ...(spentBefore && { spentBefore }) };
    await ledger.record({ stage: 'on-demand-segment-job', runId: newRunId(at), startedAt: at.toISOString(), finishedAt: at.toISOString(), status: 'succeeded', outputs });
  }

  it('counts jobs recorded without the year they carry (an earlier version) by reading the past year', async () => {
    offset += 2 * YEAR;
    await recordSpent(20);
    await recordSpent(10);
    await expect(askOnDemand({ perYear: 2 })).rejects.toThrow(/2 already started in the last 365 days, the budget allows 2 a year/);
    expect((await askOnDemand({ perYear: 3 })).status).toBe('succeeded');
    const [spent] = await ledger.recent('on-demand-segment-job', 1);
    expect(spent?.outputs?.spentBefore).toHaveLength(2);
  });

  it('reads the year from the newest job, forgetting what it carries from over a year before', async () => {
    offset += 2 * YEAR;
    const daysAgo = (days: number) => new Date(Date.now() + offset - days * 24 * 60 * 60 * 1000).toISOString();
    await recordSpent(10, [daysAgo(400), daysAgo(300)]);
    await expect(askOnDemand({ perYear: 2 })).rejects.toThrow(/2 already started in the last 365 days, the budget allows 2 a year/);
    expect((await askOnDemand({ perYear: 3 })).status).toBe('succeeded');
  });

  it('never starts an on-demand job unless asked', async () => {
    offset += 2 * 24 * 60 * 60 * 1000;
    const jobs = jobRequests();
    const { run: scoreRun } = await recordScoreRun(rows);
    await confirmIngested([scoreRun.runId]);
    const run = await evaluateAudience(deps(shiftedClock(offset)), options());
    jobs.stop();
    expect(run.status).toBe('skipped');
    expect(jobs.count()).toBe(0);
  });
});

describe('bad input', () => {
  it('refuses a band with low above high or outside [0, 1] before reading anything', async () => {
    await expect(evaluateAudience(deps(), options({ band: { low: 0.7, high: 0.2 } }))).rejects.toThrow(/low \(0\.7\) must not be above high \(0\.2\)/);
    await expect(evaluateAudience(deps(), options({ band: { low: 0.2, high: 1.2 } }))).rejects.toThrow(/high must be within \[0, 1\].*got 1\.2/);
  });

  it('fails, naming both rules, when the definition is not the band\'s', async () => {
    await recordScoreRun(predictions(10, 11));
    await expect(evaluateAudience(deps(), options({ band: { low: 0.5, high: 0.6 } }))).rejects.toThrow(
      /Segment definition "Middle propensity" \([\w-]+\) has the rule "_\w+\.propensity >= 0\.3 and _\w+\.propensity <= 0\.6", not the band's "_\w+\.propensity >= 0\.5 and _\w+\.propensity <= 0\.6"/,
    );
    const [failed] = await ledger.recent('audience', 1);
    expect(failed).toMatchObject({ status: 'failed', reason: expect.stringMatching(/not the band's/) });
  });

  it('fails when the definition does not exist', async () => {
    await expect(evaluateAudience(deps(), options({ definition: { name: 'Nobody made me' } }))).rejects.toThrow(/No segment definition is named "Nobody made me"; deploy the audience/);
  });

  it('fails naming the file and line of a prediction that is not a probability', async () => {
    const { outputs } = await recordScoreRun(predictions(4, 12), {
      filesOf: (rows) => {
        const [a, b, c, d] = rows.map((r) => r.userId);
        return [`userId,prediction\n${a},0.5\n${b},1.5\n`, `userId,prediction\n${c},0.2\n${d},abc\n`];
      },
    });
    await expect(evaluateAudience(deps(), options())).rejects.toThrow(`Score file ${outputs.files[0]} line 3: prediction "1.5" is not a number from 0 to 1`);
  });

  it('fails when a file lacks the prediction column or the files hold fewer rows than recorded', async () => {
    const { outputs } = await recordScoreRun(predictions(2, 13), { filesOf: (rows) => [`userId,score\n${rows[0]?.userId},0.5\n`] });
    await expect(evaluateAudience(deps(), options())).rejects.toThrow(`Score file ${outputs.files[0]} has no "prediction" column (its header: userId, score)`);
    await recordScoreRun(predictions(6, 14), { recordedRows: 7 });
    await expect(evaluateAudience(deps(), options())).rejects.toThrow('The score files hold 6 predictions, but the score run recorded 7: the scores are incomplete');
  });
});

describe("when the sandbox's scheduled segmentation runs after the audience stage each day", () => {
  const users = predictions(1200, 7).map((r) => r.userId);
  /** A day's scores of the same users as the tests above, so the profiles in the band are exactly that day's. */
  const day = (seed: number): Prediction[] => predictions(users.length, seed).map((r, i) => ({ userId: users[i]!, prediction: r.prediction }));
  const inBandOf = (rows: Prediction[]) => rows.filter((r) => r.prediction >= BAND.low && r.prediction <= BAND.high).length;

  beforeAll(() => {
    // A ledger of its own: the score runs above are not this pipeline's days.
    ledger = new RunLedger(platform.bucket, 'runs-late-segmentation/', systemClock);
  });

  /** The score stage, AEP's ingestion and the ingestion check of one day, then the audience stage. */
  async function scoreAndReport(rows: Prediction[]): Promise<{ scoreRun: RunRecord<'score'>; audienceRun: RunRecord<'audience'> }> {
    const { run: scoreRun } = await recordScoreRun(rows);
    await ingestProfileScores(aep, scores.scoresDatasetId, scores.tenantId, rows.map((r) => ({ userid: r.userId, propensity: r.prediction })));
    await confirmIngested([scoreRun.runId]);
    return { scoreRun, audienceRun: await evaluateAudience(deps(), options()) };
  }

  it("reports each day on the scores the last scheduled job evaluated, rather than skipping every day", async () => {
    const jobs = jobRequests();
    const first = day(31);
    const second = day(32);
    expect(inBandOf(first)).not.toBe(inBandOf(second));

    const one = await scoreAndReport(first);
    expect(one.audienceRun.status).toBe('skipped');
    await platform.aep.scheduledSegmentation.run(new Date());

    const two = await scoreAndReport(second);
    expect(two.audienceRun.status).toBe('succeeded');
    // The job counted the first day's scores: the second day's reached the profiles after it ran.
    expect(outputsOf(two.audienceRun)).toMatchObject({ scoreRunId: one.scoreRun.runId, segmentJobSource: 'scheduled', qualifiedProfiles: inBandOf(first) });
    expect(outputsOf(two.audienceRun).summary.band.count).toBe(inBandOf(first));
    await platform.aep.scheduledSegmentation.run(new Date());

    const three = await scoreAndReport(first);
    expect(outputsOf(three.audienceRun)).toMatchObject({ scoreRunId: two.scoreRun.runId, segmentJobSource: 'scheduled', qualifiedProfiles: inBandOf(second) });
    expect(outputsOf(three.audienceRun).segmentJobId).not.toBe(outputsOf(two.audienceRun).segmentJobId);

    // The same day again: the newest scores wait for the next job; the older ones are reported already.
    const again = await evaluateAudience(deps(), options());
    expect(again.status).toBe('skipped');
    expect(again.reason).toMatch(new RegExp(`scheduled segmentation has not evaluated "${AUDIENCE_NAME}" since the scores of run ${three.scoreRun.runId} were ingested`));
    jobs.stop();
    expect(jobs.count()).toBe(0);
  });
});
