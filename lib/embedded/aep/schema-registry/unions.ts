/**
 * Profile unions: one per class that has schemas enabled for Profile (tagged `union`), holding the
 * merged fields of those schemas. Segmentation and the profile store read a class's union.
 */
import { cloneJson, Reply, RequestContext } from '../http';
import { FieldTree, fieldTreeToJsonSchema, findGlobalClass, XdmClass } from '../xdm';
import { listFormat, lookupFormat } from './accept';
import { mergeTrees } from './composition';
import { bad, etag, notFound, RegistryStore, sandboxType, XdmRecord } from './model';
import { nextLink, page } from './paging';
import { idView, stripText } from './rendering';

export interface Union {
  xdmClass: XdmClass;
  schemas: XdmRecord[];
  /** The union as `application/vnd.adobe.xed+json` returns it. */
  full: Record<string, unknown>;
  properties: FieldTree;
}

export class Unions {
  constructor(private readonly store: RegistryStore) {}

  private unionSchemas(): XdmRecord[] {
    return this.store.list('schemas').filter((s) => {
      const tags = s.doc['meta:immutableTags'];
      return Array.isArray(tags) && tags.includes('union');
    });
  }

  /** One union per class that has at least one schema enabled for Profile. */
  all(): Union[] {
    const ctx = this.store.ctx;
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
      for (const s of schemas) mergeTrees(properties, s.properties, bad);
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
        imsOrg: ctx.orgId,
        'meta:extends': [...schemas.map((s) => s.$id), ...fieldGroups, classId, xdmClass.behavior],
        'meta:xdmType': 'object',
        'meta:registryMetadata': { eTag: etag(schemas.map((s) => [s.$id, s.minor])), 'meta:globalLibVersion': '1.50.1', 'repo:createdDate': created, 'repo:lastModifiedDate': updated },
        'meta:class': classId,
        'meta:containerId': 'tenant',
        'meta:sandboxId': ctx.sandboxId,
        'meta:sandboxType': sandboxType(ctx),
      };
      out.push({ xdmClass, schemas, full, properties });
    }
    return out;
  }

  /** The schemas of a class enabled for Profile and their merged fields; undefined when none is enabled. */
  of(classId: string): { schemaIds: string[]; properties: FieldTree } | undefined {
    const union = this.all().find((u) => u.xdmClass.$id === classId);
    return union && { schemaIds: union.schemas.map((s) => s.$id), properties: cloneJson(union.properties) };
  }

  list(ctx: RequestContext): Reply {
    const format = listFormat(ctx);
    const items = this.all().map((u) => u.full);
    const { results, page: pageInfo, next } = page(ctx, items, 'title');
    const out = format === 'id' ? results.map(idView) : results;
    return { status: 200, body: { results: out, _page: pageInfo, _links: nextLink(ctx, '/tenant/unions', next) } };
  }

  lookup(ctx: RequestContext): Reply {
    const format = lookupFormat(ctx);
    const id = ctx.param('id');
    const union = this.all().find((u) => u.full.$id === id || u.full['meta:altId'] === id);
    if (!union) throw notFound('unions', id);
    let out: Record<string, unknown> = cloneJson(union.full);
    if (format.full) {
      delete out.allOf;
      out.properties = fieldTreeToJsonSchema(union.properties, format);
    }
    if (!format.titles || !format.descriptions) out = stripText(out, format) as Record<string, unknown>;
    return { status: 200, body: out };
  }
}
