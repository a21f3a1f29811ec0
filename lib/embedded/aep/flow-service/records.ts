/**
 * The Flow Service API over its records: create, list, get and delete connections and dataflows,
 * list and get runs. A creation request goes to the destination or source checks by its spec id.
 */
import { flowServiceError } from '../errors';
import { cloneJson, header, intParam, objectBody, Reply, RequestContext } from '../http';
import { uuid } from '../ids';
import { compareValues, matchesFilters, parsePropertyFilter, PropertyFilter, readField } from '../listing';
import { INGESTION_SPECS } from '../source-ingestion';
import type { Destinations } from './destinations';
import { bad, etag, EXPORT_SPECS, FLOW_BASE, optionalString, requiredName, specRef } from './model';
import type { BaseConnection, Collection, Common, Flow, FlowStore, RecordChecks, SourceConnection, SpecRef, TargetConnection } from './model';
import { renderExportRun, renderIngestionRun } from './runs';
import type { Sources } from './sources';

const MAX_LIMIT = 100;

/** Per collection: the field naming the spec, the dataset export's and the ingestion's spec ids, and the refusal of any other. */
const SPECS: Record<Collection, { field: 'connectionSpec' | 'flowSpec'; check: keyof RecordChecks; export: string; ingestion: string; accepted: string }> = {
  connections: {
    field: 'connectionSpec',
    check: 'baseConnection',
    export: EXPORT_SPECS.s3Destination,
    ingestion: INGESTION_SPECS.s3Source,
    accepted: `the embedded platform connects to Amazon S3 as a destination (connection spec ${EXPORT_SPECS.s3Destination}) or as a source (${INGESTION_SPECS.s3Source})`,
  },
  sourceConnections: {
    field: 'connectionSpec',
    check: 'sourceConnection',
    export: EXPORT_SPECS.datasetSource,
    ingestion: INGESTION_SPECS.s3Source,
    accepted: `the embedded platform's sources are data lake datasets (connection spec ${EXPORT_SPECS.datasetSource}) and Amazon S3 (${INGESTION_SPECS.s3Source})`,
  },
  targetConnections: {
    field: 'connectionSpec',
    check: 'targetConnection',
    export: EXPORT_SPECS.s3Destination,
    ingestion: INGESTION_SPECS.dataLakeTarget,
    accepted: `the embedded platform's targets are Amazon S3 (connection spec ${EXPORT_SPECS.s3Destination}) and the data lake (${INGESTION_SPECS.dataLakeTarget})`,
  },
  flows: {
    field: 'flowSpec',
    check: 'flow',
    export: EXPORT_SPECS.datasetExportFlow,
    ingestion: INGESTION_SPECS.cloudStorageFlow,
    accepted: `the embedded platform runs dataset exports to Amazon S3 (flow spec ${EXPORT_SPECS.datasetExportFlow}) and ingestion from Amazon S3 (${INGESTION_SPECS.cloudStorageFlow})`,
  },
};

export class FlowRecords {
  constructor(
    private readonly store: FlowStore,
    private readonly destinations: Destinations,
    private readonly sources: Sources,
  ) {}

  // ---------------------------------------------------------------- creation

  create(ctx: RequestContext, c: Collection): Reply {
    const body = objectBody(ctx, flowServiceError);
    const now = this.store.stamp();
    const common: Common = { id: uuid(), name: requiredName(body), createdAt: now, updatedAt: now, etag: etag() };
    const description = optionalString(body, 'description');
    if (description !== undefined) common.description = description;
    const kind = SPECS[c];
    const spec = specRef(body[kind.field], kind.field);
    const checks = spec.id === kind.ingestion ? this.sources : spec.id === kind.export ? this.destinations : undefined;
    if (!checks) throw bad(`Please provide a valid spec id: ${kind.accepted}, not '${spec.id}'`);
    const entity: Common = checks[kind.check](body, common, spec);
    this.store.collection(c).set(entity.id, entity);
    return {
      status: 201,
      body: { id: entity.id, etag: entity.etag },
      headers: { location: `${ctx.baseUrl}${FLOW_BASE}/${c}/${entity.id}` },
    };
  }

  // ---------------------------------------------------------------- rendering

  private render(c: Collection, e: Common): Record<string, unknown> {
    const out: Record<string, unknown> = { ...this.store.meta(e), name: e.name };
    if (e.description !== undefined) out.description = e.description;
    switch (c) {
      case 'connections': {
        const b = e as BaseConnection;
        const params = cloneJson(b.auth.params);
        // Secrets never leave Flow Service.
        if (typeof params.s3SecretKey === 'string') params.s3SecretKey = '{SECRET_KEY}';
        Object.assign(out, { connectionSpec: { ...b.connectionSpec }, state: 'enabled', auth: { specName: b.auth.specName, params } });
        break;
      }
      case 'sourceConnections':
      case 'targetConnections': {
        const s = e as SourceConnection | TargetConnection;
        if (s.baseConnectionId) out.baseConnectionId = s.baseConnectionId;
        Object.assign(out, { state: 'enabled', connectionSpec: { ...s.connectionSpec }, params: cloneJson(s.params) });
        if (s.data) out.data = cloneJson(s.data);
        const base = s.baseConnectionId ? this.store.connections.get(s.baseConnectionId) : undefined;
        out.inheritedAttributes = base ? { baseConnection: { id: base.id, connectionSpec: { ...base.connectionSpec } } } : {};
        break;
      }
      default: {
        const f = e as Flow;
        // destinations.yaml requires a description on dataflows.
        out.description = f.description ?? '';
        Object.assign(out, {
          flowSpec: { ...f.flowSpec },
          state: f.state,
          sourceConnectionIds: [...f.sourceConnectionIds],
          targetConnectionIds: [...f.targetConnectionIds],
          inheritedAttributes: this.inheritedFlowAttributes(f),
          scheduleParams: cloneJson(f.scheduleParams),
          transformations: cloneJson(f.transformations),
          runs: `/runs?property=flowId==${f.id}`,
        });
        const last = f.lastRunId ? (this.store.runs.get(f.lastRunId) ?? this.store.ingestionRuns.get(f.lastRunId)) : undefined;
        if (last) {
          const details: Record<string, unknown> = { id: last.id, state: last.state };
          if (last.startedAt !== undefined) details.startedAtUTC = last.startedAt;
          if (last.completedAt !== undefined) details.completedAtUTC = last.completedAt;
          out.lastRunDetails = details;
        }
      }
    }
    out.version = e.etag;
    out.etag = e.etag;
    return out;
  }

  /** What a dataflow inherits from its connections, as AEP lists it (arrays, as the files' examples show). */
  private inheritedFlowAttributes(f: Flow): Record<string, unknown> {
    const spec = (c: { connectionSpec: SpecRef } | undefined) => (c ? { ...c.connectionSpec } : undefined);
    const source = f.flowSpec.id === INGESTION_SPECS.cloudStorageFlow;
    const connection = (id: string, c: SourceConnection | TargetConnection | undefined) => {
      const base = c?.baseConnectionId ? this.store.connections.get(c.baseConnectionId) : undefined;
      return { id, connectionSpec: spec(c), ...(base ? { baseConnection: { id: base.id, connectionSpec: spec(base) } } : {}) };
    };
    return {
      properties: source ? { isSourceFlow: true } : { isDestinationFlow: true },
      sourceConnections: f.sourceConnectionIds.map((id) => connection(id, this.store.sourceConnections.get(id))),
      targetConnections: f.targetConnectionIds.map((id) => connection(id, this.store.targetConnections.get(id))),
    };
  }

  // ---------------------------------------------------------------- listing

  private page(ctx: RequestContext, path: string, items: Record<string, unknown>[]): Reply {
    const q = ctx.query;
    const filters: PropertyFilter[] = [];
    for (const expr of q.getAll('property')) filters.push(...parsePropertyFilter(expr, flowServiceError));
    const matching = items.filter((i) => matchesFilters(i, filters, 'contains'));
    const orderby = (q.get('orderby') ?? '-createdAt').trim();
    const descending = orderby.startsWith('-');
    const field = orderby.replace(/^[-+ ]/, '').trim();
    if (!/^[A-Za-z_][\w.]*$/.test(field)) throw bad(`'orderby' must name a field, optionally prefixed with + or -; got '${orderby}'`);
    const key = (item: Record<string, unknown>): [unknown, string] => [readField(item, field), String(item.id)];
    const cmp = (a: [unknown, string], b: [unknown, string]) => (descending ? -1 : 1) * compareValues(a[0], b[0]) || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
    matching.sort((a, b) => cmp(key(a), key(b)));
    let rows = matching;
    const token = q.get('continuationToken');
    if (token) {
      let after: [unknown, string];
      try {
        after = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as [unknown, string];
        if (!Array.isArray(after) || after.length !== 2 || typeof after[1] !== 'string') throw new Error('shape');
      } catch {
        throw bad(`'continuationToken' '${token}' is not a token this service gave`);
      }
      rows = rows.filter((r) => cmp(key(r), after) > 0);
    }
    const limit = intParam(q, 'limit', MAX_LIMIT, flowServiceError, { min: 1, max: MAX_LIMIT });
    const more = rows.length > limit;
    rows = rows.slice(0, limit);
    const body: Record<string, unknown> = { items: rows };
    if (more) {
      const params = new URLSearchParams(q);
      // More rows than the limit (at least 1) were found, so the page is not empty.
      params.set('continuationToken', Buffer.from(JSON.stringify(key(rows[rows.length - 1]!))).toString('base64url'));
      body._links = { next: { href: `${ctx.baseUrl}${FLOW_BASE}/${path}?${params.toString()}` } };
    } else {
      body._links = {};
    }
    if (q.get('count') === 'true') body.count = matching.length;
    return { status: 200, body };
  }

  list(ctx: RequestContext, c: Collection): Reply {
    return this.page(ctx, c, [...this.store.collection(c).values()].map((e) => this.render(c, e)));
  }

  getOne(ctx: RequestContext, c: Collection): Reply {
    const e = this.store.collection(c).get(ctx.param('id'));
    if (!e) throw this.store.notFound(c, ctx.param('id'));
    return { status: 200, body: { items: [this.render(c, e)] } };
  }

  remove(ctx: RequestContext, c: Collection): Reply {
    const store = this.store.collection(c);
    const e = store.get(ctx.param('id'));
    if (!e) throw this.store.notFound(c, ctx.param('id'));
    const ifMatch = header(ctx.headers, 'if-match');
    if (ifMatch !== undefined && ifMatch.trim() !== '*' && ifMatch.trim() !== e.etag) {
      throw flowServiceError(412, `Supplied version=[${ifMatch}] does not match the current version on entity=[${e.etag}]`, '1412');
    }
    store.delete(e.id);
    return { status: 202 };
  }

  listRuns(ctx: RequestContext): Reply {
    const ingestion = [...this.store.ingestionRuns.values()].map((r) => renderIngestionRun(r, this.store.meta(r)));
    const exports = [...this.store.runs.values()].map((r) => renderExportRun(r, this.store.meta(r)));
    return this.page(ctx, 'runs', [...exports, ...ingestion]);
  }

  getRun(ctx: RequestContext): Reply {
    const r = this.store.runs.get(ctx.param('id'));
    if (r) return { status: 200, body: { items: [renderExportRun(r, this.store.meta(r))] } };
    const ingestion = this.store.ingestionRuns.get(ctx.param('id'));
    if (!ingestion) throw this.store.notFound('runs', ctx.param('id'));
    return { status: 200, body: { items: [renderIngestionRun(ingestion, this.store.meta(ingestion))] } };
  }
}
