import type { AepRestServices } from '../aep';
import { AepError } from '../aep/errors';
import { ensureExportDataflow, type ExportDataflowOptions } from '../dataflows/export-dataflow';
import { trainingColumns, scoringColumns, type FeatureSpec } from '../features/spec';
import { runIdFloor, type RunLedger, type RunRecord } from '../ledger/run-ledger';
import type { Clock } from '../ports/clock';
import type { Log } from '../ports/logger';
import type { ObjectStore } from '../ports/object-store';
import { exportFolders, inspectExportFolder, verifyExport, type ExportedFolder } from './export-files';

export interface ExportOptions extends Omit<ExportDataflowOptions, 'datasetIds' | 'path' | 'startTime'> {
  /** The bucket's egress prefix, e.g. `egress/`. */
  egressPrefix: string;
  spec: FeatureSpec;
  /** How long this run waits for AEP to write the files; past it the run is recorded pending and the next one checks. */
  waitBudgetMs: number;
  pollIntervalMs: number;
}

export interface ExportDeps {
  aep: AepRestServices;
  store: ObjectStore;
  ledger: RunLedger;
  clock: Clock;
  log: Log;
}

/** How many of the newest featurize runs not yet exported one export takes at most. */
const PENDING_FEATURIZE_RUNS = 50;
const DAY_MS = 24 * 60 * 60 * 1000;

/** What an export run hands the training and scoring stages through the ledger. */
export interface ExportOutputs {
  featurizeRunId: string;
  flowId: string;
  training: { datasetId: string; folder: string; rows: number; files: string[] };
  scoring: { datasetId: string; folder: string; rows: number; files: string[] };
}

/**
 * Export (notebook week 2): once the newest featurization's queries have succeeded, runs the
 * dataset-export dataflow at once (ad hoc), waits for AEP to write the parquet files under
 * `egress/<datasetId>/exportTime=<ts>/`, verifies them (readable, expected columns, the training rows the
 * query produced) and records them. "Not ready, retry in 10 minutes" and "a run already exists" are
 * recorded as skipped: the next scheduled run continues.
 */
export async function exportFeatures(deps: ExportDeps, options: ExportOptions): Promise<RunRecord<'export'>> {
  return deps.ledger.run('export', async () => {
    // Every featurization since the last export goes out in this one: the export is incremental, so
    // its files hold the rows of all of them (an export can be skipped while featurize runs again).
    // The last export names the featurization it took, so only the featurize runs after it are read.
    const lastExport = await deps.ledger.newest('export', (r) => r.status === 'succeeded');
    const lastExported = lastExport?.outputs?.featurizeRunId;
    const pending = (await deps.ledger.after('featurize', lastExported ?? '', PENDING_FEATURIZE_RUNS)).filter((r) => r.status === 'succeeded');
    const featurizeRun = pending[0];
    if (featurizeRun === undefined) {
      return { status: 'skipped', reason: lastExported ? `Featurization ${lastExported} is already exported; nothing newer` : 'No featurization to export yet' };
    }
    const features = featurizeRun.outputs;
    const inputs = { featurizeRunIds: pending.map((r) => r.runId), trainingQueryId: features.trainingQueryId, scoringQueryId: features.scoringQueryId };

    const expected = { training: 0, scoring: 0 };
    for (const run of pending) {
      const [training, scoring] = await Promise.all([deps.aep.queryService.get(run.outputs.trainingQueryId), deps.aep.queryService.get(run.outputs.scoringQueryId)]);
      for (const query of [training, scoring]) {
        if (['SUBMITTED', 'IN_PROGRESS'].includes(query.state)) {
          return { status: 'skipped', reason: `Featurization query ${query.id} is ${query.state}`, inputs };
        }
      }
      if (training.state === 'SUCCESS' && scoring.state === 'SUCCESS') {
        expected.training += training.rowCount ?? 0;
        expected.scoring += scoring.rowCount ?? 0;
      } else if (run === featurizeRun) {
        // An older failed featurization was redone by a newer one; the newest failing means nothing to export.
        const failed = training.state === 'SUCCESS' ? scoring : training;
        const reason = (failed.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(' ')).join('; ');
        throw new AepError(`Featurization query ${failed.id} ended ${failed.state}${reason ? `: ${reason}` : ''}; nothing is exported`, {
          kind: 'failed-operation',
        });
      }
    }

    const trainingDataset = await deps.aep.catalog.findDataset(features.trainingTable);
    const scoringDataset = await deps.aep.catalog.findDataset(features.scoringTable);
    if (!trainingDataset || !scoringDataset) {
      throw new AepError(`The feature datasets ${features.trainingTable} and ${features.scoringTable} are not both in Catalog`, { kind: 'not-found' });
    }
    const flow = await ensureExportDataflow(deps.aep, {
      ...options,
      path: options.egressPrefix.replace(/\/$/, ''),
      datasetIds: [trainingDataset.id, scoringDataset.id],
      startTime: deps.clock.now(),
    });
    // Files written after the featurization finished, and not claimed by an earlier export, belong to
    // it; they may come from an earlier run of this stage that started the export and ran out of time.
    // Export times have one-second resolution, so the claimed folders matter when runs come quickly.
    const since = featurizeRun.finishedAt.replace(/[-:T]/g, '').slice(0, 14);
    // An export that claimed a folder written since then saw it before it finished, so it started at
    // most its function's timeout before: a day before is enough, however many exports came earlier.
    const earlierExports = (await deps.ledger.after('export', runIdFloor(new Date(Date.parse(featurizeRun.finishedAt) - DAY_MS)))).filter((r) => r.status === 'succeeded');
    const claimed = new Set(earlierExports.flatMap((r) => [r.outputs.training?.folder, r.outputs.scoring?.folder]));
    const newestFolder = async (datasetId: string) =>
      (await exportFolders(deps.store, options.egressPrefix, datasetId))
        .filter((f) => !claimed.has(f) && (/exportTime=(\d{14})\/$/.exec(f)?.[1] ?? '') >= since)
        .pop();
    const written = async () => ({ training: await newestFolder(trainingDataset.id), scoring: await newestFolder(scoringDataset.id) });

    let folders = await written();
    if (!folders.training || !folders.scoring) {
      const outcome = await deps.aep.activation.runDatasetExport(flow.flowId, [trainingDataset.id, scoringDataset.id]);
      if (outcome.kind === 'not-ready') {
        return { status: 'skipped', reason: `AEP is not ready to export: ${outcome.message}`, inputs: { ...inputs, flowId: flow.flowId } };
      }
      const deadline = deps.clock.now().getTime() + options.waitBudgetMs;
      while ((!folders.training || !folders.scoring) && deps.clock.now().getTime() < deadline) {
        await deps.clock.sleep(options.pollIntervalMs);
        folders = await written();
      }
      if (!folders.training || !folders.scoring) {
        return {
          status: 'skipped',
          reason: `The export of flow ${flow.flowId} is under way (${outcome.kind}); the next run verifies its files`,
          inputs: { ...inputs, flowId: flow.flowId },
        };
      }
    }
    const trainingFolder = folders.training;
    const scoringFolder = folders.scoring;

    const training = await inspectExportFolder(deps.store, trainingFolder);
    const scoring = await inspectExportFolder(deps.store, scoringFolder);
    verifyExport(training, { rows: expected.training, columns: trainingColumns(options.spec) });
    verifyExport(scoring, { rows: expected.scoring, columns: scoringColumns(options.spec) });
    const summary = (datasetId: string, folder: ExportedFolder) => ({ datasetId, folder: folder.prefix, rows: folder.rows, files: folder.files.map((f) => f.key) });
    const outputs: ExportOutputs = {
      featurizeRunId: featurizeRun.runId,
      flowId: flow.flowId,
      training: summary(trainingDataset.id, training),
      scoring: summary(scoringDataset.id, scoring),
    };
    deps.log.info('Features exported', { trainingRows: training.rows, scoringRows: scoring.rows, flowId: flow.flowId });
    return { inputs, outputs };
  });
}
