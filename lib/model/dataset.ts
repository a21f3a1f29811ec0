/**
 * Columnar in-memory dataset for binary classification, built from exported
 * feature rows. Null / missing-by-design values (e.g. "minutes since X" when X
 * never happened) are stored as NaN; the models handle NaN themselves.
 */
import { seededRng, shuffleInPlace } from './random';

export interface Dataset {
  featureNames: string[];
  /** One column per feature, same order as featureNames; NaN for null. */
  columns: Float64Array[];
  /** 0/1 labels, one per row. */
  labels: Uint8Array;
}

export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

export interface FromRowsOptions {
  featureNames: string[];
  /** Name of the label property in each row. Default "label". */
  labelName?: string;
}

export const DEFAULT_MIN_ROWS = 50;

/**
 * Builds a dataset from plain row objects. Each row must have every feature
 * property (null allowed, meaning missing) and a 0/1 label (booleans accepted).
 */
export function datasetFromRows(
  rows: ReadonlyArray<Readonly<Record<string, unknown>>>,
  options: FromRowsOptions,
): Dataset {
  const { featureNames } = options;
  const labelName = options.labelName ?? 'label';
  if (featureNames.length === 0) throw new DatasetError('no feature names given');
  const seen = new Set<string>();
  for (const name of featureNames) {
    if (seen.has(name)) throw new DatasetError(`duplicate feature name "${name}"`);
    if (name === labelName) throw new DatasetError(`feature "${name}" is also the label column`);
    seen.add(name);
  }
  const n = rows.length;
  if (n === 0) throw new DatasetError('dataset has no rows');
  const columns = featureNames.map(() => new Float64Array(n));
  const labels = new Uint8Array(n);
  for (const [i, row] of rows.entries()) {
    for (const [f, name] of featureNames.entries()) {
      if (!Object.prototype.hasOwnProperty.call(row, name)) {
        throw new DatasetError(`row ${i} is missing feature column "${name}"`);
      }
      const v = row[name];
      const column = columns[f]!; // one column per feature name
      if (v === null || v === undefined) {
        column[i] = NaN;
      } else if (typeof v === 'number' && Number.isFinite(v)) {
        column[i] = v;
      } else if (typeof v === 'boolean') {
        column[i] = v ? 1 : 0;
      } else {
        throw new DatasetError(`row ${i} feature "${name}" is not a finite number or null: ${String(v)}`);
      }
    }
    labels[i] = parseLabel(row[labelName], i, labelName);
  }
  return { featureNames: [...featureNames], columns, labels };
}

function parseLabel(v: unknown, row: number, labelName: string): number {
  if (v === 0 || v === false) return 0;
  if (v === 1 || v === true) return 1;
  throw new DatasetError(`row ${row} label "${labelName}" must be 0 or 1, got ${JSON.stringify(v) ?? String(v)}`);
}

export function rowCount(dataset: Dataset): number {
  return dataset.labels.length;
}

export function positiveCount(dataset: Dataset): number {
  let p = 0;
  for (const y of dataset.labels) p += y;
  return p;
}

/** Structural checks: column count/length consistency and 0/1 labels. */
export function validateDataset(dataset: Dataset): void {
  const n = dataset.labels.length;
  if (dataset.columns.length !== dataset.featureNames.length) {
    throw new DatasetError(
      `dataset has ${dataset.featureNames.length} feature names but ${dataset.columns.length} columns`,
    );
  }
  for (const [f, column] of dataset.columns.entries()) {
    if (column.length !== n) {
      throw new DatasetError(
        `feature column "${dataset.featureNames[f]}" has ${column.length} values, expected ${n}`,
      );
    }
  }
  for (let i = 0; i < n; i++) {
    const y = dataset.labels[i];
    if (y !== 0 && y !== 1) throw new DatasetError(`row ${i} label must be 0 or 1, got ${y}`);
  }
}

/**
 * Checks a dataset can be trained on: valid structure, at least `minRows`
 * rows, and both classes present.
 */
export function assertTrainable(dataset: Dataset, minRows: number = DEFAULT_MIN_ROWS): void {
  validateDataset(dataset);
  const n = dataset.labels.length;
  if (n === 0) throw new DatasetError('dataset has no rows');
  if (n < minRows) throw new DatasetError(`too few rows to train: got ${n}, need at least ${minRows}`);
  const pos = positiveCount(dataset);
  if (pos === 0 || pos === n) {
    throw new DatasetError(`training needs both classes: got ${n} rows all labelled ${pos === 0 ? 0 : 1}`);
  }
}

/** New dataset holding the given rows (in the given order). */
export function subset(dataset: Dataset, indices: ArrayLike<number>): Dataset {
  const m = indices.length;
  // k < m = indices.length, and the indices are rows of the dataset.
  const columns = dataset.columns.map((col) => {
    const out = new Float64Array(m);
    for (let k = 0; k < m; k++) out[k] = col[indices[k]!]!;
    return out;
  });
  const labels = new Uint8Array(m);
  for (let k = 0; k < m; k++) labels[k] = dataset.labels[indices[k]!]!;
  return { featureNames: [...dataset.featureNames], columns, labels };
}

export interface SplitOptions {
  /** Fraction of each class that goes to the test part, in (0, 1). */
  testFraction: number;
  seed: number;
  /** Minimum rows in the whole dataset. Default DEFAULT_MIN_ROWS. */
  minRows?: number;
}

export interface Split {
  train: Dataset;
  test: Dataset;
  /** Original row indices of each part, ascending. */
  trainIndices: Uint32Array;
  testIndices: Uint32Array;
}

/**
 * Stratified train/test split: each class is shuffled with a seeded PRNG and
 * round(classCount * testFraction) rows of it go to test, so both parts keep
 * the positive share. Deterministic for a given seed and input.
 */
export function stratifiedSplit(dataset: Dataset, options: SplitOptions): Split {
  const { testFraction, seed } = options;
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new DatasetError(`testFraction must be in (0, 1), got ${testFraction}`);
  }
  assertTrainable(dataset, options.minRows ?? DEFAULT_MIN_ROWS);
  const rng = seededRng(seed);
  const trainIdx: number[] = [];
  const testIdx: number[] = [];
  for (const cls of [0, 1]) {
    const members: number[] = [];
    for (let i = 0; i < dataset.labels.length; i++) if (dataset.labels[i] === cls) members.push(i);
    shuffleInPlace(members, rng);
    const nTest = Math.round(members.length * testFraction);
    if (nTest === 0 || nTest === members.length) {
      throw new DatasetError(
        `class ${cls} has ${members.length} rows; too few to put some in both train and test at testFraction ${testFraction}`,
      );
    }
    members.forEach((member, k) => (k < nTest ? testIdx : trainIdx).push(member));
  }
  const trainIndices = Uint32Array.from(trainIdx).sort();
  const testIndices = Uint32Array.from(testIdx).sort();
  return {
    train: subset(dataset, trainIndices),
    test: subset(dataset, testIndices),
    trainIndices,
    testIndices,
  };
}

/**
 * Returns the columns of `dataset` in the order of `featureNames` (a model's
 * feature list). Throws if one is missing.
 */
export function alignColumns(dataset: Dataset, featureNames: readonly string[]): Float64Array[] {
  const index = new Map<string, number>();
  dataset.featureNames.forEach((name, f) => index.set(name, f));
  return featureNames.map((name) => {
    const f = index.get(name);
    const column = f === undefined ? undefined : dataset.columns[f];
    if (column === undefined) throw new DatasetError(`dataset is missing feature column "${name}"`);
    return column;
  });
}
