import {
  originalScaleCoefficients,
  predictLogistic,
  predictLogisticRow,
  trainLogistic,
} from '../../lib/model/logistic';
import { gaussian, bernoulli, makeDataset } from './synthetic';

describe('logistic regression', () => {
  const trueModel = { intercept: -1, coef: [1.5, -0.75, 0] };
  const ds = makeDataset(20000, ['x0', 'x1', 'x2'], 61, (rng) => {
    const x = [gaussian(rng), 2 * gaussian(rng) + 3, gaussian(rng)];
    const logit = trueModel.intercept + x.reduce((s, v, f) => s + v * trueModel.coef[f]!, 0); // a coefficient per value
    return [x, bernoulli(rng, 1 / (1 + Math.exp(-logit)))];
  });

  it('recovers the sign and rough size of known coefficients', () => {
    const model = trainLogistic(ds);
    expect(model.converged).toBe(true);
    const { intercept, coefficients } = originalScaleCoefficients(model);
    expect(coefficients.x0).toBeGreaterThan(1.3);
    expect(coefficients.x0).toBeLessThan(1.7);
    expect(coefficients.x1).toBeLessThan(-0.65);
    expect(coefficients.x1).toBeGreaterThan(-0.85);
    expect(Math.abs(coefficients.x2!)).toBeLessThan(0.08); // a coefficient per feature name
    expect(intercept).toBeGreaterThan(-1.25);
    expect(intercept).toBeLessThan(-0.75);
    // no NaN in training -> no indicators
    expect(model.hasMissingIndicator).toEqual([false, false, false]);
  });

  it('imputes NaN with the mean and learns a missing-indicator weight', () => {
    // x1 missing for 25% of rows, and missing rows are more likely positive.
    const withMissing = makeDataset(8000, ['x0', 'x1'], 62, (rng) => {
      const x0 = gaussian(rng);
      const missing = rng() < 0.25;
      const x1 = gaussian(rng);
      const logit = x0 + (missing ? 1.5 : 0.8 * x1);
      return [[x0, missing ? NaN : x1], bernoulli(rng, 1 / (1 + Math.exp(-logit)))];
    });
    const model = trainLogistic(withMissing);
    expect(model.hasMissingIndicator).toEqual([false, true]);
    expect(model.missingWeights[0]).toBe(0);
    expect(model.missingWeights[1]).toBeGreaterThan(1);
    expect(model.missingWeights[1]).toBeLessThan(2);
    expect(Number.isFinite(model.means[1])).toBe(true);
    expect(predictLogisticRow(model, [0, NaN])).toBeGreaterThan(predictLogisticRow(model, [0, model.means[1]!])); // a mean per feature
  });

  it('is deterministic, JSON round-trips and agrees between row and batch prediction', () => {
    const a = trainLogistic(ds);
    const b = trainLogistic(ds);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    const restored = JSON.parse(JSON.stringify(a));
    const batch = predictLogistic(restored, ds);
    for (let i = 0; i < 20; i++) {
      const p = predictLogisticRow(a, ds.columns.map((column) => column[i]!)); // i < 20 rows
      expect(batch[i]).toBeCloseTo(p, 14);
    }
  });

  it('stronger L2 shrinks the weights', () => {
    const loose = trainLogistic(ds, { l2: 0.01 });
    const tight = trainLogistic(ds, { l2: 20000 });
    expect(Math.abs(tight.weights[0]!)).toBeLessThan(Math.abs(loose.weights[0]!) * 0.7); // a weight per feature
  });

  it('rejects untrainable data', () => {
    const single = makeDataset(100, ['a'], 1, (rng) => [[rng()], 1]);
    expect(() => trainLogistic(single)).toThrow('training needs both classes: got 100 rows all labelled 1');
    expect(() => trainLogistic(ds, { l2: -1 })).toThrow(/l2/);
  });
});
