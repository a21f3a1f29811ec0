import { inputFeatures, labelFeature, trainingColumns, TIMESTAMP_COLUMN, USER_ID_COLUMN, type FeatureSpec } from '../features/spec';
import type { Dataset } from '../model/dataset';
import { parquetRows, type ParquetValue } from '../parquet/rows';
import type { ObjectStore } from '../ports/object-store';

/** Exported training rows the train stage cannot learn from: the message names the file, row or export. */
export class TrainingDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainingDataError';
  }
}

/** One export's training files, as the export stage recorded them. */
export interface TrainingExport {
  runId: string;
  folder: string;
  files: string[];
}

/** Where a row stands among a user's rows: a later export wins, then a later timestamp within an export. */
export interface RowPosition {
  exportIndex: number;
  /** Epoch milliseconds of the row's timestamp; -Infinity when it has none. */
  time: number;
}

/** Whether `candidate` replaces `current` as a user's newest row; on a tie, the row read later wins. */
export function isNewerRow(candidate: RowPosition, current: RowPosition): boolean {
  return candidate.exportIndex !== current.exportIndex ? candidate.exportIndex > current.exportIndex : isLaterRowTime(candidate.time, current.time);
}

/**
 * Within one export, whether a row at `candidate` (epoch ms, see rowTime) replaces one at `current`: the
 * later timestamp wins, and on a tie the row read later, as the caller offers rows in file order. The
 * score stage keeps each user's newest scoring row by this rule too, so both stages agree on "newest".
 */
export function isLaterRowTime(candidate: number, current: number): boolean {
  return candidate >= current;
}

/**
 * Epoch milliseconds of a row's TIMESTAMP_COLUMN as read from parquet (an ISO string): -Infinity when
 * null, so that any row with a time is newer; NaN when the value is not a time (the caller names the file
 * and row in its own error).
 */
export function rowTime(value: ParquetValue | undefined): number {
  if (value === null) return -Infinity;
  return typeof value === 'string' ? Date.parse(value) : NaN;
}

interface UserRow extends RowPosition {
  label: number;
  values: Float64Array;
}

/**
 * Keeps one row per user, the newest. Exports are incremental: each holds a row per user per
 * featurization since the previous export, so a user seen again later has newer features.
 */
export class NewestRowPerUser {
  private readonly rows = new Map<string, UserRow>();

  constructor(readonly featureNames: readonly string[]) {}

  get size(): number {
    return this.rows.size;
  }

  offer(userId: string, position: RowPosition, label: number, values: Float64Array): void {
    const current = this.rows.get(userId);
    if (!current || isNewerRow(position, current)) this.rows.set(userId, { ...position, label, values });
  }

  /** The kept rows as a dataset, ordered by user id so that it does not depend on how the rows were split into files. */
  dataset(): { dataset: Dataset; userIds: string[] } {
    const userIds = [...this.rows.keys()].sort();
    const n = userIds.length;
    const columns = this.featureNames.map(() => new Float64Array(n));
    const labels = new Uint8Array(n);
    userIds.forEach((userId, i) => {
      const row = this.rows.get(userId) as UserRow;
      labels[i] = row.label;
      columns.forEach((column, f) => (column[i] = row.values[f]!)); // values holds one number per feature
    });
    return { dataset: { featureNames: [...this.featureNames], columns, labels }, userIds };
  }
}

export interface TrainingSet {
  /** One row per user, features in the specification's order; null features are NaN. */
  dataset: Dataset;
  userIds: string[];
  /** Rows read from each export, in the order given. */
  rowsPerExport: Array<{ runId: string; rows: number }>;
  /** Per feature, how many of the kept rows have it missing (legitimate: "minutes since" with no such event yet). */
  missing: Record<string, number>;
}

function label(value: ParquetValue | undefined, where: string, column: string): number {
  if (value === 0 || value === false) return 0;
  if (value === 1 || value === true) return 1;
  throw new TrainingDataError(`${where}: the label ${column} must be 0 or 1, got ${JSON.stringify(value)}`);
}

function feature(value: ParquetValue | undefined, where: string, column: string): number {
  if (value === null) return NaN;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw new TrainingDataError(`${where}: the feature ${column} must be a finite number or null, got ${JSON.stringify(value)}`);
}

function time(value: ParquetValue | undefined, where: string): number {
  const ms = rowTime(value);
  if (Number.isNaN(ms)) throw new TrainingDataError(`${where}: the ${TIMESTAMP_COLUMN} ${JSON.stringify(value)} is not a time`);
  return ms;
}

/**
 * Reads the training files of the given exports, oldest first, and keeps each user's newest row. Only
 * the specification's training columns are read; a file that lacks one, or cannot be read, fails naming
 * the file (and the column).
 */
export async function readTrainingSet(store: ObjectStore, sources: readonly TrainingExport[], spec: FeatureSpec): Promise<TrainingSet> {
  const columns = trainingColumns(spec);
  const labelName = labelFeature(spec).name;
  const featureNames = inputFeatures(spec).map((f) => f.name);
  const kept = new NewestRowPerUser(featureNames);
  const rowsPerExport: TrainingSet['rowsPerExport'] = [];
  for (const [exportIndex, { runId, files }] of sources.entries()) {
    let rows = 0;
    for (const key of files) {
      let index = 0;
      for await (const row of parquetRows(store, [key], { columns })) {
        const where = `Export file ${key} row ${index}`;
        const userId = row[USER_ID_COLUMN];
        if (typeof userId !== 'string' || userId === '') {
          throw new TrainingDataError(`${where}: the ${USER_ID_COLUMN} must be a non-empty string, got ${JSON.stringify(userId)}`);
        }
        const values = new Float64Array(featureNames.length);
        featureNames.forEach((name, f) => (values[f] = feature(row[name], where, name)));
        kept.offer(userId, { exportIndex, time: time(row[TIMESTAMP_COLUMN], where) }, label(row[labelName], where, labelName), values);
        index++;
      }
      rows += index;
    }
    rowsPerExport.push({ runId, rows });
  }
  const { dataset, userIds } = kept.dataset();
  const missing: Record<string, number> = {};
  dataset.featureNames.forEach((name, f) => {
    let count = 0;
    for (const v of dataset.columns[f]!) if (v !== v) count++; // one column per feature name
    missing[name] = count;
  });
  return { dataset, userIds, rowsPerExport, missing };
}
