/**
 * Segmentation stand-in (`/data/core/ups`, segmentation.yaml): segment definitions whose `pql/text`
 * rule is parsed and checked against the Profile union when it is saved, and segment jobs that
 * evaluate the rules over the profile store (see profile-store.ts) in the background:
 * NEW -> QUEUED -> PROCESSING -> SUCCEEDED | FAILED, with the documented metrics
 * (`segmentedProfileCounter[segmentId]`, `totalProfiles`, ...).
 */
import type { Clock } from '../../ports/clock';
import type { JobRunner } from './batch-ingestion';
import { segmentationError } from './errors';
import { ApiError, cloneJson, intParam, isPlainObject, objectBody, Reply, RequestContext, Router } from './http';
import { uuid } from './ids';
import { sortBy } from './listing';
import { comparisons, evaluatePql, fieldPaths, parsePql, PqlError, type Operand, type PqlExpression } from './pql';
import type { ProfileStore } from './profile-store';
import { lookupPath } from './xdm';

export const SEGMENTATION_BASE = '/data/core/ups';

/** The only class definitions are evaluated on here. */
const PROFILE_SCHEMA_NAME = '_xdm.context.profile';
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

export interface SegmentationContext {
  orgId: string;
  sandbox: string;
  sandboxId: string;
  /** The platform's clock, which stamps every record (a simulated run's virtual clock). */
  clock: Clock;
  /** How long a job waits (QUEUED) before it is evaluated, to observe unfinished jobs; default 0. */
  jobDelayMs?: number;
}

interface Expression {
  type: 'PQL';
  format: 'pql/text';
  value: string;
}

interface DefinitionRecord {
  id: string;
  name: string;
  description?: string | undefined;
  expression: Expression;
  evaluationInfo: Record<string, unknown>;
  payloadSchema?: string | undefined;
  creationTime: number;
  updateTime: number;
  version: number;
}

type JobStatus = 'NEW' | 'QUEUED' | 'PROCESSING' | 'SUCCEEDED' | 'FAILED';

interface JobRecord {
  id: string;
  requestId: string;
  status: JobStatus;
  /** `api` for an on-demand job (flexible audience evaluation), `scheduler` for the daily scheduled segmentation. */
  source: 'api' | 'scheduler';
  /** A scheduled job's schedule and run. */
  properties?: { scheduleId: string; runId: string };
  /** The definitions as they were when the job was requested. */
  segments: Array<{ segmentId: string; version: number; expression: Expression; rule: PqlExpression }>;
  creationTime: number;
  updateTime: number;
  processingStart?: number;
  endTime?: number;
  totalProfiles?: number;
  counts?: Record<string, number>;
  byNamespace?: Record<string, Record<string, number>>;
  errors?: Array<{ code: string; msg: string }>;
}

const SORTABLE = new Set(['name', 'creationTime', 'updateTime']);

export class Segmentation {
  private readonly definitions = new Map<string, DefinitionRecord>();
  private readonly jobRecords = new Map<string, JobRecord>();
  /** The one merge policy of the sandbox, which every definition and job refers to. */
  private readonly mergePolicyId = uuid();

  constructor(
    private readonly ctx: SegmentationContext,
    private readonly profiles: ProfileStore,
    private readonly jobs: JobRunner,
  ) {}

  register(router: Router): void {
    const b = SEGMENTATION_BASE;
    router.add('GET', 'segmentation', `${b}/segment/definitions`, (c) => this.listDefinitions(c));
    router.add('POST', 'segmentation', `${b}/segment/definitions`, (c) => this.createDefinition(c));
    router.add('GET', 'segmentation', `${b}/segment/definitions/:id`, (c) => this.getDefinition(c));
    router.add('PATCH', 'segmentation', `${b}/segment/definitions/:id`, (c) => this.patchDefinition(c));
    router.add('DELETE', 'segmentation', `${b}/segment/definitions/:id`, (c) => this.deleteDefinition(c));
    router.add('GET', 'segmentation', `${b}/segment/jobs`, (c) => this.listJobs(c));
    router.add('POST', 'segmentation', `${b}/segment/jobs`, (c) => this.createJob(c));
    router.add('GET', 'segmentation', `${b}/segment/jobs/:id`, (c) => this.getJob(c));
  }

  /** Every segment job requested so far, on demand or scheduled: who asked and when, read-only. */
  jobsRequested(): Array<Readonly<Pick<JobRecord, 'id' | 'source' | 'status' | 'creationTime'>>> {
    return [...this.jobRecords.values()].map(({ id, source, status, creationTime }) => ({ id, source, status, creationTime }));
  }

  // ---------------------------------------------------------------- definitions

  private bad(message: string): ApiError {
    return segmentationError(400, message, '1001');
  }

  private renderDefinition(d: DefinitionRecord): Record<string, unknown> {
    return {
      id: d.id,
      imsOrgId: this.ctx.orgId,
      name: d.name,
      ...(d.description !== undefined ? { description: d.description } : {}),
      mergePolicyId: this.mergePolicyId,
      profileInstanceId: 'ups',
      expression: { ...d.expression },
      schema: { name: PROFILE_SCHEMA_NAME },
      evaluationInfo: cloneJson(d.evaluationInfo),
      ...(d.payloadSchema !== undefined ? { payloadSchema: d.payloadSchema } : {}),
      dataGovernancePolicy: { excludeOptOut: true },
      creationTime: d.creationTime,
      updateTime: d.updateTime,
      updateEpoch: Math.floor(d.updateTime / 1000),
    };
  }

  private mustGetDefinition(id: string): DefinitionRecord {
    const d = this.definitions.get(id);
    if (!d) throw segmentationError(404, `Segment definition '${id}' was not found in sandbox '${this.ctx.sandbox}'`, '1200');
    return d;
  }

  /** Checks the fields a create or patch sets; returns them ready to store. */
  private definitionFields(body: Record<string, unknown>, current?: DefinitionRecord): Omit<DefinitionRecord, 'id' | 'creationTime' | 'updateTime' | 'version'> {
    const name = body.name ?? current?.name;
    if (typeof name !== 'string' || name.trim() === '') throw this.bad("'name' is required: a unique name for the segment definition");
    const description = body.description ?? current?.description;
    if (description !== undefined && typeof description !== 'string') throw this.bad("'description' must be a string");
    const schema = body.schema ?? (current ? { name: PROFILE_SCHEMA_NAME } : undefined);
    if (!isPlainObject(schema) || typeof schema.name !== 'string') throw this.bad(`'schema' is required: { "name": "${PROFILE_SCHEMA_NAME}" }`);
    if (schema.name !== PROFILE_SCHEMA_NAME) {
      throw this.bad(`'schema.name' '${schema.name}' is not supported by the embedded platform; segment definitions are evaluated on ${PROFILE_SCHEMA_NAME}`);
    }
    const expression = this.checkExpression(body.expression ?? current?.expression);
    const evaluationInfo = body.evaluationInfo ?? current?.evaluationInfo ?? { batch: { enabled: true }, continuous: { enabled: false }, synchronous: { enabled: false } };
    if (!isPlainObject(evaluationInfo)) throw this.bad("'evaluationInfo' must be an object such as { \"batch\": { \"enabled\": true } }");
    const payloadSchema = body.payloadSchema ?? current?.payloadSchema;
    if (payloadSchema !== undefined && typeof payloadSchema !== 'string') throw this.bad("'payloadSchema' must be a string");
    return { name, description, expression, evaluationInfo: cloneJson(evaluationInfo), payloadSchema };
  }

  private checkExpression(value: unknown): Expression {
    if (!isPlainObject(value)) throw this.bad("'expression' is required: { \"type\": \"PQL\", \"format\": \"pql/text\", \"value\": \"<rule>\" }");
    if (value.type !== 'PQL') throw this.bad(`'expression.type' must be "PQL", got ${JSON.stringify(value.type) ?? 'nothing'}`);
    if (value.format !== 'pql/text') {
      throw this.bad(`'expression.format' ${JSON.stringify(value.format) ?? 'nothing'} is not supported by the embedded platform; use "pql/text"`);
    }
    if (typeof value.value !== 'string') throw this.bad("'expression.value' must be the PQL rule as a string");
    const rule = this.parseRule(value.value);
    this.checkFields(rule);
    return { type: 'PQL', format: 'pql/text', value: value.value };
  }

  private parseRule(text: string): PqlExpression {
    try {
      return parsePql(text);
    } catch (error) {
      if (error instanceof PqlError) throw this.bad(`'expression.value' is not a PQL rule the embedded platform evaluates: ${error.message}`);
      throw error;
    }
  }

  /** Every field a rule reads must be in the Profile union, with a type its literals fit. */
  private checkFields(rule: PqlExpression): void {
    const union = this.profiles.unionFields();
    for (const path of fieldPaths(rule)) {
      const name = path.join('.');
      if (!union) {
        throw this.bad(`'expression.value' reads '${name}', but no schema of class ${PROFILE_SCHEMA_NAME} is enabled for Profile yet`);
      }
      if (lookupPath(union.properties, `/${path.join('/')}`) === undefined) {
        throw this.bad(`'expression.value' reads '${name}', which is not a field of the Profile union schema (${PROFILE_SCHEMA_NAME})`);
      }
    }
    for (const c of comparisons(rule)) {
      const pairs: Array<[Operand, Operand]> = [
        [c.left, c.right],
        [c.right, c.left],
      ];
      for (const [field, literal] of pairs) {
        if (field.kind !== 'field' || literal.kind !== 'literal') continue;
        const found = lookupPath(union!.properties, `/${field.path.join('/')}`);
        if (found === undefined || found === 'open') continue;
        const fieldType = found.type === 'integer' ? 'number' : found.type;
        if (fieldType !== typeof literal.value) {
          throw this.bad(`'expression.value' compares '${field.path.join('.')}' (${found.type}) with ${JSON.stringify(literal.value)} (${typeof literal.value})`);
        }
        if (fieldType === 'boolean' && c.operator !== '=' && c.operator !== '!=') {
          throw this.bad(`'expression.value' orders the boolean '${field.path.join('.')}' with '${c.operator}'; booleans compare with = or !=`);
        }
      }
    }
  }

  private nameTaken(name: string, except?: string): boolean {
    return [...this.definitions.values()].some((d) => d.name === name && d.id !== except);
  }

  private createDefinition(ctx: RequestContext): Reply {
    const fields = this.definitionFields(objectBody(ctx, segmentationError));
    if (this.nameTaken(fields.name)) {
      throw segmentationError(422, `A segment definition named '${fields.name}' already exists; change it with PATCH instead`, '1202');
    }
    const now = this.ctx.clock.now().getTime();
    const record: DefinitionRecord = { id: uuid(), ...fields, creationTime: now, updateTime: now, version: 1 };
    this.definitions.set(record.id, record);
    return { status: 200, body: this.renderDefinition(record), headers: { 'x-location': `${ctx.baseUrl}${SEGMENTATION_BASE}/segment/definitions/${record.id}` } };
  }

  private getDefinition(ctx: RequestContext): Reply {
    return { status: 200, body: this.renderDefinition(this.mustGetDefinition(ctx.param('id'))) };
  }

  /** PATCH overwrites the fields it carries (the definition object, not JSON Patch operations). */
  private patchDefinition(ctx: RequestContext): Reply {
    const current = this.mustGetDefinition(ctx.param('id'));
    if (Array.isArray(ctx.body)) {
      throw this.bad('PATCH of a segment definition takes the definition object (name, description, expression, schema), not JSON Patch operations');
    }
    const fields = this.definitionFields(objectBody(ctx, segmentationError), current);
    if (this.nameTaken(fields.name, current.id)) throw segmentationError(422, `A segment definition named '${fields.name}' already exists`, '1202');
    Object.assign(current, fields, { updateTime: this.ctx.clock.now().getTime(), version: current.version + 1 });
    return { status: 200, body: this.renderDefinition(current), headers: { 'x-location': `${ctx.baseUrl}${SEGMENTATION_BASE}/segment/definitions/${current.id}` } };
  }

  private deleteDefinition(ctx: RequestContext): Reply {
    const d = this.mustGetDefinition(ctx.param('id'));
    this.definitions.delete(d.id);
    return { status: 200, body: { status: true, message: `Segment definition '${d.id}' deleted` } };
  }

  /** Pages by `page` (number) or `start` (offset), `limit` at a time, in creation order unless `sort` says otherwise. */
  private listDefinitions(ctx: RequestContext): Reply {
    const limit = intParam(ctx.query, 'limit', DEFAULT_LIMIT, segmentationError, { min: 1, max: MAX_LIMIT });
    const pageNumber = intParam(ctx.query, 'page', 0, segmentationError, { min: 0 });
    const start = intParam(ctx.query, 'start', pageNumber * limit, segmentationError, { min: 0 });
    const sort = ctx.query.get('sort') ?? 'creationTime:asc';
    const keys = sort.split(',').map((part) => {
      const [field = '', direction = 'asc'] = part.trim().split(':'); // split gives at least the field
      if (!SORTABLE.has(field) || !['asc', 'desc'].includes(direction)) {
        throw this.bad(`Query parameter 'sort' must be <field>:asc|desc with field one of ${[...SORTABLE].join(', ')}; got '${part}'`);
      }
      return { field, descending: direction === 'desc' };
    });
    const all = sortBy([...this.definitions.values()], [...keys, { field: 'id', descending: false }], (d, field) => (d as unknown as Record<string, unknown>)[field]);
    const items = all.slice(start, start + limit);
    const more = start + items.length < all.length;
    const first = keys[0]!; // split gives at least one key
    return {
      status: 200,
      body: {
        segments: items.map((d) => this.renderDefinition(d)),
        page: {
          totalCount: all.length,
          totalPages: Math.ceil(all.length / limit),
          sortField: first.field,
          sort: first.descending ? 'desc' : 'asc',
          pageSize: items.length,
          limit,
        },
        link: more ? { next: `${SEGMENTATION_BASE}/segment/definitions?start=${start + limit}&limit=${limit}${ctx.query.has('sort') ? `&sort=${encodeURIComponent(sort)}` : ''}` } : {},
      },
    };
  }

  // ---------------------------------------------------------------- jobs

  private renderJob(job: JobRecord, baseUrl: string): Record<string, unknown> {
    const href = `${baseUrl}${SEGMENTATION_BASE}/segment/jobs/${job.id}`;
    const metrics: Record<string, unknown> = {
      totalTime: {
        startTimeInMs: job.creationTime,
        ...(job.endTime !== undefined ? { endTimeInMs: job.endTime, totalTimeInMs: job.endTime - job.creationTime } : {}),
      },
      profileSegmentationTime: {
        ...(job.processingStart !== undefined ? { startTimeInMs: job.processingStart } : {}),
        ...(job.endTime !== undefined && job.processingStart !== undefined ? { endTimeInMs: job.endTime, totalTimeInMs: job.endTime - job.processingStart } : {}),
      },
    };
    if (job.status === 'SUCCEEDED') {
      metrics.totalProfiles = job.totalProfiles;
      metrics.segmentedProfileCounter = { ...job.counts };
      metrics.segmentedProfileByNamespaceCounter = cloneJson(job.byNamespace);
      metrics.totalProfilesByMergePolicy = { [this.mergePolicyId]: job.totalProfiles };
    }
    return {
      id: job.id,
      imsOrgId: this.ctx.orgId,
      sandbox: { sandboxId: this.ctx.sandboxId, sandboxName: this.ctx.sandbox, type: this.ctx.sandbox === 'prod' ? 'production' : 'development', default: this.ctx.sandbox === 'prod' },
      profileInstanceId: 'ups',
      source: job.source,
      status: job.status,
      segments: job.segments.map((s) => ({
        segmentId: s.segmentId,
        segment: {
          id: s.segmentId,
          version: s.version,
          expression: { ...s.expression },
          mergePolicyId: this.mergePolicyId,
          mergePolicy: { id: this.mergePolicyId, version: 1 },
        },
      })),
      ...(job.errors ? { errors: cloneJson(job.errors) } : {}),
      metrics,
      requestId: job.requestId,
      schema: { name: PROFILE_SCHEMA_NAME },
      ...(job.properties ? { properties: { ...job.properties } } : {}),
      _links: { cancel: { href, method: 'DELETE' }, checkStatus: { href, method: 'GET' } },
      creationTime: job.creationTime,
      updateTime: job.updateTime,
      updateEpoch: Math.floor(job.updateTime / 1000),
    };
  }

  private createJob(ctx: RequestContext): Reply {
    const body = ctx.body;
    if (!Array.isArray(body) || body.length === 0) {
      throw this.bad('The request body must be a non-empty array of { "segmentId": "<segment definition id>" }');
    }
    const segments = body.map((item, index) => {
      if (!isPlainObject(item) || typeof item.segmentId !== 'string' || item.segmentId === '') throw this.bad(`Item ${index} must be { "segmentId": "<segment definition id>" }`);
      const definition = this.definitions.get(item.segmentId);
      if (!definition) throw this.bad(`Item ${index}: segment definition '${item.segmentId}' does not exist in sandbox '${this.ctx.sandbox}'`);
      return { segmentId: definition.id, version: definition.version, expression: { ...definition.expression }, rule: parsePql(definition.expression.value) };
    });
    const now = this.ctx.clock.now().getTime();
    const job: JobRecord = { id: uuid(), requestId: ctx.requestId, status: 'NEW', source: 'api', segments, creationTime: now, updateTime: now };
    this.jobRecords.set(job.id, job);
    this.jobs.run(`segment job ${job.id}`, () => this.evaluate(job));
    return { status: 200, body: this.renderJob(job, ctx.baseUrl) };
  }

  /**
   * The job a batch segmentation schedule starts at `at`: every definition with batch evaluation on
   * (`["*"]`) or the listed ones that have it, as AEP's daily scheduled segmentation does. Resolves when
   * the job has ended; no definition to evaluate makes no job.
   */
  async runScheduledJob(schedule: { id: string; segments: readonly string[] }, at: Date): Promise<string | undefined> {
    const wanted = schedule.segments.includes('*') ? undefined : new Set(schedule.segments);
    const segments = [...this.definitions.values()]
      .filter((d) => isPlainObject(d.evaluationInfo.batch) && d.evaluationInfo.batch.enabled === true && (!wanted || wanted.has(d.id)))
      .map((d) => ({ segmentId: d.id, version: d.version, expression: { ...d.expression }, rule: parsePql(d.expression.value) }));
    if (segments.length === 0) return undefined;
    const runId = uuid();
    const created = at.getTime();
    const job: JobRecord = {
      id: uuid(),
      requestId: `${schedule.id}-${created}`,
      status: 'NEW',
      source: 'scheduler',
      properties: { scheduleId: schedule.id, runId },
      segments,
      creationTime: created,
      updateTime: created,
    };
    this.jobRecords.set(job.id, job);
    await this.evaluate(job);
    return job.id;
  }

  /** Newest first unless `sort` says `creationTime:asc`; `status` filters; pages by `start` (offset) and `limit`. */
  private listJobs(ctx: RequestContext): Reply {
    const limit = intParam(ctx.query, 'limit', DEFAULT_LIMIT, segmentationError, { min: 1, max: MAX_LIMIT });
    const start = intParam(ctx.query, 'start', 0, segmentationError, { min: 0 });
    const sort = ctx.query.get('sort') ?? 'creationTime:desc';
    if (sort !== 'creationTime:desc' && sort !== 'creationTime:asc') {
      throw this.bad(`Query parameter 'sort' must be creationTime:desc or creationTime:asc on the embedded platform; got '${sort}'`);
    }
    const status = ctx.query.get('status');
    const all = sortBy(
      [...this.jobRecords.values()].filter((j) => status === null || j.status === status.toUpperCase()),
      [{ field: 'creationTime', descending: sort.endsWith(':desc') }, { field: 'id', descending: false }],
      (j, field) => (j as unknown as Record<string, unknown>)[field],
    );
    const items = all.slice(start, start + limit);
    return { status: 200, body: { _page: { totalCount: all.length, pageSize: items.length }, children: items.map((j) => this.renderJob(j, ctx.baseUrl)) } };
  }

  private getJob(ctx: RequestContext): Reply {
    const job = this.jobRecords.get(ctx.param('id'));
    if (!job) throw segmentationError(404, `Segment job '${ctx.param('id')}' was not found in sandbox '${this.ctx.sandbox}'`, '1200');
    return { status: 200, body: this.renderJob(job, ctx.baseUrl) };
  }

  private async evaluate(job: JobRecord): Promise<void> {
    const touch = (status: JobStatus) => {
      job.status = status;
      job.updateTime = this.ctx.clock.now().getTime();
    };
    try {
      const delay = this.ctx.jobDelayMs ?? 0;
      if (delay > 0) {
        touch('QUEUED');
        await this.ctx.clock.sleep(delay);
      }
      touch('PROCESSING');
      job.processingStart = job.updateTime;
      // A field path has at least one segment: the parser reads an identifier first.
      const topLevel = [...new Set(job.segments.flatMap((s) => fieldPaths(s.rule).map((p) => p[0]!)))];
      const { profiles, namespaceOf } = await this.profiles.merged(topLevel);
      const counts: Record<string, number> = {};
      const byNamespace: Record<string, Record<string, number>> = {};
      for (const s of job.segments) {
        counts[s.segmentId] = 0;
        byNamespace[s.segmentId] = {};
      }
      // Both are set for every segment above.
      for (const [key, profile] of profiles) {
        for (const s of job.segments) {
          if (!evaluatePql(s.rule, profile)) continue;
          counts[s.segmentId]! += 1;
          const namespace = namespaceOf(key);
          const segmentCounts = byNamespace[s.segmentId]!;
          segmentCounts[namespace] = (segmentCounts[namespace] ?? 0) + 1;
        }
      }
      job.totalProfiles = profiles.size;
      job.counts = counts;
      job.byNamespace = byNamespace;
      job.endTime = this.ctx.clock.now().getTime();
      touch('SUCCEEDED');
    } catch (error) {
      job.errors = [{ code: '0500', msg: `The segment job could not be evaluated: ${(error as Error)?.message ?? String(error)}` }];
      job.endTime = this.ctx.clock.now().getTime();
      touch('FAILED');
    }
  }
}
