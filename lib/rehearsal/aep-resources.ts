import type { AepClient } from '../aep/client';

/**
 * What the AEP sandbox holds, by kind, each resource named by its name or title: the rehearsal lists it
 * before the deploy and after the destroy, to show what the destroy left.
 */
const LISTINGS: Array<{ kind: string; path: string; accept?: string }> = [
  { kind: 'dataset', path: '/data/foundation/catalog/dataSets' },
  { kind: 'flow', path: '/data/foundation/flowservice/flows' },
  { kind: 'connection', path: '/data/foundation/flowservice/connections' },
  { kind: 'sourceConnection', path: '/data/foundation/flowservice/sourceConnections' },
  { kind: 'targetConnection', path: '/data/foundation/flowservice/targetConnections' },
  { kind: 'segmentDefinition', path: '/data/core/ups/segment/definitions' },
  { kind: 'schema', path: '/data/foundation/schemaregistry/tenant/schemas', accept: 'application/vnd.adobe.xed-id+json' },
  { kind: 'fieldGroup', path: '/data/foundation/schemaregistry/tenant/fieldgroups', accept: 'application/vnd.adobe.xed-id+json' },
  { kind: 'mappingSet', path: '/data/foundation/conversion/mappingSets' },
];

type Item = { id?: string; $id?: string; name?: string; title?: string };

/** The items of a listing, whichever of AEP's shapes it has: an array under a key, or an object keyed by id (Catalog). */
export function listedItems(body: unknown): Item[] {
  if (Array.isArray(body)) return body as Item[];
  if (body === null || typeof body !== 'object') return [];
  for (const key of ['items', 'results', 'segments', 'data', 'children']) {
    const value = (body as Record<string, unknown>)[key];
    if (Array.isArray(value)) return value as Item[];
  }
  return Object.entries(body as Record<string, unknown>)
    .filter(([key, value]) => !key.startsWith('_') && value !== null && typeof value === 'object' && !Array.isArray(value))
    .map(([id, value]) => ({ id, ...(value as Item) }));
}

/** Every resource the sandbox lists, as `kind: name`, sorted. */
export async function aepResources(client: AepClient): Promise<string[]> {
  const found: string[] = [];
  for (const { kind, path, accept } of LISTINGS) {
    const { data } = await client.request<unknown>({ method: 'GET', path, query: { limit: 100 }, headers: accept ? { Accept: accept } : undefined });
    for (const item of listedItems(data)) found.push(`${kind}: ${item.name ?? item.title ?? item.id ?? item.$id ?? '?'}`);
  }
  return found.sort();
}

/** What `after` holds that `before` did not (a multiset difference: two datasets of one name count twice). */
export function added(before: string[], after: string[]): string[] {
  const left = [...before];
  return after.filter((entry) => {
    const at = left.indexOf(entry);
    if (at < 0) return true;
    left.splice(at, 1);
    return false;
  });
}
