/**
 * The draws of the synthetic-data model, over the seeded generators of `lib/random/rng.ts`.
 *
 * - `exponential`: by inversion; mean 0 gives exactly 0 (and consumes no randomness).
 * - `poisson`: Knuth's multiplication method; lambda above `KNUTH_MAX_LAMBDA` is split into chunks
 *   (a sum of independent Poissons is Poisson) so exp(-lambda) never underflows.
 */
import { uniform, type RandomGenerator } from '../random/rng';

/** The three draws the generative model needs; the model takes this interface so tests can inject one. */
export interface Sampler {
  /** Uniform double in [0, 1). */
  uniform(): number;
  /** Exponential with the given mean (mean 0 gives 0). */
  exponential(mean: number): number;
  /** Poisson with the given mean. */
  poisson(lambda: number): number;
}

/** Largest lambda drawn in one Knuth loop; larger lambdas are drawn as sums of chunks. */
export const KNUTH_MAX_LAMBDA = 30;

/** Exponential with the given mean (>= 0, finite); mean 0 returns 0 without drawing. */
export function exponential(rng: RandomGenerator, mean: number): number {
  if (!(mean >= 0) || !Number.isFinite(mean)) {
    throw new RangeError(`exponential mean must be a finite number >= 0, got ${String(mean)}`);
  }
  if (mean === 0) {
    return 0;
  }
  // 1 - u is in (0, 1], so the logarithm is finite.
  return -mean * Math.log(1 - uniform(rng));
}

/** Poisson with mean `lambda` (>= 0, finite). */
export function poisson(rng: RandomGenerator, lambda: number): number {
  if (!(lambda >= 0) || !Number.isFinite(lambda)) {
    throw new RangeError(`poisson lambda must be a finite number >= 0, got ${String(lambda)}`);
  }
  let total = 0;
  let remaining = lambda;
  while (remaining > KNUTH_MAX_LAMBDA) {
    total += knuth(rng, KNUTH_MAX_LAMBDA);
    remaining -= KNUTH_MAX_LAMBDA;
  }
  return remaining === 0 ? total : total + knuth(rng, remaining);
}

function knuth(rng: RandomGenerator, lambda: number): number {
  const limit = Math.exp(-lambda);
  let k = 0;
  let p = uniform(rng);
  while (p > limit) {
    k++;
    p *= uniform(rng);
  }
  return k;
}

/** `Sampler` over a pure-rand generator. */
export class RngSampler implements Sampler {
  constructor(private readonly rng: RandomGenerator) {}

  uniform(): number {
    return uniform(this.rng);
  }

  exponential(mean: number): number {
    return exponential(this.rng, mean);
  }

  poisson(lambda: number): number {
    return poisson(this.rng, lambda);
  }
}
