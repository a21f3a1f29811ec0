/**
 * Descriptors of the tenant's schemas: identities (at most one per field, one primary per schema),
 * reference identities, relationships and alternate display info, each checked against the field
 * and schema it names.
 */
import { xdmError } from '../errors';
import { cloneJson, isPlainObject, Reply, RequestContext } from '../http';
import { descriptorId } from '../ids';
import { lookupPath } from '../xdm';
import { descriptorListFormat } from './accept';
import { bad, DescriptorRecord, notFound, RegistryStore, sandboxType, SCHEMA_REGISTRY_BASE } from './model';
import { nextLink, page } from './paging';
import { registryMetadata } from './rendering';

const DESCRIPTOR_TYPES = new Set([
  'xdm:descriptorIdentity',
  'xdm:alternateDisplayInfo',
  'xdm:descriptorReferenceIdentity',
  'xdm:descriptorOneToOne',
  'xdm:descriptorRelationship',
]);

export class Descriptors {
  constructor(private readonly store: RegistryStore) {}

  /** Identity descriptors of a schema. */
  identityDescriptors(schemaId: string): Record<string, unknown>[] {
    return [...this.store.descriptors.values()]
      .map((d) => d.doc)
      .filter((d) => d['@type'] === 'xdm:descriptorIdentity' && d['xdm:sourceSchema'] === schemaId)
      .map((d) => cloneJson(d));
  }

  private render(d: DescriptorRecord): Record<string, unknown> {
    const ctx = this.store.ctx;
    const out: Record<string, unknown> = { ...cloneJson(d.doc) };
    out.imsOrg = ctx.orgId;
    out.version = '1';
    out['meta:containerId'] = 'tenant';
    out['meta:sandboxId'] = ctx.sandboxId;
    out['meta:sandboxType'] = sandboxType(ctx);
    out['meta:registryMetadata'] = registryMetadata(ctx, d.created, d.updated, d.doc);
    return out;
  }

  create(ctx: RequestContext): Reply {
    const body = ctx.body;
    if (!isPlainObject(body)) throw bad('The request body must be a JSON object');
    const doc = cloneJson(body);
    delete doc['@id'];
    for (const k of ['imsOrg', 'version', 'meta:containerId', 'meta:sandboxId', 'meta:sandboxType', 'meta:registryMetadata']) delete doc[k];
    const type = doc['@type'];
    if (typeof type !== 'string' || !DESCRIPTOR_TYPES.has(type)) {
      throw bad(`'@type' must be one of ${[...DESCRIPTOR_TYPES].join(', ')}; got '${String(type)}'`);
    }
    const schemaId = doc['xdm:sourceSchema'];
    if (typeof schemaId !== 'string') throw bad("'xdm:sourceSchema' (the $id of the schema) is required");
    const schema = this.store.find('schemas', schemaId);
    if (!schema || schema.$id !== schemaId) throw bad(`'xdm:sourceSchema' '${schemaId}' is not the $id of a schema in this sandbox`);
    const version = doc['xdm:sourceVersion'];
    if (version === undefined) throw bad("'xdm:sourceVersion' (the major version of the schema) is required");
    if (String(version) !== '1') throw bad(`'xdm:sourceVersion' ${String(version)} does not exist; schema ${schemaId} is at major version 1`);
    // The registry reports versions as strings (see createDescriptor in schema-registry.yaml).
    doc['xdm:sourceVersion'] = '1';
    const property = doc['xdm:sourceProperty'];
    if (typeof property !== 'string' || !property.startsWith('/')) {
      throw bad("'xdm:sourceProperty' must be the path of a field in the schema, such as '/personalEmail/address'");
    }
    const field = lookupPath(schema.properties, property);
    if (field === undefined) throw bad(`'xdm:sourceProperty' '${property}' does not exist in schema ${schemaId}`);
    if (type === 'xdm:descriptorIdentity') {
      if (field !== 'open' && field.type !== 'string') {
        throw bad(`Identity field '${property}' must be of type string, not ${field.type}`);
      }
      const ns = doc['xdm:namespace'];
      if (typeof ns !== 'string' || ns.trim() === '') throw bad("'xdm:namespace' (the identity namespace code, such as 'ECID') is required");
      const prop = doc['xdm:property'];
      if (prop !== 'xdm:code' && prop !== 'xdm:id') throw bad("'xdm:property' must be 'xdm:code' or 'xdm:id'");
      if (doc['xdm:isPrimary'] !== undefined && typeof doc['xdm:isPrimary'] !== 'boolean') throw bad("'xdm:isPrimary' must be a boolean");
      for (const existing of this.identityDescriptors(schemaId)) {
        if (existing['xdm:sourceProperty'] === property) {
          throw xdmError(409, `Field '${property}' of schema ${schemaId} already has an identity descriptor (${String(existing['@id'])})`, '1521', 'Conflict');
        }
        if (doc['xdm:isPrimary'] === true && existing['xdm:isPrimary'] === true) {
          throw bad(`Schema ${schemaId} already has a primary identity ('${String(existing['xdm:sourceProperty'])}')`);
        }
      }
    } else if (type === 'xdm:descriptorReferenceIdentity') {
      if (typeof doc['xdm:identityNamespace'] !== 'string') throw bad("'xdm:identityNamespace' is required");
    } else if (type === 'xdm:descriptorOneToOne' || type === 'xdm:descriptorRelationship') {
      const dest = doc['xdm:destinationSchema'];
      if (typeof dest !== 'string' || !this.store.find('schemas', dest)) throw bad(`'xdm:destinationSchema' '${String(dest)}' is not a schema in this sandbox`);
    }
    const now = this.store.ctx.clock.now().getTime();
    const id = descriptorId();
    const rec: DescriptorRecord = { doc: { '@id': id, ...doc }, created: now, updated: now };
    this.store.descriptors.set(id, rec);
    return { status: 201, body: this.render(rec) };
  }

  /** v1 groups the descriptors by `@type`; v2 pages them like the other lists. */
  list(ctx: RequestContext): Reply {
    const format = descriptorListFormat(ctx);
    const all = [...this.store.descriptors.values()].map((d) => this.render(d));
    const { results, page: pageInfo, next } = page(ctx, all, '@id');
    const shape = (d: Record<string, unknown>): unknown =>
      format.kind === 'id'
        ? d['@id']
        : format.kind === 'link'
          ? `${ctx.baseUrl}${SCHEMA_REGISTRY_BASE}/tenant/descriptors/${String(d['@id'])}`
          : d;
    if (format.v2) {
      return { status: 200, body: { results: results.map(shape), _page: pageInfo, _links: nextLink(ctx, '/tenant/descriptors', next) } };
    }
    const grouped: Record<string, unknown[]> = {};
    for (const d of results) (grouped[String(d['@type'])] ??= []).push(shape(d));
    return { status: 200, body: grouped };
  }

  lookup(ctx: RequestContext): Reply {
    const rec = this.store.descriptors.get(ctx.param('id'));
    if (!rec) throw notFound('descriptors', ctx.param('id'));
    return { status: 200, body: this.render(rec) };
  }

  remove(ctx: RequestContext): Reply {
    if (!this.store.descriptors.delete(ctx.param('id'))) throw notFound('descriptors', ctx.param('id'));
    return { status: 204 };
  }
}
