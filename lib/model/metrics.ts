/**
 * Binary-classification metrics: ROC AUC (exact, tie-aware), log loss,
 * precision/recall at a threshold, calibration buckets and ROC curve points.
 */

type Scores = ArrayLike<number>;
type Labels = ArrayLike<number>;

function checkInputs(scores: Scores, labels: Labels, what: string): { pos: number; neg: number } {
  if (scores.length !== labels.length) {
    throw new Error(`${what}: ${scores.length} scores but ${labels.length} labels`);
  }
  let pos = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y !== 0 && y !== 1) throw new Error(`${what}: label at ${i} must be 0 or 1, got ${y}`);
    if (Number.isNaN(scores[i])) throw new Error(`${what}: score at ${i} is NaN`);
    pos += y;
  }
  return { pos, neg: labels.length - pos };
}

/** Indices sorted by ascending score (stable on index for ties). */
function argsortAscending(scores: Scores): Uint32Array {
  const idx = new Uint32Array(scores.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  // Typed-array sort with a comparator is stable in modern V8.
  return idx.sort((a, b) => scores[a]! - scores[b]! || a - b); // a and b are indices of scores
}

/**
 * Exact ROC AUC via the Mann–Whitney U statistic, tied scores get average
 * ranks (equivalently each tied positive/negative pair counts 1/2).
 * Throws unless both classes are present.
 */
export function rocAuc(scores: Scores, labels: Labels): number {
  const { pos, neg } = checkInputs(scores, labels, 'rocAuc');
  if (pos === 0 || neg === 0) throw new Error('rocAuc: needs both classes in labels');
  const order = argsortAscending(scores);
  let rankSumPos = 0;
  let i = 0;
  // i, j and k stay below order.length, which holds each index of scores and labels once.
  while (i < order.length) {
    let j = i;
    const s = scores[order[i]!];
    while (j + 1 < order.length && scores[order[j + 1]!] === s) j++;
    const avgRank = (i + j) / 2 + 1; // ranks are 1-based
    for (let k = i; k <= j; k++) if (labels[order[k]!] === 1) rankSumPos += avgRank;
    i = j + 1;
  }
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Mean binary cross-entropy, probabilities clipped to [eps, 1 - eps]. */
export function logLoss(probabilities: Scores, labels: Labels, eps = 1e-15): number {
  checkInputs(probabilities, labels, 'logLoss');
  const n = labels.length;
  if (n === 0) throw new Error('logLoss: no rows');
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.min(1 - eps, Math.max(eps, probabilities[i]!)); // i < n, checked equal lengths
    sum -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / n;
}

export interface ThresholdStats {
  threshold: number;
  tp: number;
  fp: number;
  tn: number;
  fn: number;
  /** tp / (tp + fp); 0 when nothing is predicted positive. */
  precision: number;
  /** tp / (tp + fn); 0 when there are no positives. */
  recall: number;
}

/** Precision and recall when predicting positive for score >= threshold. */
export function precisionRecallAt(scores: Scores, labels: Labels, threshold: number): ThresholdStats {
  checkInputs(scores, labels, 'precisionRecallAt');
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const predicted = scores[i]! >= threshold; // checked equal lengths
    if (labels[i] === 1) {
      if (predicted) tp++;
      else fn++;
    } else if (predicted) fp++;
    else tn++;
  }
  return {
    threshold,
    tp,
    fp,
    tn,
    fn,
    precision: tp + fp === 0 ? 0 : tp / (tp + fp),
    recall: tp + fn === 0 ? 0 : tp / (tp + fn),
  };
}

export interface CalibrationBucket {
  lower: number;
  upper: number;
  count: number;
  /** Mean predicted probability in the bucket; null when empty. */
  meanPredicted: number | null;
  /** Observed positive rate in the bucket; null when empty. */
  observedRate: number | null;
}

/**
 * Equal-width calibration buckets over [0, 1] (bucket k holds
 * k/n <= p < (k+1)/n; p = 1 goes to the last bucket). Always returns nBins
 * buckets, empty ones with null means.
 */
export function calibrationBuckets(probabilities: Scores, labels: Labels, nBins = 10): CalibrationBucket[] {
  checkInputs(probabilities, labels, 'calibrationBuckets');
  if (!Number.isInteger(nBins) || nBins < 1) throw new Error(`calibrationBuckets: nBins must be a positive integer`);
  const count = new Float64Array(nBins);
  const sumP = new Float64Array(nBins);
  const sumY = new Float64Array(nBins);
  // Checked equal lengths; a probability in [0, 1] gives a bucket b below nBins.
  for (let i = 0; i < labels.length; i++) {
    const p = probabilities[i]!;
    if (p < 0 || p > 1) throw new Error(`calibrationBuckets: probability at ${i} outside [0, 1]: ${p}`);
    const b = Math.min(nBins - 1, Math.floor(p * nBins));
    count[b]!++;
    sumP[b]! += p;
    sumY[b]! += labels[i]!;
  }
  const out: CalibrationBucket[] = [];
  for (let b = 0; b < nBins; b++) {
    const n = count[b]!;
    out.push({
      lower: b / nBins,
      upper: (b + 1) / nBins,
      count: n,
      meanPredicted: n === 0 ? null : sumP[b]! / n,
      observedRate: n === 0 ? null : sumY[b]! / n,
    });
  }
  return out;
}

export interface RocPoint {
  /** Rows with score >= threshold are predicted positive. The first point uses +Infinity (nothing positive). */
  threshold: number;
  fpr: number;
  tpr: number;
}

/**
 * ROC curve: one point per distinct score (descending), starting at (0, 0)
 * and ending at (1, 1). Note: the first threshold is Infinity, which
 * JSON.stringify renders as null.
 */
export function rocCurve(scores: Scores, labels: Labels): RocPoint[] {
  const { pos, neg } = checkInputs(scores, labels, 'rocCurve');
  if (pos === 0 || neg === 0) throw new Error('rocCurve: needs both classes in labels');
  const order = argsortAscending(scores);
  const points: RocPoint[] = [{ threshold: Infinity, fpr: 0, tpr: 0 }];
  let tp = 0;
  let fp = 0;
  let k = order.length - 1;
  // k stays within order, which holds each index of scores and labels once.
  while (k >= 0) {
    const s = scores[order[k]!]!;
    while (k >= 0 && scores[order[k]!] === s) {
      if (labels[order[k]!] === 1) tp++;
      else fp++;
      k--;
    }
    points.push({ threshold: s, fpr: fp / neg, tpr: tp / pos });
  }
  return points;
}

/** Trapezoidal area under a ROC curve (equals rocAuc for the curve of the same data). */
export function areaUnderCurve(points: readonly RocPoint[]): number {
  let area = 0;
  for (let i = 1; i < points.length; i++) {
    const [previous, point] = [points[i - 1]!, points[i]!]; // 1 <= i < points.length
    area += ((point.fpr - previous.fpr) * (point.tpr + previous.tpr)) / 2;
  }
  return area;
}

/**
 * At most `maxPoints` points of a ROC curve, evenly spaced along it and always keeping its first and
 * last point, for a report: a curve has one point per distinct score, tens of thousands on real data.
 */
export function downsampleRocCurve(points: readonly RocPoint[], maxPoints = 101): RocPoint[] {
  if (!Number.isInteger(maxPoints) || maxPoints < 2) throw new Error(`downsampleRocCurve: maxPoints must be an integer of at least 2, got ${maxPoints}`);
  if (points.length <= maxPoints) return [...points];
  const out: RocPoint[] = [];
  // The index runs from 0 to points.length - 1.
  for (let k = 0; k < maxPoints; k++) out.push(points[Math.round((k * (points.length - 1)) / (maxPoints - 1))]!);
  return out;
}
