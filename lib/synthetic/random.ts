/**
 * Seeded, reproducible randomness for the synthetic-data model, on top of pure-rand's
 * xoroshiro128plus (mutated in place through `unsafeNext` for speed).
 *
 * - `uniform`: double in [0, 1) with 53 random bits.
 * - `exponential`: by inversion; mean 0 gives exactly 0 (and consumes no randomness).
 * - `poisson`: Knuth's multiplication method; lambda above `KNUTH_MAX_LAMBDA` is split into chunks
 *   (a sum of independent Poissons is Poisson) so exp(-lambda) never underflows.
 * - `streamRng(seed, stream)`: an independent generator per (seed, stream) pair, e.g. one per user,
 *   so that a user's draws do not depend on which other users are generated.
 */
import * as prand from 'pure-rand';

export type RandomGenerator = prand.RandomGenerator;

/** The three draws the generative model needs; the model takes this interface so tests can inject one. */
export interface Sampler {
  /** Uniform double in [0, 1). */
  uniform(): number;
  /** Exponential with the given mean (mean 0 gives 0). */
  exponential(mean: number): number;
  /** Poisson with the given mean. */
  poisson(lambda: number): number;
}

const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;
const TWO_POW_32 = 4294967296;

/** Largest lambda drawn in one Knuth loop; larger lambdas are drawn as sums of chunks. */
export const KNUTH_MAX_LAMBDA = 30;

function assertSafeInteger(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new RangeError(`${name} must be a safe integer, got ${String(value)}`);
  }
}

/** A generator seeded directly by pure-rand (only the low 32 bits of `seed` matter). */
export function createRng(seed: number): RandomGenerator {
  assertSafeInteger('seed', seed);
  return prand.xoroshiro128plus(seed);
}

/** 32-bit avalanche mix (xor-shift-multiply; every input bit affects every output bit). */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x | 0;
}

/** Splits a safe integer into [high, low] 32-bit words (two's complement for negatives). */
function words(value: number): [number, number] {
  const low = value >>> 0;
  const high = Math.floor((value - low) / TWO_POW_32) | 0;
  return [high, low | 0];
}

/**
 * An independent generator for stream `stream` of `seed`: the 128-bit xoroshiro state is derived
 * by hashing (seed, stream), so neighbouring seeds or streams give unrelated sequences and the
 * result depends on nothing but the two numbers.
 */
export function streamRng(seed: number, stream: number): RandomGenerator {
  assertSafeInteger('seed', seed);
  assertSafeInteger('stream', stream);
  const [seedHigh, seedLow] = words(seed);
  const [streamHigh, streamLow] = words(stream);
  let h = 0x243f6a88; // arbitrary non-zero start
  h = mix32(h ^ seedLow);
  h = mix32((h + 0x9e3779b9) ^ seedHigh);
  h = mix32((h + 0x9e3779b9) ^ streamLow);
  h = mix32((h + 0x9e3779b9) ^ streamHigh);
  const state = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    h = mix32(h + 0x9e3779b9 + i);
    state[i] = h;
  }
  if ((state[0] | state[1] | state[2] | state[3]) === 0) {
    state[0] = 1; // the all-zero state is a fixed point of xoroshiro
  }
  return prand.xoroshiro128plus.fromState(state);
}

/** Uniform double in [0, 1) built from the high 27 + 26 bits of two 32-bit outputs. */
export function uniform(rng: RandomGenerator): number {
  const a = rng.unsafeNext() >>> 5;
  const b = rng.unsafeNext() >>> 6;
  return (a * TWO_POW_26 + b) / TWO_POW_53;
}

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
