import { performance } from 'perf_hooks';
import type { FeatureSpec } from '../features/spec';
import { trainingWindowIssue } from '../config/schema';
import { runIdFloor, type RunLedger, type RunRecord } from '../ledger/run-ledger';
import { assertTrainable, DatasetError, positiveCount, stratifiedSplit, type Dataset } from '../model/dataset';
import { DEFAULT_GBT_PARAMS, featureImportances, predict, train as trainGbt, type GbtModel, type GbtParams } from '../model/gbt';
import { originalScaleCoefficients, predictLogistic, trainLogistic, type LogisticParams } from '../model/logistic';
import { calibrationBuckets, downsampleRocCurve, logLoss, precisionRecallAt, rocAuc, rocCurve } from '../model/metrics';
import { decidePromotion, ModelRegistry, ModelRegistryError, type HeldOutMetrics, type ProductionPointer, type PromotionPolicy } from '../model/registry';
import type { Clock } from '../ports/clock';
import type { Log } from '../ports/logger';
import type { ObjectStore } from '../ports/object-store';
import { LIBRARY_VERSION } from '../version';
import { readTrainingSet, TrainingDataError, type TrainingExport } from './training-set';

/**
 * The train stage's gradient-boosted trees: 100 trees of depth 4 at learning rate 0.1, 64 bins. On the
 * exported week-2 data, 200 trees gain under 0.0005 of held-out AUC for twice the time; either beats the
 * notebook's random forest by about 0.015-0.02 in less time than it takes (BENCHMARKS.md).
 */
export const TRAINING_GBT_PARAMS: Readonly<Omit<GbtParams, 'seed' | 'minRows'>> = Object.freeze({
  ...withoutRunSettings(DEFAULT_GBT_PARAMS),
  nTrees: 100,
});

function withoutRunSettings({ seed: _seed, minRows: _minRows, ...params }: GbtParams): Omit<GbtParams, 'seed' | 'minRows'> {
  return params;
}

export interface TrainOptions {
  /** The registry's model name (`model.name`). */
  modelName: string;
  /** The bucket's models prefix, e.g. `models/`. */
  modelsPrefix: string;
  /** The feature specification the exports were made with: its training columns are read. */
  spec: FeatureSpec;
  /** Seed of the held-out split and the learners. */
  seed: number;
  /** Share of each class held out, in (0, 1). */
  testFraction: number;
  /** Score counted as a positive prediction, for precision and recall. */
  threshold: number;
  /** How far below the champion's held-out AUC the challenger may be and still be promoted. */
  promotionTolerance: number;
  /** The floor: the least held-out AUC a model may have and be promoted, the first one included. */
  minAuc: number;
  /** The floor: how far above the logistic baseline's held-out AUC, on the same rows, the challenger's must be. */
  baselineMargin: number;
  /** Days of exports, counted back from the run's start by when AEP wrote their files, that a model learns from. */
  trainingWindowDays: number;
  /**
   * Days between retrainings while production holds a model: a run sooner than that after the last run
   * that trained skips. Without production, every run with a new export trains. Undefined: every run
   * with a new export trains.
   */
  retrainEveryDays?: number | undefined;
  /** Days the bucket keeps exported files; when known, a window that does not fit inside it is refused. */
  egressRetentionDays?: number | undefined;
  /** Fewest users (rows after keeping each user's newest) a model is trained on. */
  minRows: number;
  /** Overrides of TRAINING_GBT_PARAMS. */
  gbt?: Partial<Omit<GbtParams, 'minRows'>>;
  /** Overrides of the logistic baseline's parameters. */
  logistic?: Partial<Omit<LogisticParams, 'minRows'>>;
  /** Recorded in the manifest; this library's version by default. */
  codeVersion?: string;
}

export interface TrainDeps {
  store: ObjectStore;
  ledger: RunLedger;
  clock: Clock;
  log: Log;
}

/** What a train run records in the ledger: ids and numbers; the rest is in the registry's metrics.json. */
export interface TrainOutputs {
  /** The registered version (the train run's id). */
  version: string;
  promoted: boolean;
  reason: string;
  /** Users trained and tested on, and the positives among them. */
  rows: number;
  positives: number;
  heldOut: { rows: number; positives: number; auc: number; logLoss: number };
  baseline: { auc: number; logLoss: number };
  /** The production model this one was compared with; null when there was none, or it could not be used. */
  champion: { version: string; auc: number; rescored: boolean } | null;
  /** Why the production model could not be used (a corrupt or missing file, named); it is then treated as absent. */
  productionIssue?: string;
  /** The floor and tolerance the decision applied. */
  policy: PromotionPolicy;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const EXPORT_TIME = /exportTime=(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})\/?$/;

/**
 * When an export's oldest training files were written: AEP's `exportTime` folder name, which is what the
 * bucket's lifecycle counts their age from (give or take the upload), or the export run's start when
 * the folder does not say. An export may take folders written days before it ran, by a run that died.
 */
export function exportWrittenAt(run: RunRecord<'export'>): number {
  const training = run.outputs?.training;
  const match = EXPORT_TIME.exec(training?.folders?.[0] ?? training?.folder ?? '');
  if (!match) return Date.parse(run.startedAt);
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

/**
 * The succeeded exports whose files were written within the window ending at `now`, oldest first. The
 * ledger is listed from a day before the window: an export's files are written during its run (or
 * before it, by an earlier run that ran out of time), so an export run that started earlier than that
 * holds no file young enough. What is read does not grow with the number of past runs.
 */
async function exportsInWindow(ledger: RunLedger, now: Date, windowDays: number): Promise<{ from: Date; runs: Array<RunRecord<'export'>> }> {
  const from = new Date(now.getTime() - windowDays * DAY_MS);
  const runs = await ledger.after('export', runIdFloor(new Date(from.getTime() - DAY_MS)));
  return { from, runs: runs.filter((r) => r.status === 'succeeded' && exportWrittenAt(r) >= from.getTime()).reverse() };
}

/** How early a scheduled run may come and still count as a whole retraining period later. */
const RETRAIN_SLACK_MS = 60 * 60 * 1000;

/**
 * Why this run does not retrain yet, or undefined when it does: production holds a model and the last
 * run that trained started less than `retrainEveryDays` ago. A missing or unreadable production model
 * makes every run due, so the first model (or a replacement) does not wait for the next period when a
 * run fails or is killed.
 */
async function retrainingNotDue(ledger: RunLedger, registry: ModelRegistry, now: Date, retrainEveryDays: number | undefined): Promise<string | undefined> {
  if (retrainEveryDays === undefined) return undefined;
  const production = await registry.productionPointer().catch((error: unknown) => {
    if (error instanceof ModelRegistryError) return undefined;
    throw error;
  });
  if (!production) return undefined;
  const lastTrained = await ledger.newest('train', (r) => r.status === 'succeeded');
  if (!lastTrained) return undefined;
  const dueAt = Date.parse(lastTrained.startedAt) + retrainEveryDays * DAY_MS - RETRAIN_SLACK_MS;
  if (now.getTime() >= dueAt) return undefined;
  return `Run ${lastTrained.runId} trained less than ${retrainEveryDays} days ago; the next retraining is due from ${new Date(dueAt).toISOString()}`;
}

/** Held-out evaluation of one model's scores. */
function evaluate(scores: Float64Array, test: Dataset, threshold: number) {
  const atThreshold = precisionRecallAt(scores, test.labels, threshold);
  return {
    auc: rocAuc(scores, test.labels),
    logLoss: logLoss(scores, test.labels),
    atThreshold,
    calibration: calibrationBuckets(scores, test.labels, 10),
    // The first point's threshold is +Infinity, which JSON cannot hold.
    roc: downsampleRocCurve(rocCurve(scores, test.labels), 101).map((p) => ({ ...p, threshold: Number.isFinite(p.threshold) ? p.threshold : null })),
  };
}

/** Export run ids for a message: all of them when few, the first and last when many. */
function describeExports(runIds: readonly string[]): string {
  return runIds.length <= 3 ? `exports ${runIds.join(', ')}` : `the ${runIds.length} exports ${runIds[0]} to ${runIds[runIds.length - 1]}`;
}

function timed<T>(work: () => T): { result: T; ms: number } {
  const started = performance.now();
  const result = work();
  return { result, ms: Math.round(performance.now() - started) };
}

/**
 * Train (notebook week 3): learns a propensity model from the exports written in the training window
 * (each user's newest row), measures it and a logistic baseline on a stratified held-out split, and
 * registers it. The window lies inside the bucket's egress retention, so no file it reads can have
 * expired. It replaces the production model only when it passes the floor (a minimum AUC, and the
 * baseline's AUC plus a margin, on the same held-out rows) and its AUC is at least the champion's, less
 * the tolerance, the champion being re-scored on the same rows. A production model that cannot be read
 * is recorded and treated as absent. Trains once per new export, and while production holds a model
 * only every `retrainEveryDays`. Bad data fails the run before anything is registered, so production
 * is left as it was.
 */
export async function trainModel(deps: TrainDeps, options: TrainOptions): Promise<RunRecord<'train'>> {
  const windowIssue = trainingWindowIssue(options.trainingWindowDays, options.egressRetentionDays);
  if (windowIssue) throw new Error(`Cannot train: ${windowIssue}`);
  const policy: PromotionPolicy = { minAuc: options.minAuc, baselineMargin: options.baselineMargin, tolerance: options.promotionTolerance };
  return deps.ledger.run('train', async ({ runId, startedAt }) => {
    const window = await exportsInWindow(deps.ledger, new Date(startedAt), options.trainingWindowDays);
    const exportRuns = window.runs;
    const newest = exportRuns[exportRuns.length - 1];
    if (!newest) return { status: 'skipped', reason: `No export written in the training window of ${options.trainingWindowDays} days (since ${window.from.toISOString()})` };
    // A train run that trained on the newest export started after it.
    const trainedOnNewest = (await deps.ledger.after('train', newest.runId)).find((r) => r.status === 'succeeded' && r.inputs?.newestExportRunId === newest.runId);
    if (trainedOnNewest) {
      return { status: 'skipped', reason: `Export ${newest.runId} was trained on by run ${trainedOnNewest.runId}; nothing newer`, inputs: { newestExportRunId: newest.runId } };
    }
    const registry = new ModelRegistry(deps.store, options.modelsPrefix, options.modelName);
    const notDue = await retrainingNotDue(deps.ledger, registry, new Date(startedAt), options.retrainEveryDays);
    if (notDue) return { status: 'skipped', reason: notDue, inputs: { newestExportRunId: newest.runId } };

    const sources: TrainingExport[] = exportRuns.map((run) => {
      const training = run.outputs?.training;
      if (!training || !Array.isArray(training.files)) throw new TrainingDataError(`Export run ${run.runId} recorded no training files`);
      return { runId: run.runId, folder: training.folder, files: training.files };
    });
    const inputs = {
      newestExportRunId: newest.runId,
      exportRunIds: sources.map((e) => e.runId),
      trainingWindow: { days: options.trainingWindowDays, from: window.from.toISOString() },
    };
    const set = await readTrainingSet(deps.store, sources, options.spec);
    // One entry per source, the newest last; there is at least the newest.
    const newestRead = set.rowsPerExport[set.rowsPerExport.length - 1]!;
    if (newestRead.rows === 0) {
      throw new TrainingDataError(`Export ${newest.runId} holds no training rows (${sources[sources.length - 1]!.folder}); nothing new to learn from`);
    }
    const { dataset } = set;
    const cannot = (error: unknown): never => {
      if (error instanceof DatasetError) {
        throw new TrainingDataError(`Cannot train on the ${dataset.labels.length} users of ${describeExports(inputs.exportRunIds)}: ${error.message}`);
      }
      throw error;
    };
    let split: ReturnType<typeof stratifiedSplit>;
    try {
      assertTrainable(dataset, options.minRows);
      split = stratifiedSplit(dataset, { testFraction: options.testFraction, seed: options.seed, minRows: options.minRows });
    } catch (error) {
      return cannot(error);
    }
    const { train, test } = split;

    const gbtParams = { ...TRAINING_GBT_PARAMS, seed: options.seed, ...options.gbt, minRows: 1 };
    const gbt = timed(() => trainGbt(train, gbtParams));
    const logistic = timed(() => trainLogistic(train, { ...options.logistic, minRows: 1 }));
    const model = evaluate(predict(gbt.result, test), test, options.threshold);
    const baseline = evaluate(predictLogistic(logistic.result, test), test, options.threshold);

    const { champion, productionIssue } = await scoreChampion(registry, test);
    if (productionIssue) deps.log.warn('The production model cannot be used; it is treated as absent', { issue: productionIssue });
    const decision = decidePromotion({ challenger: model.auc, baseline: baseline.auc, champion: champion?.auc }, policy);
    const basis = champion?.basis ?? (productionIssue && `production is treated as absent: ${productionIssue}`);
    const reason = basis ? `${decision.reason} (${basis})` : decision.reason;

    const heldOut: HeldOutMetrics = {
      auc: model.auc,
      logLoss: model.logLoss,
      threshold: options.threshold,
      precision: model.atThreshold.precision,
      recall: model.atThreshold.recall,
      rows: test.labels.length,
      positives: positiveCount(test),
    };
    const metrics = {
      version: runId,
      data: {
        exports: set.rowsPerExport,
        users: dataset.labels.length,
        positives: positiveCount(dataset),
        train: { rows: train.labels.length, positives: positiveCount(train) },
        test: { rows: test.labels.length, positives: positiveCount(test) },
        seed: options.seed,
        testFraction: options.testFraction,
        missing: set.missing,
      },
      model: { kind: gbt.result.kind, params: gbt.result.params, trainingMs: gbt.ms, ...model, featureImportances: featureImportances(gbt.result) },
      baseline: {
        kind: logistic.result.kind,
        params: logistic.result.params,
        trainingMs: logistic.ms,
        converged: logistic.result.converged,
        ...baseline,
        coefficients: originalScaleCoefficients(logistic.result),
        standardizedWeights: Object.fromEntries(logistic.result.featureNames.map((name, f) => [name, logistic.result.weights[f]])),
        missingWeights: Object.fromEntries(logistic.result.featureNames.map((name, f) => [name, logistic.result.missingWeights[f]])),
      },
      champion: champion ?? null,
      decision: {
        promoted: decision.promoted,
        reason,
        ...policy,
        challengerAuc: model.auc,
        baselineAuc: baseline.auc,
        championAuc: champion?.auc ?? null,
        productionIssue: productionIssue ?? null,
      },
    };
    const createdAt = deps.clock.now().toISOString();
    await registry.register({
      version: runId,
      createdAt,
      model: gbt.result,
      metrics,
      trainedOn: { exportRunIds: inputs.exportRunIds, folders: sources.map((e) => e.folder), rows: dataset.labels.length },
      codeVersion: options.codeVersion ?? LIBRARY_VERSION,
      heldOut,
    });
    await registry.decide(
      {
        decidedAt: createdAt,
        challenger: runId,
        challengerAuc: model.auc,
        baselineAuc: baseline.auc,
        ...(champion ? { champion: champion.version, championAuc: champion.auc } : {}),
        tolerance: policy.tolerance,
        minAuc: policy.minAuc,
        baselineMargin: policy.baselineMargin,
        promoted: decision.promoted,
        reason,
      },
      dataset.featureNames,
    );
    deps.log.info(decision.promoted ? 'Model trained and promoted' : 'Model trained; production unchanged', {
      version: runId,
      auc: model.auc,
      baselineAuc: baseline.auc,
      championAuc: champion?.auc,
      users: dataset.labels.length,
    });

    const outputs: TrainOutputs = {
      version: runId,
      promoted: decision.promoted,
      reason,
      rows: dataset.labels.length,
      positives: positiveCount(dataset),
      heldOut: { rows: heldOut.rows, positives: heldOut.positives, auc: model.auc, logLoss: model.logLoss },
      baseline: { auc: baseline.auc, logLoss: baseline.logLoss },
      champion: champion ? { version: champion.version, auc: champion.auc, rescored: champion.rescored } : null,
      ...(productionIssue ? { productionIssue } : {}),
      policy,
    };
    return { inputs, outputs };
  });
}

interface Champion {
  version: string;
  auc: number;
  rescored: boolean;
  /** How `auc` was obtained, for the decision's reason. */
  basis: string;
  recordedAuc: number;
}

/**
 * The production model's AUC on the challenger's held-out rows, so both are judged on the same data;
 * its recorded AUC when it reads features this export lacks. A production model that cannot be read or
 * used (a corrupt, truncated or missing file) is reported, not thrown: it must not block training for
 * good, and a valid challenger that passes the floor may replace it.
 */
async function scoreChampion(registry: ModelRegistry, test: Dataset): Promise<{ champion?: Champion; productionIssue?: string }> {
  let pointer: ProductionPointer | undefined;
  let champion: GbtModel;
  try {
    pointer = await registry.productionPointer();
    if (!pointer) return {};
    champion = await registry.model(pointer.version);
  } catch (error) {
    if (error instanceof ModelRegistryError) return { productionIssue: error.message };
    throw error;
  }
  const absent = champion.featureNames.filter((name) => !test.featureNames.includes(name));
  if (absent.length > 0) {
    const basis = `champion ${pointer.version} reads ${absent.join(', ')}, which this export lacks; its recorded held-out AUC is used`;
    return { champion: { version: pointer.version, auc: pointer.auc, rescored: false, basis, recordedAuc: pointer.auc } };
  }
  const auc = rocAuc(predict(champion, test), test.labels);
  return { champion: { version: pointer.version, auc, rescored: true, basis: `champion ${pointer.version} re-scored on the same held-out rows`, recordedAuc: pointer.auc } };
}
