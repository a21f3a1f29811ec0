/**
 * Schema Registry stand-in (`/data/foundation/schemaregistry`, schema-registry.yaml): tenant field
 * groups, schemas, descriptors, unions and stats, with the Accept-header variants AEP documents.
 */
import { createHash } from 'crypto';
import { xdmError } from './errors';
import { ApiError, cloneJson, header, isPlainObject, Reply, RequestContext, Router } from './http';
import { descriptorId, xdmResourceId } from './ids';
import { applyJsonPatch } from './json-patch';
import { compareValues, matchesFilters, parsePropertyFilter, PropertyFilter, SortKey, sortBy } from './listing';
import {
  FieldDefinitionError,
  FieldTree,
  fieldFromJsonSchema,
  fieldTreeToJsonSchema,
  findGlobalClass,
  findGlobalFieldGroup,
  lookupPath,
  mergeFieldTrees,
  XdmClass,
} from './xdm';

export const SCHEMA_REGISTRY_BASE = '/data/foundation/schemaregistry';

export interface RegistryContext {
  orgId: string;
  sandbox: string;
  sandboxId: string;
  tenantId: string;
  clientId: string;
}

/** What the registry needs from Catalog: which datasets use a schema, and notice of schema changes. */
export interface RegistryHooks {
  datasetsUsingSchema(schemaId: string): string[];
  schemaChanged(schemaId: string): Promise<void>;
}

/** A tenant schema as other services see it. */
export interface ResolvedSchema {
  $id: string;
  altId: string;
  title: string;
  version: string;
  xdmClass: XdmClass;
  fieldGroupIds: string[];
  properties: FieldTree;
  required: string[];
}

type Kind = 'mixins' | 'schemas';

interface XdmRecord {
  kind: Kind;
  hex: string;
  $id: string;
  altId: string;
  minor: number;
  created: number;
  updated: number;
  /** The caller-supplied part of the resource (server-managed keys removed). */
  doc: Record<string, unknown>;
  /** Fields the resource contributes (field groups) or has (schemas). */
  properties: FieldTree;
  classId?: string;
  fieldGroupIds?: string[];
}

interface DescriptorRecord {
  doc: Record<string, unknown>;
  created: number;
  updated: number;
}

/** Keys the registry manages; ignored when a caller sends them. */
const SERVER_KEYS = new Set([
  '$id',
  'meta:altId',
  'meta:resourceType',
  'version',
  'imsOrg',
  'meta:extends',
  'meta:xdmType',
  'meta:registryMetadata',
  'meta:class',
  'meta:containerId',
  'meta:sandboxId',
  'meta:sandboxType',
  'meta:tenantNamespace',
  'meta:extensible',
  'meta:abstract',
  'refs',
  '$schema',
]);

const DESCRIPTOR_TYPES = new Set([
  'xdm:descriptorIdentity',
  'xdm:alternateDisplayInfo',
  'xdm:descriptorReferenceIdentity',
  'xdm:descriptorOneToOne',
  'xdm:descriptorRelationship',
]);

const EXTENSIBLE_CONTEXT = 'https://ns.adobe.com/xdm/common/extensible#/definitions/@context';

interface LookupFormat {
  full: boolean;
  titles: boolean;
  descriptions: boolean;
  version: number;
}

function stripServerKeys(doc: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) if (!SERVER_KEYS.has(k)) out[k] = v;
  return out;
}

function etag(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/** Splits an Accept header into its media ranges. */
function acceptValues(ctx: RequestContext): string[] {
  return (header(ctx.headers, 'accept') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function acceptParams(value: string): { media: string; version?: string } {
  const [media, ...params] = value.split(';').map((s) => s.trim());
  let version: string | undefined;
  for (const p of params) {
    const [k, v] = p.split('=').map((s) => s.trim());
    if (k.toLowerCase() === 'version') version = v;
  }
  return { media: media.toLowerCase(), version };
}

const NOT_FOUND_CODE = '1012';

export class SchemaRegistry {
  private readonly records = new Map<string, XdmRecord>();
  private readonly descriptors = new Map<string, DescriptorRecord>();
  private hooks: RegistryHooks = { datasetsUsingSchema: () => [], schemaChanged: async () => undefined };

  constructor(private readonly ctx: RegistryContext) {}

  setHooks(hooks: RegistryHooks): void {
    this.hooks = hooks;
  }

  private get namespace(): string {
    return `_${this.ctx.tenantId}`;
  }

  // ---------------------------------------------------------------- lookups used by other services

  /** A tenant schema by `$id` or `meta:altId`. */
  resolveSchema(ref: string): ResolvedSchema | undefined {
    const rec = this.find('schemas', ref);
    if (!rec || !rec.classId) return undefined;
    const xdmClass = findGlobalClass(rec.classId);
    if (!xdmClass) return undefined;
    return {
      $id: rec.$id,
      altId: rec.altId,
      title: String(rec.doc.title),
      version: `1.${rec.minor}`,
      xdmClass,
      fieldGroupIds: rec.fieldGroupIds ?? [],
      properties: cloneJson(rec.properties),
      required: [...xdmClass.required],
    };
  }

  /** Identity descriptors of a schema. */
  identityDescriptors(schemaId: string): Record<string, unknown>[] {
    return [...this.descriptors.values()]
      .map((d) => d.doc)
      .filter((d) => d['@type'] === 'xdm:descriptorIdentity' && d['xdm:sourceSchema'] === schemaId)
      .map((d) => cloneJson(d));
  }

  /**
   * The Profile union of a class: the schemas of that class enabled for Profile and their merged
   * fields; undefined when none is enabled.
   */
  unionOf(classId: string): { schemaIds: string[]; properties: FieldTree } | undefined {
    const union = this.unions().find((u) => u.xdmClass.$id === classId);
    return union && { schemaIds: union.schemas.map((s) => s.$id), properties: cloneJson(union.properties) };
  }

  private find(kind: Kind, ref: string): XdmRecord | undefined {
    for (const rec of this.records.values()) {
      if (rec.kind === kind && (rec.$id === ref || rec.altId === ref || rec.hex === ref)) return rec;
    }
    return undefined;
  }

  private list(kind: Kind): XdmRecord[] {
    return [...this.records.values()].filter((r) => r.kind === kind);
  }

  // ---------------------------------------------------------------- routes

  register(router: Router): void {
    const base = SCHEMA_REGISTRY_BASE;
    const sr = 'schemaregistry' as const;
    router.add('GET', sr, `${base}/stats`, () => this.stats());
    router.add('GET', sr, `${base}/tenant/fieldgroups`, (c) => this.listResources(c, 'mixins'));
    router.add('POST', sr, `${base}/tenant/fieldgroups`, (c) => this.create(c, 'mixins'));
    router.add('GET', sr, `${base}/tenant/fieldgroups/:id`, (c) => this.lookup(c, 'mixins'));
    router.add('PATCH', sr, `${base}/tenant/fieldgroups/:id`, (c) => this.patch(c, 'mixins'));
    router.add('DELETE', sr, `${base}/tenant/fieldgroups/:id`, (c) => this.remove(c, 'mixins'));
    router.add('GET', sr, `${base}/tenant/schemas`, (c) => this.listResources(c, 'schemas'));
    router.add('POST', sr, `${base}/tenant/schemas`, (c) => this.create(c, 'schemas'));
    router.add('GET', sr, `${base}/tenant/schemas/:id`, (c) => this.lookup(c, 'schemas'));
    router.add('PATCH', sr, `${base}/tenant/schemas/:id`, (c) => this.patch(c, 'schemas'));
    router.add('DELETE', sr, `${base}/tenant/schemas/:id`, (c) => this.remove(c, 'schemas'));
    router.add('GET', sr, `${base}/tenant/descriptors`, (c) => this.listDescriptors(c));
    router.add('POST', sr, `${base}/tenant/descriptors`, (c) => this.createDescriptor(c));
    router.add('GET', sr, `${base}/tenant/descriptors/:id`, (c) => this.lookupDescriptor(c));
    router.add('DELETE', sr, `${base}/tenant/descriptors/:id`, (c) => this.deleteDescriptor(c));
    router.add('GET', sr, `${base}/tenant/unions`, (c) => this.listUnions(c));
    router.add('GET', sr, `${base}/tenant/unions/:id`, (c) => this.lookupUnion(c));
  }

  // ---------------------------------------------------------------- accept headers

  private listFormat(ctx: RequestContext): 'id' | 'full' {
    const values = acceptValues(ctx);
    for (const v of values) {
      const { media, version } = acceptParams(v);
      if ((media === 'application/vnd.adobe.xed-id+json' || media === 'application/vnd.adobe.xed+json') && version === undefined) {
        return media === 'application/vnd.adobe.xed-id+json' ? 'id' : 'full';
      }
    }
    const given = header(ctx.headers, 'accept') ?? '(none)';
    throw xdmError(
      400,
      `The supplied Accept header is not valid: ${given} - A valid Accept value should look like application/vnd.adobe.'{xed|xdm'}+json`,
      '1006',
      'Accept header invalid',
    );
  }

  private lookupFormat(ctx: RequestContext): LookupFormat {
    const values = acceptValues(ctx);
    for (const v of values) {
      const { media, version } = acceptParams(v);
      const m = /^application\/vnd\.adobe\.xed(-full)?(-notext|-desc)?\+json$/.exec(media);
      if (!m || version === undefined || !/^\d+$/.test(version)) continue;
      const full = m[1] !== undefined;
      const variant = m[2];
      return {
        full,
        titles: variant === undefined,
        descriptions: variant === undefined || variant === '-desc',
        version: Number(version),
      };
    }
    const given = header(ctx.headers, 'accept') ?? '(none)';
    throw xdmError(
      400,
      `The supplied Accept header is not valid: ${given} - A valid Accept value should look like application/vnd.adobe.'{xed|xdm'}+json; version=1 (Version should be specified)`,
      '1007',
      'Accept header invalid',
    );
  }

  // ---------------------------------------------------------------- rendering

  private registryMetadata(created: number, updated: number, content: unknown): Record<string, unknown> {
    return {
      'repo:createdDate': created,
      'repo:lastModifiedDate': updated,
      'xdm:createdClientId': this.ctx.clientId,
      'xdm:lastModifiedClientId': this.ctx.clientId,
      'xdm:createdUserId': `${this.ctx.clientId}@techacct.adobe.com`,
      'xdm:lastModifiedUserId': `${this.ctx.clientId}@techacct.adobe.com`,
      eTag: etag(content),
      'meta:globalLibVersion': '1.50.1',
    };
  }

  private containerMeta(): Record<string, unknown> {
    return {
      'meta:containerId': 'tenant',
      'meta:sandboxId': this.ctx.sandboxId,
      'meta:sandboxType': this.ctx.sandbox === 'prod' ? 'production' : 'development',
      'meta:tenantNamespace': this.namespace,
    };
  }

  /** The resource as `application/vnd.adobe.xed+json` returns it. */
  private render(rec: XdmRecord): Record<string, unknown> {
    const doc = rec.doc;
    const allOf = Array.isArray(doc.allOf)
      ? (doc.allOf as unknown[]).map((item) =>
          isPlainObject(item) ? { ...item, type: 'object', 'meta:xdmType': 'object' } : item,
        )
      : undefined;
    const out: Record<string, unknown> = {
      $id: rec.$id,
      'meta:altId': rec.altId,
      'meta:resourceType': rec.kind,
      version: `1.${rec.minor}`,
      title: doc.title,
      type: 'object',
    };
    for (const [k, v] of Object.entries(doc)) if (!(k in out)) out[k] = cloneJson(v);
    if (allOf) out.allOf = allOf;
    out.imsOrg = this.ctx.orgId;
    if (rec.kind === 'schemas') {
      const xdmClass = findGlobalClass(rec.classId ?? '');
      out.refs = [rec.classId, ...(rec.fieldGroupIds ?? [])];
      out['meta:extensible'] = false;
      out['meta:abstract'] = false;
      out['meta:extends'] = [
        ...(xdmClass ? [xdmClass.behavior] : []),
        'https://ns.adobe.com/xdm/common/extensible',
        rec.classId,
        ...(rec.fieldGroupIds ?? []),
      ];
      out['meta:class'] = rec.classId;
    } else {
      out['meta:extensible'] = true;
      out['meta:abstract'] = true;
    }
    out['meta:xdmType'] = 'object';
    out['meta:registryMetadata'] = this.registryMetadata(rec.created, rec.updated, rec.doc);
    Object.assign(out, this.containerMeta());
    return out;
  }

  private renderFor(rec: XdmRecord, format: LookupFormat): Record<string, unknown> {
    let out = this.render(rec);
    if (format.full) {
      delete out.allOf;
      delete out.definitions;
      out.properties = fieldTreeToJsonSchema(rec.properties, format);
      if (rec.kind === 'schemas') {
        const required = findGlobalClass(rec.classId ?? '')?.required ?? [];
        if (required.length > 0) out.required = [...required];
      }
    }
    if (!format.titles || !format.descriptions) out = stripText(out, format) as Record<string, unknown>;
    return out;
  }

  private summary(rec: XdmRecord): Record<string, unknown> {
    return { $id: rec.$id, 'meta:altId': rec.altId, version: `1.${rec.minor}`, title: rec.doc.title };
  }

  private notFound(kind: Kind | 'descriptors' | 'unions', id: string): ApiError {
    const what = kind === 'mixins' ? 'field group' : kind === 'schemas' ? 'schema' : kind === 'unions' ? 'union' : 'descriptor';
    return xdmError(404, `Requested ${what} ${id} with version 1 is not found`, NOT_FOUND_CODE, 'Resource Not Found');
  }

  // ---------------------------------------------------------------- listing

  private page(
    ctx: RequestContext,
    items: Record<string, unknown>[],
    defaultOrder: string,
  ): { results: Record<string, unknown>[]; page: Record<string, unknown>; next?: string } {
    const filters: PropertyFilter[] = [];
    for (const expr of ctx.query.getAll('property')) filters.push(...parsePropertyFilter(expr, (s, m) => xdmError(s, m, '1010')));
    let rows = items.filter((item) => matchesFilters(item, filters, 'contains', readRegistryField));
    const orderby = ctx.query.get('orderby') || defaultOrder;
    const keys: SortKey[] = orderby
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0)
      .map((s) => (s.startsWith('-') ? { field: s.slice(1), descending: true } : { field: s.replace(/^\+/, ''), descending: false }));
    rows = sortBy(rows, keys, readRegistryField);
    const start = ctx.query.get('start');
    if (start !== null && keys.length > 0) {
      const primary = keys[0];
      rows = rows.filter((r) => {
        const c = compareValues(stringish(readRegistryField(r, primary.field)), start);
        return primary.descending ? c < 0 : c > 0;
      });
    }
    const limitRaw = ctx.query.get('limit');
    let next: string | undefined;
    if (limitRaw !== null && limitRaw !== '') {
      if (!/^\d+$/.test(limitRaw) || Number(limitRaw) > 500) {
        throw xdmError(400, `Query parameter 'limit' must be an integer between 0 and 500, got '${limitRaw}'`, '1010');
      }
      const limit = Number(limitRaw);
      if (rows.length > limit) {
        rows = rows.slice(0, limit);
        const last = rows[rows.length - 1];
        if (last && keys.length > 0) next = stringish(readRegistryField(last, keys[0].field));
      }
    }
    const page: Record<string, unknown> = { orderby, count: rows.length };
    if (next !== undefined) page.next = next;
    return { results: rows, page, next };
  }

  private nextLink(ctx: RequestContext, path: string, next: string | undefined): Record<string, unknown> {
    if (next === undefined) return {};
    const q = new URLSearchParams(ctx.query);
    q.set('start', next);
    return { next: `${ctx.baseUrl}${SCHEMA_REGISTRY_BASE}${path}?${q.toString()}` };
  }

  private listResources(ctx: RequestContext, kind: Kind): Reply {
    const format = this.listFormat(ctx);
    const items = this.list(kind).map((r) => this.render(r));
    const { results, page, next } = this.page(ctx, items, 'title');
    const path = kind === 'mixins' ? '/tenant/fieldgroups' : '/tenant/schemas';
    const links: Record<string, unknown> = this.nextLink(ctx, path, next);
    if (kind === 'schemas') links.global_schemas = { href: `${ctx.baseUrl}${SCHEMA_REGISTRY_BASE}/global/schemas` };
    const out = format === 'id' ? results.map((r) => pick(r, ['$id', 'meta:altId', 'version', 'title'])) : results;
    return { status: 200, body: { results: out, _page: page, _links: links } };
  }

  // ---------------------------------------------------------------- validation

  private bad(message: string): ApiError {
    return xdmError(400, message, '1001', 'Invalid request');
  }

  private requireTitle(doc: Record<string, unknown>, what: string): string {
    if (typeof doc.title !== 'string' || doc.title.trim() === '') throw this.bad(`The ${what} must have a non-empty 'title'`);
    return doc.title;
  }

  private checkUniqueTitle(kind: Kind, title: string, except?: string): void {
    const clash = this.list(kind).find((r) => r.doc.title === title && r.hex !== except);
    if (clash) {
      throw xdmError(
        409,
        `Title must be unique. An object ${clash.$id} already exists with the same title`,
        '1521',
        'Conflict',
      );
    }
  }

  private checkType(doc: Record<string, unknown>, what: string): void {
    if (doc.type !== undefined && doc.type !== 'object') throw this.bad(`The ${what} 'type' must be 'object', got '${String(doc.type)}'`);
  }

  /** Fields a field group contributes; validates its shape. */
  private fieldGroupProperties(doc: Record<string, unknown>): FieldTree {
    this.checkType(doc, 'field group');
    if (doc.type === undefined) throw this.bad("The field group must have 'type': 'object'");
    const extendsList = doc['meta:intendedToExtend'];
    if (!Array.isArray(extendsList) || extendsList.length === 0 || !extendsList.every((s) => typeof s === 'string')) {
      throw this.bad("The field group must list the classes it extends in 'meta:intendedToExtend' (an array of class $ids)");
    }
    for (const cls of extendsList as string[]) {
      if (!findGlobalClass(cls)) throw this.bad(`Unknown class '${cls}' in 'meta:intendedToExtend'`);
    }
    if (doc.definitions === undefined && doc.allOf === undefined) {
      throw this.bad("The field group must define its fields in 'definitions' and reference them from 'allOf'");
    }
    if (doc.definitions !== undefined && !isPlainObject(doc.definitions)) throw this.bad("'definitions' must be an object");
    if (doc.allOf !== undefined && !Array.isArray(doc.allOf)) throw this.bad("'allOf' must be an array");
    const definitions = (doc.definitions ?? {}) as Record<string, unknown>;
    let used: string[];
    const tree: FieldTree = {};
    if (Array.isArray(doc.allOf)) {
      used = [];
      for (const item of doc.allOf as unknown[]) {
        const ref = isPlainObject(item) ? item.$ref : undefined;
        if (typeof ref !== 'string') throw this.bad("Every 'allOf' entry must be an object with a '$ref'");
        if (ref.startsWith('#/definitions/')) {
          const name = ref.slice('#/definitions/'.length);
          if (!Object.prototype.hasOwnProperty.call(definitions, name)) throw this.bad(`'allOf' references '${ref}', which is not in 'definitions'`);
          used.push(name);
        } else if (ref === EXTENSIBLE_CONTEXT) {
          // The common @context every field group may include.
        } else {
          const global = findGlobalFieldGroup(ref);
          const tenant = this.find('mixins', ref);
          if (!global && !tenant) throw this.bad(`Unknown $ref '${ref}' in 'allOf'`);
          mergeTrees(tree, global ? global.properties : tenant!.properties, (m) => this.bad(m));
        }
      }
    } else {
      used = Object.keys(definitions);
    }
    for (const name of used) {
      const def = definitions[name];
      if (!isPlainObject(def)) throw this.bad(`Definition '${name}' must be an object`);
      if (def.properties === undefined) continue;
      if (!isPlainObject(def.properties)) throw this.bad(`Definition '${name}' has 'properties' that is not an object`);
      const part: FieldTree = {};
      for (const [field, fdef] of Object.entries(def.properties)) {
        if (field !== this.namespace) {
          throw this.bad(
            `Field '${field}' in definition '${name}' is not under the tenant namespace; custom fields of a field group must be nested under '${this.namespace}'`,
          );
        }
        try {
          part[field] = fieldFromJsonSchema(fdef, `/${field}`);
        } catch (err) {
          if (err instanceof FieldDefinitionError) throw this.bad(err.message);
          throw err;
        }
      }
      mergeTrees(tree, part, (m) => this.bad(m));
    }
    return tree;
  }

  /** Class, field groups and fields of a schema; validates its shape. */
  private schemaParts(doc: Record<string, unknown>): { classId: string; fieldGroupIds: string[]; properties: FieldTree } {
    this.checkType(doc, 'schema');
    if (doc.type === undefined) throw this.bad("The schema must have 'type': 'object'");
    if (!Array.isArray(doc.allOf) || doc.allOf.length === 0) {
      throw this.bad("The schema must list its class (and field groups) in 'allOf' as objects with a '$ref'");
    }
    let xdmClass: XdmClass | undefined;
    const fieldGroupIds: string[] = [];
    const groups: { id: string; intendedToExtend: string[]; properties: FieldTree }[] = [];
    for (const item of doc.allOf as unknown[]) {
      const ref = isPlainObject(item) ? item.$ref : undefined;
      if (typeof ref !== 'string') throw this.bad("Every 'allOf' entry must be an object with a '$ref'");
      const cls = findGlobalClass(ref);
      if (cls) {
        if (xdmClass) throw this.bad(`A schema must reference exactly one class; found '${xdmClass.$id}' and '${cls.$id}'`);
        xdmClass = cls;
        continue;
      }
      const global = findGlobalFieldGroup(ref);
      const tenant = global ? undefined : this.find('mixins', ref);
      if (!global && !tenant) throw this.bad(`Unknown $ref '${ref}' in 'allOf': no class or field group has this $id`);
      const id = global ? global.$id : tenant!.$id;
      if (fieldGroupIds.includes(id)) throw this.bad(`Field group '${id}' is listed twice in 'allOf'`);
      fieldGroupIds.push(id);
      groups.push({
        id,
        intendedToExtend: global ? global.intendedToExtend : ((tenant!.doc['meta:intendedToExtend'] as string[]) ?? []),
        properties: global ? global.properties : tenant!.properties,
      });
    }
    if (!xdmClass) throw this.bad("A schema must reference exactly one class in 'allOf'; none found");
    const properties: FieldTree = cloneJson(xdmClass.properties);
    for (const g of groups) {
      if (!g.intendedToExtend.includes(xdmClass.$id)) {
        throw this.bad(`Field group '${g.id}' is not compatible with class '${xdmClass.$id}' (see its meta:intendedToExtend)`);
      }
      mergeTrees(properties, g.properties, (m) => this.bad(m));
    }
    return { classId: xdmClass.$id, fieldGroupIds, properties };
  }

  // ---------------------------------------------------------------- create / lookup / patch / delete

  private create(ctx: RequestContext, kind: Kind): Reply {
    const body = ctx.body;
    if (!isPlainObject(body)) throw this.bad('The request body must be a JSON object');
    const doc = stripServerKeys(cloneJson(body));
    const title = this.requireTitle(doc, kind === 'mixins' ? 'field group' : 'schema');
    const now = Date.now();
    const hex = xdmResourceId();
    const rec: XdmRecord = {
      kind,
      hex,
      $id: `https://ns.adobe.com/${this.ctx.tenantId}/${kind}/${hex}`,
      altId: `_${this.ctx.tenantId}.${kind}.${hex}`,
      minor: 0,
      created: now,
      updated: now,
      doc,
      properties: {},
    };
    this.applyDerived(rec);
    this.checkUniqueTitle(kind, title);
    this.records.set(hex, rec);
    return { status: 201, body: this.render(rec) };
  }

  private applyDerived(rec: XdmRecord): void {
    if (rec.kind === 'mixins') {
      rec.properties = this.fieldGroupProperties(rec.doc);
    } else {
      const parts = this.schemaParts(rec.doc);
      rec.classId = parts.classId;
      rec.fieldGroupIds = parts.fieldGroupIds;
      rec.properties = parts.properties;
    }
  }

  private mustFind(kind: Kind, id: string): XdmRecord {
    const rec = this.find(kind, id);
    if (!rec) throw this.notFound(kind, id);
    return rec;
  }

  private lookup(ctx: RequestContext, kind: Kind): Reply {
    const format = this.lookupFormat(ctx);
    const rec = this.mustFind(kind, ctx.params.id);
    if (format.version !== 1) {
      throw xdmError(406, `The requested version ${format.version} of ${rec.$id} is not available; the current major version is 1`, '1013');
    }
    return { status: 200, body: this.renderFor(rec, format) };
  }

  private async patch(ctx: RequestContext, kind: Kind): Promise<Reply> {
    const rec = this.mustFind(kind, ctx.params.id);
    const ops = ctx.body;
    if (!Array.isArray(ops)) throw this.bad('The request body must be a JSON Patch array of operations');
    const patched = applyJsonPatch(this.render(rec), ops, (m) => this.bad(m));
    if (!isPlainObject(patched)) throw this.bad('The patched resource must remain a JSON object');
    const doc = stripServerKeys(patched);
    const title = this.requireTitle(doc, kind === 'mixins' ? 'field group' : 'schema');
    const candidate: XdmRecord = { ...rec, doc, properties: {} };
    this.applyDerived(candidate);
    this.checkUniqueTitle(kind, title, rec.hex);
    // Schemas whose datasets exist may only grow (AEP rejects breaking changes).
    const affected = kind === 'schemas' ? [rec] : this.list('schemas').filter((s) => s.fieldGroupIds?.includes(rec.$id));
    const recomputed = new Map<string, XdmRecord>();
    for (const schema of affected) {
      const after: XdmRecord =
        schema === rec
          ? candidate
          : (() => {
              const copy: XdmRecord = { ...schema, properties: {} };
              // Recompute with the candidate field group in place of the stored one.
              this.records.set(rec.hex, candidate);
              try {
                this.applyDerived(copy);
              } finally {
                this.records.set(rec.hex, rec);
              }
              return copy;
            })();
      if (this.hooks.datasetsUsingSchema(schema.$id).length > 0) {
        const problem = breakingChange(schema.properties, after.properties);
        if (problem) {
          throw this.bad(`Schema '${schema.$id}' is used by a dataset; ${problem} would be a breaking change, which is not allowed`);
        }
      }
      recomputed.set(schema.hex, after);
    }
    candidate.minor = rec.minor + 1;
    candidate.updated = Date.now();
    this.records.set(rec.hex, candidate);
    for (const [hex, after] of recomputed) {
      if (hex === rec.hex) continue;
      const schema = this.records.get(hex)!;
      schema.properties = after.properties;
    }
    for (const schema of affected) {
      if (this.hooks.datasetsUsingSchema(schema.$id).length > 0) await this.hooks.schemaChanged(schema.$id);
    }
    return { status: 200, body: this.render(candidate) };
  }

  private remove(ctx: RequestContext, kind: Kind): Reply {
    const rec = this.mustFind(kind, ctx.params.id);
    if (kind === 'schemas') {
      const datasets = this.hooks.datasetsUsingSchema(rec.$id);
      if (datasets.length > 0) {
        throw xdmError(409, `Schema ${rec.$id} cannot be deleted: it is used by dataset(s) ${datasets.join(', ')}`, '1049', 'Conflict');
      }
      for (const [id, d] of this.descriptors) if (d.doc['xdm:sourceSchema'] === rec.$id) this.descriptors.delete(id);
    } else {
      const users = this.list('schemas').filter((s) => s.fieldGroupIds?.includes(rec.$id));
      if (users.length > 0) {
        throw xdmError(
          409,
          `Field group ${rec.$id} cannot be deleted: it is used by schema(s) ${users.map((u) => u.$id).join(', ')}`,
          '1049',
          'Conflict',
        );
      }
    }
    this.records.delete(rec.hex);
    return { status: 204 };
  }

  // ---------------------------------------------------------------- descriptors

  private renderDescriptor(d: DescriptorRecord): Record<string, unknown> {
    const out: Record<string, unknown> = { ...cloneJson(d.doc) };
    out.imsOrg = this.ctx.orgId;
    out.version = '1';
    out['meta:containerId'] = 'tenant';
    out['meta:sandboxId'] = this.ctx.sandboxId;
    out['meta:sandboxType'] = this.ctx.sandbox === 'prod' ? 'production' : 'development';
    out['meta:registryMetadata'] = this.registryMetadata(d.created, d.updated, d.doc);
    return out;
  }

  private createDescriptor(ctx: RequestContext): Reply {
    const body = ctx.body;
    if (!isPlainObject(body)) throw this.bad('The request body must be a JSON object');
    const doc = cloneJson(body);
    delete doc['@id'];
    for (const k of ['imsOrg', 'version', 'meta:containerId', 'meta:sandboxId', 'meta:sandboxType', 'meta:registryMetadata']) delete doc[k];
    const type = doc['@type'];
    if (typeof type !== 'string' || !DESCRIPTOR_TYPES.has(type)) {
      throw this.bad(`'@type' must be one of ${[...DESCRIPTOR_TYPES].join(', ')}; got '${String(type)}'`);
    }
    const schemaId = doc['xdm:sourceSchema'];
    if (typeof schemaId !== 'string') throw this.bad("'xdm:sourceSchema' (the $id of the schema) is required");
    const schema = this.find('schemas', schemaId);
    if (!schema || schema.$id !== schemaId) throw this.bad(`'xdm:sourceSchema' '${schemaId}' is not the $id of a schema in this sandbox`);
    const version = doc['xdm:sourceVersion'];
    if (version === undefined) throw this.bad("'xdm:sourceVersion' (the major version of the schema) is required");
    if (String(version) !== '1') throw this.bad(`'xdm:sourceVersion' ${String(version)} does not exist; schema ${schemaId} is at major version 1`);
    // The registry reports versions as strings (see createDescriptor in schema-registry.yaml).
    doc['xdm:sourceVersion'] = '1';
    const property = doc['xdm:sourceProperty'];
    if (typeof property !== 'string' || !property.startsWith('/')) {
      throw this.bad("'xdm:sourceProperty' must be the path of a field in the schema, such as '/personalEmail/address'");
    }
    const field = lookupPath(schema.properties, property);
    if (field === undefined) throw this.bad(`'xdm:sourceProperty' '${property}' does not exist in schema ${schemaId}`);
    if (type === 'xdm:descriptorIdentity') {
      if (field !== 'open' && field.type !== 'string') {
        throw this.bad(`Identity field '${property}' must be of type string, not ${field.type}`);
      }
      const ns = doc['xdm:namespace'];
      if (typeof ns !== 'string' || ns.trim() === '') throw this.bad("'xdm:namespace' (the identity namespace code, such as 'ECID') is required");
      const prop = doc['xdm:property'];
      if (prop !== 'xdm:code' && prop !== 'xdm:id') throw this.bad("'xdm:property' must be 'xdm:code' or 'xdm:id'");
      if (doc['xdm:isPrimary'] !== undefined && typeof doc['xdm:isPrimary'] !== 'boolean') throw this.bad("'xdm:isPrimary' must be a boolean");
      for (const existing of this.identityDescriptors(schemaId)) {
        if (existing['xdm:sourceProperty'] === property) {
          throw xdmError(409, `Field '${property}' of schema ${schemaId} already has an identity descriptor (${String(existing['@id'])})`, '1521', 'Conflict');
        }
        if (doc['xdm:isPrimary'] === true && existing['xdm:isPrimary'] === true) {
          throw this.bad(`Schema ${schemaId} already has a primary identity ('${String(existing['xdm:sourceProperty'])}')`);
        }
      }
    } else if (type === 'xdm:descriptorReferenceIdentity') {
      if (typeof doc['xdm:identityNamespace'] !== 'string') throw this.bad("'xdm:identityNamespace' is required");
    } else if (type === 'xdm:descriptorOneToOne' || type === 'xdm:descriptorRelationship') {
      const dest = doc['xdm:destinationSchema'];
      if (typeof dest !== 'string' || !this.find('schemas', dest)) throw this.bad(`'xdm:destinationSchema' '${String(dest)}' is not a schema in this sandbox`);
    }
    const now = Date.now();
    const id = descriptorId();
    const rec: DescriptorRecord = { doc: { '@id': id, ...doc }, created: now, updated: now };
    this.descriptors.set(id, rec);
    return { status: 201, body: this.renderDescriptor(rec) };
  }

  private listDescriptors(ctx: RequestContext): Reply {
    let format: { v2: boolean; kind: 'id' | 'link' | 'full' } | undefined;
    for (const v of acceptValues(ctx)) {
      const { media } = acceptParams(v);
      const m = /^application\/vnd\.adobe\.xdm(-v2)?(-id|-link)?\+json$/.exec(media);
      if (m) {
        format = { v2: m[1] !== undefined, kind: m[2] === '-id' ? 'id' : m[2] === '-link' ? 'link' : 'full' };
        break;
      }
    }
    if (!format) {
      const given = header(ctx.headers, 'accept') ?? '(none)';
      throw xdmError(
        400,
        `The supplied Accept header is not valid: ${given} - A valid Accept value should look like application/vnd.adobe.xdm-id+json`,
        '1008',
        'Accept header invalid',
      );
    }
    const all = [...this.descriptors.values()].map((d) => this.renderDescriptor(d));
    const { results, page, next } = this.page(ctx, all, '@id');
    const shape = (d: Record<string, unknown>): unknown =>
      format!.kind === 'id'
        ? d['@id']
        : format!.kind === 'link'
          ? `${ctx.baseUrl}${SCHEMA_REGISTRY_BASE}/tenant/descriptors/${String(d['@id'])}`
          : d;
    if (format.v2) {
      return { status: 200, body: { results: results.map(shape), _page: page, _links: this.nextLink(ctx, '/tenant/descriptors', next) } };
    }
    const grouped: Record<string, unknown[]> = {};
    for (const d of results) (grouped[String(d['@type'])] ??= []).push(shape(d));
    return { status: 200, body: grouped };
  }

  private lookupDescriptor(ctx: RequestContext): Reply {
    const rec = this.descriptors.get(ctx.params.id);
    if (!rec) throw this.notFound('descriptors', ctx.params.id);
    return { status: 200, body: this.renderDescriptor(rec) };
  }

  private deleteDescriptor(ctx: RequestContext): Reply {
    if (!this.descriptors.delete(ctx.params.id)) throw this.notFound('descriptors', ctx.params.id);
    return { status: 204 };
  }

  // ---------------------------------------------------------------- unions and stats

  private unionSchemas(): XdmRecord[] {
    return this.list('schemas').filter((s) => {
      const tags = s.doc['meta:immutableTags'];
      return Array.isArray(tags) && tags.includes('union');
    });
  }

  /** One union per class that has at least one schema enabled for Profile. */
  private unions(): { xdmClass: XdmClass; schemas: XdmRecord[]; full: Record<string, unknown>; properties: FieldTree }[] {
    const byClass = new Map<string, XdmRecord[]>();
    for (const s of this.unionSchemas()) {
      const list = byClass.get(s.classId!) ?? [];
      list.push(s);
      byClass.set(s.classId!, list);
    }
    const out = [];
    for (const [classId, schemas] of byClass) {
      const xdmClass = findGlobalClass(classId)!;
      const fieldGroups = [...new Set(schemas.flatMap((s) => s.fieldGroupIds ?? []))];
      const properties: FieldTree = {};
      for (const s of schemas) mergeTrees(properties, s.properties, (m) => this.bad(m));
      const created = Math.min(...schemas.map((s) => s.created));
      const updated = Math.max(...schemas.map((s) => s.updated));
      const full: Record<string, unknown> = {
        $id: `${classId}__union`,
        'meta:altId': `${xdmClass.altId}__union`,
        'meta:resourceType': 'unions',
        version: '1.0',
        title: xdmClass.title,
        type: 'object',
        description: xdmClass.description,
        allOf: [classId, ...fieldGroups].map((ref) => ({ $ref: ref })),
        imsOrg: this.ctx.orgId,
        'meta:extends': [...schemas.map((s) => s.$id), ...fieldGroups, classId, xdmClass.behavior],
        'meta:xdmType': 'object',
        'meta:registryMetadata': { eTag: etag(schemas.map((s) => [s.$id, s.minor])), 'meta:globalLibVersion': '1.50.1', 'repo:createdDate': created, 'repo:lastModifiedDate': updated },
        'meta:class': classId,
        'meta:containerId': 'tenant',
        'meta:sandboxId': this.ctx.sandboxId,
        'meta:sandboxType': this.ctx.sandbox === 'prod' ? 'production' : 'development',
      };
      out.push({ xdmClass, schemas, full, properties });
    }
    return out;
  }

  private listUnions(ctx: RequestContext): Reply {
    const format = this.listFormat(ctx);
    const items = this.unions().map((u) => u.full);
    const { results, page, next } = this.page(ctx, items, 'title');
    const out = format === 'id' ? results.map((r) => pick(r, ['$id', 'meta:altId', 'version', 'title'])) : results;
    return { status: 200, body: { results: out, _page: page, _links: this.nextLink(ctx, '/tenant/unions', next) } };
  }

  private lookupUnion(ctx: RequestContext): Reply {
    const format = this.lookupFormat(ctx);
    const id = ctx.params.id;
    const union = this.unions().find((u) => u.full.$id === id || u.full['meta:altId'] === id);
    if (!union) throw this.notFound('unions', id);
    let out: Record<string, unknown> = cloneJson(union.full);
    if (format.full) {
      delete out.allOf;
      out.properties = fieldTreeToJsonSchema(union.properties, format);
    }
    if (!format.titles || !format.descriptions) out = stripText(out, format) as Record<string, unknown>;
    return { status: 200, body: out };
  }

  private stats(): Reply {
    const all = [...this.records.values()];
    const item = (r: XdmRecord) => ({ ...this.summary(r), 'meta:resourceType': r.kind });
    const recentCreated = [...all].sort((a, b) => b.created - a.created).slice(0, 5).map(item);
    const recentUpdated = [...all].sort((a, b) => b.updated - a.updated).slice(0, 5).map(item);
    const usage = new Map<string, XdmRecord[]>();
    for (const s of this.list('schemas')) usage.set(s.classId!, [...(usage.get(s.classId!) ?? []), s]);
    const classUsage = [...usage.entries()].map(([classId, schemas]) => ({
      $id: classId,
      title: findGlobalClass(classId)?.title ?? classId,
      numberOfSchemas: schemas.length,
      schemas: schemas.map((s) => {
        const entry: Record<string, unknown> = { $id: s.$id, title: s.doc.title, 'meta:altId': s.altId };
        if (typeof s.doc.description === 'string') entry.description = s.doc.description;
        return entry;
      }),
    }));
    return {
      status: 200,
      body: {
        imsOrg: this.ctx.orgId,
        tenantId: this.ctx.tenantId,
        counts: {
          schemas: this.list('schemas').length,
          mixins: this.list('mixins').length,
          datatypes: 0,
          classes: 0,
          unions: this.unions().length,
        },
        recentlyCreatedResources: recentCreated,
        recentlyUpdatedResources: recentUpdated,
        classUsage,
      },
    };
  }
}

// -------------------------------------------------------------------- helpers

function mergeTrees(target: FieldTree, source: FieldTree, bad: (m: string) => ApiError): void {
  try {
    mergeFieldTrees(target, source);
  } catch (err) {
    if (err instanceof FieldDefinitionError) throw bad(err.message);
    throw err;
  }
}

function pick(obj: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

function stringish(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** Registry list fields: `created`/`updated` come from the registry metadata. */
function readRegistryField(obj: Record<string, unknown>, field: string): unknown {
  if (field === 'created' || field === 'updated') {
    const meta = obj['meta:registryMetadata'] as Record<string, unknown> | undefined;
    return meta?.[field === 'created' ? 'repo:createdDate' : 'repo:lastModifiedDate'];
  }
  return obj[field];
}

/** Removes titles and/or descriptions (the `-notext` and `-desc` views). */
function stripText(value: unknown, keep: { titles: boolean; descriptions: boolean }): unknown {
  if (Array.isArray(value)) return value.map((v) => stripText(v, keep));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'title' && !keep.titles) continue;
    if (k === 'description' && !keep.descriptions) continue;
    out[k] = stripText(v, keep);
  }
  return out;
}

/** The first field present before and missing or retyped after, described for an error message. */
function breakingChange(before: FieldTree, after: FieldTree, path = ''): string | undefined {
  for (const [name, field] of Object.entries(before)) {
    const here = `${path}/${name}`;
    const now = after[name];
    if (!now) return `removing field '${here}'`;
    if (now.type !== field.type) return `changing the type of field '${here}' from ${field.type} to ${now.type}`;
    if (field.properties && now.properties) {
      const inner = breakingChange(field.properties, now.properties, here);
      if (inner) return inner;
    } else if (field.properties && Object.keys(field.properties).length > 0 && !now.open) {
      return `removing the sub-fields of '${here}'`;
    }
  }
  return undefined;
}
