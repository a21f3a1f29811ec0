/**
 * Gradient-boosted decision trees for binary classification (log loss).
 *
 * - Features are bucketed once into quantile bins (up to `maxBins`, default 64,
 *   per feature); split search works on per-node gradient/hessian histograms
 *   (the larger child's histogram is derived by subtraction).
 * - Trees are depth-limited, grown with second-order (Newton) leaf values
 *   leaf = -G / (H + lambda), scaled by the learning rate.
 * - NaN (missing) values: every split tries sending them left and right and
 *   keeps the better one as the node's default direction. A split may also be
 *   "missing vs. not missing" (threshold Number.MAX_VALUE, missing right).
 * - Deterministic: the only randomness is optional row subsampling, driven
 *   by a seeded PRNG.
 *
 * The model is a plain JSON-serialisable object.
 */
import { alignColumns, assertTrainable, Dataset, DEFAULT_MIN_ROWS } from './dataset';
import { seededRng } from './random';

export const GBT_MODEL_KIND = 'gbt-binary-logloss';
export const GBT_FORMAT_VERSION = 1;

export interface GbtNode {
  /** Feature index to split on; -1 for a leaf. */
  feature: number;
  /** Rows with value <= threshold go left. 0 for leaves. */
  threshold: number;
  /** Where NaN/null values go. */
  defaultLeft: boolean;
  /** Child node indices within the tree; -1 for leaves. */
  left: number;
  right: number;
  /** Leaf contribution to the raw score (learning rate applied); 0 for internal nodes. */
  value: number;
}

export interface GbtTree {
  /** nodes[0] is the root. */
  nodes: GbtNode[];
}

export interface GbtParams {
  nTrees: number;
  maxDepth: number;
  learningRate: number;
  /** Minimum training rows in each leaf. */
  minSamplesLeaf: number;
  /** Minimum hessian sum in each leaf. */
  minChildWeight: number;
  /** L2 regularisation on leaf values. */
  lambda: number;
  /** Minimum loss reduction to make a split. */
  minSplitGain: number;
  /** Max bins per feature (2..255). */
  maxBins: number;
  /** Fraction of rows sampled (without replacement) per tree, (0, 1]. */
  subsample: number;
  seed: number;
  /** Minimum dataset rows accepted by train(). */
  minRows: number;
}

export const DEFAULT_GBT_PARAMS: Readonly<GbtParams> = Object.freeze({
  nTrees: 200,
  maxDepth: 4,
  learningRate: 0.1,
  minSamplesLeaf: 20,
  minChildWeight: 1e-3,
  lambda: 1,
  minSplitGain: 0,
  maxBins: 64,
  subsample: 1,
  seed: 0,
  minRows: DEFAULT_MIN_ROWS,
});

export interface GbtModel {
  kind: typeof GBT_MODEL_KIND;
  formatVersion: typeof GBT_FORMAT_VERSION;
  featureNames: string[];
  /** Initial raw score (log-odds of the training positive rate). */
  baseScore: number;
  trees: GbtTree[];
  /** Total split gain per feature, normalised to sum 1 (all 0 if no splits). */
  featureImportances: number[];
  params: GbtParams;
  trainingRows: number;
  trainingPositiveRate: number;
}

export function resolveGbtParams(options: Partial<GbtParams> = {}): GbtParams {
  const p: GbtParams = { ...DEFAULT_GBT_PARAMS };
  for (const [k, v] of Object.entries(options)) {
    if (v !== undefined) (p as unknown as Record<string, number>)[k] = v;
  }
  const intAtLeast = (name: keyof GbtParams, min: number, max = Infinity) => {
    const v = p[name];
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new Error(`gbt: ${name} must be an integer in [${min}, ${max}], got ${v}`);
    }
  };
  intAtLeast('nTrees', 0);
  intAtLeast('maxDepth', 0, 30);
  intAtLeast('minSamplesLeaf', 1);
  intAtLeast('maxBins', 2, 255);
  intAtLeast('minRows', 1);
  if (!(p.learningRate > 0 && p.learningRate <= 1)) throw new Error(`gbt: learningRate must be in (0, 1]`);
  if (!(p.lambda >= 0)) throw new Error(`gbt: lambda must be >= 0`);
  if (!(p.minChildWeight >= 0)) throw new Error(`gbt: minChildWeight must be >= 0`);
  if (!(p.minSplitGain >= 0)) throw new Error(`gbt: minSplitGain must be >= 0`);
  if (!(p.subsample > 0 && p.subsample <= 1)) throw new Error(`gbt: subsample must be in (0, 1]`);
  if (!Number.isFinite(p.seed)) throw new Error(`gbt: seed must be a finite number`);
  return p;
}

// ---------------------------------------------------------------------------
// Binning

/**
 * Split candidates for one column: sorted thresholds such that bin(v) is the
 * first j with v <= thresholds[j] (or thresholds.length if none). Thresholds
 * are midpoints between adjacent distinct values.
 */
export function computeThresholds(column: Float64Array, maxBins: number): Float64Array {
  let m = 0;
  for (const v of column) if (v === v) m++;
  if (m === 0) return new Float64Array(0);
  const vals = new Float64Array(m);
  m = 0;
  for (const v of column) if (v === v) vals[m++] = v;
  vals.sort();
  // Indices into vals stay below m, its length; k + 1 below distinct.length.
  const distinct: number[] = [];
  for (let i = 0; i < m; i++) if (i === 0 || vals[i] !== vals[i - 1]) distinct.push(vals[i]!);
  const midpoint = (a: number, b: number) => {
    const mid = a + (b - a) / 2;
    return mid >= a && mid < b ? mid : a;
  };
  const out: number[] = [];
  if (distinct.length <= maxBins) {
    for (let k = 0; k + 1 < distinct.length; k++) out.push(midpoint(distinct[k]!, distinct[k + 1]!));
  } else {
    const max = vals[m - 1]!;
    let last = -Infinity;
    for (let q = 1; q < maxBins; q++) {
      const v = vals[Math.floor((q * m) / maxBins)]!;
      if (v >= max || v <= last) continue;
      // next distinct value above v
      let lo = 0;
      let hi = m;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (vals[mid]! > v) hi = mid;
        else lo = mid + 1;
      }
      out.push(midpoint(v, vals[lo]!)); // v < max, so some value lies above it and lo < m
      last = v;
    }
  }
  return Float64Array.from(out);
}

function binIndex(thresholds: Float64Array, v: number): number {
  let lo = 0;
  let hi = thresholds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v <= thresholds[mid]!) hi = mid; // lo <= mid < hi <= thresholds.length
    else lo = mid + 1;
  }
  return lo;
}

interface BinnedData {
  /** Per feature: bin code per row; code === nBins[f] means missing. */
  codes: Uint8Array[];
  thresholds: Float64Array[];
  /** Non-missing bin count per feature (thresholds.length + 1). */
  nBins: Int32Array;
  /** Histogram offset per feature; each feature uses nBins[f] + 1 slots. */
  offsets: Int32Array;
  histSize: number;
}

function binColumns(columns: Float64Array[], maxBins: number): BinnedData {
  const nF = columns.length;
  const codes: Uint8Array[] = [];
  const thresholds: Float64Array[] = [];
  const nBins = new Int32Array(nF);
  const offsets = new Int32Array(nF);
  let histSize = 0;
  for (let f = 0; f < nF; f++) {
    const col = columns[f]!; // f < nF = columns.length
    const t = computeThresholds(col, maxBins);
    const nb = t.length + 1;
    const c = new Uint8Array(col.length);
    for (let i = 0; i < col.length; i++) {
      const v = col[i]!;
      c[i] = v === v ? binIndex(t, v) : nb;
    }
    codes.push(c);
    thresholds.push(t);
    nBins[f] = nb;
    offsets[f] = histSize;
    histSize += nb + 1;
  }
  return { codes, thresholds, nBins, offsets, histSize };
}

// ---------------------------------------------------------------------------
// Tree growth

interface Hist {
  g: Float64Array;
  h: Float64Array;
  c: Float64Array;
}

interface BestSplit {
  gain: number;
  feature: number;
  bin: number;
  defaultLeft: boolean;
}

/** Split value that sends every non-missing value left. */
const ALL_FINITE_LEFT = Number.MAX_VALUE;

/**
 * Every index the builder reads is in range: rows hold row indices below the dataset's length (that of
 * grad, hess and each feature's codes), features are below the feature count (that of codes, nBins,
 * offsets and thresholds), and histogram slots below histSize; the reads are asserted without a check.
 */
class TreeBuilder {
  private readonly nodes: GbtNode[] = [];

  constructor(
    private readonly binned: BinnedData,
    private readonly grad: Float64Array,
    private readonly hess: Float64Array,
    private readonly params: GbtParams,
    private readonly gainByFeature: Float64Array,
  ) {}

  build(rows: Uint32Array): GbtTree {
    const hist = this.buildHist(rows);
    let G = 0;
    let H = 0;
    for (let k = 0; k < rows.length; k++) {
      G += this.grad[rows[k]!]!;
      H += this.hess[rows[k]!]!;
    }
    this.grow(rows, hist, G, H, 0);
    return { nodes: this.nodes };
  }

  private newHist(): Hist {
    const n = this.binned.histSize;
    return { g: new Float64Array(n), h: new Float64Array(n), c: new Float64Array(n) };
  }

  private buildHist(rows: Uint32Array): Hist {
    const hist = this.newHist();
    const { g, h, c } = hist;
    const grad = this.grad;
    const hess = this.hess;
    const nF = this.binned.codes.length;
    for (let f = 0; f < nF; f++) {
      const codes = this.binned.codes[f]!;
      const off = this.binned.offsets[f]!;
      for (let k = 0; k < rows.length; k++) {
        const i = rows[k]!;
        const slot = off + codes[i]!;
        g[slot]! += grad[i]!;
        h[slot]! += hess[i]!;
        c[slot]! += 1;
      }
    }
    return hist;
  }

  private leafValue(G: number, H: number): number {
    return (-G / (H + this.params.lambda)) * this.params.learningRate;
  }

  private grow(rows: Uint32Array, hist: Hist, G: number, H: number, depth: number): number {
    const id = this.nodes.length;
    const node: GbtNode = { feature: -1, threshold: 0, defaultLeft: false, left: -1, right: -1, value: 0 };
    this.nodes.push(node);
    const p = this.params;
    const best =
      depth < p.maxDepth && rows.length >= 2 * p.minSamplesLeaf ? this.findSplit(hist, G, H, rows.length) : null;
    if (best === null) {
      node.value = this.leafValue(G, H);
      return id;
    }
    const { feature, bin, defaultLeft } = best;
    const codes = this.binned.codes[feature]!;
    const missing = this.binned.nBins[feature]!;
    let nLeft = 0;
    for (let k = 0; k < rows.length; k++) {
      const b = codes[rows[k]!]!;
      if (b === missing ? defaultLeft : b <= bin) nLeft++;
    }
    const leftRows = new Uint32Array(nLeft);
    const rightRows = new Uint32Array(rows.length - nLeft);
    let li = 0;
    let ri = 0;
    let GL = 0;
    let HL = 0;
    for (let k = 0; k < rows.length; k++) {
      const i = rows[k]!;
      const b = codes[i]!;
      if (b === missing ? defaultLeft : b <= bin) {
        leftRows[li++] = i;
        GL += this.grad[i]!;
        HL += this.hess[i]!;
      } else rightRows[ri++] = i;
    }
    // Histogram subtraction: build the smaller child, derive the larger.
    const smallIsLeft = leftRows.length <= rightRows.length;
    const small = this.buildHist(smallIsLeft ? leftRows : rightRows);
    const large = this.newHist();
    for (let s = 0; s < this.binned.histSize; s++) {
      large.g[s] = hist.g[s]! - small.g[s]!;
      large.h[s] = hist.h[s]! - small.h[s]!;
      large.c[s] = hist.c[s]! - small.c[s]!;
    }
    const leftHist = smallIsLeft ? small : large;
    const rightHist = smallIsLeft ? large : small;

    node.feature = feature;
    const thresholds = this.binned.thresholds[feature]!;
    node.threshold = bin < thresholds.length ? thresholds[bin]! : ALL_FINITE_LEFT;
    node.defaultLeft = defaultLeft;
    this.gainByFeature[feature]! += best.gain;
    node.left = this.grow(leftRows, leftHist, GL, HL, depth + 1);
    node.right = this.grow(rightRows, rightHist, G - GL, H - HL, depth + 1);
    return id;
  }

  private findSplit(hist: Hist, G: number, H: number, C: number): BestSplit | null {
    const { lambda, minSamplesLeaf, minChildWeight, minSplitGain } = this.params;
    const parentScore = (G * G) / (H + lambda);
    let best: BestSplit | null = null;
    let bestGain = Math.max(minSplitGain, 1e-12);
    const nF = this.binned.codes.length;
    for (let f = 0; f < nF; f++) {
      const nb = this.binned.nBins[f]!;
      const off = this.binned.offsets[f]!;
      const gm = hist.g[off + nb]!;
      const hm = hist.h[off + nb]!;
      const cm = hist.c[off + nb]!;
      let GL = 0;
      let HL = 0;
      let CL = 0;
      for (let b = 0; b < nb; b++) {
        GL += hist.g[off + b]!;
        HL += hist.h[off + b]!;
        CL += hist.c[off + b]!;
        // Option 1: missing goes right.
        {
          const CR = C - CL;
          const HR = H - HL;
          if (CL >= minSamplesLeaf && CR >= minSamplesLeaf && HL >= minChildWeight && HR >= minChildWeight) {
            const GR = G - GL;
            const gain = 0.5 * ((GL * GL) / (HL + lambda) + (GR * GR) / (HR + lambda) - parentScore);
            if (gain > bestGain) {
              bestGain = gain;
              // With no missing rows in the node, send future missing values to the larger side.
              best = { gain, feature: f, bin: b, defaultLeft: cm === 0 ? CL >= CR : false };
            }
          }
        }
        // Option 2: missing goes left (only differs when the node has missing rows).
        if (cm > 0) {
          const GL2 = GL + gm;
          const HL2 = HL + hm;
          const CL2 = CL + cm;
          const CR = C - CL2;
          const HR = H - HL2;
          if (CL2 >= minSamplesLeaf && CR >= minSamplesLeaf && HL2 >= minChildWeight && HR >= minChildWeight) {
            const GR = G - GL2;
            const gain = 0.5 * ((GL2 * GL2) / (HL2 + lambda) + (GR * GR) / (HR + lambda) - parentScore);
            if (gain > bestGain) {
              bestGain = gain;
              best = { gain, feature: f, bin: b, defaultLeft: true };
            }
          }
        }
      }
    }
    return best;
  }
}

/** The logistic function, computed so that neither branch overflows. */
export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/**
 * Raw score contribution of one tree for row i of the given columns. Child indices lie within the tree
 * and features within the columns (the builder makes them so, parseGbtModel checks an artifact).
 */
function treeValueAt(nodes: GbtNode[], columns: Float64Array[], i: number): number {
  let n = 0;
  for (;;) {
    const node = nodes[n]!;
    if (node.feature < 0) return node.value;
    const v = columns[node.feature]![i]!;
    n = v !== v ? (node.defaultLeft ? node.left : node.right) : v <= node.threshold ? node.left : node.right;
  }
}

// ---------------------------------------------------------------------------
// Public API

export function train(dataset: Dataset, options: Partial<GbtParams> = {}): GbtModel {
  const params = resolveGbtParams(options);
  assertTrainable(dataset, params.minRows);
  const n = dataset.labels.length;
  const nF = dataset.columns.length;
  const labels = dataset.labels;
  let pos = 0;
  for (const label of labels) pos += label;
  const rate = pos / n;
  const baseScore = Math.log(rate / (1 - rate));

  const binned = binColumns(dataset.columns, params.maxBins);
  const score = new Float64Array(n).fill(baseScore);
  const grad = new Float64Array(n);
  const hess = new Float64Array(n);
  const gainByFeature = new Float64Array(nF);
  const rng = seededRng(params.seed);
  const all = new Uint32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  const sampleSize = Math.max(1, Math.floor(n * params.subsample));
  const perm = params.subsample < 1 ? all.slice() : all;

  const trees: GbtTree[] = [];
  // Row indices i, k and j stay below n, the length of labels, score and perm.
  for (let t = 0; t < params.nTrees; t++) {
    for (let i = 0; i < n; i++) {
      const p = sigmoid(score[i]!);
      grad[i] = p - labels[i]!;
      hess[i] = Math.max(p * (1 - p), 1e-16);
    }
    let rows = all;
    if (params.subsample < 1) {
      // Partial Fisher–Yates: the first sampleSize entries are a uniform sample.
      for (let k = 0; k < sampleSize; k++) {
        const j = k + Math.floor(rng() * (n - k));
        const tmp = perm[k]!;
        perm[k] = perm[j]!;
        perm[j] = tmp;
      }
      rows = perm.slice(0, sampleSize).sort();
    }
    const tree = new TreeBuilder(binned, grad, hess, params, gainByFeature).build(rows);
    trees.push(tree);
    for (let i = 0; i < n; i++) score[i]! += treeValueAt(tree.nodes, dataset.columns, i);
  }

  let totalGain = 0;
  for (const gain of gainByFeature) totalGain += gain;
  const featureImportances = Array.from(gainByFeature, (g) => (totalGain > 0 ? g / totalGain : 0));

  return {
    kind: GBT_MODEL_KIND,
    formatVersion: GBT_FORMAT_VERSION,
    featureNames: [...dataset.featureNames],
    baseScore,
    trees,
    featureImportances,
    params,
    trainingRows: n,
    trainingPositiveRate: rate,
  };
}

/** Raw score (log-odds) for one row, values in model.featureNames order; NaN/null = missing. */
export function predictRawRow(model: GbtModel, values: ArrayLike<number | null>): number {
  if (values.length < model.featureNames.length) {
    throw new Error(`gbt: row has ${values.length} values, model expects ${model.featureNames.length}`);
  }
  let s = model.baseScore;
  const trees = model.trees;
  // t < trees.length; child indices lie within the tree (parseGbtModel checks them).
  for (let t = 0; t < trees.length; t++) {
    const nodes = trees[t]!.nodes;
    let n = 0;
    for (;;) {
      const node = nodes[n]!;
      if (node.feature < 0) {
        s += node.value;
        break;
      }
      const v = values[node.feature];
      n =
        v == null || v !== v
          ? node.defaultLeft
            ? node.left
            : node.right
          : v <= node.threshold
            ? node.left
            : node.right;
    }
  }
  return s;
}

/** Probability of the positive class for one row (no allocation). */
export function predictRow(model: GbtModel, values: ArrayLike<number | null>): number {
  return sigmoid(predictRawRow(model, values));
}

/**
 * Probabilities for many rows: either a Dataset (columns matched to the
 * model by feature name) or columns already in model.featureNames order.
 */
export function predict(model: GbtModel, input: Dataset | Float64Array[]): Float64Array {
  const columns = Array.isArray(input) ? input : alignColumns(input, model.featureNames);
  if (columns.length !== model.featureNames.length) {
    throw new Error(`gbt: got ${columns.length} columns, model expects ${model.featureNames.length}`);
  }
  const n = columns[0]?.length ?? 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = model.baseScore;
    for (let t = 0; t < model.trees.length; t++) s += treeValueAt(model.trees[t]!.nodes, columns, i);
    out[i] = sigmoid(s);
  }
  return out;
}

/** Feature importances keyed by name, sorted descending. */
export function featureImportances(model: GbtModel): Array<{ feature: string; importance: number }> {
  return model.featureNames
    .map((feature, f) => ({ feature, importance: model.featureImportances[f]! })) // train gives one per feature
    .sort((a, b) => b.importance - a.importance || a.feature.localeCompare(b.feature));
}

/** Validates a parsed JSON artifact and returns it typed as a GbtModel. */
export function parseGbtModel(json: unknown): GbtModel {
  const m = json as Partial<GbtModel> | null;
  if (!m || typeof m !== 'object') throw new Error('gbt: model artifact is not an object');
  if (m.kind !== GBT_MODEL_KIND) throw new Error(`gbt: unexpected model kind ${JSON.stringify(m.kind)}`);
  if (m.formatVersion !== GBT_FORMAT_VERSION) {
    throw new Error(`gbt: unsupported formatVersion ${JSON.stringify(m.formatVersion)}`);
  }
  if (!Array.isArray(m.featureNames) || !Array.isArray(m.trees) || typeof m.baseScore !== 'number') {
    throw new Error('gbt: model artifact is missing featureNames, trees or baseScore');
  }
  const nF = m.featureNames.length;
  m.trees.forEach((tree, t) => {
    const nodes = tree?.nodes;
    if (!Array.isArray(nodes) || nodes.length === 0) throw new Error(`gbt: tree ${t} has no nodes`);
    nodes.forEach((node, k) => {
      const ok =
        node.feature < 0
          ? typeof node.value === 'number'
          : Number.isInteger(node.feature) &&
            node.feature < nF &&
            typeof node.threshold === 'number' &&
            typeof node.defaultLeft === 'boolean' &&
            node.left > k &&
            node.right > k &&
            node.left < nodes.length &&
            node.right < nodes.length;
      if (!ok) throw new Error(`gbt: tree ${t} node ${k} is malformed`);
    });
  });
  return m as GbtModel;
}
