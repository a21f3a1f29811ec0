/**
 * Catalog stand-in (`/data/foundation/catalog`, catalog.yaml): datasets, each backed by a PostgreSQL
 * table named in its `adobe/pqs/table` tag, and the batches Batch Ingestion loads into them.
 */
import type { PGlite } from '@electric-sql/pglite';
import type { Clock } from '../../ports/clock';
import { withExclusiveSession } from '../postgres';
import { catalogError } from './errors';
import { ApiError, cloneJson, intParam, isPlainObject, objectBody, Reply, RequestContext, Router } from './http';
import { catalogId } from './ids';
import { matchesFilters, parsePropertyFilter, PropertyFilter, readField, SortKey, sortBy } from './listing';
import { applyJsonPatch } from './json-patch';
import { ResolvedSchema, SchemaRegistry } from './schema-registry';
import {
  addMissingColumns,
  BatchError,
  BatchFormat,
  columnsFor,
  createTable,
  dropTable,
  existingRelations,
  TableTarget,
  tableNameFor,
} from './xdm-tables';

export const CATALOG_BASE = '/data/foundation/catalog';
export const PQS_TABLE_TAG = 'adobe/pqs/table';

export interface CatalogContext {
  orgId: string;
  clientId: string;
  sandbox: string;
  /** The platform's clock, which stamps every record (a simulated run's virtual clock). */
  clock: Clock;
}

export interface DatasetRecord {
  id: string;
  name: string;
  table: string;
  created: number;
  updated: number;
  versionMinor: number;
  schemaRef?: { id: string; contentType: string };
  /** Other caller-supplied fields (description, tags, fileDescription, ...). */
  fields: Record<string, unknown>;
  lastBatchId?: string;
  lastBatchStatus?: string;
  lastSuccessfulBatch?: string;
  lastFailedBatch?: string;
}

export type BatchStatus = 'loading' | 'processing' | 'success' | 'failed' | 'aborted';

export interface BatchRecord {
  id: string;
  datasetId: string;
  status: BatchStatus;
  created: number;
  updated: number;
  started?: number;
  completed?: number;
  externalId: string;
  /** The inputFormat as reported back (format lower case). */
  inputFormat: Record<string, unknown>;
  format: BatchFormat;
  tags: Record<string, string[]>;
  files: Map<string, Buffer>;
  errors: BatchError[];
  recordCount?: number;
  failedRecordCount?: number;
  size?: number;
  versionPatch: number;
}

/** Fields a caller may not set on a dataset. */
const DATASET_READ_ONLY = new Set([
  'id',
  'version',
  'imsOrg',
  'created',
  'updated',
  'createdClient',
  'createdUser',
  'updatedUser',
  'viewId',
  'files',
  'basePath',
  'lastBatchId',
  'lastBatchStatus',
  'lastSuccessfulBatch',
  'lastFailedBatch',
]);

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 100;

export class Catalog {
  readonly datasets = new Map<string, DatasetRecord>();
  readonly batches = new Map<string, BatchRecord>();

  constructor(
    private readonly ctx: CatalogContext,
    private readonly db: PGlite,
    private readonly registry: SchemaRegistry,
  ) {
    registry.setHooks({
      datasetsUsingSchema: (schemaId) => this.datasetsUsingSchema(schemaId),
      schemaChanged: (schemaId) => this.schemaChanged(schemaId),
    });
  }

  /** The platform's clock; batch loads and ingestion runs stamp their records with it too. */
  get clock(): Clock {
    return this.ctx.clock;
  }

  register(router: Router): void {
    const b = CATALOG_BASE;
    router.add('GET', 'catalog', `${b}/dataSets`, (c) => this.listDatasets(c));
    router.add('POST', 'catalog', `${b}/dataSets`, (c) => this.createDataset(c));
    router.add('GET', 'catalog', `${b}/dataSets/:id`, (c) => this.getDataset(c));
    router.add('PATCH', 'catalog', `${b}/dataSets/:id`, (c) => this.patchDataset(c));
    router.add('DELETE', 'catalog', `${b}/dataSets/:id`, (c) => this.deleteDataset(c));
    router.add('GET', 'catalog', `${b}/batches`, (c) => this.listBatches(c));
    router.add('GET', 'catalog', `${b}/batches/:id`, (c) => this.getBatch(c));
  }

  // ---------------------------------------------------------------- used by other services

  datasetsUsingSchema(schemaId: string): string[] {
    return [...this.datasets.values()].filter((d) => d.schemaRef?.id === schemaId).map((d) => d.id);
  }

  /** Adds columns for fields a schema gained to the tables of its datasets. */
  async schemaChanged(schemaId: string): Promise<void> {
    const schema = this.registry.resolveSchema(schemaId);
    if (!schema) return;
    for (const d of this.datasets.values()) {
      if (d.schemaRef?.id === schemaId) await addMissingColumns(this.db, d.table, columnsFor(schema.properties));
    }
  }

  /** Where a dataset's records go; undefined when the dataset has no XDM schema (e.g. made by a query). */
  tableTarget(dataset: DatasetRecord): TableTarget | undefined {
    const schema = dataset.schemaRef ? this.registry.resolveSchema(dataset.schemaRef.id) : undefined;
    if (!schema) return undefined;
    return { table: dataset.table, columns: columnsFor(schema.properties), required: schema.required, properties: schema.properties };
  }

  findDatasetByTable(table: string): DatasetRecord | undefined {
    return [...this.datasets.values()].find((d) => d.table === table);
  }

  /**
   * Registers a table a query created (CREATE TABLE AS) as a dataset, as Query Service does.
   * Returns the existing dataset when the table already has one.
   */
  registerQueryDataset(table: string, description?: string): DatasetRecord {
    const existing = this.findDatasetByTable(table);
    if (existing) return existing;
    let name = table;
    for (let i = 2; this.datasetNameTaken(name); i++) name = `${table} (${i})`;
    const now = this.ctx.clock.now().getTime();
    const rec: DatasetRecord = {
      id: catalogId(),
      name,
      table,
      created: now,
      updated: now,
      versionMinor: 0,
      fields: {
        description: description ?? `Created by Query Service (CREATE TABLE ${table} AS ...)`,
        tags: { 'adobe/siphon/table/format': ['parquet'] },
      },
    };
    this.datasets.set(rec.id, rec);
    return rec;
  }

  /**
   * Records the batch a batch query wrote into a dataset (CREATE TABLE AS, INSERT INTO), as Query
   * Service does: a successful batch of `records` rows, and the dataset's last batch.
   */
  noteQueryBatch(datasetId: string, id: string, records: number): void {
    const now = this.ctx.clock.now().getTime();
    const rec: BatchRecord = {
      id,
      datasetId,
      status: 'success',
      created: now,
      updated: now,
      started: now,
      completed: now,
      externalId: id,
      inputFormat: { format: 'parquet' },
      format: { kind: 'json', multiLine: false },
      tags: {},
      files: new Map(),
      errors: [],
      recordCount: records,
      failedRecordCount: 0,
      size: 0,
      versionPatch: 1,
    };
    this.batches.set(id, rec);
    this.noteBatchOutcome(rec);
  }

  /** Records the end of a batch on its dataset. */
  noteBatchOutcome(batch: BatchRecord): void {
    const d = this.datasets.get(batch.datasetId);
    if (!d) return;
    d.lastBatchId = batch.id;
    d.lastBatchStatus = batch.status;
    if (batch.status === 'success') d.lastSuccessfulBatch = batch.id;
    if (batch.status === 'failed') d.lastFailedBatch = batch.id;
  }

  // ---------------------------------------------------------------- datasets

  private datasetNameTaken(name: string, except?: string): boolean {
    return [...this.datasets.values()].some((d) => d.name === name && d.id !== except);
  }

  private renderDataset(d: DatasetRecord): Record<string, unknown> {
    const userTags = isPlainObject(d.fields.tags) ? (d.fields.tags as Record<string, string[]>) : {};
    const out: Record<string, unknown> = {
      version: `1.0.${d.versionMinor}`,
      imsOrg: this.ctx.orgId,
      name: d.name,
      created: d.created,
      updated: d.updated,
      createdClient: this.ctx.clientId,
      createdUser: `${this.ctx.clientId}@AdobeID`,
      updatedUser: `${this.ctx.clientId}@AdobeID`,
    };
    for (const [k, v] of Object.entries(d.fields)) if (k !== 'tags') out[k] = cloneJson(v);
    out.tags = { ...cloneJson(userTags), [PQS_TABLE_TAG]: [d.table] };
    if (d.schemaRef) out.schemaRef = { ...d.schemaRef };
    out.viewId = d.id.split('').reverse().join('');
    out.files = `@/dataSetFiles?dataSetId=${d.id}`;
    if (d.lastBatchId) out.lastBatchId = d.lastBatchId;
    if (d.lastBatchStatus) out.lastBatchStatus = d.lastBatchStatus;
    if (d.lastSuccessfulBatch) out.lastSuccessfulBatch = d.lastSuccessfulBatch;
    if (d.lastFailedBatch) out.lastFailedBatch = d.lastFailedBatch;
    return out;
  }

  private bad(message: string): ApiError {
    return catalogError(400, message, '1001');
  }

  private mustGetDataset(id: string): DatasetRecord {
    const d = this.datasets.get(id);
    if (!d) throw catalogError(404, `Dataset '${id}' was not found in sandbox '${this.ctx.sandbox}'`, '1200');
    return d;
  }

  private validateSchemaRef(value: unknown): { ref: { id: string; contentType: string }; schema: ResolvedSchema } {
    if (!isPlainObject(value)) throw this.bad("'schemaRef' is required: { id: <schema $id>, contentType: 'application/vnd.adobe.xed+json;version=1' }");
    const { id, contentType } = value;
    if (typeof id !== 'string' || id === '') throw this.bad("'schemaRef.id' must be the $id of a schema");
    if (typeof contentType !== 'string' || !/^application\/vnd\.adobe\.xed(-full)?(-notext)?\+json\s*;\s*version=\d+$/i.test(contentType.trim())) {
      throw this.bad(`'schemaRef.contentType' must look like 'application/vnd.adobe.xed+json;version=1', got '${String(contentType)}'`);
    }
    const schema = this.registry.resolveSchema(id);
    if (!schema) throw this.bad(`'schemaRef.id' '${id}' is not a schema in sandbox '${this.ctx.sandbox}'`);
    return { ref: { id: schema.$id, contentType }, schema };
  }

  private userFields(body: Record<string, unknown>): Record<string, unknown> {
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body)) {
      if (DATASET_READ_ONLY.has(k) || k === 'name' || k === 'schemaRef') continue;
      fields[k] = cloneJson(v);
    }
    if (fields.tags !== undefined) {
      const tags = fields.tags;
      if (!isPlainObject(tags) || !Object.values(tags).every((v) => Array.isArray(v) && v.every((s) => typeof s === 'string'))) {
        throw this.bad("'tags' must be an object of string arrays");
      }
      delete tags[PQS_TABLE_TAG];
    }
    if (fields.description !== undefined && typeof fields.description !== 'string') throw this.bad("'description' must be a string");
    return fields;
  }

  private async createDataset(ctx: RequestContext): Promise<Reply> {
    const body = objectBody(ctx, catalogError);
    const name = body.name;
    if (typeof name !== 'string' || name.trim() === '') throw this.bad("'name' is required");
    const { ref, schema } = this.validateSchemaRef(body.schemaRef);
    const fields = this.userFields(body);
    if (this.datasetNameTaken(name)) {
      throw catalogError(409, `A dataset named '${name}' already exists in sandbox '${this.ctx.sandbox}'; dataset names must be unique`, '1202');
    }
    const relations = await withExclusiveSession(this.db, () => existingRelations(this.db));
    const tables = new Set([...this.datasets.values()].map((d) => d.table));
    const table = tableNameFor(name, (t) => relations.has(t) || tables.has(t));
    await createTable(this.db, table, columnsFor(schema.properties));
    const now = this.ctx.clock.now().getTime();
    const rec: DatasetRecord = { id: catalogId(), name, table, created: now, updated: now, versionMinor: 0, schemaRef: ref, fields };
    this.datasets.set(rec.id, rec);
    return {
      status: 201,
      body: [`@/dataSets/${rec.id}`],
      headers: { location: `${ctx.baseUrl}${CATALOG_BASE}/dataSets/${rec.id}` },
    };
  }

  private getDataset(ctx: RequestContext): Reply {
    const d = this.mustGetDataset(ctx.param('id'));
    return { status: 200, body: { [d.id]: selectProperties(this.renderDataset(d), ctx.query.get('properties')) } };
  }

  private async patchDataset(ctx: RequestContext): Promise<Reply> {
    const d = this.mustGetDataset(ctx.param('id'));
    const current = this.renderDataset(d);
    let next: Record<string, unknown>;
    if (Array.isArray(ctx.body)) {
      const patched = applyJsonPatch(current, ctx.body, (m) => this.bad(m));
      if (!isPlainObject(patched)) throw this.bad('The patched dataset must remain a JSON object');
      next = patched;
    } else {
      const body = objectBody(ctx, catalogError);
      next = { ...current };
      for (const [k, v] of Object.entries(body)) {
        next[k] = k === 'tags' && isPlainObject(v) && isPlainObject(current.tags) ? { ...current.tags, ...v } : v;
      }
    }
    if (next.schemaRef !== undefined && JSON.stringify(next.schemaRef) !== JSON.stringify(current.schemaRef)) {
      throw this.bad("A dataset's 'schemaRef' cannot be changed");
    }
    const name = next.name;
    if (typeof name !== 'string' || name.trim() === '') throw this.bad("'name' must be a non-empty string");
    if (this.datasetNameTaken(name, d.id)) throw catalogError(409, `A dataset named '${name}' already exists in sandbox '${this.ctx.sandbox}'`, '1202');
    d.fields = this.userFields(next);
    d.name = name;
    d.updated = this.ctx.clock.now().getTime();
    d.versionMinor += 1;
    return { status: 200, body: [`@/dataSets/${d.id}`] };
  }

  private async deleteDataset(ctx: RequestContext): Promise<Reply> {
    const d = this.mustGetDataset(ctx.param('id'));
    await dropTable(this.db, d.table);
    this.datasets.delete(d.id);
    return { status: 200, body: [`@/dataSets/${d.id}`] };
  }

  private listDatasets(ctx: RequestContext): Reply {
    const items = [...this.datasets.values()].map((d) => ({ id: d.id, ...this.renderDataset(d) }));
    return { status: 200, body: this.listing(ctx, items, ['name', 'description', 'version', 'created', 'updated', 'createdClient', 'createdUser', 'updatedUser']) };
  }

  // ---------------------------------------------------------------- batches

  renderBatch(b: BatchRecord): Record<string, unknown> {
    const out: Record<string, unknown> = {
      imsOrg: this.ctx.orgId,
      created: b.created,
      createdClient: this.ctx.clientId,
      createdUser: `${this.ctx.clientId}@AdobeID`,
      updatedUser: `${this.ctx.clientId}@AdobeID`,
      updated: b.updated,
      externalId: b.externalId,
      status: b.status,
      version: `1.0.${b.versionPatch}`,
      relatedObjects: [{ type: 'dataSet', id: b.datasetId }],
      inputFormat: cloneJson(b.inputFormat),
      tags: cloneJson(b.tags),
    };
    if (b.started !== undefined) out.started = b.started;
    if (b.completed !== undefined) out.completed = b.completed;
    if (b.errors.length > 0) out.errors = cloneJson(b.errors);
    if (b.recordCount !== undefined) {
      out.recordCount = b.recordCount;
      out.failedRecordCount = b.failedRecordCount ?? 0;
      out.size = b.size ?? 0;
      out.metrics = {
        inputRecordCount: b.recordCount,
        outputRecordCount: b.status === 'success' ? b.recordCount : 0,
        failedRecordCount: b.failedRecordCount ?? 0,
        inputFileCount: b.files.size,
        inputByteSize: b.size ?? 0,
      };
    } else {
      out.metrics = {};
    }
    return out;
  }

  private getBatch(ctx: RequestContext): Reply {
    const b = this.batches.get(ctx.param('id'));
    if (!b) throw catalogError(404, `Batch '${ctx.param('id')}' was not found in sandbox '${this.ctx.sandbox}'`, '1200');
    return { status: 200, body: { [b.id]: selectProperties(this.renderBatch(b), ctx.query.get('properties')) } };
  }

  private listBatches(ctx: RequestContext): Reply {
    const items: Array<Record<string, unknown> & { id: string }> = [...this.batches.values()].map((b) => ({
      id: b.id,
      dataSet: b.datasetId,
      batch: b.id,
      ...this.renderBatch(b),
    }));
    const createdAfter = ctx.query.get('createdAfter');
    const createdBefore = ctx.query.get('createdBefore');
    const filtered = items.filter(
      (b) =>
        (createdAfter === null || (b.created as number) > Number(createdAfter)) &&
        (createdBefore === null || (b.created as number) < Number(createdBefore)),
    );
    const body = this.listing(ctx, filtered, ['dataSet', 'status', 'batch', 'externalId', 'created', 'updated', 'createdClient', 'createdUser', 'updatedUser', 'version']);
    for (const v of Object.values(body)) {
      delete (v as Record<string, unknown>).dataSet;
      delete (v as Record<string, unknown>).batch;
    }
    return { status: 200, body };
  }

  // ---------------------------------------------------------------- listing (filters, order, paging)

  /** Catalog listing: simple `field=value[,value]` filters, `property=` filters, `orderBy`, `start`, `limit`, `properties`. */
  private listing(ctx: RequestContext, items: Array<Record<string, unknown> & { id: string }>, simpleFilters: string[]): Record<string, unknown> {
    const q = ctx.query;
    const filters: PropertyFilter[] = [];
    for (const expr of q.getAll('property')) filters.push(...parsePropertyFilter(expr, catalogError));
    let rows = items.filter((item) => {
      for (const f of simpleFilters) {
        const wanted = q.get(f);
        if (wanted === null) continue;
        const values = wanted.split(',');
        const actual = readField(item, f);
        if (!values.some((v) => String(actual) === v)) return false;
      }
      const tags = q.get('tags');
      if (tags !== null) {
        const itemTags = (item.tags ?? {}) as Record<string, string[]>;
        for (const t of tags.split(',')) {
          const i = t.indexOf(':');
          const ns = i < 0 ? t : t.slice(0, i);
          const value = i < 0 ? '*' : t.slice(i + 1);
          const have = itemTags[ns];
          if (!have || (value !== '*' && !have.includes(value))) return false;
        }
      }
      return matchesFilters(item, filters, 'regex');
    });
    const orderBy = q.get('orderBy') ?? q.get('sort');
    if (orderBy) rows = sortBy(rows, parseCatalogOrder(orderBy), (item, field) => readField(item, field));
    const start = intParam(q, 'start', 0, catalogError, { min: 0 });
    const limit = intParam(q, 'limit', DEFAULT_LIMIT, catalogError, { min: 1, max: MAX_LIMIT });
    rows = rows.slice(start, start + limit);
    const out: Record<string, unknown> = {};
    const properties = q.get('properties');
    for (const row of rows) {
      const { id, ...rest } = row;
      out[id] = selectProperties(rest, properties);
    }
    return out;
  }
}

/** `asc:created,updated`, `desc:name`, `-created`, `name`. */
function parseCatalogOrder(expr: string): SortKey[] {
  const keys: SortKey[] = [];
  let descending = false;
  for (const raw of expr.split(',')) {
    let part = raw.trim();
    if (!part) continue;
    if (part.startsWith('asc:')) {
      descending = false;
      part = part.slice(4);
    } else if (part.startsWith('desc:')) {
      descending = true;
      part = part.slice(5);
    } else if (part.startsWith('-')) {
      descending = true;
      part = part.slice(1);
    }
    keys.push({ field: part, descending });
  }
  return keys;
}

/** Keeps only the listed top-level properties (the `properties` query parameter). */
function selectProperties(obj: Record<string, unknown>, properties: string | null): Record<string, unknown> {
  if (!properties) return obj;
  const keep = new Set(properties.split(',').map((s) => s.trim()).filter(Boolean));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (keep.has(k)) out[k] = v;
  return out;
}
