/**
 * The tenant's field groups and schemas: list, create, look up, patch (JSON Patch on the resource as
 * returned) and delete. A field group or schema in use stays: deleting it is a 409, and a patch that
 * would break a schema some dataset uses is refused.
 */
import { xdmError } from '../errors';
import { cloneJson, isPlainObject, Reply, RequestContext } from '../http';
import { xdmResourceId } from '../ids';
import { applyJsonPatch } from '../json-patch';
import { listFormat, lookupFormat } from './accept';
import { applyDerived, breakingChange, checkUniqueTitle, requireTitle, stripServerKeys } from './composition';
import { bad, Kind, RegistryStore, SCHEMA_REGISTRY_BASE, XdmRecord } from './model';
import { nextLink, page } from './paging';
import { idView, render, renderFor } from './rendering';

export class TenantResources {
  constructor(private readonly store: RegistryStore) {}

  list(ctx: RequestContext, kind: Kind): Reply {
    const format = listFormat(ctx);
    const items = this.store.list(kind).map((r) => render(this.store.ctx, r));
    const { results, page: pageInfo, next } = page(ctx, items, 'title');
    const path = kind === 'mixins' ? '/tenant/fieldgroups' : '/tenant/schemas';
    const links: Record<string, unknown> = nextLink(ctx, path, next);
    if (kind === 'schemas') links.global_schemas = { href: `${ctx.baseUrl}${SCHEMA_REGISTRY_BASE}/global/schemas` };
    const out = format === 'id' ? results.map(idView) : results;
    return { status: 200, body: { results: out, _page: pageInfo, _links: links } };
  }

  create(ctx: RequestContext, kind: Kind): Reply {
    const body = ctx.body;
    if (!isPlainObject(body)) throw bad('The request body must be a JSON object');
    const doc = stripServerKeys(cloneJson(body));
    const title = requireTitle(doc, kind === 'mixins' ? 'field group' : 'schema');
    const now = this.store.ctx.clock.now().getTime();
    const hex = xdmResourceId();
    const { tenantId } = this.store.ctx;
    const rec: XdmRecord = {
      kind,
      hex,
      $id: `https://ns.adobe.com/${tenantId}/${kind}/${hex}`,
      altId: `_${tenantId}.${kind}.${hex}`,
      minor: 0,
      created: now,
      updated: now,
      doc,
      properties: {},
    };
    applyDerived(this.store, rec);
    checkUniqueTitle(this.store, kind, title);
    this.store.records.set(hex, rec);
    return { status: 201, body: render(this.store.ctx, rec) };
  }

  lookup(ctx: RequestContext, kind: Kind): Reply {
    const format = lookupFormat(ctx);
    const rec = this.store.mustFind(kind, ctx.param('id'));
    if (format.version !== 1) {
      throw xdmError(406, `The requested version ${format.version} of ${rec.$id} is not available; the current major version is 1`, '1013');
    }
    return { status: 200, body: renderFor(this.store.ctx, rec, format) };
  }

  async patch(ctx: RequestContext, kind: Kind): Promise<Reply> {
    const records = this.store.records;
    const rec = this.store.mustFind(kind, ctx.param('id'));
    const ops = ctx.body;
    if (!Array.isArray(ops)) throw bad('The request body must be a JSON Patch array of operations');
    const patched = applyJsonPatch(render(this.store.ctx, rec), ops, bad);
    if (!isPlainObject(patched)) throw bad('The patched resource must remain a JSON object');
    const doc = stripServerKeys(patched);
    const title = requireTitle(doc, kind === 'mixins' ? 'field group' : 'schema');
    const candidate: XdmRecord = { ...rec, doc, properties: {} };
    applyDerived(this.store, candidate);
    checkUniqueTitle(this.store, kind, title, rec.hex);
    // Schemas whose datasets exist may only grow (AEP rejects breaking changes).
    const affected = kind === 'schemas' ? [rec] : this.store.list('schemas').filter((s) => s.fieldGroupIds?.includes(rec.$id));
    const recomputed = new Map<string, XdmRecord>();
    for (const schema of affected) {
      const after: XdmRecord =
        schema === rec
          ? candidate
          : (() => {
              const copy: XdmRecord = { ...schema, properties: {} };
              // Recompute with the candidate field group in place of the stored one.
              records.set(rec.hex, candidate);
              try {
                applyDerived(this.store, copy);
              } finally {
                records.set(rec.hex, rec);
              }
              return copy;
            })();
      if (this.store.hooks.datasetsUsingSchema(schema.$id).length > 0) {
        const problem = breakingChange(schema.properties, after.properties);
        if (problem) {
          throw bad(`Schema '${schema.$id}' is used by a dataset; ${problem} would be a breaking change, which is not allowed`);
        }
      }
      recomputed.set(schema.hex, after);
    }
    candidate.minor = rec.minor + 1;
    candidate.updated = this.store.ctx.clock.now().getTime();
    records.set(rec.hex, candidate);
    for (const [hex, after] of recomputed) {
      if (hex === rec.hex) continue;
      const schema = records.get(hex)!;
      schema.properties = after.properties;
    }
    for (const schema of affected) {
      if (this.store.hooks.datasetsUsingSchema(schema.$id).length > 0) await this.store.hooks.schemaChanged(schema.$id);
    }
    return { status: 200, body: render(this.store.ctx, candidate) };
  }

  remove(ctx: RequestContext, kind: Kind): Reply {
    const rec = this.store.mustFind(kind, ctx.param('id'));
    if (kind === 'schemas') {
      const datasets = this.store.hooks.datasetsUsingSchema(rec.$id);
      if (datasets.length > 0) {
        throw xdmError(409, `Schema ${rec.$id} cannot be deleted: it is used by dataset(s) ${datasets.join(', ')}`, '1049', 'Conflict');
      }
      for (const [id, d] of this.store.descriptors) if (d.doc['xdm:sourceSchema'] === rec.$id) this.store.descriptors.delete(id);
    } else {
      const users = this.store.list('schemas').filter((s) => s.fieldGroupIds?.includes(rec.$id));
      if (users.length > 0) {
        throw xdmError(
          409,
          `Field group ${rec.$id} cannot be deleted: it is used by schema(s) ${users.map((u) => u.$id).join(', ')}`,
          '1049',
          'Conflict',
        );
      }
    }
    this.store.records.delete(rec.hex);
    return { status: 204 };
  }
}
