/**
 * The week-5 look at a set of scores, computed while the predictions stream past (memory does not grow
 * with their number): the 20-bucket histogram, the reach at or above and below each threshold
 * 0, 0.05, ..., 1, and the exact number of scores in the configured band.
 */
import { AudienceInputError, validateBand, type PropensityBand } from './band';

/** Buckets of width 1/20: bucket i covers [i/20, (i+1)/20), and the last one also holds 1. */
export const HISTOGRAM_BUCKETS = 20;

/** Threshold k is k/20 (the same double the bucket edges use), for k = 0..20. */
export function threshold(k: number): number {
  return k / HISTOGRAM_BUCKETS;
}

export interface HistogramBucket {
  /** Included. */
  low: number;
  /** Excluded, except for the last bucket, which includes 1. */
  high: number;
  count: number;
}

export interface ThresholdReach {
  threshold: number;
  /** Scores >= threshold: the audience "propensity at least t". */
  atOrAbove: number;
  /** Scores < threshold. */
  below: number;
}

export interface ScoreSummary {
  count: number;
  /** Undefined when there are no scores. */
  min?: number;
  max?: number;
  mean?: number;
  histogram: HistogramBucket[];
  /** One entry per threshold 0, 0.05, ..., 1 (21 entries). */
  reach: ThresholdReach[];
  /** Scores in [low, high], both ends included, as the audience's PQL rule selects them. */
  band: PropensityBand & { count: number };
}

/** Feeds predictions one at a time; `summary()` can be read at any point. */
export class ScoreSummaryAccumulator {
  private readonly buckets = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
  private readonly band: PropensityBand;
  private count = 0;
  private ones = 0;
  private inBand = 0;
  private sum = 0;
  private min = Infinity;
  private max = -Infinity;

  constructor(band: PropensityBand) {
    this.band = validateBand(band);
  }

  /** Adds one prediction; it must be a finite number within [0, 1]. */
  add(prediction: number): void {
    if (typeof prediction !== 'number' || !Number.isFinite(prediction) || prediction < 0 || prediction > 1) {
      throw new AudienceInputError(`A prediction must be a number from 0 to 1, got ${String(prediction)}`);
    }
    // bucketOf gives an index of the histogram, which holds a count for each.
    this.buckets[bucketOf(prediction)]! += 1;
    if (prediction === 1) this.ones += 1;
    if (prediction >= this.band.low && prediction <= this.band.high) this.inBand += 1;
    this.count += 1;
    this.sum += prediction;
    if (prediction < this.min) this.min = prediction;
    if (prediction > this.max) this.max = prediction;
  }

  summary(): ScoreSummary {
    const histogram = this.buckets.map((count, i) => ({ low: threshold(i), high: threshold(i + 1), count }));
    // Bucket edges are the thresholds themselves, so "at or above threshold k" is the buckets from k on;
    // at threshold 1 only the scores equal to 1 remain.
    const atOrAbove = new Array<number>(HISTOGRAM_BUCKETS + 1);
    atOrAbove[HISTOGRAM_BUCKETS] = this.ones;
    let running = 0;
    for (let k = HISTOGRAM_BUCKETS - 1; k >= 0; k--) {
      running += this.buckets[k]!; // k is below HISTOGRAM_BUCKETS, the buckets' length
      atOrAbove[k] = running;
    }
    const reach: ThresholdReach[] = atOrAbove.map((n, k) => ({ threshold: threshold(k), atOrAbove: n, below: this.count - n }));
    const seen = this.count > 0;
    return {
      count: this.count,
      ...(seen ? { min: this.min, max: this.max, mean: this.sum / this.count } : {}),
      histogram,
      reach,
      band: { ...this.band, count: this.inBand },
    };
  }
}

/**
 * The bucket of a score in [0, 1], decided by comparing with the same doubles k/20 the thresholds use,
 * so a score counts as at or above threshold k exactly when its bucket is k or later. `floor(p * 20)`
 * alone can land one off, since p * 20 rounds.
 */
export function bucketOf(prediction: number): number {
  let i = Math.min(HISTOGRAM_BUCKETS - 1, Math.max(0, Math.floor(prediction * HISTOGRAM_BUCKETS)));
  while (i > 0 && prediction < threshold(i)) i -= 1;
  while (i < HISTOGRAM_BUCKETS - 1 && prediction >= threshold(i + 1)) i += 1;
  return i;
}
