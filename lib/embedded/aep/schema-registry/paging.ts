/**
 * The registry's lists: `property` filters, `orderby` (several keys, `-` for descending), and pages
 * of at most `limit` items, the next one starting after the `start` value of the first sort key.
 */
import { xdmError } from '../errors';
import type { RequestContext } from '../http';
import { compareValues, matchesFilters, parsePropertyFilter, PropertyFilter, SortKey, sortBy } from '../listing';
import { SCHEMA_REGISTRY_BASE } from './model';

export interface Page {
  results: Record<string, unknown>[];
  page: Record<string, unknown>;
  /** The `start` of the next page, while more items follow. */
  next?: string | undefined;
}

export function page(ctx: RequestContext, items: Record<string, unknown>[], defaultOrder: string): Page {
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
  const [primary] = keys;
  if (start !== null && primary !== undefined) {
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
      if (last && primary !== undefined) next = stringish(readRegistryField(last, primary.field));
    }
  }
  const pageInfo: Record<string, unknown> = { orderby, count: rows.length };
  if (next !== undefined) pageInfo.next = next;
  return { results: rows, page: pageInfo, next };
}

/** `_links` of a page: the next page's URL, while there is one. */
export function nextLink(ctx: RequestContext, path: string, next: string | undefined): Record<string, unknown> {
  if (next === undefined) return {};
  const q = new URLSearchParams(ctx.query);
  q.set('start', next);
  return { next: `${ctx.baseUrl}${SCHEMA_REGISTRY_BASE}${path}?${q.toString()}` };
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
