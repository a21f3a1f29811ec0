import Table from 'cli-table3';
import type { ExplorationResult } from '../explore/explore';
import type { AudienceOutputs } from '../stages/audience';
import type { ExportOutputs } from '../stages/export';
import type { IngestionCheckOutputs } from '../stages/ingestion-check';
import type { ScoreOutputs } from '../stages/score';
import type { TrainOutputs } from '../stages/train';

/** Plain borders and headings: the tables also go to logs and files, where colour codes are noise. */
const style = { head: [] as string[], border: [] as string[] };

const int = (n: number) => n.toLocaleString('en-US');
const pct = (n: number | null) => (n === null ? '-' : `${(n * 100).toFixed(1)}%`);
const corr = (n: number | null) => (n === null ? 'n/a' : n.toFixed(3));

/** The week-1 exploration as readable tables for a terminal. */
export function renderExploration(result: ExplorationResult): string {
  const overview = new Table({ style, head: ['Rows', 'Users', 'Events / user', 'Subscribers', 'First event', 'Last event'] });
  overview.push([
    int(result.rows),
    int(result.users),
    result.eventsPerUser.toFixed(2),
    `${int(result.subscribers)} (${pct(result.subscriberShare)})`,
    result.firstEvent ?? '-',
    result.lastEvent ?? '-',
  ]);

  const funnel = new Table({ style, head: ['Email funnel', 'Users', 'Of previous step'] });
  for (const step of result.funnel) {
    funnel.push([step.step, int(step.users), pct(step.shareOfPrevious)]);
  }

  const types = new Table({ style, head: ['Event type', 'Events', 'Users', 'Corr. with subscribing'] });
  const correlation = new Map(result.correlations.map((c) => [c.eventType, c.correlation]));
  for (const t of result.eventTypes) {
    types.push([t.eventType, int(t.events), int(t.users), correlation.has(t.eventType) ? corr(correlation.get(t.eventType) ?? null) : '(label)']);
  }

  return [`Events table ${result.table}`, overview.toString(), funnel.toString(), types.toString()].join('\n');
}

/** The export stage's files: where the features landed and how many rows each holds. */
export function renderExport(exported: ExportOutputs): string {
  const table = new Table({ style, head: ['Feature set', 'Dataset', 'Rows', 'Files'] });
  for (const [name, set] of [['training', exported.training], ['scoring', exported.scoring]] as const) {
    table.push([name, set.datasetId, int(set.rows), set.files.join('\n')]);
  }
  return `Exported features (dataset export dataflow ${exported.flowId})\n${table.toString()}`;
}

/** The train stage's result: the model beside its logistic baseline on the same held-out rows. */
export function renderTraining(trained: TrainOutputs, modelName: string): string {
  const table = new Table({ style, head: ['Held-out (same rows)', 'AUC', 'Log loss'] });
  table.push(['gradient-boosted trees', trained.heldOut.auc.toFixed(4), trained.heldOut.logLoss.toFixed(4)]);
  table.push(['logistic baseline', trained.baseline.auc.toFixed(4), trained.baseline.logLoss.toFixed(4)]);
  const decision = trained.promoted ? 'promoted to production' : 'not promoted; production unchanged';
  return (
    `Model ${modelName} version ${trained.version}: trained on ${int(trained.rows)} users (${int(trained.positives)} subscribers), ` +
    `held out ${int(trained.heldOut.rows)}; ${decision} (${trained.reason})\n${table.toString()}`
  );
}

/** Where the scores went, that AEP ingested them, and the audience built on them. */
export function renderScoresAndAudience(scored: ScoreOutputs, ingested: IngestionCheckOutputs, audience: AudienceOutputs): string {
  const confirmed = ingested.confirmed.find((c) => c.folder === scored.folder);
  const { band } = audience.summary;
  const lines = [
    `Scored ${int(scored.rows)} profiles with model version ${scored.modelVersion}: ${scored.files.length} CSV part(s) and ${scored.manifest}`,
    confirmed
      ? `Ingested by AEP's dataflow into dataset ${scored.scoresDatasetId}: ${int(confirmed.rows)} rows (flow runs ${confirmed.flowRunIds.join(', ')})`
      : `Not yet confirmed ingested into dataset ${scored.scoresDatasetId}`,
    `Audience [${band.low}, ${band.high}]: ${int(band.count)} profiles by the scores, ` +
      (audience.qualifiedProfiles === undefined ? 'segment job not finished' : `${int(audience.qualifiedProfiles)} qualified by segment job ${audience.segmentJobId}`),
  ];
  const reach = new Table({ style, head: ['Propensity at least', ...[0.2, 0.4, 0.5, 0.6, 0.8].map(String)] });
  reach.push(['profiles', ...[0.2, 0.4, 0.5, 0.6, 0.8].map((t) => int(audience.summary.reach.find((r) => Math.abs(r.threshold - t) < 1e-9)?.atOrAbove ?? 0))]);
  return `${lines.join('\n')}\n${reach.toString()}`;
}
