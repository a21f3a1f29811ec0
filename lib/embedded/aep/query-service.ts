/**
 * Query Service stand-in (`/data/foundation/query`, query-service.yaml): batch queries run on the
 * embedded PostgreSQL (SUBMITTED -> IN_PROGRESS -> SUCCESS | FAILED | KILLED), query templates, and
 * the wire-protocol connection parameters.
 */
import type { PGlite } from '@electric-sql/pglite';
import type { Clock } from '../../ports/clock';
import { withExclusiveSession } from '../postgres';
import type { JobRunner } from './batch-ingestion';
import type { Catalog } from './catalog';
import { queryError } from './errors';
import { intParam, isPlainObject, objectBody, Reply, RequestContext, Router } from './http';
import { batchId, uuid } from './ids';
import { compareValues, matchesFilters, parsePropertyFilter } from './listing';
import { adoptQueryTable, hasSnapshotColumn, nextSnapshotId, recordSnapshot, rowsInSnapshot, tagInsertsWhileRunning } from './snapshots';
import { existingRelations, quoteIdent } from './xdm-tables';

export const QUERY_BASE = '/data/foundation/query';

export interface QueryServiceContext {
  orgId: string;
  sandbox: string;
  clientId: string;
  queryService: { host: string; port: number };
  /** The platform's clock, which stamps every record (a simulated run's virtual clock). */
  clock: Clock;
}

type QueryState = 'SUBMITTED' | 'IN_PROGRESS' | 'SUCCESS' | 'FAILED' | 'KILLED';

interface QueryRecord {
  id: string;
  request: Record<string, unknown>;
  sql: string;
  effectiveSQL: string;
  state: QueryState;
  created: string;
  updated: string;
  startedAt?: number;
  elapsedTime: number;
  rowCount?: number;
  errors: { code: string; message: string; errorType: 'USER_ERROR' | 'SYSTEM_ERROR' }[];
  templateId?: string | undefined;
  templateName?: string | undefined;
  isCTAS: boolean;
  isInsertInto: boolean;
  ctasTable?: string | undefined;
  createdDatasetId?: string;
  softDeleted: boolean;
  cancelRequested: boolean;
}

interface TemplateRecord {
  id: string;
  name: string;
  sql: string;
  queryParameters?: Record<string, string>;
  created: string;
  updated: string;
}

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1000;
const CTAS = /^\s*create\s+table\s+(?:if\s+not\s+exists\s+)?((?:"[^"]+"|[A-Za-z_][\w$]*)(?:\.(?:"[^"]+"|[A-Za-z_][\w$]*))?)\s+(?:\([^)]*\)\s*)?as\b/i;
const INSERT_INTO = /^\s*insert\s+into\b/i;
const TABLE_NAME = '((?:"[^"]+"|[A-Za-z_][\\w$]*)(?:\\.(?:"[^"]+"|[A-Za-z_][\\w$]*))?)';
/** Every CREATE TABLE ... AS (not temporary tables) and INSERT INTO in a query, wherever it stands. */
const CTAS_ANYWHERE = new RegExp(`\\bcreate\\s+table\\s+(?:if\\s+not\\s+exists\\s+)?${TABLE_NAME}\\s+(?:\\([^)]*\\)\\s*)?as\\b`, 'gi');
const INSERT_ANYWHERE = new RegExp(`\\binsert\\s+into\\s+${TABLE_NAME}`, 'gi');

/** A dataset a batch query wrote: a new snapshot of it. */
interface QueryWrite {
  table: string;
  /** Made by CREATE TABLE AS (a new dataset). */
  created: boolean;
  rows: number;
  batchId: string;
  snapshotId: number;
}

/** Tables a query's SQL creates with CREATE TABLE AS and inserts into, by name (lower case unless quoted). */
export function writeTargets(sql: string): { created: string[]; inserted: string[] } {
  // TABLE_NAME's group takes part in every match.
  const created = [...sql.matchAll(CTAS_ANYWHERE)].map((m) => unquoteTable(m[1]!));
  const inserted = [...sql.matchAll(INSERT_ANYWHERE)].map((m) => unquoteTable(m[1]!));
  return { created: [...new Set(created)], inserted: [...new Set(inserted)] };
}
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function stringParams(value: unknown, what: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) throw queryError(400, `'${what}' must be an object of parameter values`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === null || typeof v === 'object') throw queryError(400, `Query parameter '${k}' must be a string, number or boolean`);
    out[k] = String(v);
  }
  return out;
}

/**
 * Replaces `$name` with the value of parameter `name`, as Data Distiller does. A `$name` directly
 * followed by `$` is a dollar-quote tag and left alone; a `$name` without a value is an error.
 */
export function substituteParameters(sql: string, params: Record<string, string>): string {
  const missing = new Set<string>();
  const out = sql.replace(/(^|[^\w$])\$([A-Za-z_][A-Za-z0-9_]*)(?!\$|\w)/g, (whole, before: string, name: string) => {
    if (Object.prototype.hasOwnProperty.call(params, name)) return before + params[name];
    missing.add(name);
    return whole;
  });
  if (missing.size > 0) {
    throw queryError(400, `The SQL uses parameter(s) ${[...missing].map((m) => `$${m}`).join(', ')} but 'queryParameters' gives no value for them`);
  }
  return out;
}

function unquoteTable(name: string): string {
  const last = name.split('.').pop() ?? name;
  return last.startsWith('"') ? last.slice(1, -1).replace(/""/g, '"') : last.toLowerCase();
}

export class QueryService {
  private lastStamp = 0;
  private readonly queries = new Map<string, QueryRecord>();
  private readonly templates = new Map<string, TemplateRecord>();

  constructor(
    private readonly ctx: QueryServiceContext,
    private readonly db: PGlite,
    private readonly catalog: Catalog,
    private readonly jobs: JobRunner,
  ) {}

  register(router: Router): void {
    const b = QUERY_BASE;
    router.add('POST', 'query', `${b}/queries`, (c) => this.submit(c));
    router.add('GET', 'query', `${b}/queries`, (c) => this.listQueries(c));
    router.add('GET', 'query', `${b}/queries/:id`, (c) => this.getQuery(c));
    router.add('PATCH', 'query', `${b}/queries/:id`, (c) => this.patchQuery(c));
    router.add('POST', 'query', `${b}/query-templates`, (c) => this.createTemplate(c));
    router.add('GET', 'query', `${b}/query-templates`, (c) => this.listTemplates(c));
    router.add('GET', 'query', `${b}/query-templates/:id`, (c) => this.getTemplate(c));
    router.add('PUT', 'query', `${b}/query-templates/:id`, (c) => this.updateTemplate(c));
    router.add('DELETE', 'query', `${b}/query-templates/:id`, (c) => this.deleteTemplate(c));
    router.add('GET', 'query', `${b}/connection_parameters`, (c) => this.connectionParameters(c));
  }

  /** Creation times strictly increase, so paging by `start` (a timestamp) never skips a tie. */
  private stamp(): string {
    this.lastStamp = Math.max(this.ctx.clock.now().getTime(), this.lastStamp + 1);
    return new Date(this.lastStamp).toISOString();
  }

  private get userId(): string {
    return `${this.ctx.clientId}@techacct.adobe.com`;
  }

  // ---------------------------------------------------------------- queries

  private renderQuery(q: QueryRecord, baseUrl: string): Record<string, unknown> {
    const href = `${baseUrl}${QUERY_BASE}/queries/${q.id}`;
    const links: Record<string, unknown> = {
      cancel: { href, method: 'PATCH', body: '{ "op": "cancel" }' },
      soft_delete: { href, method: 'PATCH', body: '{ "op": "soft_delete" }' },
    };
    if (q.createdDatasetId) {
      links.created_dataset = { id: q.createdDatasetId, href: `${baseUrl}/data/foundation/catalog/dataSets/${q.createdDatasetId}` };
    }
    const out: Record<string, unknown> = {
      id: q.id,
      request: { ...q.request },
      sql: q.sql,
      effectiveSQL: q.effectiveSQL,
      isCTAS: q.isCTAS,
      isInsertInto: q.isInsertInto,
      state: q.state,
      created: q.created,
      updated: q.updated,
      elapsedTime: q.state === 'IN_PROGRESS' && q.startedAt ? this.ctx.clock.now().getTime() - q.startedAt : q.elapsedTime,
      userId: this.userId,
      client: 'API',
      errors: q.errors.map((e) => ({ ...e })),
      _links: links,
      version: 1,
    };
    if (q.rowCount !== undefined) out.rowCount = q.rowCount;
    if (q.templateId) out.templateId = q.templateId;
    if (q.templateName) out.templateName = q.templateName;
    return out;
  }

  private mustGetQuery(id: string): QueryRecord {
    const q = this.queries.get(id);
    if (!q) throw queryError(404, `Query '${id}' was not found`);
    return q;
  }

  private submit(ctx: RequestContext): Reply {
    const body = objectBody(ctx, queryError);
    const dbName = body.dbName;
    if (typeof dbName !== 'string' || dbName === '') throw queryError(400, `'dbName' is required, e.g. '${this.ctx.sandbox}:all'`);
    if (!dbName.startsWith(`${this.ctx.sandbox}:`)) {
      throw queryError(400, `'dbName' '${dbName}' does not name sandbox '${this.ctx.sandbox}'; use '${this.ctx.sandbox}:all'`);
    }
    let sql = body.sql;
    let template: TemplateRecord | undefined;
    if (body.templateId !== undefined) {
      if (typeof body.templateId !== 'string') throw queryError(400, "'templateId' must be a string");
      template = this.templates.get(body.templateId);
      if (!template) throw queryError(400, `Query template '${body.templateId}' does not exist`);
      if (sql === undefined) sql = template.sql;
    }
    if (typeof sql !== 'string' || sql.trim() === '') throw queryError(400, "Either 'sql' or 'templateId' is required");
    for (const k of ['name', 'description'] as const) {
      if (body[k] !== undefined && typeof body[k] !== 'string') throw queryError(400, `'${k}' must be a string`);
    }
    const params = { ...(template?.queryParameters ?? {}), ...stringParams(body.queryParameters, 'queryParameters') };
    const resolved = substituteParameters(sql, params);
    let effective = resolved;
    let ctasTable: string | undefined;
    if (body.ctasParameters !== undefined) {
      const p = body.ctasParameters;
      if (!isPlainObject(p) || typeof p.datasetName !== 'string' || !IDENTIFIER.test(p.datasetName)) {
        throw queryError(400, "'ctasParameters.datasetName' must be a table name (letters, digits and underscores)");
      }
      ctasTable = p.datasetName.toLowerCase();
      effective = `CREATE TABLE ${quoteIdent(ctasTable)} AS (${resolved.replace(/;\s*$/, '')})`;
    } else if (body.insertIntoParameters !== undefined) {
      const p = body.insertIntoParameters;
      if (!isPlainObject(p) || typeof p.datasetName !== 'string' || p.datasetName === '') {
        throw queryError(400, "'insertIntoParameters.datasetName' must name a dataset");
      }
      const dataset = [...this.catalog.datasets.values()].find((d) => d.name === p.datasetName);
      const table = dataset?.table ?? p.datasetName;
      if (!dataset && !IDENTIFIER.test(table)) throw queryError(400, `Dataset '${p.datasetName}' does not exist`);
      effective = `INSERT INTO ${quoteIdent(dataset ? table : table.toLowerCase())} ${resolved.replace(/;\s*$/, '')}`;
    } else {
      const m = CTAS.exec(resolved);
      if (m) ctasTable = unquoteTable(m[1]!); // the table name's group takes part in every match
    }
    const now = this.stamp();
    const request: Record<string, unknown> = { dbName, sql };
    for (const k of ['name', 'description', 'templateId', 'queryParameters', 'ctasParameters', 'insertIntoParameters']) {
      if (body[k] !== undefined) request[k] = body[k];
    }
    const q: QueryRecord = {
      id: uuid(),
      request,
      sql: resolved,
      effectiveSQL: effective,
      state: 'SUBMITTED',
      created: now,
      updated: now,
      elapsedTime: 0,
      errors: [],
      templateId: template?.id,
      templateName: template?.name,
      isCTAS: ctasTable !== undefined,
      isInsertInto: INSERT_INTO.test(effective),
      ctasTable,
      softDeleted: false,
      cancelRequested: false,
    };
    this.queries.set(q.id, q);
    this.jobs.run(`query ${q.id}`, () => this.execute(q));
    return { status: 202, body: this.renderQuery(q, ctx.baseUrl) };
  }

  private async execute(q: QueryRecord): Promise<void> {
    if (q.cancelRequested) return;
    const touch = () => {
      q.updated = this.ctx.clock.now().toISOString();
    };
    try {
      // The query stays SUBMITTED (and cancellable) until it gets the database session.
      const results = await withExclusiveSession(this.db, async () => {
        if (q.cancelRequested) return undefined;
        q.state = 'IN_PROGRESS';
        q.startedAt = this.ctx.clock.now().getTime();
        touch();
        const before = await existingRelations(this.db);
        const targets = writeTargets(q.effectiveSQL);
        // Rows the query inserts into existing datasets make a new snapshot of each.
        const inserted = new Map<string, number>();
        for (const table of targets.inserted) {
          if (inserted.has(table) || !before.has(table) || !this.catalog.findDatasetByTable(table)) continue;
          if (!(await hasSnapshotColumn(this.db, table))) continue;
          inserted.set(table, await nextSnapshotId(this.db));
        }
        const untag = await tagInsertsWhileRunning(this.db, inserted);
        let results;
        try {
          results = await this.db.exec(q.effectiveSQL);
        } finally {
          // A query must not leave the shared session inside a transaction.
          if (this.db.isInTransaction()) await this.db.exec('ROLLBACK');
          await untag();
        }
        const last = results[results.length - 1];
        let rowCount = last ? (last.affectedRows && last.affectedRows > 0 ? last.affectedRows : last.rows.length) : 0;
        const written: QueryWrite[] = [];
        const after = await existingRelations(this.db);
        for (const table of targets.created) {
          if (written.some((w) => w.table === table) || !after.has(table)) continue;
          if (before.has(table) && this.catalog.findDatasetByTable(table)) continue; // CREATE TABLE IF NOT EXISTS on a dataset: nothing written
          // A table made by CREATE TABLE AS is a new dataset whose first snapshot holds every row.
          const snapshotId = await nextSnapshotId(this.db);
          await adoptQueryTable(this.db, table, snapshotId);
          const counted = await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${quoteIdent(table)}`);
          const batch = batchId(this.ctx.clock.now().getTime());
          await recordSnapshot(this.db, table, snapshotId, batch);
          written.push({ table, created: true, rows: counted.rows[0]!.n, batchId: batch, snapshotId }); // an aggregate returns one row
        }
        for (const [table, snapshotId] of inserted) {
          if (written.some((w) => w.table === table)) continue;
          const rows = await rowsInSnapshot(this.db, table, snapshotId);
          if (rows === 0) continue;
          const batch = batchId(this.ctx.clock.now().getTime());
          await recordSnapshot(this.db, table, snapshotId, batch);
          written.push({ table, created: false, rows, batchId: batch, snapshotId });
        }
        // PostgreSQL reports no row count for CREATE TABLE AS; Query Service reports the rows persisted.
        const ctas = q.ctasTable ? written.find((w) => w.table === q.ctasTable && w.created) : undefined;
        if (ctas) rowCount = ctas.rows;
        else if (q.ctasTable && after.has(q.ctasTable)) rowCount = 0;
        else if (q.isInsertInto && written.length === 1 && !written[0]!.created) rowCount = written[0]!.rows; // the one written table
        return { rowCount, written, ctasExists: q.ctasTable !== undefined && after.has(q.ctasTable) };
      });
      if (!results) return;
      q.rowCount = results.rowCount;
      const description = q.request.description as string | undefined;
      for (const w of results.written) {
        const dataset = w.created ? this.catalog.registerQueryDataset(w.table, description) : this.catalog.findDatasetByTable(w.table);
        if (dataset) this.catalog.noteQueryBatch(dataset.id, w.batchId, w.rows);
      }
      if (results.ctasExists && q.ctasTable) {
        q.createdDatasetId = (this.catalog.findDatasetByTable(q.ctasTable) ?? this.catalog.registerQueryDataset(q.ctasTable, description)).id;
      }
      q.state = 'SUCCESS';
    } catch (err) {
      const e = err as Error & { code?: string };
      q.errors = [{ code: typeof e.code === 'string' ? e.code : '58000', message: e.message, errorType: 'USER_ERROR' }];
      q.state = 'FAILED';
    } finally {
      if (q.startedAt !== undefined) q.elapsedTime = this.ctx.clock.now().getTime() - q.startedAt;
      if (q.state !== 'KILLED') touch();
    }
  }

  private getQuery(ctx: RequestContext): Reply {
    return { status: 200, body: this.renderQuery(this.mustGetQuery(ctx.param('id')), ctx.baseUrl) };
  }

  private patchQuery(ctx: RequestContext): Reply {
    const q = this.mustGetQuery(ctx.param('id'));
    const body = objectBody(ctx, queryError);
    if (body.op === 'cancel') {
      if (q.state !== 'SUBMITTED') {
        throw queryError(409, `Query '${q.id}' is ${q.state}; only a query that has not started can be cancelled by the embedded platform`);
      }
      q.cancelRequested = true;
      q.state = 'KILLED';
      q.updated = this.ctx.clock.now().toISOString();
      return { status: 202, body: { message: 'Query cancel request received', statusCode: 202 } };
    }
    if (body.op === 'soft_delete') {
      q.softDeleted = true;
      q.updated = this.ctx.clock.now().toISOString();
      return { status: 202, body: { message: 'Query soft delete request received', statusCode: 202 } };
    }
    throw queryError(400, `'op' must be 'cancel' or 'soft_delete', got '${String(body.op)}'`);
  }

  private listQueries(ctx: RequestContext): Reply {
    const q = ctx.query;
    const excludeSoftDeleted = q.get('excludeSoftDeleted') !== 'false';
    const items = [...this.queries.values()]
      .filter((r) => !(excludeSoftDeleted && r.softDeleted))
      .map((r) => this.renderQuery(r, ctx.baseUrl));
    const read = (item: Record<string, unknown>, field: string): unknown => {
      const request = item.request as Record<string, unknown>;
      if (field === 'name' || field === 'description' || field === 'dbName') return request[field];
      if (field === 'referenced_datasets') return [];
      return item[field];
    };
    const { page, rows, next } = this.page(ctx, items, read);
    const links: Record<string, unknown> = {};
    if (next) links.next = { href: this.nextHref(ctx, `${QUERY_BASE}/queries`, next) };
    return { status: 200, body: { queries: rows, _page: page, _links: links, version: 1 } };
  }

  /** Filters (`property`), orders (`orderby`: ±created|±updated) and pages (`start`, `limit`) a list. */
  private page(
    ctx: RequestContext,
    items: Record<string, unknown>[],
    read: (item: Record<string, unknown>, field: string) => unknown,
  ): { page: Record<string, unknown>; rows: Record<string, unknown>[]; next?: string | undefined } {
    const q = ctx.query;
    const property = q.get('property');
    const filters = property ? parsePropertyFilter(property, queryError) : [];
    let rows = items.filter((i) => matchesFilters(i, filters, 'contains', read));
    const orderby = (q.get('orderby') ?? '-created').trim();
    const descending = orderby.startsWith('-');
    const field = orderby.replace(/^[-+ ]/, '').trim();
    if (field !== 'created' && field !== 'updated') throw queryError(400, `'orderby' must be created or updated, prefixed with + or -; got '${orderby}'`);
    rows.sort((a, b) => (descending ? -1 : 1) * compareValues(a[field], b[field]));
    const start = q.get('start');
    if (start) rows = rows.filter((r) => (descending ? String(r[field]) < start : String(r[field]) > start));
    const limit = intParam(q, 'limit', DEFAULT_LIMIT, queryError, { min: 1, max: MAX_LIMIT });
    let next: string | undefined;
    if (rows.length > limit) {
      rows = rows.slice(0, limit);
      next = String(rows[rows.length - 1]![field]); // limit is at least 1, so the page is not empty
    }
    const page: Record<string, unknown> = { orderby: `${descending ? '-' : '+'}${field}`, count: rows.length };
    const [first] = rows;
    if (first) page.start = String(first[field]);
    if (next) page.next = next;
    if (property) page.property = property;
    return { page, rows, next };
  }

  private nextHref(ctx: RequestContext, path: string, next: string): string {
    const params = new URLSearchParams(ctx.query);
    params.set('start', next);
    return `${ctx.baseUrl}${path}?${params.toString()}`;
  }

  // ---------------------------------------------------------------- templates

  private renderTemplate(t: TemplateRecord, baseUrl: string): Record<string, unknown> {
    const href = `${baseUrl}${QUERY_BASE}/query-templates/${t.id}`;
    const out: Record<string, unknown> = {
      sql: t.sql,
      name: t.name,
      id: t.id,
      updated: t.updated,
      lastUpdatedBy: this.userId,
      userId: this.userId,
      _links: {
        self: { href, method: 'GET' },
        update: { href, method: 'PUT', body: '{"sql": "new sql", "name": "new name"}' },
        delete: { href, method: 'DELETE' },
      },
    };
    if (t.queryParameters) out.queryParameters = { ...t.queryParameters };
    return out;
  }

  private templateBody(ctx: RequestContext): { name: string; sql: string; queryParameters?: Record<string, string> } {
    const body = objectBody(ctx, queryError);
    if (typeof body.name !== 'string' || body.name.trim() === '') throw queryError(400, "'name' is required");
    if (typeof body.sql !== 'string' || body.sql.trim() === '') throw queryError(400, "'sql' is required");
    const queryParameters = body.queryParameters === undefined ? undefined : stringParams(body.queryParameters, 'queryParameters');
    return { name: body.name, sql: body.sql, ...(queryParameters !== undefined && { queryParameters }) };
  }

  private mustGetTemplate(id: string): TemplateRecord {
    const t = this.templates.get(id);
    if (!t) throw queryError(404, `Query template '${id}' was not found`);
    return t;
  }

  private createTemplate(ctx: RequestContext): Reply {
    const def = this.templateBody(ctx);
    const now = this.stamp();
    const t: TemplateRecord = { id: uuid(), ...def, created: now, updated: now };
    if (!def.queryParameters) delete t.queryParameters;
    this.templates.set(t.id, t);
    return { status: 202, body: this.renderTemplate(t, ctx.baseUrl) };
  }

  private listTemplates(ctx: RequestContext): Reply {
    const items = [...this.templates.values()].map((t) => ({ ...this.renderTemplate(t, ctx.baseUrl), created: t.created }));
    const { page, rows, next } = this.page(ctx, items, (item, field) => item[field]);
    const links: Record<string, unknown> = {};
    if (next) links.next = { href: this.nextHref(ctx, `${QUERY_BASE}/query-templates`, next) };
    for (const r of rows) delete r.created;
    return { status: 200, body: { templates: rows, _page: page, _links: links, version: 1 } };
  }

  private getTemplate(ctx: RequestContext): Reply {
    return { status: 200, body: this.renderTemplate(this.mustGetTemplate(ctx.param('id')), ctx.baseUrl) };
  }

  private updateTemplate(ctx: RequestContext): Reply {
    const t = this.mustGetTemplate(ctx.param('id'));
    const def = this.templateBody(ctx);
    t.name = def.name;
    t.sql = def.sql;
    if (def.queryParameters) t.queryParameters = def.queryParameters;
    else delete t.queryParameters;
    t.updated = this.ctx.clock.now().toISOString();
    return { status: 202, body: this.renderTemplate(t, ctx.baseUrl) };
  }

  private deleteTemplate(ctx: RequestContext): Reply {
    const t = this.mustGetTemplate(ctx.param('id'));
    this.templates.delete(t.id);
    // query_template_delete documents statusCode as a string.
    return { status: 202, body: { message: 'Deleted', statusCode: '202' } };
  }

  // ---------------------------------------------------------------- wire protocol

  private connectionParameters(ctx: RequestContext): Reply {
    return {
      status: 200,
      body: {
        host: this.ctx.queryService.host,
        port: this.ctx.queryService.port,
        username: this.ctx.orgId,
        token: ctx.token,
        dbName: `${this.ctx.sandbox}:all`,
        version: 1,
      },
    };
  }
}
