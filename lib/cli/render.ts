import Table from 'cli-table3';
import type { ExplorationResult } from '../explore/explore';
import type { ExportOutputs } from '../stages/export';

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
