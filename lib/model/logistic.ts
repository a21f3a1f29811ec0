/**
 * L2-regularised logistic regression baseline, fit by Newton's method (IRLS)
 * with backtracking line search. Deterministic.
 *
 * Preprocessing learned from the training data:
 * - each feature standardised with the mean/std of its non-missing values;
 * - NaN imputed with the training mean (0 after standardising), plus a 0/1
 *   missing-indicator input for every feature that had NaN in training.
 *
 * Objective: sum of log losses + (l2 / 2) * ||w||^2 over the standardised
 * weights (the intercept is not penalised).
 */
import { alignColumns, assertTrainable, Dataset, DEFAULT_MIN_ROWS } from './dataset';

export const LOGISTIC_MODEL_KIND = 'logistic-regression';
export const LOGISTIC_FORMAT_VERSION = 1;

export interface LogisticParams {
  l2: number;
  maxIterations: number;
  /** Stop when the largest parameter change is below this. */
  tolerance: number;
  minRows: number;
}

export const DEFAULT_LOGISTIC_PARAMS: Readonly<LogisticParams> = Object.freeze({
  l2: 1,
  maxIterations: 100,
  tolerance: 1e-8,
  minRows: DEFAULT_MIN_ROWS,
});

export interface LogisticModel {
  kind: typeof LOGISTIC_MODEL_KIND;
  formatVersion: typeof LOGISTIC_FORMAT_VERSION;
  featureNames: string[];
  /** Training mean / std of each feature's non-missing values (std 1 if constant). */
  means: number[];
  stds: number[];
  /** Per feature: whether a missing-indicator input exists. */
  hasMissingIndicator: boolean[];
  intercept: number;
  /** Weights on standardised features. */
  weights: number[];
  /** Weights on missing indicators (0 where hasMissingIndicator is false). */
  missingWeights: number[];
  params: LogisticParams;
  iterations: number;
  converged: boolean;
}

function resolveParams(options: Partial<LogisticParams>): LogisticParams {
  const p: LogisticParams = { ...DEFAULT_LOGISTIC_PARAMS };
  for (const [k, v] of Object.entries(options)) {
    if (v !== undefined) (p as unknown as Record<string, number>)[k] = v;
  }
  if (!(p.l2 >= 0)) throw new Error('logistic: l2 must be >= 0');
  if (!Number.isInteger(p.maxIterations) || p.maxIterations < 1) throw new Error('logistic: maxIterations must be >= 1');
  if (!(p.tolerance > 0)) throw new Error('logistic: tolerance must be > 0');
  if (!Number.isInteger(p.minRows) || p.minRows < 1) throw new Error('logistic: minRows must be >= 1');
  return p;
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** log(1 + exp(x)) without overflow. */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** Solves A x = b for symmetric positive-definite A (row-major, size d). Returns null if not PD. */
function choleskySolve(A: Float64Array, b: Float64Array, d: number): Float64Array | null {
  // Every index below is within the d x d matrices A and L or the d-vectors b, y and x.
  const L = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * d + j]!;
      for (let k = 0; k < j; k++) s -= L[i * d + k]! * L[j * d + k]!;
      if (i === j) {
        if (!(s > 0)) return null;
        L[i * d + i] = Math.sqrt(s);
      } else L[i * d + j] = s / L[j * d + j]!;
    }
  }
  const y = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= L[i * d + k]! * y[k]!;
    y[i] = s / L[i * d + i]!;
  }
  const x = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < d; k++) s -= L[k * d + i]! * x[k]!;
    x[i] = s / L[i * d + i]!;
  }
  return x;
}

export function trainLogistic(dataset: Dataset, options: Partial<LogisticParams> = {}): LogisticModel {
  const params = resolveParams(options);
  assertTrainable(dataset, params.minRows);
  const n = dataset.labels.length;
  const nF = dataset.columns.length;
  const y = dataset.labels;

  const means: number[] = [];
  const stds: number[] = [];
  const hasMissingIndicator: boolean[] = [];
  for (const col of dataset.columns) {
    let cnt = 0;
    let sum = 0;
    for (const v of col) {
      if (v === v) {
        cnt++;
        sum += v;
      }
    }
    const mean = cnt > 0 ? sum / cnt : 0;
    let ss = 0;
    for (const v of col) if (v === v) ss += (v - mean) ** 2;
    const std = cnt > 0 ? Math.sqrt(ss / cnt) : 0;
    means.push(mean);
    stds.push(std > 1e-12 ? std : 1);
    hasMissingIndicator.push(cnt < n);
  }

  // Design matrix, row-major: [1, z_0..z_{nF-1}, indicators...]
  // From here on every index is bounded by its loop: rows i < n (the labels' and columns' length, which
  // assertTrainable checked), features f < nF, design columns j, k < D.
  const indicatorOf: number[] = [];
  let D = 1 + nF;
  for (let f = 0; f < nF; f++) indicatorOf.push(hasMissingIndicator[f] ? D++ : -1);
  const X = new Float64Array(n * D);
  for (let i = 0; i < n; i++) {
    const r = i * D;
    X[r] = 1;
    for (let f = 0; f < nF; f++) {
      const v = dataset.columns[f]![i]!;
      if (v === v) X[r + 1 + f] = (v - means[f]!) / stds[f]!;
      else X[r + indicatorOf[f]!] = 1;
    }
  }

  const w = new Float64Array(D);
  // Start the intercept at the log-odds of the base rate.
  let pos = 0;
  for (const label of y) pos += label;
  w[0] = Math.log(pos / (n - pos));

  const margins = new Float64Array(n);
  const computeMargins = (beta: Float64Array, out: Float64Array) => {
    for (let i = 0; i < n; i++) {
      let s = 0;
      const r = i * D;
      for (let j = 0; j < D; j++) s += X[r + j]! * beta[j]!;
      out[i] = s;
    }
  };
  const objective = (beta: Float64Array, m: Float64Array) => {
    let L = 0;
    for (let i = 0; i < n; i++) L += softplus(m[i]!) - y[i]! * m[i]!;
    let pen = 0;
    for (let j = 1; j < D; j++) pen += beta[j]! * beta[j]!;
    return L + (params.l2 / 2) * pen;
  };

  computeMargins(w, margins);
  let obj = objective(w, margins);
  let converged = false;
  let iterations = 0;
  const grad = new Float64Array(D);
  const hessian = new Float64Array(D * D);
  const trial = new Float64Array(D);
  const trialMargins = new Float64Array(n);
  for (let iter = 0; iter < params.maxIterations; iter++) {
    iterations = iter + 1;
    grad.fill(0);
    hessian.fill(0);
    for (let i = 0; i < n; i++) {
      const p = sigmoid(margins[i]!);
      const e = p - y[i]!;
      const h = p * (1 - p);
      const r = i * D;
      for (let j = 0; j < D; j++) {
        const xj = X[r + j]!;
        if (xj === 0) continue;
        grad[j]! += e * xj;
        const hx = h * xj;
        for (let k = 0; k <= j; k++) hessian[j * D + k]! += hx * X[r + k]!;
      }
    }
    for (let j = 0; j < D; j++) {
      for (let k = 0; k < j; k++) hessian[k * D + j] = hessian[j * D + k]!;
      if (j > 0) {
        grad[j]! += params.l2 * w[j]!;
        hessian[j * D + j]! += params.l2;
      }
      hessian[j * D + j]! += 1e-10;
    }
    const step = choleskySolve(hessian, grad, D);
    if (step === null) throw new Error('logistic: Hessian is not positive definite (try l2 > 0)');
    // Newton direction is -step; backtracking line search (Armijo).
    let slope = 0;
    for (let j = 0; j < D; j++) slope -= grad[j]! * step[j]!;
    let t = 1;
    let newObj = Infinity;
    for (let attempt = 0; attempt < 40; attempt++) {
      for (let j = 0; j < D; j++) trial[j] = w[j]! - t * step[j]!;
      computeMargins(trial, trialMargins);
      newObj = objective(trial, trialMargins);
      if (newObj <= obj + 1e-4 * t * slope) break;
      t /= 2;
    }
    let maxChange = 0;
    for (let j = 0; j < D; j++) maxChange = Math.max(maxChange, Math.abs(trial[j]! - w[j]!));
    if (!(newObj <= obj)) {
      // No progress possible at machine precision.
      converged = maxChange < 1e-6;
      break;
    }
    w.set(trial);
    margins.set(trialMargins);
    obj = newObj;
    if (maxChange < params.tolerance) {
      converged = true;
      break;
    }
  }

  return {
    kind: LOGISTIC_MODEL_KIND,
    formatVersion: LOGISTIC_FORMAT_VERSION,
    featureNames: [...dataset.featureNames],
    means,
    stds,
    hasMissingIndicator,
    intercept: w[0],
    weights: Array.from({ length: nF }, (_, f) => w[1 + f]!),
    missingWeights: indicatorOf.map((j) => (j < 0 ? 0 : w[j]!)),
    params,
    iterations,
    converged,
  };
}

/** Log-odds for one row (values in model.featureNames order; NaN/null = missing). No allocation. */
export function predictLogisticRawRow(model: LogisticModel, values: ArrayLike<number | null>): number {
  const nF = model.featureNames.length;
  if (values.length < nF) throw new Error(`logistic: row has ${values.length} values, model expects ${nF}`);
  let s = model.intercept;
  // f < nF: the model's arrays hold one entry per feature, as trainLogistic makes them.
  for (let f = 0; f < nF; f++) {
    const v = values[f];
    if (v === null || v === undefined || v !== v) s += model.missingWeights[f]!;
    else s += (model.weights[f]! * (v - model.means[f]!)) / model.stds[f]!;
  }
  return s;
}

export function predictLogisticRow(model: LogisticModel, values: ArrayLike<number | null>): number {
  return sigmoid(predictLogisticRawRow(model, values));
}

/** Alias matching the GBT module's naming. */
export const predictRow = predictLogisticRow;

/** Probabilities for a Dataset (matched by feature name) or columns in model order. */
export function predictLogistic(model: LogisticModel, input: Dataset | Float64Array[]): Float64Array {
  const columns = Array.isArray(input) ? input : alignColumns(input, model.featureNames);
  const nF = model.featureNames.length;
  if (columns.length !== nF) throw new Error(`logistic: got ${columns.length} columns, model expects ${nF}`);
  const n = columns[0]?.length ?? 0;
  const out = new Float64Array(n);
  // f < nF, the columns' count and the model's entries per feature; i < n, the columns' length.
  for (let i = 0; i < n; i++) {
    let s = model.intercept;
    for (let f = 0; f < nF; f++) {
      const v = columns[f]![i]!;
      s += v === v ? (model.weights[f]! * (v - model.means[f]!)) / model.stds[f]! : model.missingWeights[f]!;
    }
    out[i] = sigmoid(s);
  }
  return out;
}

/**
 * Coefficients on the original (unstandardised) feature scale, valid for
 * rows with no missing values: logit = intercept + sum(coef_f * x_f).
 */
export function originalScaleCoefficients(model: LogisticModel): { intercept: number; coefficients: Record<string, number> } {
  let intercept = model.intercept;
  const coefficients: Record<string, number> = {};
  model.featureNames.forEach((name, f) => {
    const c = model.weights[f]! / model.stds[f]!; // one entry per feature name
    coefficients[name] = c;
    intercept -= c * model.means[f]!;
  });
  return { intercept, coefficients };
}
