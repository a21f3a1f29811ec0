/**
 * One-off timing (not a jest test): `npx ts-node --transpile-only bench/gbt-training.ts`
 * Trains 200 trees on 50,000 rows x 14 features and prints the time.
 */
import { train, predict } from '../lib/model/gbt';
import { rocAuc } from '../lib/model/metrics';
import { bernoulli, gaussian, makeDataset } from '../test/model/synthetic';

const names = Array.from({ length: 14 }, (_, f) => `f${f}`);
const ds = makeDataset(50000, names, 123, (rng) => {
  const x = names.map((_, f) => (f % 4 === 3 && rng() < 0.3 ? NaN : gaussian(rng)));
  // x holds one value for each of the 14 names.
  const logit = -2 + 0.8 * x[0]! - 0.5 * x[1]! + (x[2]! > 0.5 && x[4]! < 0 ? 1.2 : 0) + (Number.isNaN(x[3]) ? 0.7 : 0);
  return [x, bernoulli(rng, 1 / (1 + Math.exp(-logit)))];
});
const t0 = process.hrtime.bigint();
const model = train(ds, { nTrees: 200 });
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const t1 = process.hrtime.bigint();
const p = predict(model, ds);
const predMs = Number(process.hrtime.bigint() - t1) / 1e6;
console.log(
  `gbt train: 50000 rows x 14 features, 200 trees, depth 4: ${ms.toFixed(0)} ms; ` +
    `predict 50000 rows: ${predMs.toFixed(0)} ms; train AUC ${rocAuc(p, ds.labels).toFixed(4)}; ` +
    `JSON ${(JSON.stringify(model).length / 1024).toFixed(0)} KiB`,
);
