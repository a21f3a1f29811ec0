import type { QueryDialect } from '../config/schema';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Raised for any identifier that could change the meaning of generated SQL. */
export class UnsafeIdentifierError extends Error {
  constructor(what: string, value: string) {
    super(`Refusing ${what} ${JSON.stringify(value)}: identifiers must match ${IDENTIFIER} (letters, digits, underscore)`);
    this.name = 'UnsafeIdentifierError';
  }
}

export function assertIdentifier(what: string, value: string): string {
  if (!IDENTIFIER.test(value) || value.length > 128) {
    throw new UnsafeIdentifierError(what, value);
  }
  return value;
}

/** A string literal; the value is data, so quotes are doubled rather than refused. */
export function literal(value: string): string {
  if (value.includes('\0')) {
    throw new Error('SQL string literals cannot contain NUL characters');
  }
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * The two SQL dialects the pipeline speaks. Data Distiller reads XDM objects as nested structs
 * (`_acme.userid`); the embedded platform's PostgreSQL keeps each top-level XDM object in a jsonb column,
 * so the same path reads `("_acme"->>'userid')`. Everything else the pipeline emits is common SQL.
 */
export interface SqlDialect {
  name: QueryDialect;
  /** A table name, validated. */
  table(name: string): string;
  /** A top-level column, validated. */
  column(name: string): string;
  /** A nested XDM field as text, e.g. ['_acme', 'userid']. */
  textField(path: readonly string[]): string;
  /**
   * A table read limited to the snapshots in (`from`, `to`] (either bound optional): the FROM item and
   * the WHERE conditions it needs. Data Distiller uses its SNAPSHOT clause (`SINCE` / `AS OF` /
   * `BETWEEN`); the embedded platform's PostgreSQL filters on the `_acp_snapshot_id` column it gives every
   * ingested row (one increasing id per successful batch, listed by `history_meta(table)`).
   */
  snapshotSource(table: string, range?: SnapshotRange): { from: string; where: string[] };
  /** A query listing the table's snapshots as rows with a `snapshot_id` column, from `history_meta`. */
  snapshotIdsQuery(table: string): string;
  /** The lowercase hex MD5 of a text expression. */
  md5(expression: string): string;
  /**
   * A text expression that sorts by its bytes, as Spark (Data Distiller) compares strings; PostgreSQL
   * would otherwise use the database collation.
   */
  byteOrder(expression: string): string;
  /**
   * Minutes (fractional) from the most recent row of the window frame where `condition` holds to the
   * current row: 0 when the current row matches, null when no row so far matches. `window` is the text
   * inside `OVER (...)`; its frame must end at the current row.
   */
  minutesSincePreviousMatch(timestamp: string, condition: string, window: string): string;
}

/** Snapshots (`from`, `to`]: after `from`, up to and including `to`. */
export interface SnapshotRange {
  from?: number;
  to?: number;
}

/** Raised for a snapshot id or range that cannot be put into SQL as given. */
export class SnapshotRangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotRangeError';
  }
}

/** A snapshot id as SQL: only non-negative safe integers are accepted, anything else is refused. */
export function snapshotId(what: string, value: unknown): string {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new SnapshotRangeError(`Refusing ${what} ${typeof value === 'string' ? JSON.stringify(value) : String(value)}: snapshot ids must be non-negative safe integers`);
  }
  return String(value);
}

function checkedRange(range: SnapshotRange | undefined): { from?: string | undefined; to?: string | undefined } {
  if (range === undefined) return {};
  if (range === null || typeof range !== 'object') throw new SnapshotRangeError(`Refusing snapshot range ${String(range)}: expected { from?, to? }`);
  const from = range.from === undefined ? undefined : snapshotId('snapshot "from"', range.from);
  const to = range.to === undefined ? undefined : snapshotId('snapshot "to"', range.to);
  if (from !== undefined && to !== undefined && Number(from) >= Number(to)) {
    throw new SnapshotRangeError(`Refusing empty snapshot range (${from}, ${to}]: "from" must be less than "to"`);
  }
  return { from, to };
}

/** The column the embedded platform's tables carry the snapshot (batch) id of each row in. */
export const SNAPSHOT_ID_COLUMN = '_acp_snapshot_id';

export const dataDistiller: SqlDialect = {
  name: 'data-distiller',
  table: (name) => assertIdentifier('table name', name),
  column: (name) => assertIdentifier('column name', name),
  textField: (path) => path.map((p) => assertIdentifier('field name', p)).join('.'),
  snapshotSource: (name, range) => {
    const table = assertIdentifier('table name', name);
    const { from, to } = checkedRange(range);
    const clause =
      from !== undefined && to !== undefined
        ? ` SNAPSHOT BETWEEN ${from} AND ${to}`
        : from !== undefined
          ? ` SNAPSHOT SINCE ${from}`
          : to !== undefined
            ? ` SNAPSHOT AS OF ${to}`
            : '';
    return { from: table + clause, where: [] };
  },
  // Query Service's history_meta is read as a subquery (its documented anonymous-block examples do so).
  snapshotIdsQuery: (name) => `SELECT snapshot_id FROM (SELECT history_meta(${literal(assertIdentifier('table name', name))})) AS history`,
  md5: (expression) => `md5(${expression})`,
  byteOrder: (expression) => expression,
  minutesSincePreviousMatch: (timestamp, condition, window) => `TIME_BETWEEN_PREVIOUS_MATCH(${timestamp}, ${condition}, 'minutes') OVER (${window})`,
};

export const postgres: SqlDialect = {
  name: 'postgres',
  table: (name) => `"${assertIdentifier('table name', name)}"`,
  column: (name) => `"${assertIdentifier('column name', name)}"`,
  textField: (path) => {
    const [column, ...rest] = path.map((p) => assertIdentifier('field name', p));
    if (rest.length === 0) return `"${column}"`;
    const last = rest.pop() as string;
    return `("${column}"${rest.map((p) => `->'${p}'`).join('')}->>'${last}')`;
  },
  snapshotSource: (name, range) => {
    const table = `"${assertIdentifier('table name', name)}"`;
    const { from, to } = checkedRange(range);
    const where: string[] = [];
    if (from !== undefined) where.push(`"${SNAPSHOT_ID_COLUMN}" > ${from}`);
    if (to !== undefined) where.push(`"${SNAPSHOT_ID_COLUMN}" <= ${to}`);
    return { from: table, where };
  },
  snapshotIdsQuery: (name) => `SELECT snapshot_id FROM history_meta(${literal(assertIdentifier('table name', name))}) ORDER BY snapshot_id`,
  md5: (expression) => `md5(${expression})`,
  byteOrder: (expression) => `(${expression}) COLLATE "C"`,
  // The latest matching timestamp so far, by a running MAX over the same frame; epoch seconds are exact numerics.
  minutesSincePreviousMatch: (timestamp, condition, window) =>
    `CAST((EXTRACT(EPOCH FROM ${timestamp}) - EXTRACT(EPOCH FROM MAX(CASE WHEN ${condition} THEN ${timestamp} END) OVER (${window}))) / 60 AS DOUBLE PRECISION)`,
};

export function dialectFor(name: QueryDialect): SqlDialect {
  return name === 'postgres' ? postgres : dataDistiller;
}
