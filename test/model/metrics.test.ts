import {
  areaUnderCurve,
  calibrationBuckets,
  downsampleRocCurve,
  logLoss,
  precisionRecallAt,
  rocAuc,
  rocCurve,
} from '../../lib/model/metrics';
import { seededRng } from '../../lib/model/random';

function bruteForceAuc(scores: number[], labels: number[]): number {
  let num = 0;
  let pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < scores.length; j++) {
      if (labels[j] !== 0) continue;
      pairs++;
      if (scores[i]! > scores[j]!) num += 1; // i and j index scores
      else if (scores[i] === scores[j]) num += 0.5;
    }
  }
  return num / pairs;
}

describe('rocAuc', () => {
  it('matches hand-computed examples', () => {
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 12);
    expect(rocAuc([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([0.4, 0.3, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
  });

  it('counts ties as half', () => {
    // all tied -> 0.5
    expect(rocAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).toBe(0.5);
    // pos {0.5, 0.9}, neg {0.5, 0.1}: pairs (0.5,0.5)=0.5, (0.5,0.1)=1, (0.9,*)=2 -> 3.5/4
    expect(rocAuc([0.5, 0.9, 0.5, 0.1], [1, 1, 0, 0])).toBeCloseTo(0.875, 12);
  });

  it('equals the brute-force pairwise count on random data with many ties', () => {
    const rng = seededRng(7);
    for (let trial = 0; trial < 5; trial++) {
      const n = 300;
      const scores: number[] = [];
      const labels: number[] = [];
      for (let i = 0; i < n; i++) {
        const y = rng() < 0.2 ? 1 : 0;
        labels.push(y);
        // coarse rounding creates ties
        scores.push(Math.round((rng() + 0.3 * y) * 20) / 20);
      }
      labels[0] = 1;
      labels[1] = 0;
      expect(rocAuc(scores, labels)).toBeCloseTo(bruteForceAuc(scores, labels), 12);
      expect(areaUnderCurve(rocCurve(scores, labels))).toBeCloseTo(bruteForceAuc(scores, labels), 12);
    }
  });

  it('rejects single-class labels, bad labels and length mismatch', () => {
    expect(() => rocAuc([0.1, 0.2], [1, 1])).toThrow(/both classes/);
    expect(() => rocAuc([0.1, 0.2], [0, 2])).toThrow(/0 or 1/);
    expect(() => rocAuc([0.1], [0, 1])).toThrow(/1 scores but 2 labels/);
    expect(() => rocAuc([NaN, 0.2], [0, 1])).toThrow(/NaN/);
  });
});

describe('logLoss', () => {
  it('matches a known value', () => {
    // -(ln 0.9 + ln 0.8 + ln 0.7 + ln 0.6) / 4
    const expected = -(Math.log(0.9) + Math.log(0.8) + Math.log(0.7) + Math.log(0.6)) / 4;
    expect(logLoss([0.9, 0.2, 0.7, 0.4], [1, 0, 1, 0])).toBeCloseTo(expected, 12);
    expect(expected).toBeCloseTo(0.2990011586691898, 12);
    expect(logLoss([0.5, 0.5], [0, 1])).toBeCloseTo(Math.LN2, 12);
  });

  it('clips probabilities so certain mistakes stay finite', () => {
    const v = logLoss([0, 1], [1, 0]);
    expect(Number.isFinite(v)).toBe(true);
    // 1 - (1 - 1e-15) is not exactly 1e-15 in floating point, hence the loose precision
    expect(v).toBeCloseTo(-Math.log(1e-15), 2);
  });
});

describe('precisionRecallAt', () => {
  it('counts score >= threshold as positive', () => {
    const s = precisionRecallAt([0.9, 0.6, 0.6, 0.2, 0.1], [1, 0, 1, 1, 0], 0.6);
    expect(s).toMatchObject({ tp: 2, fp: 1, fn: 1, tn: 1 });
    expect(s.precision).toBeCloseTo(2 / 3, 12);
    expect(s.recall).toBeCloseTo(2 / 3, 12);
  });
  it('returns 0 precision when nothing is predicted positive', () => {
    expect(precisionRecallAt([0.1, 0.2], [0, 1], 0.5).precision).toBe(0);
  });
});

describe('calibrationBuckets', () => {
  it('uses 10 equal-width bins with means, rates and counts', () => {
    const b = calibrationBuckets([0.05, 0.05, 0.15, 0.95, 1.0, 0.1], [0, 1, 0, 1, 1, 1]);
    expect(b).toHaveLength(10);
    expect(b[0]).toMatchObject({ count: 2, observedRate: 0.5 });
    expect(b[0]?.meanPredicted).toBeCloseTo(0.05, 12);
    expect(b[1]?.count).toBe(2); // 0.15 and 0.1 (lower edge inclusive)
    expect(b[1]?.observedRate).toBe(0.5);
    expect(b[9]).toMatchObject({ count: 2, observedRate: 1 });
    expect(b[9]?.meanPredicted).toBeCloseTo(0.975, 12);
    expect(b[5]).toMatchObject({ count: 0, meanPredicted: null, observedRate: null });
  });
});

describe('rocCurve', () => {
  it('starts at (0,0), ends at (1,1), one point per distinct score', () => {
    const pts = rocCurve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]);
    expect(pts.map((p) => [p.fpr, p.tpr])).toEqual([
      [0, 0],
      [0, 0.5],
      [0.5, 0.5],
      [0.5, 1],
      [1, 1],
    ]);
    expect(pts.map((p) => p.threshold)).toEqual([Infinity, 0.8, 0.4, 0.35, 0.1]);
    expect(areaUnderCurve(pts)).toBeCloseTo(0.75, 12);
  });
});

describe('downsampleRocCurve', () => {
  const rng = seededRng(5);
  const labels = Array.from({ length: 2000 }, () => (rng() < 0.3 ? 1 : 0));
  const scores = labels.map((y) => y * 0.3 + rng());
  const full = rocCurve(scores, labels);

  it('keeps at most maxPoints points, in order, from (0, 0) to (1, 1), with an area close to the full curve', () => {
    const small = downsampleRocCurve(full, 101);
    expect(full.length).toBeGreaterThan(1000);
    expect(small).toHaveLength(101);
    expect(small[0]).toEqual(full[0]);
    expect(small[100]).toEqual(full[full.length - 1]);
    for (let i = 1; i < small.length; i++) {
      // 1 <= i < small.length
      expect(small[i]!.fpr).toBeGreaterThanOrEqual(small[i - 1]!.fpr);
      expect(small[i]!.tpr).toBeGreaterThanOrEqual(small[i - 1]!.tpr);
    }
    expect(Math.abs(areaUnderCurve(small) - rocAuc(scores, labels))).toBeLessThan(0.01);
  });

  it('returns a short curve whole and refuses fewer than two points', () => {
    const pts = rocCurve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]);
    expect(downsampleRocCurve(pts, 101)).toEqual(pts);
    expect(() => downsampleRocCurve(pts, 1)).toThrow('maxPoints must be an integer of at least 2, got 1');
  });
});
