/**
 * What the Schema Registry stand-in's parts share: the tenant's field groups, schemas and descriptors,
 * how they are found, and the registry's error shapes.
 */
import { createHash } from 'crypto';
import type { Clock } from '../../../ports/clock';
import { xdmError } from '../errors';
import type { ApiError } from '../http';
import type { FieldTree, XdmClass } from '../xdm';

export const SCHEMA_REGISTRY_BASE = '/data/foundation/schemaregistry';

export interface RegistryContext {
  orgId: string;
  sandbox: string;
  sandboxId: string;
  tenantId: string;
  clientId: string;
  /** The platform's clock, which stamps every record (a simulated run's virtual clock). */
  clock: Clock;
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

/** Field groups keep their former name, `mixins`, in their `$id`s and `meta:resourceType`. */
export type Kind = 'mixins' | 'schemas';

export interface XdmRecord {
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

export interface DescriptorRecord {
  doc: Record<string, unknown>;
  created: number;
  updated: number;
}

const NOT_FOUND_CODE = '1012';

/** Custom fields live under the tenant's namespace, `_<tenantId>`. */
export function tenantNamespace(ctx: RegistryContext): string {
  return `_${ctx.tenantId}`;
}

export function sandboxType(ctx: RegistryContext): string {
  return ctx.sandbox === 'prod' ? 'production' : 'development';
}

export function etag(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

export function bad(message: string): ApiError {
  return xdmError(400, message, '1001', 'Invalid request');
}

export function notFound(kind: Kind | 'descriptors' | 'unions', id: string): ApiError {
  const what = kind === 'mixins' ? 'field group' : kind === 'schemas' ? 'schema' : kind === 'unions' ? 'union' : 'descriptor';
  return xdmError(404, `Requested ${what} ${id} with version 1 is not found`, NOT_FOUND_CODE, 'Resource Not Found');
}

/** The tenant container of one sandbox. */
export class RegistryStore {
  readonly records = new Map<string, XdmRecord>();
  readonly descriptors = new Map<string, DescriptorRecord>();
  hooks: RegistryHooks = { datasetsUsingSchema: () => [], schemaChanged: async () => undefined };

  constructor(readonly ctx: RegistryContext) {}

  /** By `$id`, `meta:altId` or the bare id the `$id` ends with. */
  find(kind: Kind, ref: string): XdmRecord | undefined {
    for (const rec of this.records.values()) {
      if (rec.kind === kind && (rec.$id === ref || rec.altId === ref || rec.hex === ref)) return rec;
    }
    return undefined;
  }

  mustFind(kind: Kind, id: string): XdmRecord {
    const rec = this.find(kind, id);
    if (!rec) throw notFound(kind, id);
    return rec;
  }

  list(kind: Kind): XdmRecord[] {
    return [...this.records.values()].filter((r) => r.kind === kind);
  }
}
