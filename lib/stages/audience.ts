import { parse } from 'csv-parse';
import type { AepRestServices, SegmentDefinition, SegmentJob } from '../aep';
import { AepError } from '../aep/errors';
import { segmentJobFailure } from '../aep/services/segmentation';
import { AudienceInputError, propensityBandPql, ScoreSummaryAccumulator, validateBand, type PropensityBand, type ScoreSummary } from '../audience';
import { newRunId, type RunLedger, type RunRecord, type RunResult } from '../ledger/run-ledger';
import type { Clock } from '../ports/clock';
import type { Log } from '../ports/logger';
import type { ObjectStore } from '../ports/object-store';
import { scoresIngested } from './ingestion-check';
import type { ScoreOutputs } from './score';

/**
 * Audience (notebook week 5): after new scores, summarizes them (20-bucket histogram, reach at or above
 * and below each threshold 0, 0.05, ..., 1, the reach of the configured band) and, once AEP has taken
 * them onto the profiles, records how many profiles qualified, as AEP's daily scheduled segmentation
 * counted them. An on-demand segment job (AEP's flexible audience evaluation) runs only when asked for,
 * within a budget kept in the ledger.
 */

/**
 * AEP's allowance of flexible audience evaluation: at most twice a day per sandbox, 50 runs a year in a
 * production sandbox, 100 in a development one.
 */
export const ON_DEMAND_ALLOWANCE = { perDay: 2, perYearProduction: 50, perYearDevelopment: 100 } as const;
/** How many of the newest segment jobs are searched for the scheduled one: a day has one, and at most two on-demand. */
const RECENT_JOBS = 25;
/**
 * How many of the newest score runs (a week of daily ones, with room for retries) are searched for
 * scores a scheduled segmentation job evaluated, when it has not evaluated the newest yet.
 */
const SCORE_RUNS_SEARCHED = 10;
const DAY_MS = 24 * 60 * 60 * 1000;
const YEAR_MS = 365 * DAY_MS;

/** What one on-demand segment job spent of the budget; recorded before the job is requested. */
export interface OnDemandSegmentJobOutputs {
  definitionId: string;
  scoreRunId: string;
  /**
   * When the on-demand jobs of the 365 days before this one started (ISO times, oldest first): what the
   * budget counts, carried from record to record so the next job reads only this one.
   */
  spentBefore?: string[];
}

/** An on-demand segment job the budget does not allow; the message says which limit and when it frees up. */
export class OnDemandBudgetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnDemandBudgetError';
  }
}

/** The score column the summary reads. */
export const PREDICTION_COLUMN = 'prediction';

export interface AudienceDeps {
  aep: AepRestServices;
  store: ObjectStore;
  ledger: RunLedger;
  clock: Clock;
  log: Log;
}

export interface AudienceOptions {
  /** The band the audience's rule selects; its reach among the scores is recorded. */
  band: PropensityBand;
  /** The audience's segment definition, by id (as `PropensityAudience.definitionId`) or by name. */
  definition: { id: string } | { name: string };
  /**
   * Tenant id without underscore, to check the definition's rule is the band's.
   * @default read from the Schema Registry
   */
  tenantId?: string | undefined;
  /** How long this run waits for the segment job; past it the job is recorded and the next run reads its count. */
  jobWaitBudgetMs: number;
  pollIntervalMs: number;
  /**
   * Start an on-demand segment job (flexible audience evaluation) when no scheduled segmentation job has
   * evaluated the scores yet, counted against `onDemandBudget`.
   * @default false: wait for AEP's daily scheduled segmentation
   */
  onDemand?: boolean | undefined;
  /**
   * On-demand segment jobs allowed per sandbox, within any 24 hours and any 365 days.
   * @default 2 a day; a year, 100 when AEP reports a development sandbox, else 50
   */
  onDemandBudget?: { perDay?: number | undefined; perYear?: number | undefined } | undefined;
}

export interface AudienceOutputs {
  scoreRunId: string;
  modelName: string;
  modelVersion: string;
  scoresDatasetId: string;
  definitionId: string;
  summary: ScoreSummary;
  /** The segment job the count is (or will be) read from. */
  segmentJobId?: string;
  /** `scheduled`: AEP's daily scheduled segmentation; `on-demand`: a job this stage started, when asked. */
  segmentJobSource?: 'scheduled' | 'on-demand';
  /** Profiles in the audience after the job (the job's `segmentedProfileCounter`), on success. */
  qualifiedProfiles?: number;
  /** Profiles the job evaluated, on success. */
  totalProfiles?: number;
}

/** A score file that cannot be summarized; the message names the file and line. */
export class ScoreFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScoreFileError';
  }
}

/**
 * Streams the score files through the summary, one prediction at a time: memory does not grow with the
 * number of profiles. Checks every prediction and that the files hold the rows the score run recorded.
 */
export async function summarizeScoreFiles(store: ObjectStore, scores: Pick<ScoreOutputs, 'files' | 'rows'>, band: PropensityBand): Promise<ScoreSummary> {
  const accumulator = new ScoreSummaryAccumulator(band);
  for (const key of scores.files) {
    const parser = (await store.getStream(key)).pipe(
      parse({
        columns: (header: string[]) => {
          if (!header.includes(PREDICTION_COLUMN)) {
            throw new ScoreFileError(`Score file ${key} has no "${PREDICTION_COLUMN}" column (its header: ${header.join(', ') || 'empty'})`);
          }
          return header;
        },
        skip_empty_lines: true,
        info: true,
      }),
    );
    try {
      for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
        const text = record[PREDICTION_COLUMN] ?? ''; // an absent cell reads as an empty one
        const value = text.trim() === '' ? Number.NaN : Number(text);
        try {
          accumulator.add(value);
        } catch (error) {
          if (!(error instanceof AudienceInputError)) throw error;
          throw new ScoreFileError(`Score file ${key} line ${info.lines}: ${PREDICTION_COLUMN} ${JSON.stringify(text)} is not a number from 0 to 1`);
        }
      }
    } catch (error) {
      if (error instanceof ScoreFileError) throw error;
      throw new ScoreFileError(`Score file ${key} is not valid CSV: ${(error as Error).message}`);
    }
  }
  const summary = accumulator.summary();
  if (summary.count !== scores.rows) {
    throw new ScoreFileError(`The score files hold ${summary.count} predictions, but the score run recorded ${scores.rows}: the scores are incomplete`);
  }
  return summary;
}

async function resolveDefinition(aep: AepRestServices, definition: AudienceOptions['definition']): Promise<SegmentDefinition> {
  if ('id' in definition) {
    try {
      return await aep.segmentation.getDefinition(definition.id);
    } catch (error) {
      if (error instanceof AepError && error.kind === 'not-found') {
        throw new AudienceInputError(`Segment definition ${definition.id} does not exist; deploy the audience (PropensityAudience) first`);
      }
      throw error;
    }
  }
  const found = await aep.segmentation.findDefinition(definition.name);
  if (!found) throw new AudienceInputError(`No segment definition is named "${definition.name}"; deploy the audience (PropensityAudience) first`);
  return found;
}

type ScoreRun = Extract<RunRecord<'score'>, { status: 'succeeded' }>;
type AudienceRun = RunRecord<'audience'>;

/** A score run the audience stage may report on, with what it knows of it so far. */
interface Candidate {
  scoreRun: ScoreRun;
  /** The audience stage's earlier runs for these scores, newest first. */
  earlier: AudienceRun[];
  /** From when newer scores may have reached the profiles: the start of the next score run that published (or tried to). */
  supersededFrom: number;
}

/**
 * The succeeded score runs among the newest `SCORE_RUNS_SEARCHED`, newest first, down to (not
 * including) the newest one already evaluated: scores older than an evaluated run are superseded.
 * When there are none (no scores, or the newest are evaluated), why to skip.
 *
 * An audience run only ever evaluates scores newer than those evaluated before, so the newest
 * succeeded audience run names the newest evaluated score run, and only the score runs after it are
 * read; the audience runs read are those since the oldest score run searched.
 */
async function candidates(ledger: RunLedger): Promise<{ found: Candidate[] } | { skip: string }> {
  const searched = await ledger.runIds('score', SCORE_RUNS_SEARCHED);
  const oldestSearched = searched[searched.length - 1];
  if (oldestSearched === undefined) return { skip: 'No succeeded score run to evaluate yet' };
  const lastEvaluation = await ledger.newest('audience', (r) => r.status === 'succeeded', { after: oldestSearched });
  const evaluated = lastEvaluation?.outputs.scoreRunId;
  const recent = await ledger.after('score', evaluated ?? '', SCORE_RUNS_SEARCHED);
  const succeeded = recent.filter((r): r is ScoreRun => r.status === 'succeeded');
  const oldest = succeeded[succeeded.length - 1];
  if (!oldest) {
    return lastEvaluation && evaluated !== undefined && evaluated >= oldestSearched
      ? { skip: `Score run ${evaluated} is already evaluated (audience run ${lastEvaluation.runId}); nothing newer` }
      : { skip: 'No succeeded score run to evaluate yet' };
  }
  // Every run that looked at these scores came after them, however many runs that is.
  const audienceRuns = await ledger.after('audience', oldest.runId);
  const found: Candidate[] = [];
  let supersededFrom = Number.POSITIVE_INFINITY;
  for (const run of recent) {
    if (run.status === 'succeeded') {
      const earlier = audienceRuns.filter((r) => r.outputs?.scoreRunId === run.runId);
      const done = earlier.find((r) => r.status === 'succeeded');
      if (done) {
        if (found.length === 0) return { skip: `Score run ${run.runId} is already evaluated (audience run ${done.runId}); nothing newer` };
        break;
      }
      found.push({ scoreRun: run, earlier, supersededFrom });
    }
    // A skipped score run published nothing; a failed one may have published part of its scores.
    if (run.status !== 'skipped') supersededFrom = Date.parse(run.startedAt);
  }
  return { found };
}

/** When the scores of a confirmed score run were on the profiles: the check that confirmed them finished. */
async function ingestedBy(ledger: RunLedger, scoreRun: ScoreRun): Promise<number> {
  // The confirming check came soon after the score run: checks are read from it on, oldest first.
  const confirmation = await ledger.oldestAfter('ingestion-check', scoreRun.runId, (r) => r.outputs?.confirmed?.some((c) => c.scoreRunId === scoreRun.runId) ?? false);
  // A check confirms scores that were on the profiles by the time it finished; older checks lack the list.
  return Date.parse(confirmation?.finishedAt ?? scoreRun.finishedAt);
}

/** The newest successful job of AEP's scheduled segmentation that evaluated the definition within [from, until). */
function scheduledJob(jobs: SegmentJob[], definitionId: string, from: number, until: number): SegmentJob | undefined {
  return jobs.find(
    (j) =>
      j.source === 'scheduler' &&
      j.status === 'SUCCEEDED' &&
      (j.creationTime ?? 0) >= from &&
      (j.creationTime ?? 0) < until &&
      (j.segments ?? []).some((s) => s.segmentId === definitionId),
  );
}

/**
 * Reports on a score run, recorded as the ledger stage `audience`:
 * - the newest succeeded score run not yet evaluated, when AEP's scheduled segmentation has evaluated
 *   the definition since its scores were confirmed on the profiles (a succeeded `ingestion-check`);
 * - else, when asked (`onDemand`) or already started, an on-demand segment job for the newest scores
 *   (waited for up to `jobWaitBudgetMs`), within the budget;
 * - else an older score run, back to the newest evaluated one and among the last
 *   `SCORE_RUNS_SEARCHED`, that a scheduled job evaluated after its confirmation and before newer
 *   scores could reach the profiles: when the sandbox's segmentation runs after this stage each day,
 *   every day reports the scores of the day before rather than none;
 * - else skipped, with the summary of the newest scores (and any job id), which a later run carries on
 *   from (reusing the summary and the job, never starting a twin).
 * The summary of the scores reported on (their CSV files, streamed) goes into the run's outputs. A
 * definition whose rule is not the band's is a configuration error: the counts would describe
 * different audiences.
 */
export async function evaluateAudience(deps: AudienceDeps, options: AudienceOptions): Promise<RunRecord<'audience'>> {
  const band = validateBand(options.band);
  return deps.ledger.run('audience', async () => {
    const search = await candidates(deps.ledger);
    if ('skip' in search) return { status: 'skipped', reason: search.skip };
    const newest = search.found[0] as Candidate;

    const definition = await resolveDefinition(deps.aep, options.definition);
    const tenantId = options.tenantId ?? (await deps.aep.schemaRegistry.tenantId());
    const expected = propensityBandPql(tenantId, band);
    if (definition.expression?.value !== expected) {
      throw new AudienceInputError(
        `Segment definition "${definition.name}" (${definition.id}) has the rule ${JSON.stringify(definition.expression?.value)}, ` +
          `not the band's ${JSON.stringify(expected)}; give the audience stage and the PropensityAudience the same band`,
      );
    }

    // A skipped run for the same scores already summarized them (same band) and may have started the job.
    const partialOf = (candidate: Candidate) =>
      candidate.earlier.map((r) => r.outputs).find((o) => o?.summary?.band?.low === band.low && o.summary?.band?.high === band.high);
    const startOutputs = async (candidate: Candidate): Promise<AudienceOutputs> => {
      const { scoreRun } = candidate;
      const summary = partialOf(candidate)?.summary ?? (await summarizeScoreFiles(deps.store, scoreRun.outputs, band));
      deps.log.info('Scores summarized', { scoreRunId: scoreRun.runId, scores: summary.count, inBand: summary.band.count, low: band.low, high: band.high });
      const { modelName, modelVersion, scoresDatasetId } = scoreRun.outputs;
      return { scoreRunId: scoreRun.runId, modelName, modelVersion, scoresDatasetId, definitionId: definition.id, summary };
    };
    const inputsOf = ({ scoreRun }: Candidate) => ({ scoreRunId: scoreRun.runId, folder: scoreRun.outputs.folder, files: scoreRun.outputs.files.length });

    const recentJobs = await deps.aep.segmentation.recentJobs({ limit: RECENT_JOBS });
    const newestConfirmed = await scoresIngested(deps.ledger, newest.scoreRun.runId);
    const newestIngestedBy = newestConfirmed ? await ingestedBy(deps.ledger, newest.scoreRun) : undefined;
    const newestScheduled = newestIngestedBy === undefined ? undefined : scheduledJob(recentJobs, definition.id, newestIngestedBy, newest.supersededFrom);
    if (newestScheduled) {
      return recordCount(deps, { inputs: inputsOf(newest), outputs: { ...(await startOutputs(newest)), segmentJobSource: 'scheduled' } }, newestScheduled, options.jobWaitBudgetMs);
    }

    const partial = partialOf(newest);
    const resumed =
      partial?.segmentJobId && partial.segmentJobSource !== 'scheduled' && partial.definitionId === definition.id ? await deps.aep.segmentation.getJob(partial.segmentJobId) : undefined;
    const resumable = resumed && resumed.status !== 'FAILED' && resumed.status !== 'CANCELLED' ? resumed : undefined;
    if (newestConfirmed && (resumable || options.onDemand)) {
      const outputs = await startOutputs(newest);
      let job: SegmentJob;
      if (resumable) {
        job = resumable;
      } else {
        const sandboxType = recentJobs.find((j) => typeof j.sandbox?.type === 'string')?.sandbox?.type;
        await spendOnDemandBudget(deps, options.onDemandBudget, sandboxType, { definitionId: definition.id, scoreRunId: newest.scoreRun.runId });
        job = await deps.aep.segmentation.createJob([definition.id]);
        deps.log.info('On-demand segment job started', { jobId: job.id, definitionId: definition.id });
      }
      outputs.segmentJobSource = 'on-demand';
      outputs.segmentJobId = job.id;
      job = await deps.aep.segmentation.pollJob(job.id, { clock: deps.clock, budgetMs: options.jobWaitBudgetMs, pollIntervalMs: options.pollIntervalMs });
      return recordCount(deps, { inputs: inputsOf(newest), outputs }, job, options.jobWaitBudgetMs);
    }

    for (const older of search.found.slice(1)) {
      if (!(await scoresIngested(deps.ledger, older.scoreRun.runId))) continue;
      const job = scheduledJob(recentJobs, definition.id, await ingestedBy(deps.ledger, older.scoreRun), older.supersededFrom);
      if (!job) continue;
      deps.log.info('Reporting older scores: the scheduled segmentation has not evaluated the newest yet', { scoreRunId: older.scoreRun.runId, newestScoreRunId: newest.scoreRun.runId });
      return recordCount(deps, { inputs: inputsOf(older), outputs: { ...(await startOutputs(older)), segmentJobSource: 'scheduled' } }, job, options.jobWaitBudgetMs);
    }

    const outputs = await startOutputs(newest);
    const runId = newest.scoreRun.runId;
    return {
      status: 'skipped',
      reason:
        newestIngestedBy === undefined
          ? `The scores of run ${runId} are not confirmed on the profiles yet (no ingestion check has confirmed them); a later run starts the segment job`
          : `AEP's scheduled segmentation has not evaluated "${definition.name}" since the scores of run ${runId} were ingested ` +
            `(by ${new Date(newestIngestedBy).toISOString()}); a later run records the count of its next daily job (or invoke the stage with {"onDemand": true})`,
      inputs: inputsOf(newest),
      outputs,
    };
  });
}

/** Records the qualified count of a finished segment job, or skips while it runs; a failed job fails the run. */
function recordCount(
  deps: Pick<AudienceDeps, 'log'>,
  run: { inputs: Record<string, unknown>; outputs: AudienceOutputs },
  job: SegmentJob,
  jobWaitBudgetMs: number,
): RunResult<AudienceOutputs> {
  const { inputs, outputs } = run;
  const definitionId = outputs.definitionId;
  outputs.segmentJobId = job.id;
  if (job.status === 'FAILED' || job.status === 'CANCELLED') throw segmentJobFailure(job);
  if (job.status !== 'SUCCEEDED') {
    return {
      status: 'skipped',
      reason: `Segment job ${job.id} is still ${job.status} after ${Math.round(jobWaitBudgetMs / 1000)} s; a later run records its count`,
      inputs,
      outputs,
    };
  }
  const qualified = job.metrics?.segmentedProfileCounter?.[definitionId];
  if (typeof qualified !== 'number') {
    throw new AepError(`Segment job ${job.id} succeeded without a count for segment definition ${definitionId}`, { kind: 'failed-operation' });
  }
  outputs.qualifiedProfiles = qualified;
  if (typeof job.metrics?.totalProfiles === 'number') outputs.totalProfiles = job.metrics.totalProfiles;
  deps.log.info('Audience evaluated', { definitionId, jobId: job.id, source: outputs.segmentJobSource, qualifiedProfiles: qualified, scoredInBand: outputs.summary.band.count });
  return { inputs, outputs };
}

/**
 * Records one on-demand segment job in the ledger (`on-demand-segment-job`), before it is requested, so
 * a crash after the request still counts; refuses it beyond the budget. Reads only the newest record,
 * which carries the past year's spending.
 */
async function spendOnDemandBudget(
  deps: Pick<AudienceDeps, 'ledger' | 'clock' | 'log'>,
  budget: AudienceOptions['onDemandBudget'],
  sandboxType: string | undefined,
  spend: OnDemandSegmentJobOutputs,
): Promise<void> {
  const perDay = budget?.perDay ?? ON_DEMAND_ALLOWANCE.perDay;
  const perYear = budget?.perYear ?? (sandboxType === 'development' ? ON_DEMAND_ALLOWANCE.perYearDevelopment : ON_DEMAND_ALLOWANCE.perYearProduction);
  const now = deps.clock.now();
  const yearAgo = now.getTime() - YEAR_MS;
  const after = newRunId(new Date(yearAgo));
  const last = await deps.ledger.newest('on-demand-segment-job', () => true, { after });
  const carried = last?.outputs?.spentBefore;
  // Records written before they carried the year's spending: the year's records are read instead.
  const spent = (
    last && Array.isArray(carried)
      ? [...carried.map((t) => Date.parse(t)), Date.parse(last.startedAt)]
      : (await deps.ledger.after('on-demand-segment-job', after)).map((r) => Date.parse(r.startedAt)).reverse()
  ).filter((t) => t >= yearAgo);
  const today = spent.filter((t) => t > now.getTime() - DAY_MS);
  const refuse = (what: string, oldest: number, window: number) =>
    new OnDemandBudgetError(
      `On-demand segment job refused: ${what}. The next one is allowed after ${new Date(oldest + window).toISOString()}; ` +
        "until then the audience stage reads AEP's daily scheduled segmentation",
    );
  if (today.length >= perDay) throw refuse(`${today.length} already started in the last 24 hours, the budget allows ${perDay} a day`, Math.min(...today), DAY_MS);
  if (spent.length >= perYear) throw refuse(`${spent.length} already started in the last 365 days, the budget allows ${perYear} a year`, Math.min(...spent), YEAR_MS);
  const at = now.toISOString();
  await deps.ledger.record({ stage: 'on-demand-segment-job', runId: newRunId(now), startedAt: at, finishedAt: at, status: 'succeeded', outputs: { ...spend, spentBefore: spent.map((t) => new Date(t).toISOString()) } });
  deps.log.info('On-demand segment job budget spent', { today: today.length + 1, perDay, year: spent.length + 1, perYear });
}
