import type { AepRestServices } from '../aep';
import { AepError } from '../aep/errors';
import { ensureExportDataflow, type ExportDataflowOptions } from '../dataflows/export-dataflow';
import { trainingColumns, scoringColumns, type FeatureSpec } from '../features/spec';
import type { RunLedger, RunRecord } from '../ledger/run-ledger';
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

/** One feature dataset's part of an export: the folders AEP wrote for it, oldest first. */
export interface ExportedDataset {
  datasetId: string;
  /**
   * The newest folder taken, by this export or (when AEP had no new rows for the dataset) an earlier
   * one; the next export takes the folders after it. Empty when none was ever written.
   */
  folder: string;
  /** Every folder taken, oldest first (older records hold only `folder`). */
  folders?: string[];
  rows: number;
  files: string[];
}

/** What an export run hands the training and scoring stages through the ledger. */
export interface ExportOutputs {
  featurizeRunId: string;
  flowId: string;
  training: ExportedDataset;
  scoring: ExportedDataset;
}

/**
 * Export (notebook week 2): once the newest featurization's queries have succeeded, runs the
 * dataset-export dataflow at once (ad hoc), waits for AEP to write the parquet files under
 * `egress/<datasetId>/exportTime=<ts>/`, verifies them (readable, expected columns, the rows the
 * queries produced) and records them. Folders AEP wrote for a run of this stage that died or ran out
 * of time are taken over by the next run, with those written since. "Not ready, retry in 10 minutes"
 * and "a run already exists" are recorded as skipped: the next scheduled run continues.
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
      if (run === featurizeRun && (training.state !== 'SUCCESS' || scoring.state !== 'SUCCESS')) {
        // An older failed featurization was redone by a newer one; the newest failing means nothing to export.
        const failed = training.state === 'SUCCESS' ? scoring : training;
        const reason = (failed.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(' ')).join('; ');
        throw new AepError(`Featurization query ${failed.id} ended ${failed.state}${reason ? `: ${reason}` : ''}; nothing is exported`, {
          kind: 'failed-operation',
        });
      }
      // A query that succeeded wrote its rows even when its sibling failed and a newer run redid the range.
      if (training.state === 'SUCCESS') expected.training += training.rowCount ?? 0;
      if (scoring.state === 'SUCCESS') expected.scoring += scoring.rowCount ?? 0;
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
    // AEP's export is incremental: each of its runs writes a new folder per dataset holding the rows added
    // since its previous run. So the folders after the newest one the last recorded export took hold the
    // pending featurizations' rows, including any written by a run of this stage that died (or ran out of
    // time) after starting an export: the folders in the bucket are the record of what AEP has done.
    const takenUpTo = (side: 'training' | 'scoring', datasetId: string) => {
      const taken = lastExport?.outputs?.[side];
      return taken?.datasetId === datasetId ? taken.folder : undefined;
    };
    const untaken = async (side: 'training' | 'scoring', datasetId: string) => {
      const after = takenUpTo(side, datasetId);
      return (await exportFolders(deps.store, options.egressPrefix, datasetId)).filter((f) => after === undefined || f > after);
    };
    const inspectUntaken = async () => ({
      training: await Promise.all((await untaken('training', trainingDataset.id)).map((f) => inspectExportFolder(deps.store, f))),
      scoring: await Promise.all((await untaken('scoring', scoringDataset.id)).map((f) => inspectExportFolder(deps.store, f))),
    });
    const rowsIn = (folders: readonly ExportedFolder[]) => folders.reduce((n, f) => n + f.rows, 0);

    // Done once the folders hold every pending row (a dataset with no new rows gets no folder).
    const complete = (now: { training: ExportedFolder[]; scoring: ExportedFolder[] }) =>
      rowsIn(now.training) >= expected.training && rowsIn(now.scoring) >= expected.scoring;
    let exported = await inspectUntaken();
    const adopted = [...exported.training, ...exported.scoring].map((f) => f.prefix);
    if (!complete(exported)) {
      const outcome = await deps.aep.activation.runDatasetExport(flow.flowId, [trainingDataset.id, scoringDataset.id]);
      if (outcome.kind === 'not-ready') {
        return { status: 'skipped', reason: `AEP is not ready to export: ${outcome.message}`, inputs: { ...inputs, flowId: flow.flowId } };
      }
      const deadline = deps.clock.now().getTime() + options.waitBudgetMs;
      while (!complete(exported) && deps.clock.now().getTime() < deadline) {
        await deps.clock.sleep(options.pollIntervalMs);
        exported = await inspectUntaken();
      }
      if (!complete(exported)) {
        return {
          status: 'skipped',
          reason: `The export of flow ${flow.flowId} is under way (${outcome.kind}); the next run verifies its files`,
          inputs: { ...inputs, flowId: flow.flowId },
        };
      }
    }
    if (adopted.length > 0) {
      deps.log.warn('Took over export folders that no recorded export took (from a run that stopped or ran out of time)', { folders: adopted });
    }

    verifyExport(exported.training, { rows: expected.training, columns: trainingColumns(options.spec) });
    verifyExport(exported.scoring, { rows: expected.scoring, columns: scoringColumns(options.spec) });
    const summary = (side: 'training' | 'scoring', datasetId: string, folders: ExportedFolder[]): ExportedDataset => ({
      datasetId,
      folder: folders[folders.length - 1]?.prefix ?? takenUpTo(side, datasetId) ?? '',
      folders: folders.map((f) => f.prefix),
      rows: rowsIn(folders),
      files: folders.flatMap((f) => f.files.map((file) => file.key)),
    });
    const outputs: ExportOutputs = {
      featurizeRunId: featurizeRun.runId,
      flowId: flow.flowId,
      training: summary('training', trainingDataset.id, exported.training),
      scoring: summary('scoring', scoringDataset.id, exported.scoring),
    };
    deps.log.info('Features exported', { trainingRows: outputs.training.rows, scoringRows: outputs.scoring.rows, flowId: flow.flowId });
    return { inputs, outputs };
  });
}
