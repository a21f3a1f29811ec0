/**
 * Data Prep stand-in (`/data/foundation/conversion`, data-prep.yaml): mapping sets, which turn the
 * columns of a source file into fields of an XDM schema. Create, list, retrieve and update (a PUT makes
 * a new version); data-prep.yaml documents no DELETE, so there is none here either (405).
 *
 * - Creating or updating checks every mapping against the output schema, as AEP does: a destination
 *   path that is not a field of the schema (or is an object rather than a field of it) is a 400 naming
 *   the path.
 * - Mappings of `sourceType` ATTRIBUTE (a source column) and STATIC (a constant) are carried out;
 *   EXPRESSION (Data Prep functions) is refused with a 400.
 * - Times (`createdDate`, `modifiedDate`) are epoch milliseconds, as the file's examples and AEP show.
 */
import type { Clock } from '../../ports/clock';
import { dataPrepError } from './errors';
import { cloneJson, intParam, isPlainObject, objectBody, Reply, RequestContext, Router } from './http';
import { randomHex } from './ids';
import type { SchemaRegistry } from './schema-registry';
import { lookupPath, type XdmField } from './xdm';

export const DATA_PREP_BASE = '/data/foundation/conversion';

export type MappingSourceType = 'ATTRIBUTE' | 'STATIC';

export interface MappingRecord {
  id: string;
  sourceType: MappingSourceType;
  source: string;
  /** Dotted path in the output schema, e.g. `_tenant.propensity`. */
  destination: string;
  name?: string;
  description?: string;
}

export interface MappingSetRecord {
  id: string;
  name?: string | undefined;
  version: number;
  createdDate: number;
  modifiedDate: number;
  outputSchema: { schemaRef: { id: string; contentType: string } };
  inputSchema?: Record<string, unknown> | undefined;
  mappings: MappingRecord[];
}

/** A mapping with the field it writes, as a run applies it. */
export interface ResolvedMapping extends MappingRecord {
  /** The segments of the destination path. */
  path: string[];
  /** The destination field; undefined for a path into an open object (kept as text). */
  field?: XdmField | undefined;
}

const SOURCE_TYPES = ['ATTRIBUTE', 'EXPRESSION', 'STATIC'];

function bad(message: string): never {
  throw dataPrepError(400, message, '1400');
}

/**
 * The field a dotted destination path names in a schema (`field` undefined for a path into an open
 * object), or a message saying why it names none.
 */
export function destinationField(properties: Parameters<typeof lookupPath>[0], destination: string): { field?: XdmField } | { error: string } {
  const segments = destination.split('.');
  if (segments.some((s) => s === '')) return { error: `'${destination}' is not a field path (empty segment)` };
  const field = lookupPath(properties, `/${segments.join('/')}`);
  if (field === undefined) return { error: `'${destination}' is not a field of the output schema` };
  if (field === 'open') return {};
  if (field.type === 'object') return { error: `'${destination}' is an object of the output schema; map to one of its fields` };
  return { field };
}

export class DataPrep {
  private readonly sets = new Map<string, MappingSetRecord>();

  constructor(
    private readonly registry: SchemaRegistry,
    private readonly clientId: string,
    private readonly clock: Clock,
  ) {}

  register(router: Router): void {
    const b = `${DATA_PREP_BASE}/mappingSets`;
    router.add('GET', 'dataprep', b, (c) => this.list(c));
    router.add('POST', 'dataprep', b, (c) => this.create(c));
    router.add('GET', 'dataprep', `${b}/:id`, (c) => this.getOne(c));
    router.add('PUT', 'dataprep', `${b}/:id`, (c) => this.update(c));
  }

  /** A mapping set by id. */
  mappingSet(id: string): MappingSetRecord | undefined {
    return this.sets.get(id);
  }

  /** The paths (segments) of a schema's primary identity fields, from its identity descriptors. */
  primaryIdentityPaths(schemaId: string): string[][] {
    return this.registry
      .identityDescriptors(schemaId)
      .filter((d) => d['xdm:isPrimary'] === true && typeof d['xdm:sourceProperty'] === 'string')
      .map((d) => (d['xdm:sourceProperty'] as string).split('/').filter((segment) => segment !== ''));
  }

  /** The mappings of a set with the fields they write, resolved against the output schema as it is now. */
  resolve(set: MappingSetRecord): ResolvedMapping[] | string {
    const schema = this.registry.resolveSchema(set.outputSchema.schemaRef.id);
    if (!schema) return `the output schema ${set.outputSchema.schemaRef.id} of mapping set ${set.id} no longer exists`;
    const out: ResolvedMapping[] = [];
    for (const m of set.mappings) {
      const found = destinationField(schema.properties, m.destination);
      if ('error' in found) return `mapping set ${set.id}: ${found.error}`;
      out.push({ ...m, path: m.destination.split('.'), field: found.field });
    }
    return out;
  }

  private render(s: MappingSetRecord): Record<string, unknown> {
    const who = `${this.clientId}@AdobeID`;
    const out: Record<string, unknown> = {
      id: s.id,
      version: s.version,
      createdDate: s.createdDate,
      modifiedDate: s.modifiedDate,
      createdBy: who,
      modifiedBy: who,
      outputSchema: cloneJson(s.outputSchema),
      mappings: s.mappings.map((m) => ({
        ...cloneJson(m),
        version: s.version,
        createdDate: s.createdDate,
        modifiedDate: s.modifiedDate,
        createdBy: who,
        modifiedBy: who,
      })),
    };
    if (s.name !== undefined) out.name = s.name;
    if (s.inputSchema !== undefined) out.inputSchema = cloneJson(s.inputSchema);
    return out;
  }

  /** Validates a MappingSet body against the registry; returns the parts a record keeps. */
  private parse(body: Record<string, unknown>): Pick<MappingSetRecord, 'name' | 'outputSchema' | 'inputSchema' | 'mappings'> {
    if (body.name !== undefined && typeof body.name !== 'string') bad("'name' must be a string");
    const output = body.outputSchema;
    if (!isPlainObject(output) || !isPlainObject(output.schemaRef) || typeof output.schemaRef.id !== 'string' || output.schemaRef.id === '') {
      bad("'outputSchema.schemaRef.id' is required: the $id of the XDM schema the mappings write");
    }
    const ref = (output as { schemaRef: { id: string; contentType?: unknown } }).schemaRef;
    const contentType = typeof ref.contentType === 'string' ? ref.contentType : 'application/vnd.adobe.xed-full+json;version=1';
    const schema = this.registry.resolveSchema(ref.id);
    if (!schema) bad(`The output schema '${ref.id}' does not exist`);
    if (body.inputSchema !== undefined && !isPlainObject(body.inputSchema)) bad("'inputSchema' must be an object");
    if (!Array.isArray(body.mappings) || body.mappings.length === 0) bad("'mappings' must list at least one mapping { sourceType, source, destination }");
    const mappings = (body.mappings as unknown[]).map((raw, i): MappingRecord => {
      const at = `mappings[${i}]`;
      if (!isPlainObject(raw)) bad(`'${at}' must be an object`);
      const m = raw;
      if (typeof m.sourceType !== 'string' || !SOURCE_TYPES.includes(m.sourceType)) {
        bad(`'${at}.sourceType' must be one of ${SOURCE_TYPES.join(', ')}, got '${String(m.sourceType)}'`);
      }
      if (m.sourceType === 'EXPRESSION') bad(`'${at}': EXPRESSION mappings (Data Prep functions) are not supported by the embedded platform`);
      if (typeof m.source !== 'string' || m.source === '') bad(`'${at}.source' is required`);
      if (typeof m.destination !== 'string' || m.destination === '') bad(`'${at}.destination' is required`);
      const found = destinationField(schema.properties, m.destination);
      if ('error' in found) bad(`Invalid mapping ${at}: destination ${found.error} ${ref.id}`);
      for (const k of ['name', 'description'] as const) if (m[k] !== undefined && typeof m[k] !== 'string') bad(`'${at}.${k}' must be a string`);
      const out: MappingRecord = { id: randomHex(16), sourceType: m.sourceType as MappingSourceType, source: m.source, destination: m.destination };
      if (typeof m.name === 'string') out.name = m.name;
      if (typeof m.description === 'string') out.description = m.description;
      return out;
    });
    const destinations = new Set<string>();
    for (const m of mappings) {
      if (destinations.has(m.destination)) bad(`Destination '${m.destination}' is mapped more than once`);
      destinations.add(m.destination);
    }
    return {
      name: body.name,
      outputSchema: { schemaRef: { id: ref.id, contentType } },
      inputSchema: body.inputSchema,
      mappings,
    };
  }

  private create(ctx: RequestContext): Reply {
    const parsed = this.parse(objectBody(ctx, dataPrepError));
    const now = this.clock.now().getTime();
    const set: MappingSetRecord = { id: randomHex(16), version: 0, createdDate: now, modifiedDate: now, ...parsed };
    if (set.name === undefined) delete set.name;
    if (set.inputSchema === undefined) delete set.inputSchema;
    this.sets.set(set.id, set);
    const who = `${this.clientId}@AdobeID`;
    return { status: 200, body: { id: set.id, version: set.version, createdDate: now, modifiedDate: now, createdBy: who, modifiedBy: who } };
  }

  private mustGet(id: string): MappingSetRecord {
    const set = this.sets.get(id);
    if (!set) throw dataPrepError(404, `Mapping set '${id}' was not found`, '1404');
    return set;
  }

  private getOne(ctx: RequestContext): Reply {
    return { status: 200, body: this.render(this.mustGet(ctx.param('id'))) };
  }

  private update(ctx: RequestContext): Reply {
    const set = this.mustGet(ctx.param('id'));
    const parsed = this.parse(objectBody(ctx, dataPrepError));
    Object.assign(set, parsed, { version: set.version + 1, modifiedDate: Math.max(this.clock.now().getTime(), set.modifiedDate + 1) });
    if (parsed.name === undefined) delete set.name;
    if (parsed.inputSchema === undefined) delete set.inputSchema;
    return { status: 200, body: this.render(set) };
  }

  private list(ctx: RequestContext): Reply {
    const limit = intParam(ctx.query, 'limit', 10, dataPrepError, { min: 1, max: 1000 });
    const start = intParam(ctx.query, 'start', 0, dataPrepError, { min: 0 });
    const name = ctx.query.get('name');
    const orderBy = (ctx.query.get('orderBy') ?? '-updatedDate').trim();
    const field = orderBy.replace(/^[-+ ]/, '');
    if (!['createdDate', 'updatedDate', 'lastUpdateDate'].includes(field)) bad(`'orderBy' must be createdDate or updatedDate, optionally prefixed with + or -; got '${orderBy}'`);
    const key = (s: MappingSetRecord) => (field === 'createdDate' ? s.createdDate : s.modifiedDate);
    const sign = orderBy.startsWith('-') ? -1 : 1;
    const all = [...this.sets.values()]
      .filter((s) => name === null || s.name === name)
      .sort((a, b) => sign * (key(a) - key(b)) || (a.id < b.id ? -1 : 1));
    const page = all.slice(start, start + limit);
    return { status: 200, body: { data: page.map((s) => this.render(s)), _page: { count: page.length, limit } } };
  }
}
