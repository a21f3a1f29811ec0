import { bucketOf, HISTOGRAM_BUCKETS, ScoreSummaryAccumulator, threshold, type ScoreSummary } from '../../lib/audience';
import { seededRng } from '../../lib/model/random';

/** The summary computed the obvious way, over the whole list at once. */
function bruteForce(scores: number[], band: { low: number; high: number }): Omit<ScoreSummary, 'min' | 'max' | 'mean'> {
  const histogram = Array.from({ length: 20 }, (_, i) => ({
    low: i / 20,
    high: (i + 1) / 20,
    count: scores.filter((p) => p >= i / 20 && (i === 19 ? p <= 1 : p < (i + 1) / 20)).length,
  }));
  const reach = Array.from({ length: 21 }, (_, k) => ({
    threshold: k / 20,
    atOrAbove: scores.filter((p) => p >= k / 20).length,
    below: scores.filter((p) => p < k / 20).length,
  }));
  return { count: scores.length, histogram, reach, band: { ...band, count: scores.filter((p) => p >= band.low && p <= band.high).length } };
}

function summarize(scores: number[], band: { low: number; high: number }): ScoreSummary {
  const accumulator = new ScoreSummaryAccumulator(band);
  for (const p of scores) accumulator.add(p);
  return accumulator.summary();
}

/** Scores that sit on, just below and just above every bucket edge, plus 0 and 1. */
function edgeScores(): number[] {
  const out: number[] = [0, 1, 1, 0];
  for (let k = 0; k <= 20; k++) {
    const t = k / 20;
    out.push(t, t - Number.EPSILON / 4, t + Number.EPSILON / 4, 0.05 * k, k * 0.05);
  }
  return out.filter((p) => p >= 0 && p <= 1);
}

describe('ScoreSummaryAccumulator', () => {
  it('matches a brute-force computation on random scores and on scores at every bucket edge', () => {
    const rng = seededRng(11);
    const scores = [...edgeScores(), ...Array.from({ length: 5000 }, () => rng()), ...Array.from({ length: 500 }, () => Math.round(rng() * 20) / 20)];
    for (const band of [{ low: 0.8, high: 1 }, { low: 0.15, high: 0.15 }, { low: 0, high: 0.05 }, { low: 0.333, high: 0.6667 }]) {
      const summary = summarize(scores, band);
      expect(summary).toMatchObject(bruteForce(scores, band));
      expect(summary.min).toBe(Math.min(...scores));
      expect(summary.max).toBe(Math.max(...scores));
      expect(summary.mean).toBeCloseTo(scores.reduce((a, b) => a + b, 0) / scores.length, 12);
    }
  });

  it('counts both ends of the band, as the PQL rule does', () => {
    expect(summarize([0.2, 0.4, 0.6, 0.19999999999999998, 0.6000000000000001], { low: 0.2, high: 0.6 }).band.count).toBe(3);
  });

  it('puts 1 in the last bucket and counts it alone at threshold 1', () => {
    const summary = summarize([1, 0.99, 0.95, 0.9499999999999998], { low: 0, high: 1 });
    expect(summary.histogram[19]?.count).toBe(3);
    expect(summary.histogram[18]?.count).toBe(1);
    expect(summary.reach[20]).toEqual({ threshold: 1, atOrAbove: 1, below: 3 });
    expect(summary.reach[0]).toEqual({ threshold: 0, atOrAbove: 4, below: 0 });
  });

  it('has 20 buckets and 21 thresholds, sums consistently, and is empty without scores', () => {
    const empty = summarize([], { low: 0.5, high: 1 });
    expect(empty.histogram).toHaveLength(HISTOGRAM_BUCKETS);
    expect(empty.reach).toHaveLength(HISTOGRAM_BUCKETS + 1);
    expect(empty.reach.map((r) => r.threshold)).toEqual(Array.from({ length: 21 }, (_, k) => k / 20));
    expect(empty).toMatchObject({ count: 0, band: { low: 0.5, high: 1, count: 0 } });
    expect(empty.min).toBeUndefined();
    const summary = summarize([0.1, 0.5, 0.7], { low: 0.5, high: 1 });
    expect(summary.histogram.reduce((n, b) => n + b.count, 0)).toBe(3);
    for (const r of summary.reach) expect(r.atOrAbove + r.below).toBe(3);
  });

  it('refuses a prediction outside [0, 1] or not a number, naming it', () => {
    const accumulator = new ScoreSummaryAccumulator({ low: 0, high: 1 });
    expect(() => accumulator.add(1.2)).toThrow(/got 1\.2/);
    expect(() => accumulator.add(-0.01)).toThrow(/got -0\.01/);
    expect(() => accumulator.add(Number.NaN)).toThrow(/got NaN/);
    expect(accumulator.summary().count).toBe(0);
  });

  it('refuses a bad band at construction', () => {
    expect(() => new ScoreSummaryAccumulator({ low: 0.7, high: 0.3 })).toThrow(/low \(0\.7\) must not be above high \(0\.3\)/);
  });

  it('keeps its memory constant: the same state whatever the number of scores', () => {
    const small = new ScoreSummaryAccumulator({ low: 0, high: 1 });
    const large = new ScoreSummaryAccumulator({ low: 0, high: 1 });
    small.add(0.5);
    const rng = seededRng(5);
    for (let i = 0; i < 200_000; i++) large.add(rng());
    expect(JSON.stringify(large).length).toBeLessThan(JSON.stringify(small).length + 200);
  });
});

describe('bucketOf', () => {
  it('agrees with the thresholds where floor(p * 20) would not', () => {
    for (let k = 1; k < 20; k++) {
      const t = threshold(k);
      const below = t - Number.EPSILON / 2;
      expect(bucketOf(t)).toBe(k);
      if (below < t) expect(bucketOf(below)).toBe(k - 1);
    }
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(1)).toBe(19);
  });
});
