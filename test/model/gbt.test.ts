import { stratifiedSplit } from '../../lib/model/dataset';
import { computeThresholds, featureImportances, parseGbtModel, predict, predictRow, train } from '../../lib/model/gbt';
import { predictLogistic, trainLogistic } from '../../lib/model/logistic';
import { rocAuc } from '../../lib/model/metrics';
import { bernoulli, makeDataset } from './synthetic';

const fast = { nTrees: 60, maxDepth: 4, learningRate: 0.2 };

describe('gbt', () => {
  it('learns XOR and threshold-band interactions that logistic regression cannot', () => {
    // y = 1 if (x0 > 0) XOR (x1 > 0), or x2 inside a middle band; x3 is noise.
    const ds = makeDataset(6000, ['x0', 'x1', 'x2', 'x3'], 11, (rng) => {
      const x = [rng() * 2 - 1, rng() * 2 - 1, rng(), rng()];
      const xor = x[0]! > 0 !== x[1]! > 0; // x is the four values just drawn
      return [x, xor ? 1 : 0];
    });
    const { train: tr, test: te } = stratifiedSplit(ds, { testFraction: 0.3, seed: 1 });
    const model = train(tr, fast);
    const gbtAuc = rocAuc(predict(model, te), te.labels);
    const lr = trainLogistic(tr);
    const lrAuc = rocAuc(predictLogistic(lr, te), te.labels);
    expect(gbtAuc).toBeGreaterThan(0.95);
    expect(Math.abs(lrAuc - 0.5)).toBeLessThan(0.06);

    const band = makeDataset(6000, ['x0', 'x1'], 12, (rng) => {
      const x = [rng(), rng()];
      return [x, x[0]! > 0.35 && x[0]! < 0.65 && x[1]! > 0.3 ? 1 : 0]; // x is the two values just drawn
    });
    const split2 = stratifiedSplit(band, { testFraction: 0.3, seed: 2 });
    const m2 = train(split2.train, fast);
    expect(rocAuc(predict(m2, split2.test), split2.test.labels)).toBeGreaterThan(0.95);
    const lr2 = trainLogistic(split2.train);
    expect(rocAuc(predictLogistic(lr2, split2.test), split2.test.labels)).toBeLessThan(0.75);
  });

  it('uses a feature whose missingness is the signal', () => {
    // x0 is missing for 30% of rows; missing rows are mostly positive; its values are pure noise.
    const ds = makeDataset(5000, ['x0', 'x1'], 21, (rng) => {
      const missing = rng() < 0.3;
      const y = bernoulli(rng, missing ? 0.8 : 0.05);
      return [[missing ? NaN : rng(), rng()], y];
    });
    const { train: tr, test: te } = stratifiedSplit(ds, { testFraction: 0.3, seed: 5 });
    const model = train(tr, { nTrees: 30, maxDepth: 2 });
    const auc = rocAuc(predict(model, te), te.labels);
    expect(auc).toBeGreaterThan(0.85); // Bayes AUC is ~0.88
    expect(predictRow(model, [NaN, 0.5])).toBeGreaterThan(0.6);
    expect(predictRow(model, [null, 0.5])).toBe(predictRow(model, [NaN, 0.5]));
    expect(predictRow(model, [0.5, 0.5])).toBeLessThan(0.15);
    expect(featureImportances(model)[0]?.feature).toBe('x0');
  });

  it.each([
    [1, false],
    [0, true],
  ])('learns the default direction for missing values (missing rows labelled %i -> defaultLeft %s)', (missingLabel, expectedDefaultLeft) => {
    // y = x0 > 0.5; missing x0 rows carry a fixed label, so they belong on that side of the split.
    const ds = makeDataset(3000, ['x0'], 31, (rng) => {
      if (rng() < 0.2) return [[NaN], missingLabel];
      const v = rng();
      return [[v], v > 0.5 ? 1 : 0];
    });
    const model = train(ds, { nTrees: 1, maxDepth: 1, learningRate: 1 });
    const root = model.trees[0]?.nodes[0];
    expect(root?.feature).toBe(0);
    expect(root?.threshold).toBeGreaterThan(0.45);
    expect(root?.threshold).toBeLessThan(0.55);
    expect(root?.defaultLeft).toBe(expectedDefaultLeft);
    const missingP = predictRow(model, [NaN]);
    expect(missingLabel === 1 ? missingP > 0.5 : missingP < 0.5).toBe(true);
  });

  const interaction = () =>
    makeDataset(4000, ['a', 'b', 'c'], 41, (rng) => {
      const x = [rng(), rng() < 0.1 ? NaN : rng(), rng()];
      const logit = -2 + 3 * x[0]! * (x[2]! > 0.5 ? 1 : -1) + (Number.isNaN(x[1]) ? 1 : 0); // x is the three values just drawn
      return [x, bernoulli(rng, 1 / (1 + Math.exp(-logit)))];
    });

  it('is deterministic for a seed (with row subsampling)', () => {
    const ds = interaction();
    const opts = { nTrees: 20, subsample: 0.7, seed: 9 };
    const a = train(ds, opts);
    const b = train(ds, opts);
    const c = train(ds, { ...opts, seed: 10 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a.trees)).not.toBe(JSON.stringify(c.trees));
  });

  it('round-trips through JSON with identical predictions', () => {
    const ds = interaction();
    const model = train(ds, { nTrees: 40 });
    const restored = parseGbtModel(JSON.parse(JSON.stringify(model)));
    expect(restored).toEqual(model);
    const before = predict(model, ds);
    const after = predict(restored, ds);
    expect(Array.from(after)).toEqual(Array.from(before));
    const row = [0.3, NaN, 0.9];
    expect(predictRow(restored, row)).toBe(predictRow(model, row));
    // predictRow agrees with the batch path
    for (let i = 0; i < 50; i++) {
      expect(predictRow(model, ds.columns.map((column) => column[i]!))).toBe(before[i]); // i < 50 rows
    }
  });

  it('reports normalised gain importances dominated by the informative feature', () => {
    const ds = makeDataset(3000, ['noise1', 'signal', 'noise2'], 51, (rng) => {
      const x = [rng(), rng(), rng()];
      return [x, bernoulli(rng, x[1]! > 0.6 ? 0.9 : 0.1)]; // x is the three values just drawn
    });
    const model = train(ds, { nTrees: 20 });
    const sum = model.featureImportances.reduce((s, v) => s + v, 0);
    expect(sum).toBeCloseTo(1, 10);
    expect(model.featureImportances[1]).toBeGreaterThan(0.8);
    expect(model.baseScore).toBeCloseTo(Math.log(model.trainingPositiveRate / (1 - model.trainingPositiveRate)), 12);
  });

  it('rejects bad input and options', () => {
    const single = makeDataset(100, ['a'], 1, (rng) => [[rng()], 0]);
    expect(() => train(single)).toThrow('training needs both classes: got 100 rows all labelled 0');
    const small = makeDataset(10, ['a'], 1, (rng) => [[rng()], rng() < 0.5 ? 1 : 0]);
    expect(() => train(small)).toThrow(/too few rows/);
    const ok = interaction();
    expect(() => train(ok, { maxBins: 300 })).toThrow(/maxBins/);
    expect(() => train(ok, { subsample: 0 })).toThrow(/subsample/);
    const model = train(ok, { nTrees: 2 });
    expect(() => predictRow(model, [1, 2])).toThrow(/expects 3/);
    expect(() => predict(model, { featureNames: ['a', 'c'], columns: ok.columns.slice(0, 2), labels: ok.labels })).toThrow(
      /missing feature column "b"/,
    );
    expect(() => parseGbtModel({ ...model, kind: 'other' })).toThrow(/kind/);
    expect(() => parseGbtModel({ ...model, formatVersion: 2 })).toThrow(/formatVersion/);
  });

  it('computes at most maxBins quantile bins with midpoint thresholds', () => {
    expect(Array.from(computeThresholds(Float64Array.from([3, 1, NaN, 2, 2]), 64))).toEqual([1.5, 2.5]);
    const col = Float64Array.from({ length: 10000 }, (_, i) => i);
    const t = computeThresholds(col, 64);
    expect(t.length).toBeLessThanOrEqual(63);
    expect(t.length).toBeGreaterThan(55);
    for (let k = 1; k < t.length; k++) expect(t[k]).toBeGreaterThan(t[k - 1]!); // 1 <= k < t.length
    expect(computeThresholds(Float64Array.from([NaN, NaN]), 64).length).toBe(0);
  });
});
