/**
 * Seeded, reproducible randomness on top of pure-rand's xoroshiro128plus (mutated in place through
 * `unsafeNext` for speed): the one generator the model's splits and subsampling and the synthetic data
 * both draw from.
 *
 * - `createRng(seed)`: a generator seeded directly by pure-rand.
 * - `streamRng(seed, stream)`: an independent generator per (seed, stream) pair, e.g. one per user,
 *   so that a user's draws do not depend on which other users are generated.
 * - `uniform`: double in [0, 1) with 53 random bits.
 */
import * as prand from 'pure-rand';

export type RandomGenerator = prand.RandomGenerator;

const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;
const TWO_POW_32 = 4294967296;

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
  const state: [number, number, number, number] = [0, 0, 0, 0];
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
