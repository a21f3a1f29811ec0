/**
 * Real-Time Customer Profile as the embedded segmentation sees it: the records of every dataset enabled
 * for Profile (Catalog tag `unifiedProfile: enabled:true`) whose schema is a Profile-enabled schema of
 * the XDM Individual Profile class, merged into one profile per primary identity.
 *
 * - A record's identity is the field its schema's primary identity descriptor names (for the scores,
 *   `_<tenant>.userid` in the ECID namespace), keyed by namespace and value; records without one are
 *   left out, as Profile rejects them.
 * - Within a dataset the newest record of an identity wins (the highest snapshot, then the last row
 *   written); across datasets the fragments are merged field by field, newer snapshots over older ones
 *   (the timestamp-ordered merge policy), a null never erasing a value.
 * - ExperienceEvent datasets are not read: the rules evaluated here are on profile attributes only.
 */
import type { PGlite } from '@electric-sql/pglite';
import { withExclusiveSession } from '../postgres';
import type { Catalog, DatasetRecord } from './catalog';
import { isPlainObject } from './http';
import type { SchemaRegistry } from './schema-registry';
import { SNAPSHOT_COLUMN } from './snapshots';
import { columnsFor, quoteIdent, quoteLiteral } from './xdm-tables';
import { PROFILE_CLASS } from './xdm';

/** The Catalog tag value that enables a dataset for Profile. */
const PROFILE_TAG = { key: 'unifiedProfile', value: 'enabled:true' };

export interface MergedProfiles {
  /** `<namespace>:<identity>` to the merged attributes. */
  profiles: Map<string, Record<string, unknown>>;
  /** The identity namespace of each profile key. */
  namespaceOf: (key: string) => string;
  /** The datasets read. */
  datasetIds: string[];
}

interface Fragment {
  key: string;
  snapshot: number | null;
  doc: Record<string, unknown>;
}

function isProfileDataset(dataset: DatasetRecord): boolean {
  const tags = dataset.fields.tags;
  if (!isPlainObject(tags)) return false;
  const values = tags[PROFILE_TAG.key];
  return Array.isArray(values) && values.includes(PROFILE_TAG.value);
}

/** Merges `source` into `target`: objects field by field, other values replacing, nulls ignored. */
function mergeInto(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(source)) {
    if (value === null || value === undefined) continue;
    const current = target[key];
    if (isPlainObject(value) && isPlainObject(current)) mergeInto(current, value);
    else target[key] = isPlainObject(value) ? { ...value } : value;
  }
}

export class ProfileStore {
  constructor(
    private readonly db: PGlite,
    private readonly catalog: Catalog,
    private readonly registry: SchemaRegistry,
  ) {}

  /** The fields of the Profile union of the profile class (for checking rules), or undefined when none is enabled. */
  unionFields() {
    return this.registry.unionOf(PROFILE_CLASS);
  }

  /**
   * Every profile, with the top-level fields named by `topLevelFields` (the ones a rule reads; the
   * identity is always read), merged across datasets.
   */
  async merged(topLevelFields: string[]): Promise<MergedProfiles> {
    const union = this.unionFields();
    const inUnion = new Set(union?.schemaIds ?? []);
    const fragments: Fragment[] = [];
    const namespaces = new Map<string, string>();
    const datasetIds: string[] = [];
    for (const dataset of this.catalog.datasets.values()) {
      if (!dataset.schemaRef || !inUnion.has(dataset.schemaRef.id) || !isProfileDataset(dataset)) continue;
      const schema = this.registry.resolveSchema(dataset.schemaRef.id);
      const identity = this.registry.identityDescriptors(dataset.schemaRef.id).find((d) => d['xdm:isPrimary'] === true);
      if (!schema || !identity) continue;
      const path = String(identity['xdm:sourceProperty'] ?? '').split('/').filter((s) => s.length > 0);
      const namespace = String(identity['xdm:namespace'] ?? '');
      const columns = columnsFor(schema.properties);
      const identityColumn = columns.find((c) => c.name === path[0]);
      if (!identityColumn || namespace === '') continue;
      const identityExpr =
        path.length === 1
          ? `${quoteIdent(identityColumn.name)}::text`
          : identityColumn.sqlType === 'jsonb'
            ? `${quoteIdent(identityColumn.name)} #>> ARRAY[${path.slice(1).map(quoteLiteral).join(', ')}]::text[]`
            : undefined;
      if (!identityExpr) continue;
      const wanted = columns.filter((c) => topLevelFields.includes(c.name) || c.name === path[0]);
      const doc = `jsonb_build_object(${wanted.map((c) => `${quoteLiteral(c.name)}, ${quoteIdent(c.name)}`).join(', ')})`;
      const sql = `SELECT id, snap, doc FROM (
          SELECT DISTINCT ON (id) id, snap, doc FROM (
            SELECT ${identityExpr} AS id, ${quoteIdent(SNAPSHOT_COLUMN)} AS snap, ctid AS written, ${doc} AS doc FROM ${quoteIdent(dataset.table)}
          ) rows WHERE id IS NOT NULL AND id <> '' ORDER BY id, snap DESC NULLS LAST, written DESC
        ) newest`;
      const result = await withExclusiveSession(this.db, () =>
        this.db.query<{ id: string; snap: number | string | null; doc: Record<string, unknown> }>(sql),
      );
      datasetIds.push(dataset.id);
      for (const row of result.rows) {
        const key = `${namespace}:${row.id}`;
        namespaces.set(key, namespace);
        fragments.push({ key, snapshot: row.snap === null ? null : Number(row.snap), doc: row.doc });
      }
    }
    // Older fragments first, so newer values are merged over them.
    fragments.sort((a, b) => (a.snapshot ?? -1) - (b.snapshot ?? -1));
    const profiles = new Map<string, Record<string, unknown>>();
    for (const fragment of fragments) {
      const profile = profiles.get(fragment.key);
      if (profile) mergeInto(profile, fragment.doc);
      else {
        const fresh: Record<string, unknown> = {};
        mergeInto(fresh, fragment.doc);
        profiles.set(fragment.key, fresh);
      }
    }
    return { profiles, namespaceOf: (key) => namespaces.get(key) ?? '', datasetIds };
  }
}
