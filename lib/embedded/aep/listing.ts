/**
 * Filtering and ordering for the list endpoints (`property=` filters and `orderby`), shared by the
 * services. Each service picks the semantics of `~` it documents.
 */
import type { ErrorFactory } from './http';

export type FilterOp = '==' | '!=' | '<=' | '>=' | '<' | '>' | '~' | 'exists' | 'missing';

export interface PropertyFilter {
  field: string;
  op: FilterOp;
  value: string;
}

const OPS: FilterOp[] = ['==', '!=', '<=', '>=', '~', '<', '>'];
/** A comma starts a new condition only when what follows looks like `field<op>` or a bare field. */
const CONDITION_START = /,(?=\s*!?[A-Za-z_@$][\w:@$./-]*\s*(?:==|!=|<=|>=|~|<|>|,|$))/;

/** Parses `a==x,b~y,c` into conditions (AND). */
export function parsePropertyFilter(expr: string, error: ErrorFactory): PropertyFilter[] {
  const out: PropertyFilter[] = [];
  for (const raw of expr.split(CONDITION_START)) {
    const part = raw.trim();
    if (!part) continue;
    let best: { index: number; op: FilterOp } | undefined;
    for (const op of OPS) {
      const index = part.indexOf(op);
      if (index > 0 && (!best || index < best.index || (index === best.index && op.length > best.op.length))) best = { index, op };
    }
    if (best) {
      out.push({ field: part.slice(0, best.index).trim(), op: best.op, value: part.slice(best.index + best.op.length).trim() });
    } else if (/^!?[A-Za-z_@$][\w:@$./-]*$/.test(part)) {
      out.push(part.startsWith('!') ? { field: part.slice(1), op: 'missing', value: '' } : { field: part, op: 'exists', value: '' });
    } else {
      throw error(400, `Invalid property filter '${part}'`);
    }
  }
  return out;
}

/** Reads `field` from an object: a top-level key first, then a dotted path. */
export function readField(obj: Record<string, unknown>, field: string): unknown {
  if (Object.prototype.hasOwnProperty.call(obj, field)) return obj[field];
  let cur: unknown = obj;
  for (const seg of field.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

function compareScalar(actual: unknown, op: FilterOp, expected: string, tilde: 'regex' | 'contains'): boolean {
  if (actual === undefined || actual === null) return false;
  const text = typeof actual === 'object' ? JSON.stringify(actual) : String(actual);
  switch (op) {
    case '==':
      return text === expected;
    case '!=':
      return text !== expected;
    case '~':
      if (tilde === 'contains') return text.toLowerCase().includes(expected.toLowerCase());
      try {
        return new RegExp(expected).test(text);
      } catch {
        return text.includes(expected);
      }
    default: {
      const a = Number(text);
      const b = Number(expected);
      const numeric = text.trim() !== '' && expected !== '' && !Number.isNaN(a) && !Number.isNaN(b);
      const cmp = numeric ? a - b : text < expected ? -1 : text > expected ? 1 : 0;
      if (op === '<') return cmp < 0;
      if (op === '>') return cmp > 0;
      if (op === '<=') return cmp <= 0;
      return cmp >= 0;
    }
  }
}

export function matchesFilters(
  obj: Record<string, unknown>,
  filters: PropertyFilter[],
  tilde: 'regex' | 'contains' = 'contains',
  read: (obj: Record<string, unknown>, field: string) => unknown = readField,
): boolean {
  return filters.every((f) => {
    const actual = read(obj, f.field);
    if (f.op === 'exists') return actual !== undefined && actual !== null;
    if (f.op === 'missing') return actual === undefined || actual === null;
    if (Array.isArray(actual)) {
      if (f.op === '!=') return actual.every((a) => compareScalar(a, '!=', f.value, tilde));
      return actual.some((a) => compareScalar(a, f.op, f.value, tilde));
    }
    if (f.op === '!=' && (actual === undefined || actual === null)) return true;
    return compareScalar(actual, f.op, f.value, tilde);
  });
}

export interface SortKey {
  field: string;
  descending: boolean;
}

/** Compares two sort values: numbers numerically, everything else as strings; missing values last. */
export function compareValues(a: unknown, b: unknown): number {
  const aMissing = a === undefined || a === null;
  const bMissing = b === undefined || b === null;
  if (aMissing || bMissing) return aMissing === bMissing ? 0 : aMissing ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const as = String(a);
  const bs = String(b);
  return as < bs ? -1 : as > bs ? 1 : 0;
}

export function sortBy<T>(items: T[], keys: SortKey[], read: (item: T, field: string) => unknown): T[] {
  return [...items].sort((x, y) => {
    for (const k of keys) {
      const c = compareValues(read(x, k.field), read(y, k.field));
      if (c !== 0) return k.descending ? -c : c;
    }
    return 0;
  });
}
