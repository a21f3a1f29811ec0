import type { Reply } from '../http';
import { findGlobalClass } from '../xdm';
import { RegistryStore, XdmRecord } from './model';
import { summary } from './rendering';
import type { Unions } from './unions';

/** `GET /stats`: the tenant id (how clients learn it), resource counts, recent resources, class usage. */
export function registryStats(store: RegistryStore, unions: Unions): Reply {
  const all = [...store.records.values()];
  const item = (r: XdmRecord) => ({ ...summary(r), 'meta:resourceType': r.kind });
  const recentCreated = [...all].sort((a, b) => b.created - a.created).slice(0, 5).map(item);
  const recentUpdated = [...all].sort((a, b) => b.updated - a.updated).slice(0, 5).map(item);
  const usage = new Map<string, XdmRecord[]>();
  for (const s of store.list('schemas')) usage.set(s.classId!, [...(usage.get(s.classId!) ?? []), s]);
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
      imsOrg: store.ctx.orgId,
      tenantId: store.ctx.tenantId,
      counts: {
        schemas: store.list('schemas').length,
        mixins: store.list('mixins').length,
        datatypes: 0,
        classes: 0,
        unions: unions.all().length,
      },
      recentlyCreatedResources: recentCreated,
      recentlyUpdatedResources: recentUpdated,
      classUsage,
    },
  };
}
