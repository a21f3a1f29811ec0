import { parseGbtModel, predictRow, train, type GbtModel, type GbtNode } from '../../lib/model/gbt';
import { GbtBatchScorer, MAX_LAID_OUT_DEPTH } from '../../lib/model/gbt-scorer';
import { seededRng } from '../../lib/model/random';
import { bernoulli, gaussian, makeDataset } from './synthetic';

const names = ['count', 'minutes', 'noise', 'sparse'];

/** Rows with small counts, continuous values, and missing values in two columns. */
function rowsFor(n: number, seed: number): Float64Array[] {
  const rng = seededRng(seed);
  const columns = names.map(() => new Float64Array(n));
  // One column for each of the four names.
  for (let i = 0; i < n; i++) {
    columns[0]![i] = Math.floor(rng() * 6);
    columns[1]![i] = rng() < 0.3 ? NaN : Math.round(rng() * 1e5) / 10;
    columns[2]![i] = gaussian(rng);
    columns[3]![i] = rng() < 0.8 ? NaN : rng();
  }
  return columns;
}

function trained(maxDepth: number, seed = 3): GbtModel {
  const ds = makeDataset(4000, names, seed, (rng) => {
    const count = Math.floor(rng() * 6);
    const minutes = rng() < 0.3 ? NaN : Math.round(rng() * 1e5) / 10;
    const sparse = rng() < 0.8 ? NaN : rng();
    const logit = -1 + 0.5 * count - (Number.isNaN(minutes) ? 0.8 : minutes / 5000) + (Number.isNaN(sparse) ? 0 : 1.5);
    return [[count, minutes, gaussian(rng), sparse], bernoulli(rng, 1 / (1 + Math.exp(-logit)))];
  });
  return train(ds, { nTrees: 40, maxDepth, minSamplesLeaf: 5 });
}

function expectSameAsPredictRow(model: GbtModel, columns: Float64Array[], rows: number): void {
  const out = new Float64Array(rows);
  new GbtBatchScorer(model).predict(columns, rows, out);
  const row = new Float64Array(columns.length);
  for (let r = 0; r < rows; r++) {
    columns.forEach((column, f) => (row[f] = column[r]!)); // r < rows, the columns' length
    // Bit for bit: toBe compares with Object.is.
    expect(out[r]).toBe(predictRow(model, row));
  }
}

describe('GbtBatchScorer', () => {
  it.each([0, 1, 2, 4, 6])('gives exactly predictRow\'s probabilities for a model of depth %i, missing values included', (depth) => {
    const model = trained(depth);
    // 1,003 rows: the four-row blocks and a remainder.
    expectSameAsPredictRow(model, rowsFor(1003, depth + 10), 1003);
  });

  it('scores batches one after another, reusing its buffers, and only the rows asked for', () => {
    const model = trained(4);
    const scorer = new GbtBatchScorer(model);
    const big = rowsFor(500, 1);
    const small = rowsFor(7, 2);
    const out = new Float64Array(500).fill(-1);
    scorer.predict(big, 500, out);
    const first = out.slice();
    scorer.predict(small, 7, out);
    const row = new Float64Array(names.length);
    for (let r = 0; r < 7; r++) {
      small.forEach((column, f) => (row[f] = column[r]!)); // r < 7, the columns' length
      expect(out[r]).toBe(predictRow(model, row));
    }
    expect(Array.from(out.subarray(7))).toEqual(Array.from(first.subarray(7)));
  });

  it('sends a value equal to a threshold left, infinities and signed zeros as predictRow does', () => {
    const split = (feature: number, threshold: number, defaultLeft: boolean, left: number, right: number): GbtNode => ({ feature, threshold, defaultLeft, left, right, value: 0 });
    const leaf = (value: number): GbtNode => ({ feature: -1, threshold: 0, defaultLeft: false, left: -1, right: -1, value });
    const model = parseGbtModel({
      kind: 'gbt-binary-logloss',
      formatVersion: 1,
      featureNames: ['a', 'b'],
      baseScore: -0.25,
      trees: [
        // a <= 0 left; missing right. Then b: missing-vs-present split (threshold MAX_VALUE, missing right).
        { nodes: [split(0, 0, false, 1, 2), split(1, Number.MAX_VALUE, false, 3, 4), leaf(0.9), leaf(-0.4), leaf(0.3)] },
        { nodes: [leaf(0.05)] },
        { nodes: [split(1, 2.5, true, 1, 2), leaf(-0.2), leaf(0.6)] },
      ],
      featureImportances: [0.5, 0.5],
      params: {},
      trainingRows: 0,
      trainingPositiveRate: 0,
    });
    const a = Float64Array.from([0, -0, 1e-300, -Infinity, Infinity, NaN, 0, 0, 5]);
    const b = Float64Array.from([2.5, 2.5000001, NaN, Number.MAX_VALUE, Infinity, -1, NaN, 2.5, 0]);
    expectSameAsPredictRow(model, [a, b], a.length);
  });

  it(`scores a model deeper than ${MAX_LAID_OUT_DEPTH} levels row by row, with the same results`, () => {
    // A chain: at each level, count <= level goes to a leaf, the rest go one level deeper.
    const depth = MAX_LAID_OUT_DEPTH + 2;
    const nodes: GbtNode[] = [];
    for (let level = 0; level < depth; level++) {
      const at = nodes.length;
      nodes.push({ feature: 0, threshold: level + 0.5, defaultLeft: level % 2 === 0, left: at + 1, right: at + 2, value: 0 });
      nodes.push({ feature: -1, threshold: 0, defaultLeft: false, left: -1, right: -1, value: level / 10 - 0.5 });
    }
    nodes.push({ feature: -1, threshold: 0, defaultLeft: false, left: -1, right: -1, value: 2 });
    const model = parseGbtModel({ ...trained(1), featureNames: ['count'], trees: [{ nodes }], featureImportances: [1] });
    const count = Float64Array.from({ length: 40 }, (_, i) => (i % 17 === 0 ? NaN : i / 2));
    expectSameAsPredictRow(model, [count], count.length);
  });

  it('refuses columns that do not match the model', () => {
    const scorer = new GbtBatchScorer(trained(2));
    expect(() => scorer.predict(rowsFor(4, 1).slice(0, 3), 4, new Float64Array(4))).toThrow('gbt: got 3 columns, the model reads 4');
  });
});
