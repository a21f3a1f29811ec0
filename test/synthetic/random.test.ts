import { createRng, streamRng, uniform } from '../../lib/random/rng';
import { exponential, KNUTH_MAX_LAMBDA, poisson, RngSampler } from '../../lib/synthetic/random';

const N = 200_000;

function moments(draw: () => number, n = N): { mean: number; variance: number; min: number; max: number } {
  let sum = 0;
  let sumSq = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = draw();
    sum += x;
    sumSq += x * x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const mean = sum / n;
  return { mean, variance: sumSq / n - mean * mean, min, max };
}

describe('uniform', () => {
  it('lies in [0, 1) with mean 1/2 and variance 1/12', () => {
    const rng = createRng(7);
    const m = moments(() => uniform(rng));
    expect(m.min).toBeGreaterThanOrEqual(0);
    expect(m.max).toBeLessThan(1);
    expect(Math.abs(m.mean - 0.5)).toBeLessThan(0.004); // ~6 standard errors
    expect(Math.abs(m.variance - 1 / 12)).toBeLessThan(0.002);
  });

  it('spreads evenly over ten bins', () => {
    const rng = createRng(11);
    const bins = new Array(10).fill(0);
    for (let i = 0; i < N; i++) bins[Math.floor(uniform(rng) * 10)]++;
    for (const b of bins) expect(Math.abs(b / N - 0.1)).toBeLessThan(0.005);
  });

  it('uses more than 32 bits of randomness', () => {
    const rng = createRng(3);
    let fine = 0;
    for (let i = 0; i < 1000; i++) {
      const u = uniform(rng);
      if (u * 2 ** 32 !== Math.floor(u * 2 ** 32)) fine++;
    }
    expect(fine).toBeGreaterThan(990);
  });
});

describe('exponential', () => {
  it.each([0.05, 1, 24])('has mean m and variance m^2 for m = %p', (mean) => {
    const rng = createRng(12345);
    const m = moments(() => exponential(rng, mean));
    expect(m.min).toBeGreaterThanOrEqual(0);
    expect(Math.abs(m.mean / mean - 1)).toBeLessThan(0.015);
    expect(Math.abs(m.variance / (mean * mean) - 1)).toBeLessThan(0.06);
  });

  it('returns exactly 0 for mean 0 without consuming randomness', () => {
    const a = createRng(5);
    const b = createRng(5);
    expect(exponential(a, 0)).toBe(0);
    expect(uniform(a)).toBe(uniform(b));
  });

  it('rejects negative or non-finite means', () => {
    const rng = createRng(1);
    expect(() => exponential(rng, -1)).toThrow(/-1/);
    expect(() => exponential(rng, NaN)).toThrow(/NaN/);
    expect(() => exponential(rng, Infinity)).toThrow(/Infinity/);
  });
});

describe('poisson', () => {
  it.each([0.1, 0.5, 1, 2, 5, 12])('has mean and variance lambda for lambda = %p', (lambda) => {
    const rng = createRng(2024);
    const m = moments(() => poisson(rng, lambda));
    expect(m.min).toBeGreaterThanOrEqual(0);
    expect(Math.abs(m.mean / lambda - 1)).toBeLessThan(0.03);
    expect(Math.abs(m.variance / lambda - 1)).toBeLessThan(0.04);
  });

  it('matches the Poisson probability mass for lambda = 1', () => {
    const rng = createRng(99);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < N; i++) counts[Math.min(5, poisson(rng, 1))]++;
    let pmf = Math.exp(-1);
    for (let k = 0; k < 5; k++) {
      expect(Math.abs(counts[k] / N - pmf)).toBeLessThan(0.005);
      pmf /= k + 1;
    }
  });

  it('handles lambda above the Knuth chunk size without underflow', () => {
    const rng = createRng(8);
    const lambda = 3 * KNUTH_MAX_LAMBDA + 10;
    const m = moments(() => poisson(rng, lambda), 50_000);
    expect(Math.abs(m.mean / lambda - 1)).toBeLessThan(0.01);
    expect(Math.abs(m.variance / lambda - 1)).toBeLessThan(0.05);
  });

  it('is always 0 for lambda 0 and integer-valued', () => {
    const rng = createRng(4);
    for (let i = 0; i < 1000; i++) expect(poisson(rng, 0)).toBe(0);
    for (let i = 0; i < 1000; i++) expect(Number.isInteger(poisson(rng, 3.3))).toBe(true);
  });

  it('rejects negative or non-finite lambdas', () => {
    const rng = createRng(1);
    expect(() => poisson(rng, -0.5)).toThrow(/-0\.5/);
    expect(() => poisson(rng, NaN)).toThrow(/NaN/);
  });
});

describe('streamRng', () => {
  const draw = (seed: number, stream: number, n = 8): number[] => {
    const rng = streamRng(seed, stream);
    return Array.from({ length: n }, () => rng.unsafeNext());
  };

  it('is reproducible for the same (seed, stream)', () => {
    expect(draw(42, 7)).toEqual(draw(42, 7));
  });

  it('differs across neighbouring seeds and streams, including large and negative ones', () => {
    const sequences = [draw(42, 7), draw(42, 8), draw(43, 7), draw(0, 0), draw(-1, 0), draw(42, 2 ** 32 + 7), draw(42 + 2 ** 32, 7)];
    const keys = new Set(sequences.map((s) => s.join(',')));
    expect(keys.size).toBe(sequences.length);
  });

  it('gives uncorrelated first draws across consecutive streams', () => {
    const n = 20_000;
    let sumXY = 0;
    let sumX = 0;
    let sumY = 0;
    let sumXX = 0;
    let sumYY = 0;
    for (let i = 0; i < n; i++) {
      const x = uniform(streamRng(1, i));
      const y = uniform(streamRng(1, i + 1));
      sumX += x;
      sumY += y;
      sumXY += x * y;
      sumXX += x * x;
      sumYY += y * y;
    }
    const cov = sumXY / n - (sumX / n) * (sumY / n);
    const corr = cov / Math.sqrt((sumXX / n - (sumX / n) ** 2) * (sumYY / n - (sumY / n) ** 2));
    expect(Math.abs(corr)).toBeLessThan(0.04);
    expect(Math.abs(sumX / n - 0.5)).toBeLessThan(0.015);
  });

  it('rejects non-integer seeds and streams', () => {
    expect(() => streamRng(1.5, 0)).toThrow(/seed.*1\.5/);
    expect(() => streamRng(1, NaN)).toThrow(/stream.*NaN/);
  });
});

describe('RngSampler', () => {
  it('draws the same values as the free functions on the same generator state', () => {
    const sampler = new RngSampler(createRng(77));
    const rng = createRng(77);
    expect([sampler.uniform(), sampler.poisson(2), sampler.exponential(3)]).toEqual([uniform(rng), poisson(rng, 2), exponential(rng, 3)]);
  });
});
