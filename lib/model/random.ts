import { createRng, uniform } from '../random/rng';

/**
 * Seeded uniform draws for splits and row subsampling, so training is reproducible for a seed. The
 * generator is the one the synthetic data uses (pure-rand's xoroshiro128+, `lib/random/rng.ts`), not a second one.
 */
export type Rng = () => number;

/** Returns a function yielding uniform floats in [0, 1). */
export function seededRng(seed: number): Rng {
  const generator = createRng(Math.floor(seed));
  return () => uniform(generator);
}

/** In-place Fisher–Yates shuffle driven by `rng`. */
export function shuffleInPlace(values: Uint32Array | number[], rng: Rng): void {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = values[i]!; // j <= i < values.length
    values[i] = values[j]!;
    values[j] = tmp;
  }
}
