/**
 * Compiles a feature specification (spec.ts) into SQL for either dialect of lib/sql/dialect.ts. All the
 * SQL here is common to Data Distiller and PostgreSQL; where they differ (the snapshot-limited read, the
 * minutes-since-previous-match window function, byte-wise string order) the dialect says how.
 *
 * Shape of the query (three nested SELECTs, no CTEs, so it fits `CREATE TABLE ... AS (...)` and
 * `INSERT INTO ... SELECT` in both dialects):
 *
 *   SELECT userId, timestamp, <label>, <features>               -- training: label included
 *   FROM (
 *     SELECT userId, timestamp, eventType,
 *            CASE WHEN eventType = '<label type>' THEN 1 ELSE 0 END AS <label>,   -- read at the chosen row
 *            SUM(CASE WHEN eventType = '<t>' THEN 1 ELSE 0 END) OVER (<w>) AS <runningCount>,
 *            <minutes since previous match of '<t>' over <w>> AS <minutesSinceLast>,
 *            ROW_NUMBER() OVER (PARTITION BY userId ORDER BY <row choice>) AS row_pick
 *     FROM (SELECT _<tenant>.userid AS userId, timestamp, _id, eventType FROM <events> [snapshots] WHERE ...) AS events
 *   ) AS featurized
 *   WHERE row_pick = 1
 *
 * with <w> = PARTITION BY userId ORDER BY timestamp, _id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
 * (ties in time broken by `_id`, compared byte-wise, for determinism).
 *
 * Sets:
 *  - training: one row per user. A user with a label event keeps the row of their first label event
 *    (label 1); a user without keeps the row with the smallest md5(concat(userId, _id, '<seed>')) (label 0).
 *  - scoring: one row per user, the user's LAST event, so the features describe everything known about
 *    the user; there is no label column (scoring must not see it, and it would only be "so far").
 *
 * Snapshots (incremental runs). `snapshots: { from?, to }` reads the events as of snapshot `to`:
 *  - the emitted users are those with at least one event in the snapshots (from, to] (all users with any
 *    event up to `to` when `from` is absent, the first run);
 *  - each emitted user's features are computed over that user's FULL history up to `to`, so running
 *    counts and minutes-since do not restart at the range boundary, and the label is 1 if the user had a
 *    label event in any snapshot up to `to`.
 *  A user who gets new events is emitted again by a later run, with features over the longer history:
 *  the output table then holds one row per (user, run); consumers wanting the current row per user take
 *  the latest one. Without `snapshots` the whole table is read (all users, all history).
 *
 * Events without a user id are ignored (Spark's concat would make their md5 NULL, PostgreSQL's would not).
 * Every identifier is validated (UnsafeIdentifierError), event types are checked by the spec and emitted as
 * literals, snapshot ids must be non-negative safe integers (SnapshotRangeError).
 */
import { assertIdentifier, literal, type SqlDialect } from '../sql/dialect';
import { labelFeature, inputFeatures, validateSpec, type FeatureDefinition, type FeatureSpec, USER_ID_COLUMN, TIMESTAMP_COLUMN } from './spec';

export type FeatureSetKind = 'training' | 'scoring';

export interface FeatureQueryOptions {
  kind: FeatureSetKind;
  /** The events dataset's table (Catalog tag `adobe/pqs/table`). */
  eventsTable: string;
  /** Tenant id WITHOUT the leading underscore; the user id is read from `_<tenant>.userid`. */
  tenantId: string;
  /** Read snapshots (from, to]: see the module comment. Absent: the whole table. */
  snapshots?: { from?: number; to: number };
}

export interface FeatureStatementOptions extends FeatureQueryOptions {
  /** The table the feature rows go to. */
  outputTable: string;
  /** `create`: CREATE TABLE <out> AS (<query>), the first run; `insert`: INSERT INTO <out> <query>, the runs after. */
  mode: 'create' | 'insert';
}

/** Raised for options that are not identifiers or snapshot ids but are still wrong. */
export class FeatureQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FeatureQueryError';
  }
}

const ROW_PICK = 'row_pick';

function checkOptions(options: FeatureQueryOptions): void {
  if (options === null || typeof options !== 'object') throw new FeatureQueryError('options are required');
  if (options.kind !== 'training' && options.kind !== 'scoring') {
    throw new FeatureQueryError(`kind must be "training" or "scoring", got ${JSON.stringify(options.kind)}`);
  }
  assertIdentifier('tenant id', options.tenantId);
  if (options.tenantId.startsWith('_')) {
    throw new FeatureQueryError(`tenant id ${JSON.stringify(options.tenantId)} must be given without its leading underscore (the user id is read from _<tenant>.userid)`);
  }
  if (options.snapshots !== undefined) {
    if (options.snapshots === null || typeof options.snapshots !== 'object') {
      throw new FeatureQueryError(`snapshots must be { from?, to }, got ${String(options.snapshots)}`);
    }
    if (options.snapshots.to === undefined) {
      throw new FeatureQueryError('snapshots.to is required: the snapshot the features are computed as of (from history_meta)');
    }
  }
}

/** The SELECT of one feature set (training or scoring) of `spec`, in `dialect`. */
export function compileFeatureQuery(spec: FeatureSpec, dialect: SqlDialect, options: FeatureQueryOptions): string {
  const valid = validateSpec(spec);
  checkOptions(options);
  const col = (name: string) => dialect.column(name);
  const userId = col(USER_ID_COLUMN);
  const timestamp = col(TIMESTAMP_COLUMN);
  const id = col('_id');
  const eventType = col('eventType');
  const is = (f: FeatureDefinition) => `${eventType} = ${literal(f.eventType)}`;

  // Level 1: the events read, one column per thing the features need.
  const sourceUserId = dialect.textField([`_${options.tenantId}`, 'userid']);
  const snapshots = options.snapshots;
  const history = dialect.snapshotSource(options.eventsTable, snapshots ? { to: snapshots.to } : undefined);
  const where = [...history.where, `${sourceUserId} IS NOT NULL`];
  if (snapshots?.from !== undefined) {
    const changed = dialect.snapshotSource(options.eventsTable, { from: snapshots.from, to: snapshots.to });
    const changedWhere = changed.where.length > 0 ? ` WHERE ${changed.where.join(' AND ')}` : '';
    where.push(`${sourceUserId} IN (SELECT ${sourceUserId} FROM ${changed.from}${changedWhere})`);
  }
  const events = [
    `SELECT ${sourceUserId} AS ${userId}, ${timestamp}, ${id}, ${eventType}`,
    `FROM ${history.from}`,
    `WHERE ${where.join('\n  AND ')}`,
  ].join('\n');

  // Level 2: the window functions over each user's events.
  const running = `PARTITION BY ${userId} ORDER BY ${timestamp}, ${dialect.byteOrder(id)} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW`;
  const label = labelFeature(valid);
  const columns: string[] = [];
  if (options.kind === 'training') {
    // The row choice below puts a user's first label event first whenever the user has one, so the
    // chosen row is a label event exactly when the user has any: the label is read off that row. This
    // equals MAX(...) OVER (PARTITION BY userId) without a whole-partition window (which costs PostgreSQL
    // a buffered pass over wide rows).
    columns.push(`CASE WHEN ${is(label)} THEN 1 ELSE 0 END AS ${col(label.name)}`);
  }
  for (const f of inputFeatures(valid)) {
    if (f.kind === 'runningCount') {
      columns.push(`SUM(CASE WHEN ${is(f)} THEN 1 ELSE 0 END) OVER (${running}) AS ${col(f.name)}`);
    } else if (f.kind === 'minutesSinceLast') {
      columns.push(`${dialect.minutesSincePreviousMatch(timestamp, is(f), running)} AS ${col(f.name)}`);
    } else {
      throw new FeatureQueryError(`feature ${JSON.stringify(f.name)} has unknown kind ${JSON.stringify(f.kind)}`);
    }
  }
  const rowChoice =
    options.kind === 'training'
      ? [
          // The first label event when there is one...
          `CASE WHEN ${is(label)} THEN 0 ELSE 1 END`,
          `CASE WHEN ${is(label)} THEN ${timestamp} END`,
          `CASE WHEN ${is(label)} THEN ${dialect.byteOrder(id)} END`,
          // ...else the pseudo-random row; time and _id settle duplicated _ids.
          dialect.byteOrder(dialect.md5(`concat(${userId}, ${id}, ${literal(valid.seed)})`)),
          timestamp,
          dialect.byteOrder(id),
        ]
      : [`${timestamp} DESC`, `${dialect.byteOrder(id)} DESC`];
  columns.push(`ROW_NUMBER() OVER (PARTITION BY ${userId} ORDER BY ${rowChoice.join(', ')}) AS ${col(ROW_PICK)}`);
  const featurized = [`SELECT ${userId}, ${timestamp}, ${eventType},`, columns.map((c) => `  ${c}`).join(',\n'), `FROM (\n${indent(events)}\n) AS events`].join('\n');

  // Level 3: one row per user.
  const outputs = [userId, timestamp, ...(options.kind === 'training' ? [col(label.name)] : []), ...inputFeatures(valid).map((f) => col(f.name))];
  return [`SELECT ${outputs.join(', ')}`, `FROM (\n${indent(featurized)}\n) AS featurized`, `WHERE ${col(ROW_PICK)} = 1`].join('\n');
}

/**
 * The statement that writes one feature set to `outputTable`: `CREATE TABLE <out> AS (<query>)` for the
 * first run, `INSERT INTO <out> <query>` for the runs after (Data Distiller wants no parentheses there).
 * INSERT matches columns by position: an output table belongs to one spec; a changed spec needs a new table.
 */
export function compileFeatureStatement(spec: FeatureSpec, dialect: SqlDialect, options: FeatureStatementOptions): string {
  const out = dialect.table(options.outputTable);
  if (options.mode !== 'create' && options.mode !== 'insert') {
    throw new FeatureQueryError(`mode must be "create" or "insert", got ${JSON.stringify(options.mode)}`);
  }
  const query = compileFeatureQuery(spec, dialect, options);
  return options.mode === 'create' ? `CREATE TABLE ${out} AS (\n${indent(query)}\n)` : `INSERT INTO ${out}\n${query}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}
