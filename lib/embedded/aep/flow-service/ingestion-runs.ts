/**
 * The schedule of the CloudStorageToAEP dataflows: on the stand-in's own timer each enabled flow lists
 * its source path in the object store and loads the new or changed files as one run (see
 * source-ingestion.ts for how a run reads, maps and loads them).
 */
import type { PGlite } from '@electric-sql/pglite';
import { GetObjectCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'stream';
import type { JobRunner } from '../batch-ingestion';
import type { Catalog } from '../catalog';
import type { DataPrep } from '../data-prep';
import type { TimedWork } from '../../time/timed-work';
import type { FaultInjector } from '../faults';
import { uuid } from '../ids';
import { ingest, inLocation, INGESTION_SPECS, sourceLocation, type IngestionRun, type IngestionTarget, type SourceFile } from '../source-ingestion';
import { etag, Flow, FlowStore, SourceConnection } from './model';
import type { ObjectStore } from './object-store';

export interface IngestionSettings {
  /**
   * Every this many milliseconds each CloudStorageToAEP dataflow looks for new files (AEP's schedule
   * is the flow's, at least 15 minutes; the embedded platform compresses it). 0 stops the schedule.
   */
  ingestionIntervalMs: number;
  /** The mapping sets the dataflows' `Mapping` transformations name. */
  dataPrep: DataPrep;
  /** Where tests make the next ingestion run fail. */
  faults?: FaultInjector;
}

interface NewFiles {
  bucket: string;
  files: SourceFile[];
  /** Key and version (size and time) of each file taken. */
  seen: Array<[string, string]>;
}

export class IngestionRunner {
  /** Per ingestion flow, the files already ingested (key -> size and time), so a run takes only new or changed files. */
  private readonly ingestedFiles = new Map<string, Map<string, string>>();
  private readonly ingesting = new Set<string>();
  /** Per ingestion flow, the last error listing its source, so a lasting one is recorded once. */
  private readonly listingFailures = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  /** Per ingestion flow, the scheduled look (epoch ms) it last made on a simulated clock. */
  private readonly scheduledLooks = new Map<string, number>();

  constructor(
    private readonly store: FlowStore,
    private readonly db: PGlite,
    private readonly catalog: Catalog,
    private readonly jobs: JobRunner,
    private readonly settings: IngestionSettings,
    private readonly objectStore: ObjectStore,
  ) {}

  /** Starts the compressed schedule (every `ingestionIntervalMs`), for runs without a simulated clock. */
  start(): void {
    if (this.timer || this.settings.ingestionIntervalMs <= 0) return;
    this.timer = setInterval(() => void this.look(() => true), this.settings.ingestionIntervalMs);
    this.timer.unref();
  }

  /** No new ingestion run starts (runs under way finish as jobs). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Each enabled ingestion flow whose start time has come looks for new files now, whatever its
   * schedule; resolves once the runs this started have finished.
   */
  lookNow(): Promise<void> {
    return this.look(() => true);
  }

  /**
   * The flows' schedules as AEP keeps them, for a simulated clock: each enabled flow looks at its
   * `startTime` and then every `interval` of its `frequency` (15 minutes at the least). `nextAt` answers
   * for the flows that exist when it is asked, so a flow made later is seen the next time it is asked.
   */
  readonly timedWork: TimedWork = {
    name: 'AEP ingestion dataflows (cloud storage source schedule)',
    nextAt: (after) => {
      let next: number | undefined;
      for (const flow of this.ingestionFlows()) {
        const at = nextScheduledLook(flow.scheduleParams, after.getTime());
        if (at !== undefined && (next === undefined || at < next)) next = at;
      }
      return next === undefined ? undefined : new Date(next);
    },
    run: (at) =>
      this.look((flow) => {
        const due = lastScheduledLook(flow.scheduleParams, at.getTime());
        if (due === undefined || due <= (this.scheduledLooks.get(flow.id) ?? -Infinity)) return false;
        this.scheduledLooks.set(flow.id, due);
        return true;
      }),
  };

  private ingestionFlows(): Flow[] {
    return [...this.store.flows.values()].filter((flow) => flow.flowSpec.id === INGESTION_SPECS.cloudStorageFlow && flow.state === 'enabled');
  }

  /** The flows `due` picks (among the enabled ones whose start time has come) look for new files; resolves when their runs end. */
  private look(due: (flow: Flow) => boolean): Promise<void> {
    const nowSeconds = this.store.ctx.clock.now().getTime() / 1000;
    const runs: Array<Promise<void>> = [];
    for (const flow of this.ingestionFlows()) {
      if (this.ingesting.has(flow.id) || Number(flow.scheduleParams.startTime) > nowSeconds || !due(flow)) continue;
      this.ingesting.add(flow.id);
      runs.push(
        new Promise<void>((resolve) =>
          this.jobs.run(`ingestion of flow ${flow.id}`, () =>
            this.run(flow).finally(() => {
              this.ingesting.delete(flow.id);
              resolve();
            }),
          ),
        ),
      );
    }
    return Promise.all(runs).then(() => undefined);
  }

  /** The files of a source connection that are new or changed since the flow last took them. */
  private async newFiles(flow: Flow, source: SourceConnection, s3: S3Client): Promise<NewFiles> {
    const flowId = flow.id;
    const backfill = flow.scheduleParams.backfill;
    const backfillFrom = backfill === false || backfill === 'false' ? Number(flow.scheduleParams.startTime) * 1000 : undefined;
    const params = source.params as { path: string; type?: string; recursive?: boolean | string };
    const location = sourceLocation(params.path, params.type === 'file' ? 'file' : 'folder', params.recursive === true || params.recursive === 'true');
    if (typeof location === 'string') return { bucket: '', files: [], seen: [] };
    const known = this.ingestedFiles.get(flowId) ?? new Map<string, string>();
    const files: SourceFile[] = [];
    const seen: Array<[string, string]> = [];
    for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: location.bucket, Prefix: location.prefix })) {
      for (const object of page.Contents ?? []) {
        const key = object.Key ?? '';
        if (!inLocation(location, key)) continue;
        const version = `${object.Size ?? 0}@${object.LastModified?.getTime() ?? 0}`;
        if (known.get(key) === version) continue;
        // Without backfill, files already there when the schedule started are not ingested.
        if (backfillFrom !== undefined && (object.LastModified?.getTime() ?? 0) < backfillFrom) continue;
        seen.push([key, version]);
        files.push({
          key,
          bytes: object.Size ?? 0,
          open: async () => (await s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: key }))).Body as Readable,
        });
      }
    }
    files.sort((a, b) => (a.key < b.key ? -1 : 1));
    return { bucket: location.bucket, files, seen };
  }

  /** What a run of the flow loads into and how: the target dataset's table, the mappings, the identity. */
  private target(flow: Flow, source: SourceConnection): IngestionTarget | string {
    const target = this.store.targetConnections.get(flow.targetConnectionIds[0]!); // a flow has exactly one, checked when it was made
    if (!target) return `target connection '${flow.targetConnectionIds[0]}' no longer exists`;
    const datasetId = (target.params as { dataSetId: string }).dataSetId;
    const dataset = this.catalog.datasets.get(datasetId);
    if (!dataset) return `dataset '${datasetId}' no longer exists`;
    const table = this.catalog.tableTarget(dataset);
    if (!table) return `dataset '${datasetId}' has no XDM schema`;
    const mapping = (flow.transformations as Array<{ name?: string; params?: { mappingId?: string } }>).find((t) => t.name === 'Mapping');
    const set = mapping?.params?.mappingId ? this.settings.dataPrep.mappingSet(mapping.params.mappingId) : undefined;
    if (!set) return `mapping set '${String(mapping?.params?.mappingId)}' no longer exists`;
    const mappings = this.settings.dataPrep.resolve(set);
    if (typeof mappings === 'string') return mappings;
    const primaryIdentities = this.settings.dataPrep.primaryIdentityPaths(dataset.schemaRef!.id);
    const delimiter = (source.data?.properties as { columnDelimiter?: string } | undefined)?.columnDelimiter ?? ',';
    return { datasetId, table, mappings, primaryIdentities, columnDelimiter: delimiter };
  }

  /**
   * A source that cannot be listed (no such bucket, no access) makes a failed run, once per distinct
   * error in a row, rather than one every tick.
   */
  private recordListingFailure(flow: Flow, source: SourceConnection, err: Error): void {
    const message = `The source path '${String(source.params.path)}' could not be listed: ${err.name && err.name !== 'Error' ? `${err.name}: ` : ''}${err.message}`;
    if (this.listingFailures.get(flow.id) === message) return;
    this.listingFailures.set(flow.id, message);
    const now = this.store.stamp();
    const run: IngestionRun = {
      id: uuid(),
      flowId: flow.id,
      bucket: '',
      sourcePath: String(source.params.path),
      createdAt: now,
      updatedAt: now,
      etag: etag(),
      state: 'failed',
      startedAt: now,
      completedAt: now,
      files: [],
      inputRecords: 0,
      outputRecords: 0,
      inputBytes: 0,
      errors: [{ code: 'CONNECTOR-1001-400', message }],
    };
    this.store.ingestionRuns.set(run.id, run);
    flow.lastRunId = run.id;
  }

  /** Takes the new files of each of the flow's source connections; a run is recorded only when there are some. */
  private async run(flow: Flow): Promise<void> {
    const s3 = this.objectStore.client();
    if (!s3) return;
    for (const sourceId of flow.sourceConnectionIds) {
      const source = this.store.sourceConnections.get(sourceId);
      if (!source) continue;
      let listing: NewFiles;
      try {
        listing = await this.newFiles(flow, source, s3);
      } catch (err) {
        this.recordListingFailure(flow, source, err as Error);
        continue;
      }
      this.listingFailures.delete(flow.id);
      const { bucket, files, seen } = listing;
      if (files.length === 0) continue;
      // The files are taken now, whatever becomes of the run: as in AEP, a failed run's files are not retried.
      const known = this.ingestedFiles.get(flow.id) ?? new Map<string, string>();
      for (const [key, version] of seen) known.set(key, version);
      this.ingestedFiles.set(flow.id, known);
      const now = this.store.stamp();
      const run: IngestionRun = {
        id: uuid(),
        flowId: flow.id,
        bucket,
        sourcePath: String(source.params.path),
        createdAt: now,
        updatedAt: now,
        etag: etag(),
        state: 'inProgress',
        startedAt: now,
        files: [],
        inputRecords: 0,
        outputRecords: 0,
        inputBytes: 0,
        errors: [],
      };
      this.store.ingestionRuns.set(run.id, run);
      flow.lastRunId = run.id;
      const fault = this.settings.faults?.takeRunFault('ingestion');
      await ingest(this.db, this.catalog, run, files, this.target(flow, source), fault);
      run.etag = etag();
    }
  }
}

const SCHEDULE_UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 604_800_000 };

/** A validated source schedule as epoch ms: its start, and its period (undefined for `once`). */
function schedule(params: Record<string, unknown>): { start: number; period: number | undefined } {
  const start = Number(params.startTime) * 1000;
  const unit = SCHEDULE_UNIT_MS[String(params.frequency)];
  return { start, period: unit === undefined ? undefined : unit * Number(params.interval) };
}

/** The first look of the schedule strictly after `after`, or undefined when a `once` flow has had its look. */
export function nextScheduledLook(params: Record<string, unknown>, after: number): number | undefined {
  const { start, period } = schedule(params);
  if (after < start) return start;
  if (period === undefined) return undefined;
  return start + (Math.floor((after - start) / period) + 1) * period;
}

/** The last look of the schedule at or before `at`, or undefined before its start. */
export function lastScheduledLook(params: Record<string, unknown>, at: number): number | undefined {
  const { start, period } = schedule(params);
  if (at < start) return undefined;
  if (period === undefined) return start;
  return start + Math.floor((at - start) / period) * period;
}
