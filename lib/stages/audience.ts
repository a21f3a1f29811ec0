import { parse } from 'csv-parse';
import type { AepRestServices, SegmentDefinition } from '../aep';
import { AepError } from '../aep/errors';
import { segmentJobFailure } from '../aep/services/segmentation';
import { AudienceInputError, propensityBandPql, ScoreSummaryAccumulator, validateBand, type PropensityBand, type ScoreSummary } from '../audience';
import type { RunLedger, RunRecord } from '../ledger/run-ledger';
import type { Clock } from '../ports/clock';
import type { Log } from '../ports/logger';
import type { ObjectStore } from '../ports/object-store';
import { scoresIngested } from './ingestion-check';
import type { ScoreOutputs } from './score';

/**
 * Audience (notebook week 5): after new scores, summarizes them (20-bucket histogram, reach at or above
 * and below each threshold 0, 0.05, ..., 1, the reach of the configured band) and, once AEP has taken
 * them onto the profiles, runs a segment job for the audience's definition and records how many
 * profiles qualified.
 */

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
}

export interface AudienceOutputs {
  scoreRunId: string;
  modelName: string;
  modelVersion: string;
  scoresDatasetId: string;
  definitionId: string;
  summary: ScoreSummary;
  /** Set once a segment job was started for these scores. */
  segmentJobId?: string;
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

    let job = partial?.segmentJobId && partial.definitionId === definition.id ? await deps.aep.segmentation.getJob(partial.segmentJobId) : undefined;
    if (!job || job.status === 'FAILED' || job.status === 'CANCELLED') {
      job = await deps.aep.segmentation.createJob([definition.id]);
      deps.log.info('Segment job started', { jobId: job.id, definitionId: definition.id });
    }
    outputs.segmentJobId = job.id;
    job = await deps.aep.segmentation.pollJob(job.id, { clock: deps.clock, budgetMs: options.jobWaitBudgetMs, pollIntervalMs: options.pollIntervalMs });
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
    deps.log.info('Audience evaluated', { definitionId: definition.id, jobId: job.id, qualifiedProfiles: qualified, scoredInBand: summary.band.count });
    return { inputs, outputs };
  });
}
