/**
 * Dataset export runs. A run exports one dataset of a flow to the flow's target connection (see
 * dataset-export.ts): queued -> inProgress -> success | failed, with `metrics` (durationSummary,
 * sizeSummary, recordSummary, fileSummary with the manifest of written files, statusSummary) and
 * `status` `{ value, errors }`. Files land at `<path>/<datasetId>/exportTime=<UTC YYYYMMDDHHMMSS>/` as
 * `part-00000-<uuid>.parquet` (`.json`, `.json.gz`), a new part every `exportRowsPerFile` rows; no two
 * runs share a folder; an empty dataset makes a successful run without files; a failed run leaves no file.
 *
 * The first run of a flow and dataset exports the whole dataset; later runs export only the snapshots
 * that came after (FIRST_FULL_THEN_INCREMENTAL, the default), except that every run of a
 * DAILY_FULL_EXPORT dataflow exports the whole dataset. The schedule of a dataflow is validated and
 * stored but never fires here: ad hoc runs (activation.ts) are how the embedded platform exports.
 */
import type { PGlite } from '@electric-sql/pglite';
import type { JobRunner } from '../batch-ingestion';
import type { Catalog } from '../catalog';
import { exportTable } from '../dataset-export';
import { uuid } from '../ids';
import { normalizedPath } from './destinations';
import { etag, EXPORT_SPECS, ExportRun, Flow, FlowStore, TargetParams } from './model';
import type { ObjectStore, ObjectStoreAccess } from './object-store';

export interface ExportSettings {
  objectStore?: ObjectStoreAccess | undefined;
  /** A dataset (or dataflow) younger than this is "not ready for dataset export". */
  exportReadyAfterMs: number;
  /** How long a run stays queued before it starts. */
  exportRunDelayMs: number;
  /** A part file holds at most this many rows. */
  exportRowsPerFile: number;
}

/** `YYYYMMDDHHMMSS` in UTC. */
export function exportTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** A failure the run reports with its own error code, rather than the generic one. */
class RunFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class ExportRunner {
  private readonly lastExportSecond = new Map<string, number>();
  /** Per flow and dataset, the newest snapshot exported: later runs export only what came after (FIRST_FULL_THEN_INCREMENTAL). */
  private readonly exportedUpTo = new Map<string, number>();

  constructor(
    private readonly store: FlowStore,
    private readonly db: PGlite,
    private readonly catalog: Catalog,
    private readonly jobs: JobRunner,
    private readonly settings: ExportSettings,
    private readonly objectStore: ObjectStore,
  ) {}

  /** The datasets a flow exports (from its source connections). */
  flowDatasets(flow: Flow): string[] {
    const out: string[] = [];
    for (const id of flow.sourceConnectionIds) {
      for (const d of this.store.sourceConnections.get(id)?.params.datasets ?? []) if (!out.includes(d.dataSetId)) out.push(d.dataSetId);
    }
    return out;
  }

  /** The run of this flow and dataset that is queued or in progress, if any. */
  activeRun(flowId: string, datasetId: string): ExportRun | undefined {
    return [...this.store.runs.values()].find((r) => r.flowId === flowId && r.datasetId === datasetId && (r.state === 'queued' || r.state === 'inProgress'));
  }

  /** Queues a run exporting `datasetId` through `flow` to each of its target connections; returns them. */
  start(flow: Flow, datasetId: string): ExportRun[] {
    return flow.targetConnectionIds.map((targetConnectionId) => {
      const now = this.store.stamp();
      const run: ExportRun = {
        id: uuid(),
        flowId: flow.id,
        datasetId,
        targetConnectionId,
        createdAt: now,
        updatedAt: now,
        etag: etag(),
        state: 'queued',
        files: [],
        errors: [],
      };
      this.store.runs.set(run.id, run);
      flow.lastRunId = run.id;
      this.jobs.run(`export run ${run.id}`, () => this.execute(run));
      return run;
    });
  }

  /** A folder time unique for the dataset's folder, so two runs never share a folder. */
  private exportTime(key: string, now: number): string {
    const second = Math.max(Math.floor(now / 1000), (this.lastExportSecond.get(key) ?? 0) + 1);
    this.lastExportSecond.set(key, second);
    return exportTimestamp(second * 1000);
  }

  private async execute(run: ExportRun): Promise<void> {
    const touch = () => {
      run.updatedAt = this.store.ctx.clock.now().getTime();
      run.etag = etag();
    };
    await (this.settings.exportRunDelayMs > 0 ? this.store.ctx.clock.sleep(this.settings.exportRunDelayMs) : Promise.resolve());
    run.state = 'inProgress';
    run.startedAt = this.store.ctx.clock.now().getTime();
    touch();
    try {
      const target = this.store.targetConnections.get(run.targetConnectionId);
      if (!target || target.connectionSpec.id !== EXPORT_SPECS.s3Destination) throw new RunFailure('EXPORT-1004-404', `Target connection '${run.targetConnectionId}' no longer exists`);
      const params = target.params as TargetParams;
      const dataset = this.catalog.datasets.get(run.datasetId);
      if (!dataset) throw new RunFailure('EXPORT-1002-404', `Dataset '${run.datasetId}' no longer exists`);
      const s3 = this.objectStore.client();
      if (!s3) throw new RunFailure('EXPORT-1003-500', 'The AEP stand-in has no object store to write to (AepStandInOptions.objectStore)');
      const prefix = normalizedPath(params.path);
      const datasetFolder = `${prefix === '' ? '' : `${prefix}/`}${run.datasetId}/`;
      run.folder = `${datasetFolder}exportTime=${this.exportTime(`${params.bucketName}/${datasetFolder}`, run.startedAt)}/`;
      const flow = this.store.flows.get(run.flowId);
      const incremental = flow?.scheduleParams.exportMode !== 'DAILY_FULL_EXPORT';
      const progressKey = `${run.flowId}/${run.datasetId}`;
      const outcome = await exportTable(this.db, dataset.table, {
        s3,
        bucket: params.bucketName,
        folder: run.folder,
        fileType: params.datasetFileType,
        compression: params.compression,
        rowsPerFile: this.settings.exportRowsPerFile,
        fileId: uuid(),
        afterSnapshot: incremental ? this.exportedUpTo.get(progressKey) : undefined,
      });
      if (incremental && outcome.lastSnapshot !== undefined) this.exportedUpTo.set(progressKey, outcome.lastSnapshot);
      run.inputRecords = outcome.records;
      run.outputRecords = outcome.records;
      run.inputBytes = outcome.inputBytes;
      run.files = outcome.files;
      run.state = 'success';
    } catch (err) {
      const e = err as Error & { name?: string; Code?: string };
      const code = err instanceof RunFailure ? err.code : 'EXPORT-1001-500';
      const cause = e.name && e.name !== 'Error' && !(err instanceof RunFailure) ? `${e.name}: ` : '';
      run.errors = [{ code, message: `The export of dataset '${run.datasetId}' failed: ${cause}${e.message}` }];
      run.inputRecords = run.inputRecords ?? 0;
      run.outputRecords = 0;
      run.files = [];
      run.state = 'failed';
    } finally {
      run.completedAt = this.store.ctx.clock.now().getTime();
      touch();
    }
  }
}
