import { Dataset } from '../../lib/model/dataset';
import { seededRng, Rng } from '../../lib/model/random';

export function gaussian(rng: Rng): number {
  let u = 0;
  while (u === 0) u = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** Builds a dataset by calling gen(rng) n times; gen returns [features, label]. */
export function makeDataset(
  n: number,
  featureNames: string[],
  seed: number,
  gen: (rng: Rng) => [number[], number],
): Dataset {
  const rng = seededRng(seed);
  const columns = featureNames.map(() => new Float64Array(n));
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const [x, y] = gen(rng);
    x.forEach((v, f) => (columns[f]![i] = v)); // gen gives one value per feature name, and there is a column for each
    labels[i] = y;
  }
  return { featureNames, columns, labels };
}

export function bernoulli(rng: Rng, p: number): number {
  return rng() < p ? 1 : 0;
}
