/**
 * Scores many rows with a gradient-boosted model: exactly predictRow's probabilities, several times
 * faster (see BENCHMARKS.md, scoring).
 *
 * predictRow walks each tree with a data-dependent branch per level; on real rows the CPU mispredicts
 * about half of them, and that, not arithmetic, is most of its cost. Here the walk has no such branch:
 * - each value is replaced, once per row, by its bin: how many of the model's thresholds on that feature
 *   lie below it. `value <= threshold` is then `bin <= index of the threshold`, an integer comparison
 *   whose outcome is taken from the sign bit of the difference. A missing value (null, NaN) gets a bin
 *   with bit 15 set, which selects the node's default direction. A node is one 32-bit word: the feature
 *   (bits 16-31), where missing values go (bit 15) and the threshold's index (bits 0-14);
 * - every tree is laid out complete to the model's depth, children of node n at 2n+1 and 2n+2 (a leaf
 *   above that depth becomes a node that always goes left), so each row takes the same steps in every tree;
 * - four rows go down each tree together, so the CPU has independent work while it waits on memory.
 * Trees are summed in predictRow's order, so the results are the same bit for bit. A model deeper than
 * MAX_LAID_OUT_DEPTH, whose complete layout would be large, is scored by predictRow itself.
 */
import { predictRow, sigmoid, type GbtModel, type GbtTree } from './gbt';

/** Deeper models are scored row by row with predictRow: a complete tree of depth d has 2^d leaves. */
export const MAX_LAID_OUT_DEPTH = 10;

const MISSING_BIN = 0x8000;
/** The bin of a padding node: every present value is at most this, so it goes left; missing goes left too. */
const ALWAYS_LEFT_BIN = 0x7fff;
const MISSING_LEFT = 0x8000;
/** Features are numbered in 16 bits of a node's word. */
const MAX_FEATURES = 0x8000;

/** A laid-out node: the feature read, whether a missing value goes left, the threshold's bin. */
function nodeWord(feature: number, missingLeft: boolean, bin: number): number {
  return (feature << 16) | (missingLeft ? MISSING_LEFT : 0) | bin;
}

function treeDepth(tree: GbtTree, node = 0): number {
  const n = tree.nodes[node]!; // child indices lie within the tree (parseGbtModel checks them)
  return n.feature < 0 ? 0 : 1 + Math.max(treeDepth(tree, n.left), treeDepth(tree, n.right));
}

/** Number of thresholds below `value` (thresholds sorted ascending), or MISSING_BIN for NaN. */
function binOf(thresholds: Float64Array, value: number): number {
  if (value !== value) return MISSING_BIN;
  let lo = 0;
  let hi = thresholds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (thresholds[mid]! < value) lo = mid + 1; // lo <= mid < hi <= thresholds.length
    else hi = mid;
  }
  return lo;
}

/**
 * Indices the scorer reads are in range by construction: node features below the feature count and
 * child indices within their tree (parseGbtModel checks an artifact), rows below `rows` in columns of at
 * least that length, laid-out positions within `nodes` and `leafValue`, bins within `bins`.
 */
export class GbtBatchScorer {
  readonly featureNames: readonly string[];
  private readonly features: number;
  private readonly laidOut: boolean;
  /** Per feature, the distinct split thresholds, ascending. */
  private readonly thresholds: Float64Array[];
  private readonly depth: number;
  private readonly trees: number;
  /** Complete trees, `2^depth - 1` internal nodes each, as nodeWord makes them. */
  private readonly nodes: Int32Array;
  /** `2^depth` leaves per tree. */
  private readonly leafValue: Float64Array;
  /** Row-major bins of the batch being scored, reused across batches. */
  private bins = new Int32Array(0);
  private readonly row: Float64Array;

  constructor(private readonly model: GbtModel) {
    this.featureNames = model.featureNames;
    this.features = model.featureNames.length;
    this.row = new Float64Array(this.features);
    this.trees = model.trees.length;
    this.depth = model.trees.reduce((max, tree) => Math.max(max, treeDepth(tree)), 0);

    const byFeature = model.featureNames.map(() => new Set<number>());
    for (const tree of model.trees) for (const node of tree.nodes) if (node.feature >= 0) byFeature[node.feature]!.add(node.threshold);
    this.thresholds = byFeature.map((set) => Float64Array.from([...set].sort((a, b) => a - b)));
    this.laidOut = this.depth <= MAX_LAID_OUT_DEPTH && this.features <= MAX_FEATURES && this.thresholds.every((t) => t.length < ALWAYS_LEFT_BIN);

    const internal = this.laidOut ? (1 << this.depth) - 1 : 0;
    const leaves = this.laidOut ? 1 << this.depth : 0;
    this.nodes = new Int32Array(this.trees * internal);
    this.leafValue = new Float64Array(this.trees * leaves);
    if (!this.laidOut) return;
    model.trees.forEach((tree, t) => {
      const place = (index: number, position: number, level: number): void => {
        const node = tree.nodes[index]!;
        if (level === this.depth) {
          this.leafValue[t * leaves + position - internal] = node.value;
          return;
        }
        const k = t * internal + position;
        if (node.feature < 0) {
          this.nodes[k] = nodeWord(0, true, ALWAYS_LEFT_BIN);
          place(index, 2 * position + 1, level + 1);
          place(index, 2 * position + 2, level + 1);
          return;
        }
        this.nodes[k] = nodeWord(node.feature, node.defaultLeft, this.thresholds[node.feature]!.indexOf(node.threshold));
        place(node.left, 2 * position + 1, level + 1);
        place(node.right, 2 * position + 2, level + 1);
      };
      place(0, 0, 0);
    });
  }

  /**
   * Probabilities of the positive class for `rows` rows given as columns in `featureNames` order
   * (NaN = missing), written to `out[0..rows)`.
   */
  predict(columns: readonly Float64Array[], rows: number, out: Float64Array): void {
    if (columns.length !== this.features) {
      throw new Error(`gbt: got ${columns.length} columns, the model reads ${this.features}`);
    }
    if (!this.laidOut) {
      for (let r = 0; r < rows; r++) {
        for (let f = 0; f < this.features; f++) this.row[f] = columns[f]![r]!;
        out[r] = predictRow(this.model, this.row);
      }
      return;
    }
    const stride = this.features;
    if (this.bins.length < rows * stride) this.bins = new Int32Array(rows * stride);
    const bins = this.bins;
    for (let f = 0; f < stride; f++) {
      const column = columns[f]!;
      const thresholds = this.thresholds[f]!;
      for (let r = 0, at = f; r < rows; r++, at += stride) bins[at] = binOf(thresholds, column[r]!);
    }
    let r = 0;
    for (; r + 4 <= rows; r += 4) this.scoreFour(r, out);
    for (; r < rows; r++) out[r] = sigmoid(this.rawScore(r * stride));
  }

  /** The raw score of the row whose bins start at `base`. */
  private rawScore(base: number): number {
    const { bins, nodes, leafValue, depth } = this;
    const internal = (1 << depth) - 1;
    let s = this.model.baseScore;
    for (let t = 0, first = 0, firstLeaf = 0; t < this.trees; t++, first += internal, firstLeaf += internal + 1) {
      let n = 0;
      for (let level = 0; level < depth; level++) {
        const w = nodes[first + n]!;
        const b = bins[base + (w >>> 16)]!;
        // 1 (right) when the bin is above the threshold's; for a missing value, the node's default side.
        n = 2 * n + 1 + ((((w & 0x7fff) - b) >>> 31) ^ ((b >>> 15) & (w >>> 15) & 1));
      }
      s += leafValue[firstLeaf + n - internal]!;
    }
    return s;
  }

  /** Rows `r` to `r + 3` down every tree together: four independent walks per tree. */
  private scoreFour(r: number, out: Float64Array): void {
    const { bins, nodes, leafValue, depth } = this;
    const internal = (1 << depth) - 1;
    const b0 = r * this.features;
    const b1 = b0 + this.features;
    const b2 = b1 + this.features;
    const b3 = b2 + this.features;
    let s0 = this.model.baseScore;
    let s1 = s0;
    let s2 = s0;
    let s3 = s0;
    for (let t = 0, first = 0, firstLeaf = 0; t < this.trees; t++, first += internal, firstLeaf += internal + 1) {
      let n0 = 0;
      let n1 = 0;
      let n2 = 0;
      let n3 = 0;
      for (let level = 0; level < depth; level++) {
        let w = nodes[first + n0]!;
        let b = bins[b0 + (w >>> 16)]!;
        n0 = 2 * n0 + 1 + ((((w & 0x7fff) - b) >>> 31) ^ ((b >>> 15) & (w >>> 15) & 1));
        w = nodes[first + n1]!;
        b = bins[b1 + (w >>> 16)]!;
        n1 = 2 * n1 + 1 + ((((w & 0x7fff) - b) >>> 31) ^ ((b >>> 15) & (w >>> 15) & 1));
        w = nodes[first + n2]!;
        b = bins[b2 + (w >>> 16)]!;
        n2 = 2 * n2 + 1 + ((((w & 0x7fff) - b) >>> 31) ^ ((b >>> 15) & (w >>> 15) & 1));
        w = nodes[first + n3]!;
        b = bins[b3 + (w >>> 16)]!;
        n3 = 2 * n3 + 1 + ((((w & 0x7fff) - b) >>> 31) ^ ((b >>> 15) & (w >>> 15) & 1));
      }
      s0 += leafValue[firstLeaf + n0 - internal]!;
      s1 += leafValue[firstLeaf + n1 - internal]!;
      s2 += leafValue[firstLeaf + n2 - internal]!;
      s3 += leafValue[firstLeaf + n3 - internal]!;
    }
    out[r] = sigmoid(s0);
    out[r + 1] = sigmoid(s1);
    out[r + 2] = sigmoid(s2);
    out[r + 3] = sigmoid(s3);
  }
}
