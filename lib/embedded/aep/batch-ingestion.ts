/**
 * Batch Ingestion stand-in (`/data/foundation/import`, batch-ingestion.yaml): create a batch for a
 * dataset, upload files, COMPLETE (loaded asynchronously: processing -> success | failed) or ABORT.
 */
import type { PGlite } from '@electric-sql/pglite';
import type { BatchRecord, Catalog } from './catalog';
import { ingestError } from './errors';
import { cloneJson, header, isPlainObject, mediaType, objectBody, Reply, RequestContext, Router } from './http';
import { batchId } from './ids';
import { BatchFormat, loadBatch } from './xdm-tables';

export const IMPORT_BASE = '/data/foundation/import';

/** Statuses the Batch Ingestion API documents for its Batch object (batch-ingestion.yaml). */
const DOCUMENTED_STATUSES = new Set(['processing', 'active', 'success', 'failed', 'failure', 'queued', 'retrying', 'stalled']);
/** Input formats its Batch object documents. */
const DOCUMENTED_FORMATS = new Set(['json', 'parquet']);

/** Runs background work and lets the server wait for it on shutdown. */
export interface JobRunner {
  run(name: string, job: () => Promise<void>): void;
}

function singleChar(value: unknown, name: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length !== 1) throw ingestError(400, `inputFormat.${name} must be a single character`);
  return value;
}

export class BatchIngestion {
  constructor(
    private readonly db: PGlite,
    private readonly catalog: Catalog,
    private readonly jobs: JobRunner,
  ) {}

  register(router: Router): void {
    router.add('POST', 'import', `${IMPORT_BASE}/batches`, (c) => this.create(c));
    router.add('PUT', 'import', `${IMPORT_BASE}/batches/:batchId/datasets/:datasetId/files/*filePath`, (c) => this.upload(c));
    router.add('POST', 'import', `${IMPORT_BASE}/batches/:batchId`, (c) => this.signal(c));
  }

  /** The batch as the Batch Ingestion API returns it (its `Batch` schema). */
  private render(b: BatchRecord): Record<string, unknown> {
    const out: Record<string, unknown> = { id: b.id, ...this.catalog.renderBatch(b) };
    // Catalog's statuses 'loading' and 'aborted' are not among those this API documents.
    if (!DOCUMENTED_STATUSES.has(b.status)) delete out.status;
    const input = cloneJson(b.inputFormat);
    if (!DOCUMENTED_FORMATS.has(String(input.format))) delete input.format;
    if (typeof input.header === 'string') input.header = input.header === 'true';
    out.inputFormat = input;
    return out;
  }

  private parseFormat(raw: unknown): { format: BatchFormat; reported: Record<string, unknown> } {
    if (!isPlainObject(raw)) throw ingestError(400, "'inputFormat' is required, e.g. { \"format\": \"json\" }");
    const name = typeof raw.format === 'string' ? raw.format.toLowerCase() : undefined;
    if (!name) throw ingestError(400, "'inputFormat.format' is required: one of json, csv, parquet");
    if (name === 'parquet') throw ingestError(400, 'Parquet batches are not supported by the embedded platform; use json or csv');
    if (name === 'json') {
      if (raw.isMultiLineJson !== undefined && typeof raw.isMultiLineJson !== 'boolean') throw ingestError(400, "'inputFormat.isMultiLineJson' must be a boolean");
      const multiLine = raw.isMultiLineJson === true;
      return { format: { kind: 'json', multiLine }, reported: { format: 'json', ...(multiLine ? { isMultiLineJson: true } : {}) } };
    }
    if (name === 'csv') {
      const delimiter = singleChar(raw.delimiter, 'delimiter', ',');
      const quote = singleChar(raw.quote, 'quote', '"');
      const escape = singleChar(raw.escape, 'escape', quote);
      const headerRaw = raw.header ?? true;
      const headerOn = headerRaw === true || headerRaw === 'true';
      if (raw.nullMarker !== undefined && typeof raw.nullMarker !== 'string') throw ingestError(400, "'inputFormat.nullMarker' must be a string");
      const nullMarker = raw.nullMarker ?? '';
      return {
        format: { kind: 'csv', delimiter, quote, escape, header: headerOn, nullMarker },
        reported: { format: 'csv', delimiter, quote, escape, header: String(headerOn), nullMarker },
      };
    }
    throw ingestError(400, `inputFormat.format '${String(raw.format)}' is not supported; use json, csv or parquet`);
  }

  private create(ctx: RequestContext): Reply {
    const body = objectBody(ctx, ingestError);
    const datasetId = body.datasetId;
    if (typeof datasetId !== 'string' || datasetId === '') throw ingestError(400, "'datasetId' is required");
    const dataset = this.catalog.datasets.get(datasetId);
    if (!dataset) throw ingestError(400, `Dataset '${datasetId}' does not exist`, '1202');
    if (!this.catalog.tableTarget(dataset)) {
      throw ingestError(400, `Dataset '${datasetId}' (${dataset.name}) has no XDM schema; batches can only be loaded into datasets created with a schemaRef`);
    }
    const { format, reported } = this.parseFormat(body.inputFormat);
    const tags = body.tags;
    if (tags !== undefined && !(isPlainObject(tags) && Object.values(tags).every((v) => Array.isArray(v)))) {
      throw ingestError(400, "'tags' must be an object of string arrays");
    }
    const now = this.catalog.clock.now().getTime();
    const id = batchId(now);
    const externalId = typeof body.externalId === 'string' ? body.externalId : id;
    const rec: BatchRecord = {
      id,
      datasetId,
      status: 'loading',
      created: now,
      updated: now,
      externalId,
      inputFormat: reported,
      format,
      tags: (cloneJson(tags) as Record<string, string[]>) ?? {},
      files: new Map(),
      errors: [],
      versionPatch: 0,
    };
    this.catalog.batches.set(id, rec);
    return { status: 201, body: this.render(rec) };
  }

  private mustGetBatch(id: string): BatchRecord {
    const b = this.catalog.batches.get(id);
    if (!b) throw ingestError(404, `Batch '${id}' was not found`, '1206');
    return b;
  }

  private upload(ctx: RequestContext): Reply {
    const contentType = mediaType(header(ctx.headers, 'content-type'));
    if (contentType !== 'application/octet-stream') {
      throw ingestError(415, `Files must be uploaded with Content-Type application/octet-stream, not '${contentType || '(none)'}'`);
    }
    const batch = this.mustGetBatch(ctx.param('batchId'));
    const datasetId = ctx.param('datasetId');
    if (!this.catalog.datasets.get(datasetId)) throw ingestError(404, `Dataset '${datasetId}' was not found`, '1202');
    if (batch.datasetId !== datasetId) throw ingestError(400, `Batch '${batch.id}' belongs to dataset '${batch.datasetId}', not '${datasetId}'`);
    if (batch.status !== 'loading') {
      throw ingestError(400, `Batch '${batch.id}' is ${batch.status}; files can only be uploaded while it is loading`);
    }
    const name = ctx.param('filePath');
    if (!name || name.split('/').some((s) => s === '..')) throw ingestError(400, `Invalid file path '${name}'`);
    const replaced = batch.files.has(name);
    batch.files.set(name, ctx.rawBody);
    batch.updated = this.catalog.clock.now().getTime();
    return { status: replaced ? 200 : 201 };
  }

  private signal(ctx: RequestContext): Reply {
    const action = ctx.query.get('action');
    const batch = this.mustGetBatch(ctx.param('batchId'));
    switch (action) {
      case 'COMPLETE':
        return this.complete(batch);
      case 'ABORT':
        if (batch.status === 'aborted') return { status: 200, body: this.render(batch) };
        if (batch.status !== 'loading') throw ingestError(400, `Batch '${batch.id}' is ${batch.status} and can no longer be aborted`);
        this.finish(batch, 'aborted');
        return { status: 200, body: this.render(batch) };
      case 'FAIL':
        if (batch.status !== 'loading') throw ingestError(400, `Batch '${batch.id}' is ${batch.status}; only a loading batch can be failed`);
        batch.errors = [{ code: 'INGEST-FAILED-BY-CLIENT', description: 'The client signalled the batch as failed' }];
        this.finish(batch, 'failed');
        return { status: 200, body: this.render(batch) };
      case 'REVERT':
        throw ingestError(400, 'The REVERT action is not supported by the embedded platform');
      default:
        throw ingestError(400, `Query parameter 'action' must be COMPLETE, ABORT, FAIL or REVERT; got '${action ?? ''}'`);
    }
  }

  private finish(batch: BatchRecord, status: 'success' | 'failed' | 'aborted'): void {
    batch.status = status;
    batch.updated = this.catalog.clock.now().getTime();
    batch.completed = batch.updated;
    batch.versionPatch += 1;
    this.catalog.noteBatchOutcome(batch);
  }

  private complete(batch: BatchRecord): Reply {
    if (batch.status === 'aborted') throw ingestError(400, `Batch '${batch.id}' was aborted and cannot be completed`);
    if (batch.status !== 'loading') {
      // Completing again is harmless: AEP answers success for a batch it already accepted.
      return { status: 200, body: this.render(batch) };
    }
    const dataset = this.catalog.datasets.get(batch.datasetId);
    const target = dataset ? this.catalog.tableTarget(dataset) : undefined;
    batch.status = 'processing';
    batch.started = this.catalog.clock.now().getTime();
    batch.updated = batch.started;
    batch.versionPatch += 1;
    const files = [...batch.files.entries()].map(([name, data]) => ({ name, data }));
    this.jobs.run(`batch ${batch.id}`, async () => {
      try {
        if (!target) {
          batch.errors = [{ code: 'INGEST-DATASET-GONE', description: `Dataset '${batch.datasetId}' no longer exists or has no schema` }];
          this.finish(batch, 'failed');
          return;
        }
        const result = await loadBatch(this.db, target, files, batch.format, batch.id);
        batch.recordCount = result.records;
        batch.size = result.bytes;
        if (result.ok) {
          batch.failedRecordCount = 0;
          this.finish(batch, 'success');
        } else {
          batch.failedRecordCount = result.failedRecords;
          batch.errors = result.errors;
          this.finish(batch, 'failed');
        }
      } catch (err) {
        batch.errors = [{ code: 'INGEST-INTERNAL-ERROR', description: `The batch could not be processed: ${(err as Error).message}` }];
        this.finish(batch, 'failed');
      } finally {
        // The data is in the table (or rejected); the uploaded bytes are no longer needed.
        for (const name of batch.files.keys()) batch.files.set(name, Buffer.alloc(0));
      }
    });
    return { status: 200, body: this.render(batch) };
  }
}

