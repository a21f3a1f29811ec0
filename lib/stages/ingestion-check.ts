import type { AepRestServices } from '../aep';
import { AepError } from '../aep/errors';
import type { FlowRun } from '../aep/services/flow-service';
import type { RunLedger, RunRecord } from '../ledger/run-ledger';
import type { Clock } from '../ports/clock';
import type { Log } from '../ports/logger';

export interface IngestionCheckDeps {
  aep: AepRestServices;
  ledger: RunLedger;
  clock: Clock;
  log: Log;
}

export interface IngestionCheckOptions {
  /** The CloudStorageToAEP dataflow that ingests the score files (the provisioner's `ingestionFlowId`). */
  flowId: string;
  /** How many of the newest score runs after the confirmed watermark to look at. @default 50 */
  lookback?: number;
}

/** Score files AEP has ingested, every row of them. */
export interface ConfirmedScores {
  scoreRunId: string;
  folder: string;
  rows: number;
  /** The flow runs that ingested the files. */
  flowRunIds: string[];
}

export interface IngestionCheckOutputs {
  flowId: string;
  /** What this check confirmed. */
  confirmed: ConfirmedScores[];
  /** Score runs whose files are not (all) ingested yet; the next check looks again. */
  pending: Array<{ scoreRunId: string; folder: string; reason: string }>;
  /**
   * Every check carries what all checks so far confirmed, so the next one reads only the newest record,
   * however many checks ran before: every score run up to this id is confirmed ('' for none) ...
   */
  confirmedThrough: string;
  /** ... and so are these later ones, confirmed while an earlier one was still pending. */
  alsoConfirmed: string[];
}

/** What the checks so far have confirmed, from the newest check that recorded it. */
export async function confirmedScores(ledger: RunLedger): Promise<{ through: string; also: Set<string> }> {
  // Checks recorded before checks carried the watermark have no confirmedThrough.
  const last = await ledger.newest('ingestion-check', (r) => typeof r.outputs?.confirmedThrough === 'string');
  const outputs = last?.outputs;
  return { through: outputs?.confirmedThrough ?? '', also: new Set(outputs?.alsoConfirmed ?? []) };
}

/** Whether the ingestion checks have confirmed a score run's rows in the scores dataset. */
export async function scoresIngested(ledger: RunLedger, scoreRunId: string): Promise<boolean> {
  const { through, also } = await confirmedScores(ledger);
  return scoreRunId <= through || also.has(scoreRunId);
}

/** The flow run's state: Flow Service gives it as `status.value`, and in `metrics.statusSummary.status`. */
function runState(run: FlowRun): string {
  const summary = (run.metrics?.statusSummary as { status?: string } | undefined)?.status;
  return String(run.status?.value ?? summary ?? 'unknown');
}

interface FileInfo {
  path?: string;
  recordCount?: number;
}

function fileInfos(run: FlowRun): FileInfo[] {
  const manifest = (run.metrics?.fileSummary as { manifest?: { fileInfo?: FileInfo[] } } | undefined)?.manifest;
  return Array.isArray(manifest?.fileInfo) ? manifest.fileInfo : [];
}

/** Whether a file of a run's manifest (`<bucket>/<key>`, or the key) is the object `key`. */
function isFile(info: FileInfo, key: string): boolean {
  const path = (info.path ?? '').replace(/^\/+/, '');
  return path === key || path.endsWith(`/${key}`);
}

function runErrors(run: FlowRun): string {
  return (run.status?.errors ?? [])
    .map((e) => [e.code, e.message].filter(Boolean).join(' '))
    .filter((e) => e !== '')
    .join('; ');
}

/**
 * The ingestion check: confirms that AEP ingested every score run's files, all of their rows. For
 * each succeeded score run no earlier check confirmed, it finds the runs of the ingestion dataflow
 * that took the run's files (from the files each flow run lists) and requires that they succeeded and
 * that the records they wrote from those files add up to the rows the score run wrote.
 *
 * A failed flow run, or a count that differs, fails the check with an error naming the flow run, the
 * folder and both counts (the Lambda's failure raises its error alarm). Files no flow run has taken
 * yet make the check `skipped`: AEP runs the flow every 15 minutes, and the next check looks again.
 */
export async function checkIngestion(deps: IngestionCheckDeps, options: IngestionCheckOptions): Promise<RunRecord<'ingestion-check'>> {
  return deps.ledger.run('ingestion-check', async () => {
    const confirmedSoFar = await confirmedScores(deps.ledger);
    // Score runs up to the watermark are confirmed: only those after it are read.
    const succeededScoreRuns = (await deps.ledger.after('score', confirmedSoFar.through, options.lookback ?? 50)).filter((r) => r.status === 'succeeded').reverse();
    const scoreRuns = succeededScoreRuns.filter((r) => r.runId > confirmedSoFar.through && !confirmedSoFar.also.has(r.runId));
    const outputs: IngestionCheckOutputs = {
      flowId: options.flowId,
      confirmed: [],
      pending: [],
      confirmedThrough: confirmedSoFar.through,
      alsoConfirmed: [...confirmedSoFar.also],
    };
    // A score run that died while publishing has parts in the watched folder that AEP may be ingesting
    // already; the next score run finishes it, and this check confirms it once it is recorded.
    for (const stored of await deps.ledger.intents('score')) {
      const folder = (stored.outputs as { folder?: unknown } | undefined)?.folder;
      outputs.pending.push({ scoreRunId: stored.runId, folder: typeof folder === 'string' ? folder : '(unknown)', reason: 'stopped while publishing; the next score run finishes it' });
    }
    if (scoreRuns.length === 0) {
      const reason = ['No score run awaits confirmation of its ingestion', ...outputs.pending.map((p) => `${p.folder}: ${p.reason}`)].join('; ');
      return { status: 'skipped', reason, outputs };
    }

    const flowRuns = await deps.aep.flowService.runsOf(options.flowId);
    const failures: string[] = [];
    for (const scoreRun of scoreRuns) {
      // Checked, not trusted: a record written by hand, or by another version, may lack them.
      const scores = scoreRun.outputs;
      if (!scores || !Array.isArray(scores.files) || typeof scores.rows !== 'number' || typeof scores.folder !== 'string') {
        failures.push(`Score run ${scoreRun.runId} records no files, folder and rows; its ingestion cannot be checked`);
        continue;
      }
      const covering = flowRuns.filter((run) => fileInfos(run).some((info) => scores.files.some((key) => isFile(info, key))));
      const where = `score run ${scoreRun.runId} (folder ${scores.folder}, ${scores.rows} rows)`;
      const failed = covering.filter((run) => runState(run) === 'failed');
      if (failed.length > 0) {
        for (const run of failed) {
          const why = runErrors(run);
          failures.push(`Ingestion flow run ${run.id} of flow ${options.flowId} failed on the files of ${where}${why ? `: ${why}` : ''}`);
        }
        continue;
      }
      const unfinished = covering.filter((run) => runState(run) !== 'success');
      const taken = scores.files.filter((key) => covering.some((run) => fileInfos(run).some((info) => isFile(info, key))));
      if (covering.length === 0 || unfinished.length > 0 || taken.length < scores.files.length) {
        const reason =
          covering.length === 0
            ? `not picked up yet by flow ${options.flowId}`
            : unfinished.length > 0
              ? `flow run ${unfinished.map((r) => r.id).join(', ')} is ${unfinished.map(runState).join(', ')}`
              : `${taken.length} of ${scores.files.length} files picked up so far`;
        outputs.pending.push({ scoreRunId: scoreRun.runId, folder: scores.folder, reason });
        continue;
      }
      let ingested = 0;
      for (const run of covering) {
        for (const info of fileInfos(run)) {
          if (!scores.files.some((key) => isFile(info, key))) continue;
          if (typeof info.recordCount !== 'number') {
            throw new AepError(`Ingestion flow run ${run.id} lists the files it took without their record counts; the check cannot attribute its records to ${where}`, {
              kind: 'failed-operation',
            });
          }
          ingested += info.recordCount;
        }
      }
      if (ingested !== scores.rows) {
        failures.push(
          `Ingestion flow run ${covering.map((r) => r.id).join(', ')} of flow ${options.flowId} ingested ${ingested} records from folder ${scores.folder}, ` +
            `but score run ${scoreRun.runId} wrote ${scores.rows} rows`,
        );
        continue;
      }
      outputs.confirmed.push({ scoreRunId: scoreRun.runId, folder: scores.folder, rows: scores.rows, flowRunIds: covering.map((r) => r.id) });
    }
    const inputs = { flowId: options.flowId, scoreRunIds: scoreRuns.map((r) => r.runId) };
    if (failures.length > 0) {
      deps.log.error('Score ingestion failed', { flowId: options.flowId, failures });
      throw new AepError(failures.join('\n'), { kind: 'failed-operation' });
    }
    for (const c of outputs.confirmed) deps.log.info('Scores ingested', { ...c });
    // Move the watermark over every score run, oldest first, that is now confirmed.
    const also = new Set([...confirmedSoFar.also, ...outputs.confirmed.map((c) => c.scoreRunId)]);
    let through = confirmedSoFar.through;
    for (const run of succeededScoreRuns) {
      if (run.runId <= through) continue;
      if (!also.delete(run.runId)) break;
      through = run.runId;
    }
    outputs.confirmedThrough = through;
    outputs.alsoConfirmed = [...also].sort();
    if (outputs.confirmed.length === 0) {
      return { status: 'skipped', reason: outputs.pending.map((p) => `${p.folder}: ${p.reason}`).join('; '), inputs, outputs };
    }
    return { inputs, outputs };
  });
}
