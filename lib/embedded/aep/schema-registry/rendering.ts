/**
 * Field groups and schemas as the registry returns them: the caller's document with the keys the
 * registry manages (`$id`, `meta:*`, version, registry metadata), in the view the Accept header chose.
 */
import { cloneJson, isPlainObject } from '../http';
import { fieldTreeToJsonSchema, findGlobalClass } from '../xdm';
import type { LookupFormat } from './accept';
import { etag, RegistryContext, sandboxType, tenantNamespace, XdmRecord } from './model';

export function registryMetadata(ctx: RegistryContext, created: number, updated: number, content: unknown): Record<string, unknown> {
  return {
    'repo:createdDate': created,
    'repo:lastModifiedDate': updated,
    'xdm:createdClientId': ctx.clientId,
    'xdm:lastModifiedClientId': ctx.clientId,
    'xdm:createdUserId': `${ctx.clientId}@techacct.adobe.com`,
    'xdm:lastModifiedUserId': `${ctx.clientId}@techacct.adobe.com`,
    eTag: etag(content),
    'meta:globalLibVersion': '1.50.1',
  };
}

function containerMeta(ctx: RegistryContext): Record<string, unknown> {
  return {
    'meta:containerId': 'tenant',
    'meta:sandboxId': ctx.sandboxId,
    'meta:sandboxType': sandboxType(ctx),
    'meta:tenantNamespace': tenantNamespace(ctx),
  };
}

/** The resource as `application/vnd.adobe.xed+json` returns it. */
export function render(ctx: RegistryContext, rec: XdmRecord): Record<string, unknown> {
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
  out.imsOrg = ctx.orgId;
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
  out['meta:registryMetadata'] = registryMetadata(ctx, rec.created, rec.updated, rec.doc);
  Object.assign(out, containerMeta(ctx));
  return out;
}

/** The resource in the view a lookup's Accept header chose. */
export function renderFor(ctx: RegistryContext, rec: XdmRecord, format: LookupFormat): Record<string, unknown> {
  let out = render(ctx, rec);
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

export function summary(rec: XdmRecord): Record<string, unknown> {
  return { $id: rec.$id, 'meta:altId': rec.altId, version: `1.${rec.minor}`, title: rec.doc.title };
}

/** The `xed-id` view of a list item. */
export function idView(item: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['$id', 'meta:altId', 'version', 'title']) if (item[k] !== undefined) out[k] = item[k];
  return out;
}

/** Removes titles and/or descriptions (the `-notext` and `-desc` views). */
export function stripText(value: unknown, keep: { titles: boolean; descriptions: boolean }): unknown {
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
