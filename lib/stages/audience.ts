import { parse } from 'csv-parse';
import type { AepRestServices, SegmentDefinition, SegmentJob } from '../aep';
import { AepError } from '../aep/errors';
import { segmentJobFailure } from '../aep/services/segmentation';
import { AudienceInputError, propensityBandPql, ScoreSummaryAccumulator, validateBand, type PropensityBand, type ScoreSummary } from '../audience';
import { newRunId, type RunLedger, type RunRecord } from '../ledger/run-ledger';
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
const DAY_MS = 24 * 60 * 60 * 1000;
const YEAR_MS = 365 * DAY_MS;

/** What one on-demand segment job spent of the budget; recorded before the job is requested. */
export interface OnDemandSegmentJobOutputs {
  definitionId: string;
  scoreRunId: string;
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

/**
 * Evaluates the newest succeeded score run not yet evaluated, recorded as the ledger stage `audience`:
 * - the summary of its CSV files (streamed) goes into the run's outputs;
 * - when a succeeded `ingestion-check` run confirms the scores are on the profiles, a segment job for
 *   the definition runs (waited for up to `jobWaitBudgetMs`) and its qualified count is recorded;
 * - not confirmed yet, or the job still running: recorded as skipped with the summary (and the job id),
 *   and a later run carries on from there (reusing the summary and the job, never starting a twin).
 * A definition whose rule is not the band's is a configuration error: the counts would describe
 * different audiences.
 */
export async function evaluateAudience(deps: AudienceDeps, options: AudienceOptions): Promise<RunRecord<'audience'>> {
  const band = validateBand(options.band);
  return deps.ledger.run('audience', async () => {
    const scoreRun = await deps.ledger.newest('score', (r) => r.status === 'succeeded');
    if (!scoreRun) return { status: 'skipped', reason: 'No succeeded score run to evaluate yet' };
    const scores = scoreRun.outputs;
    // Every run that looked at these scores came after them, however many runs that is.
    const earlier = (await deps.ledger.after('audience', scoreRun.runId)).filter((r) => r.outputs?.scoreRunId === scoreRun.runId);
    const done = earlier.find((r) => r.status === 'succeeded');
    if (done) return { status: 'skipped', reason: `Score run ${scoreRun.runId} is already evaluated (audience run ${done.runId}); nothing newer` };
    const inputs = { scoreRunId: scoreRun.runId, folder: scores.folder, files: scores.files.length };

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
    const partial = earlier.map((r) => r.outputs).find((o) => o?.summary?.band?.low === band.low && o.summary?.band?.high === band.high);
    const summary = partial?.summary ?? (await summarizeScoreFiles(deps.store, scores, band));
    const outputs: AudienceOutputs = {
      scoreRunId: scoreRun.runId,
      modelName: scores.modelName,
      modelVersion: scores.modelVersion,
      scoresDatasetId: scores.scoresDatasetId,
      definitionId: definition.id,
      summary,
    };
    deps.log.info('Scores summarized', { scoreRunId: scoreRun.runId, scores: summary.count, inBand: summary.band.count, low: band.low, high: band.high });

    if (!(await scoresIngested(deps.ledger, scoreRun.runId))) {
      return {
        status: 'skipped',
        reason: `The scores of run ${scoreRun.runId} are not confirmed on the profiles yet (no ingestion check has confirmed them); a later run starts the segment job`,
        inputs,
        outputs,
      };
    }

    const confirmation = await deps.ledger.newest('ingestion-check', (r) => r.outputs?.confirmed?.some((c) => c.scoreRunId === scoreRun.runId) ?? false);
    // A check confirms scores that were on the profiles by the time it finished; older checks lack the list.
    const ingestedBy = Date.parse(confirmation?.finishedAt ?? scoreRun.finishedAt);
    const recentJobs = await deps.aep.segmentation.recentJobs({ limit: RECENT_JOBS });
    const scheduled = recentJobs.find(
      (j) => j.source === 'scheduler' && j.status === 'SUCCEEDED' && (j.creationTime ?? 0) >= ingestedBy && (j.segments ?? []).some((s) => s.segmentId === definition.id),
    );

    let job: SegmentJob;
    if (scheduled) {
      job = scheduled;
      outputs.segmentJobSource = 'scheduled';
    } else {
      const resumed = partial?.segmentJobId && partial.segmentJobSource !== 'scheduled' && partial.definitionId === definition.id ? await deps.aep.segmentation.getJob(partial.segmentJobId) : undefined;
      if (resumed && resumed.status !== 'FAILED' && resumed.status !== 'CANCELLED') {
        job = resumed;
      } else if (options.onDemand) {
        const sandboxType = recentJobs.find((j) => typeof j.sandbox?.type === 'string')?.sandbox?.type;
        await spendOnDemandBudget(deps, options.onDemandBudget, sandboxType, { definitionId: definition.id, scoreRunId: scoreRun.runId });
        job = await deps.aep.segmentation.createJob([definition.id]);
        deps.log.info('On-demand segment job started', { jobId: job.id, definitionId: definition.id });
      } else {
        return {
          status: 'skipped',
          reason:
            `AEP's scheduled segmentation has not evaluated "${definition.name}" since the scores of run ${scoreRun.runId} were ingested ` +
            `(by ${new Date(ingestedBy).toISOString()}); a later run records the count of its next daily job (or invoke the stage with {"onDemand": true})`,
          inputs,
          outputs,
        };
      }
      outputs.segmentJobSource = 'on-demand';
      outputs.segmentJobId = job.id;
      job = await deps.aep.segmentation.pollJob(job.id, { clock: deps.clock, budgetMs: options.jobWaitBudgetMs, pollIntervalMs: options.pollIntervalMs });
    }
    outputs.segmentJobId = job.id;
    if (job.status === 'FAILED' || job.status === 'CANCELLED') throw segmentJobFailure(job);
    if (job.status !== 'SUCCEEDED') {
      return {
        status: 'skipped',
        reason: `Segment job ${job.id} is still ${job.status} after ${Math.round(options.jobWaitBudgetMs / 1000)} s; a later run records its count`,
        inputs,
        outputs,
      };
    }
    const qualified = job.metrics?.segmentedProfileCounter?.[definition.id];
    if (typeof qualified !== 'number') {
      throw new AepError(`Segment job ${job.id} succeeded without a count for segment definition ${definition.id}`, { kind: 'failed-operation' });
    }
    outputs.qualifiedProfiles = qualified;
    if (typeof job.metrics?.totalProfiles === 'number') outputs.totalProfiles = job.metrics.totalProfiles;
    deps.log.info('Audience evaluated', { definitionId: definition.id, jobId: job.id, source: outputs.segmentJobSource, qualifiedProfiles: qualified, scoredInBand: summary.band.count });
    return { inputs, outputs };
  });
}

/**
 * Records one on-demand segment job in the ledger (`on-demand-segment-job`), before it is requested, so
 * a crash after the request still counts; refuses it beyond the budget. Reads only the past year's
 * records, of which the budget allows at most `perYear`.
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
  const spent = (await deps.ledger.after('on-demand-segment-job', newRunId(new Date(now.getTime() - YEAR_MS)))).map((r) => Date.parse(r.startedAt));
  const today = spent.filter((t) => t > now.getTime() - DAY_MS);
  const refuse = (what: string, oldest: number, window: number) =>
    new OnDemandBudgetError(
      `On-demand segment job refused: ${what}. The next one is allowed after ${new Date(oldest + window).toISOString()}; ` +
        "until then the audience stage reads AEP's daily scheduled segmentation",
    );
  if (today.length >= perDay) throw refuse(`${today.length} already started in the last 24 hours, the budget allows ${perDay} a day`, Math.min(...today), DAY_MS);
  if (spent.length >= perYear) throw refuse(`${spent.length} already started in the last 365 days, the budget allows ${perYear} a year`, Math.min(...spent), YEAR_MS);
  const at = now.toISOString();
  await deps.ledger.record({ stage: 'on-demand-segment-job', runId: newRunId(now), startedAt: at, finishedAt: at, status: 'succeeded', outputs: spend });
  deps.log.info('On-demand segment job budget spent', { today: today.length + 1, perDay, year: spent.length + 1, perYear });
}
