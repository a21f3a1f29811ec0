/**
 * Schema Registry stand-in (`/data/foundation/schemaregistry`, schema-registry.yaml): tenant field
 * groups and schemas (resources.ts, composed as composition.ts checks), descriptors, unions and stats,
 * with the Accept-header variants AEP documents (accept.ts).
 */
import { cloneJson, type Router } from '../http';
import { findGlobalClass, type FieldTree } from '../xdm';
import { Descriptors } from './descriptors';
import { RegistryContext, RegistryHooks, RegistryStore, ResolvedSchema, SCHEMA_REGISTRY_BASE } from './model';
import { TenantResources } from './resources';
import { registryStats } from './stats';
import { Unions } from './unions';

export { SCHEMA_REGISTRY_BASE, type RegistryContext, type RegistryHooks, type ResolvedSchema } from './model';

export class SchemaRegistry {
  private readonly store: RegistryStore;
  private readonly resources: TenantResources;
  private readonly descriptors: Descriptors;
  private readonly unions: Unions;

  constructor(ctx: RegistryContext) {
    this.store = new RegistryStore(ctx);
    this.resources = new TenantResources(this.store);
    this.descriptors = new Descriptors(this.store);
    this.unions = new Unions(this.store);
  }

  setHooks(hooks: RegistryHooks): void {
    this.store.hooks = hooks;
  }

  // ---------------------------------------------------------------- lookups used by other services

  /** A tenant schema by `$id` or `meta:altId`. */
  resolveSchema(ref: string): ResolvedSchema | undefined {
    const rec = this.store.find('schemas', ref);
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
    return this.descriptors.identityDescriptors(schemaId);
  }

  /**
   * The Profile union of a class: the schemas of that class enabled for Profile and their merged
   * fields; undefined when none is enabled.
   */
  unionOf(classId: string): { schemaIds: string[]; properties: FieldTree } | undefined {
    return this.unions.of(classId);
  }

  // ---------------------------------------------------------------- routes

  register(router: Router): void {
    const base = SCHEMA_REGISTRY_BASE;
    const sr = 'schemaregistry' as const;
    const { resources, descriptors, unions } = this;
    router.add('GET', sr, `${base}/stats`, () => registryStats(this.store, unions));
    router.add('GET', sr, `${base}/tenant/fieldgroups`, (c) => resources.list(c, 'mixins'));
    router.add('POST', sr, `${base}/tenant/fieldgroups`, (c) => resources.create(c, 'mixins'));
    router.add('GET', sr, `${base}/tenant/fieldgroups/:id`, (c) => resources.lookup(c, 'mixins'));
    router.add('PATCH', sr, `${base}/tenant/fieldgroups/:id`, (c) => resources.patch(c, 'mixins'));
    router.add('DELETE', sr, `${base}/tenant/fieldgroups/:id`, (c) => resources.remove(c, 'mixins'));
    router.add('GET', sr, `${base}/tenant/schemas`, (c) => resources.list(c, 'schemas'));
    router.add('POST', sr, `${base}/tenant/schemas`, (c) => resources.create(c, 'schemas'));
    router.add('GET', sr, `${base}/tenant/schemas/:id`, (c) => resources.lookup(c, 'schemas'));
    router.add('PATCH', sr, `${base}/tenant/schemas/:id`, (c) => resources.patch(c, 'schemas'));
    router.add('DELETE', sr, `${base}/tenant/schemas/:id`, (c) => resources.remove(c, 'schemas'));
    router.add('GET', sr, `${base}/tenant/descriptors`, (c) => descriptors.list(c));
    router.add('POST', sr, `${base}/tenant/descriptors`, (c) => descriptors.create(c));
    router.add('GET', sr, `${base}/tenant/descriptors/:id`, (c) => descriptors.lookup(c));
    router.add('DELETE', sr, `${base}/tenant/descriptors/:id`, (c) => descriptors.remove(c));
    router.add('GET', sr, `${base}/tenant/unions`, (c) => unions.list(c));
    router.add('GET', sr, `${base}/tenant/unions/:id`, (c) => unions.lookup(c));
  }
}
