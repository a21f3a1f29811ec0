/**
 * Flow Service stand-in (`/data/foundation/flowservice`, destinations.yaml and flow-service.yaml) for
 * destinations and sources:
 * - the dataset export to Amazon S3 (destinations.ts) and the dataflow runs that export (export-runs.ts);
 * - the ingestion from Amazon S3 (sources.ts), whose runs start on the stand-in's own timer
 *   (ingestion-runs.ts);
 * - the API over both (records.ts), rendering runs of either kind alike (runs.ts): lists take
 *   `property` filters (`name==…`, `flowId==…`, `connectionSpec.id==…`, several AND-ed), `orderby`
 *   (default `-createdAt`: newest first), `limit` (at most 100, the default) and `continuationToken`,
 *   given back in `_links.next.href` while more items follow; `count=true` adds the number of matching
 *   items. GET by id answers `{ items: [item] }`. DELETE honours `If-Match` (the etag, quotes included,
 *   or `*`): another value is 412. Names need not be unique, as in AEP.
 */
import type { PGlite } from '@electric-sql/pglite';
import type { TimedWork } from '../../time/timed-work';
import type { JobRunner } from '../batch-ingestion';
import type { Catalog } from '../catalog';
import type { Router } from '../http';
import type { IngestionRun } from '../source-ingestion';
import { Destinations } from './destinations';
import { ExportRunner, type ExportSettings } from './export-runs';
import { IngestionRunner, type IngestionSettings } from './ingestion-runs';
import { ExportRun, Flow, FLOW_BASE, FlowServiceContext, FlowStore } from './model';
import { ObjectStore } from './object-store';
import { FlowRecords } from './records';
import { renderExportRun } from './runs';
import { Sources } from './sources';

export { normalizedPath, validateSchedule } from './destinations';
export { exportTimestamp, type ExportSettings } from './export-runs';
export type { IngestionSettings } from './ingestion-runs';
export {
  EXPORT_SPECS,
  FLOW_BASE,
  S3_ACCESS_KEY_AUTH,
  S3_ROLE_AUTH,
  type ExportRun,
  type Flow,
  type FlowServiceContext,
  type RunError,
  type RunState,
  type TargetParams,
} from './model';
export type { ObjectStoreAccess } from './object-store';
export { validateSourceSchedule } from './sources';

export class FlowService {
  readonly flows: Map<string, Flow>;
  readonly runs: Map<string, ExportRun>;
  readonly ingestionRuns: Map<string, IngestionRun>;
  private readonly store: FlowStore;
  private readonly objectStore: ObjectStore;
  private readonly records: FlowRecords;
  private readonly exports: ExportRunner;
  private readonly ingestion: IngestionRunner;

  constructor(ctx: FlowServiceContext, db: PGlite, catalog: Catalog, jobs: JobRunner, settings: ExportSettings, ingestion: IngestionSettings) {
    this.store = new FlowStore(ctx);
    this.flows = this.store.flows;
    this.runs = this.store.runs;
    this.ingestionRuns = this.store.ingestionRuns;
    this.objectStore = new ObjectStore(settings.objectStore);
    this.records = new FlowRecords(this.store, new Destinations(this.store, catalog), new Sources(this.store, catalog, ingestion.dataPrep));
    this.exports = new ExportRunner(this.store, db, catalog, jobs, settings, this.objectStore);
    this.ingestion = new IngestionRunner(this.store, db, catalog, jobs, ingestion, this.objectStore);
  }

  register(router: Router): void {
    const b = FLOW_BASE;
    const records = this.records;
    for (const c of ['connections', 'sourceConnections', 'targetConnections', 'flows'] as const) {
      router.add('GET', 'flowservice', `${b}/${c}`, (x) => records.list(x, c));
      router.add('POST', 'flowservice', `${b}/${c}`, (x) => records.create(x, c));
      router.add('GET', 'flowservice', `${b}/${c}/:id`, (x) => records.getOne(x, c));
      router.add('DELETE', 'flowservice', `${b}/${c}/:id`, (x) => records.remove(x, c));
    }
    router.add('GET', 'flowservice', `${b}/runs`, (x) => records.listRuns(x));
    router.add('GET', 'flowservice', `${b}/runs/:id`, (x) => records.getRun(x));
  }

  /** The ingestion dataflows' schedules, for a simulator to run on its clock. */
  get ingestionWork(): TimedWork {
    return this.ingestion.timedWork;
  }

  /** Every enabled ingestion dataflow looks for new files now; resolves when the runs end. */
  lookForNewFiles(): Promise<void> {
    return this.ingestion.lookNow();
  }

  /** Starts the ingestion dataflows' compressed schedule (every `ingestionIntervalMs`). */
  startSchedules(): void {
    this.ingestion.start();
  }

  /** Stops the schedule: no new ingestion run starts (runs under way finish as jobs). */
  stopSchedules(): void {
    this.ingestion.stop();
  }

  /** Releases the S3 client. */
  close(): void {
    this.stopSchedules();
    this.objectStore.close();
  }

  renderRun(r: ExportRun): Record<string, unknown> {
    return renderExportRun(r, this.store.meta(r));
  }

  /** The datasets a flow exports (from its source connections). */
  flowDatasets(flow: Flow): string[] {
    return this.exports.flowDatasets(flow);
  }

  /** The run of this flow and dataset that is queued or in progress, if any. */
  activeRun(flowId: string, datasetId: string): ExportRun | undefined {
    return this.exports.activeRun(flowId, datasetId);
  }

  /** Queues a run exporting `datasetId` through `flow` to each of its target connections; returns them. */
  startExportRuns(flow: Flow, datasetId: string): ExportRun[] {
    return this.exports.start(flow, datasetId);
  }
}
