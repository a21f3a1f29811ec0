import type { ExplorationResult } from '../explore/explore';
import type { LedgerStage, RunLedger } from '../ledger/run-ledger';
import { ModelRegistry } from '../model/registry';
import type { ObjectStore } from '../ports/object-store';
import type { AudienceSection, ModelSection, RunReport, ScoresSection } from './run-report';

/** The parts of a version's metrics.json the report draws. */
interface StoredMetrics {
  model: { auc: number; logLoss: number; atThreshold: { threshold: number; precision: number; recall: number }; roc: Array<{ fpr: number; tpr: number }>; featureImportances: Array<{ feature: string; importance: number }> };
  baseline: { auc: number; logLoss: number; atThreshold: { threshold: number; precision: number; recall: number }; roc: Array<{ fpr: number; tpr: number }> };
}

const newestSucceeded = <S extends LedgerStage>(ledger: RunLedger, stage: S) => ledger.newest(stage, (r) => r.status === 'succeeded');

async function modelSection(store: ObjectStore, ledger: RunLedger, models: { prefix: string; name: string }): Promise<ModelSection | undefined> {
  const run = await newestSucceeded(ledger, 'train');
  if (!run) return undefined;
  const { outputs } = run;
  const registry = new ModelRegistry(store, models.prefix, models.name);
  const manifest = await registry.manifest(outputs.version);
  if (!manifest) return undefined;
  const metrics = JSON.parse((await store.get(manifest.files.metrics)).toString('utf8')) as StoredMetrics;
  const row = (label: string, m: StoredMetrics['baseline']) => ({ label, auc: m.auc, logLoss: m.logLoss, threshold: m.atThreshold.threshold, precision: m.atThreshold.precision, recall: m.atThreshold.recall });
  const curve = (points: Array<{ fpr: number; tpr: number }>) => points.map((p) => ({ x: p.fpr, y: p.tpr }));
  return {
    name: models.name,
    version: outputs.version,
    promoted: outputs.promoted,
    reason: outputs.reason,
    trainingRows: outputs.rows,
    metrics: [row('gradient-boosted trees', metrics.model), row('logistic baseline', metrics.baseline)],
    roc: { 'gradient-boosted trees': curve(metrics.model.roc), 'logistic baseline': curve(metrics.baseline.roc) },
    importances: metrics.model.featureImportances,
  };
}

/**
 * Gathers what a run report shows from where the stages left it: the newest succeeded train, score and
 * audience runs in the ledger, and the trained version's metrics in the registry.
 */
export async function collectRunReport(
  deps: { store: ObjectStore; ledger: RunLedger },
  options: { title: string; generatedAt: string; exploration: ExplorationResult; models: { prefix: string; name: string }; audienceName?: string; timings: RunReport['timings']; period?: RunReport['period'] },
): Promise<RunReport> {
  const scoreRun = await newestSucceeded(deps.ledger, 'score');
  const audienceRun = await deps.ledger.newest('audience', (r) => Boolean(r.outputs?.summary));
  const audience = audienceRun?.outputs;
  let scores: ScoresSection | undefined;
  if (scoreRun) {
    const { outputs } = scoreRun;
    scores = {
      profiles: outputs.rows,
      folder: outputs.folder,
      histogram: audience?.summary.histogram.map((b) => b.count) ?? [],
      reach: audience?.summary.reach.map((r) => ({ threshold: r.threshold, above: r.atOrAbove, below: r.below })) ?? [],
    };
  }
  const audienceSection: AudienceSection | undefined = audience
    ? {
        name: options.audienceName ?? audience.definitionId,
        low: audience.summary.band.low,
        high: audience.summary.band.high,
        expected: audience.summary.band.count,
        qualified: audience.qualifiedProfiles,
        segmentId: audience.definitionId,
        jobId: audience.segmentJobId,
      }
    : undefined;
  return {
    title: options.title,
    generatedAt: options.generatedAt,
    exploration: options.exploration,
    model: await modelSection(deps.store, deps.ledger, options.models),
    scores,
    audience: audienceSection,
    timings: options.timings,
    ...(options.period && { period: options.period }),
  };
}
