import {
  assertTrainable,
  datasetFromRows,
  DatasetError,
  positiveCount,
  stratifiedSplit,
} from '../../lib/model/dataset';
import { seededRng } from '../../lib/model/random';

function rows(n: number, positiveShare: number, seed = 1) {
  const rng = seededRng(seed);
  const out: Array<Record<string, unknown>> = [];
  const nPos = Math.round(n * positiveShare);
  for (let i = 0; i < n; i++) {
    out.push({ id: i, a: rng(), mins_since_x: rng() < 0.3 ? null : rng() * 1000, label: i < nPos ? 1 : 0 });
  }
  return out;
}

describe('datasetFromRows', () => {
  it('builds columns with NaN for null and 0/1 labels', () => {
    const ds = datasetFromRows(
      [
        { a: 1.5, b: null, label: 1 },
        { a: -2, b: 7, label: 0 },
      ],
      { featureNames: ['a', 'b'] },
    );
    expect(ds.featureNames).toEqual(['a', 'b']);
    expect(Array.from(ds.columns[0] ?? [])).toEqual([1.5, -2]);
    expect(Number.isNaN(ds.columns[1]?.[0])).toBe(true);
    expect(ds.columns[1]?.[1]).toBe(7);
    expect(Array.from(ds.labels)).toEqual([1, 0]);
  });

  it('supports a custom label name and boolean labels', () => {
    const ds = datasetFromRows([{ a: 1, subscribed: true }], { featureNames: ['a'], labelName: 'subscribed' });
    expect(ds.labels[0]).toBe(1);
  });

  it('rejects no rows', () => {
    expect(() => datasetFromRows([], { featureNames: ['a'] })).toThrow(/no rows/);
  });

  it('rejects a missing feature column', () => {
    expect(() => datasetFromRows([{ a: 1, label: 0 }, { label: 1 }], { featureNames: ['a'] })).toThrow(
      /row 1 is missing feature column "a"/,
    );
  });

  it('rejects a non-0/1 label', () => {
    expect(() => datasetFromRows([{ a: 1, label: 2 }], { featureNames: ['a'] })).toThrow(/label "label" must be 0 or 1, got 2/);
    expect(() => datasetFromRows([{ a: 1, label: null }], { featureNames: ['a'] })).toThrow(DatasetError);
    expect(() => datasetFromRows([{ a: 1 }], { featureNames: ['a'] })).toThrow(/must be 0 or 1/);
  });

  it('rejects non-numeric and non-finite feature values', () => {
    expect(() => datasetFromRows([{ a: 'x', label: 0 }], { featureNames: ['a'] })).toThrow(/not a finite number/);
    expect(() => datasetFromRows([{ a: Infinity, label: 0 }], { featureNames: ['a'] })).toThrow(/not a finite number/);
  });
});

describe('assertTrainable', () => {
  it('rejects a single class with the row count', () => {
    const ds = datasetFromRows(rows(120, 0), { featureNames: ['a', 'mins_since_x'] });
    expect(() => assertTrainable(ds)).toThrow('training needs both classes: got 120 rows all labelled 0');
  });

  it('rejects too few rows with a configurable minimum', () => {
    const ds = datasetFromRows(rows(30, 0.5), { featureNames: ['a'] });
    expect(() => assertTrainable(ds)).toThrow(/too few rows to train: got 30, need at least 50/);
    expect(() => assertTrainable(ds, 10)).not.toThrow();
    expect(() => assertTrainable(ds, 31)).toThrow(/need at least 31/);
  });

  it('rejects an empty columnar dataset', () => {
    expect(() => assertTrainable({ featureNames: ['a'], columns: [new Float64Array(0)], labels: new Uint8Array(0) })).toThrow(
      /no rows/,
    );
  });

  it('rejects inconsistent columns and bad labels in a hand-built dataset', () => {
    expect(() =>
      assertTrainable({ featureNames: ['a', 'b'], columns: [new Float64Array(2)], labels: new Uint8Array([0, 1]) }, 1),
    ).toThrow(/2 feature names but 1 columns/);
    expect(() =>
      assertTrainable({ featureNames: ['a'], columns: [new Float64Array(2)], labels: new Uint8Array([0, 3]) }, 1),
    ).toThrow(/must be 0 or 1/);
  });
});

describe('stratifiedSplit', () => {
  const ds = datasetFromRows(rows(1000, 0.15), { featureNames: ['a', 'mins_since_x'] });

  it('keeps the positive share in both parts and partitions all rows', () => {
    const s = stratifiedSplit(ds, { testFraction: 0.2, seed: 42 });
    expect(s.test.labels.length).toBe(200);
    expect(s.train.labels.length).toBe(800);
    expect(positiveCount(s.test)).toBe(30); // 15% of 200
    expect(positiveCount(s.train)).toBe(120);
    const all = new Set([...s.trainIndices, ...s.testIndices]);
    expect(all.size).toBe(1000);
    // rows carry their features along
    const k = s.testIndices[5]!; // 200 test rows
    expect(s.test.columns[0]?.[5]).toBe(ds.columns[0]?.[k]);
    expect(s.test.labels[5]).toBe(ds.labels[k]);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = stratifiedSplit(ds, { testFraction: 0.25, seed: 3 });
    const b = stratifiedSplit(ds, { testFraction: 0.25, seed: 3 });
    const c = stratifiedSplit(ds, { testFraction: 0.25, seed: 4 });
    expect(Array.from(a.testIndices)).toEqual(Array.from(b.testIndices));
    expect(Array.from(a.testIndices)).not.toEqual(Array.from(c.testIndices));
  });

  it('validates its inputs', () => {
    expect(() => stratifiedSplit(ds, { testFraction: 0, seed: 1 })).toThrow(/testFraction/);
    expect(() => stratifiedSplit(ds, { testFraction: 1.2, seed: 1 })).toThrow(/testFraction/);
    const single = datasetFromRows(rows(100, 0), { featureNames: ['a'] });
    expect(() => stratifiedSplit(single, { testFraction: 0.2, seed: 1 })).toThrow(
      'training needs both classes: got 100 rows all labelled 0',
    );
    const onePositive = datasetFromRows(rows(100, 0.01), { featureNames: ['a'] });
    expect(() => stratifiedSplit(onePositive, { testFraction: 0.2, seed: 1 })).toThrow(/class 1 has 1 rows/);
    const small = datasetFromRows(rows(20, 0.5), { featureNames: ['a'] });
    expect(() => stratifiedSplit(small, { testFraction: 0.2, seed: 1 })).toThrow(/too few rows/);
    expect(() => stratifiedSplit(small, { testFraction: 0.2, seed: 1, minRows: 10 })).not.toThrow();
  });
});
