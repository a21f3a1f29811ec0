import type { ExplorationResult } from '../explore/explore';

/** A point of a curve drawn in the report, both axes in [0, 1] unless the chart says otherwise. */
export interface CurvePoint {
  x: number;
  y: number;
}

export interface ModelSection {
  name: string;
  version: string;
  promoted: boolean;
  reason: string;
  trainingRows: number;
  /** Held-out metrics of the model and of the logistic baseline, side by side. */
  metrics: Array<{ label: string; auc: number; logLoss: number; precision: number; recall: number; threshold: number }>;
  /** ROC curves (false positive rate, true positive rate), one per metrics label. */
  roc: Record<string, CurvePoint[]>;
  importances: Array<{ feature: string; importance: number }>;
}

export interface ScoresSection {
  profiles: number;
  folder: string;
  /** Profiles per score bucket, bucket i covering [i/n, (i+1)/n). */
  histogram: number[];
  /** Profiles scoring at or above each threshold. */
  reach: Array<{ threshold: number; above: number; below: number }>;
}

export interface AudienceSection {
  name: string;
  low: number;
  high: number;
  /** Profiles in the band by the scores written. */
  expected: number;
  /** Profiles the segment job qualified; undefined until a job ran. */
  qualified?: number | undefined;
  segmentId?: string | undefined;
  jobId?: string | undefined;
}

export interface RunReport {
  title: string;
  generatedAt: string;
  exploration: ExplorationResult;
  model?: ModelSection | undefined;
  scores?: ScoresSection | undefined;
  audience?: AudienceSection | undefined;
  /** Stage name and how long it took, in order. */
  timings: Array<{ stage: string; ms: number }>;
  /** With `--days`: each simulated day's stage outcomes and figures. */
  period?: PeriodDay[] | undefined;
}

/** One simulated day as the report shows it. */
export interface PeriodDay {
  day: number;
  /** The day's date, `yyyy-mm-dd` (UTC). */
  date: string;
  /** Per stage: its runs by outcome. */
  stages: Record<string, { runs: number; succeeded: number; skipped: number; failed: number }>;
  rowsScored: number;
  modelsTrained: number;
  modelsPromoted: number;
  /** The production model after the day, as the last train or score run named it. */
  productionModel?: string | undefined;
  /** The audience's size as the day's last audience run counted it. */
  audience?: number | undefined;
  /** The day's new events. */
  events: number;
  /** With faults: those injected during the day, by kind. */
  faults?: Partial<Record<string, number>> | undefined;
}

const PERIOD_STAGES = ['featurize', 'export', 'train', 'score', 'ingestion-check', 'audience'];

/** A period's totals: stage runs by outcome, faults by kind, models trained and promoted, rows scored. */
export function periodTotals(days: PeriodDay[]) {
  const stages: PeriodDay['stages'] = {};
  const faults: Record<string, number> = {};
  const totals = { stages, faults, modelsTrained: 0, modelsPromoted: 0, rowsScored: 0 };
  for (const day of days) {
    for (const [stage, tally] of Object.entries(day.stages)) {
      const sum = (stages[stage] ??= { runs: 0, succeeded: 0, skipped: 0, failed: 0 });
      sum.runs += tally.runs;
      sum.succeeded += tally.succeeded;
      sum.skipped += tally.skipped;
      sum.failed += tally.failed;
    }
    for (const [kind, n] of Object.entries(day.faults ?? {})) faults[kind] = (faults[kind] ?? 0) + (n ?? 0);
    totals.modelsTrained += day.modelsTrained;
    totals.modelsPromoted += day.modelsPromoted;
    totals.rowsScored += day.rowsScored;
  }
  return totals;
}

function periodSection(days: PeriodDay[]): string {
  const outcome = (tally: PeriodDay['stages'][string] | undefined) => {
    if (!tally) return '–';
    const parts = [tally.succeeded && `${tally.succeeded} ok`, tally.skipped && `${tally.skipped} skipped`, tally.failed && `${tally.failed} failed`].filter(Boolean);
    return parts.join(', ');
  };
  const { stages: runs, faults, rowsScored, modelsTrained, modelsPromoted } = periodTotals(days);
  const withFaults = days.some((d) => d.faults !== undefined);
  const faultText = (f: PeriodDay['faults']) => Object.entries(f ?? {}).map(([kind, n]) => `${kind} ${n}`).join(', ') || '–';
  return [
    `<h2>The period: ${days.length} simulated days</h2>`,
    `<p>${int(rowsScored)} rows scored; ${modelsTrained} models trained, ${modelsPromoted} promoted.</p>`,
    `<p>Stage runs: ${escape(PERIOD_STAGES.filter((stage) => runs[stage]).map((stage) => `${stage} ${outcome(runs[stage])}`).join('; '))}.</p>`,
    withFaults ? `<p>Faults injected: ${escape(faultText(faults))}.</p>` : '',
    table(
      ['Day', 'Date', ...PERIOD_STAGES, 'Rows scored', 'Trained / promoted', 'Audience', 'Production model', 'New events', ...(withFaults ? ['Faults'] : [])],
      days.map((d) => [d.day, d.date, ...PERIOD_STAGES.map((stage) => outcome(d.stages[stage])), int(d.rowsScored), `${d.modelsTrained} / ${d.modelsPromoted}`, d.audience === undefined ? '–' : int(d.audience), d.productionModel ?? '–', int(d.events), ...(withFaults ? [faultText(d.faults)] : [])]),
    ),
  ].join('\n');
}

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
const int = (n: number) => n.toLocaleString('en-US');
const pct = (n: number | null) => (n === null ? '-' : `${(n * 100).toFixed(1)}%`);
const fixed = (n: number, digits = 4) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

function table(head: string[], rows: Array<Array<string | number>>): string {
  const th = head.map((h) => `<th>${escape(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${escape(String(c))}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const WIDTH = 420;
const HEIGHT = 300;
const PAD = 40;
/** Room on the left for the y tick labels and, beside them, the axis title. */
const LEFT = 68;
const COLOURS = ['#1f6feb', '#d97706', '#059669', '#9333ea'];

/** Axes and labels of a chart whose x and y run over [0, xMax] and [0, yMax]. */
function frame(xLabel: string, yLabel: string, xMax: number, yMax: number, yFormat: (v: number) => string): string {
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const x = (v: number) => LEFT + (v / xMax) * (WIDTH - LEFT - PAD);
  const y = (v: number) => HEIGHT - PAD - (v / yMax) * (HEIGHT - 2 * PAD);
  const grid = ticks
    .map(
      (t) =>
        `<line x1="${x(t * xMax)}" y1="${y(0)}" x2="${x(t * xMax)}" y2="${y(yMax)}" class="grid"/>` +
        `<text x="${x(t * xMax)}" y="${HEIGHT - PAD + 16}" text-anchor="middle">${t * xMax}</text>` +
        `<line x1="${x(0)}" y1="${y(t * yMax)}" x2="${x(xMax)}" y2="${y(t * yMax)}" class="grid"/>` +
        `<text x="${LEFT - 6}" y="${y(t * yMax) + 4}" text-anchor="end">${escape(yFormat(t * yMax))}</text>`,
    )
    .join('');
  return (
    grid +
    `<text x="${(LEFT + WIDTH - PAD) / 2}" y="${HEIGHT - 6}" text-anchor="middle">${escape(xLabel)}</text>` +
    `<text x="12" y="${HEIGHT / 2}" text-anchor="middle" transform="rotate(-90 12 ${HEIGHT / 2})">${escape(yLabel)}</text>`
  );
}

function lineChart(title: string, series: Record<string, CurvePoint[]>, options: { xLabel: string; yLabel: string; yMax?: number; diagonal?: boolean; yFormat?: (v: number) => string }): string {
  const yMax = options.yMax ?? 1;
  const x = (v: number) => LEFT + v * (WIDTH - LEFT - PAD);
  const y = (v: number) => HEIGHT - PAD - (v / yMax) * (HEIGHT - 2 * PAD);
  const entries = Object.entries(series);
  // Curves of this report rise to the top left, so the legend goes to the bottom right; one curve needs none.
  const legendTop = HEIGHT - PAD - 10 - 14 * (entries.length - 1);
  const lines = entries
    .map(([label, points], i) => {
      const d = points.map((p, k) => `${k === 0 ? 'M' : 'L'}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(' ');
      const legend = entries.length > 1 ? `<text x="${WIDTH - PAD - 4}" y="${legendTop + 14 * i}" text-anchor="end" class="legend" style="fill:${COLOURS[i % COLOURS.length]}">${escape(label)}</text>` : '';
      return `<path d="${d}" fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="2"/>${legend}`;
    })
    .join('');
  const diagonal = options.diagonal ? `<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(yMax)}" class="chance"/>` : '';
  return `<figure><svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escape(title)}">${frame(options.xLabel, options.yLabel, 1, yMax, options.yFormat ?? ((v) => String(v)))}${diagonal}${lines}</svg><figcaption>${escape(title)}</figcaption></figure>`;
}

function barChart(title: string, counts: number[], xLabel: string, yLabel: string): string {
  const max = Math.max(1, ...counts);
  const slot = (WIDTH - LEFT - PAD) / counts.length;
  const bars = counts
    .map((count, i) => {
      const h = (count / max) * (HEIGHT - 2 * PAD);
      return `<rect x="${(LEFT + i * slot + 1).toFixed(1)}" y="${(HEIGHT - PAD - h).toFixed(1)}" width="${(slot - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLOURS[0]}"><title>${int(count)}</title></rect>`;
    })
    .join('');
  return `<figure><svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escape(title)}">${frame(xLabel, yLabel, 1, max, (v) => int(Math.round(v)))}${bars}</svg><figcaption>${escape(title)}</figcaption></figure>`;
}

function explorationSection(e: ExplorationResult): string {
  const correlation = new Map(e.correlations.map((c) => [c.eventType, c.correlation]));
  return [
    '<h2>Exploration (week 1)</h2>',
    table(['Rows', 'Users', 'Events per user', 'Subscribers', 'First event', 'Last event'], [[int(e.rows), int(e.users), e.eventsPerUser.toFixed(2), `${int(e.subscribers)} (${pct(e.subscriberShare)})`, e.firstEvent ?? '-', e.lastEvent ?? '-']]),
    table(['Email funnel', 'Users', 'Of previous step'], e.funnel.map((s) => [s.step, int(s.users), pct(s.shareOfPrevious)])),
    table(
      ['Event type', 'Events', 'Users', 'Correlation with subscribing'],
      e.eventTypes.map((t) => [t.eventType, int(t.events), int(t.users), correlation.has(t.eventType) ? fixed(correlation.get(t.eventType) ?? NaN, 3) : '(label)']),
    ),
  ].join('\n');
}

function modelSection(m: ModelSection): string {
  return [
    '<h2>Model (weeks 3 and 4)</h2>',
    `<p>Model <code>${escape(m.name)}</code> version <code>${escape(m.version)}</code>, trained on ${int(m.trainingRows)} rows: ${m.promoted ? '<strong>promoted to production</strong>' : '<strong>not promoted</strong>'}. ${escape(m.reason)}</p>`,
    table(
      ['Held-out', 'AUC', 'Log loss', 'Threshold', 'Precision', 'Recall'],
      m.metrics.map((r) => [r.label, fixed(r.auc), fixed(r.logLoss), r.threshold, fixed(r.precision, 3), fixed(r.recall, 3)]),
    ),
    `<div class="charts">${lineChart('ROC curve on held-out rows', m.roc, { xLabel: 'false positive rate', yLabel: 'true positive rate', diagonal: true })}</div>`,
    table(['Feature', 'Importance'], m.importances.map((f) => [f.feature, fixed(f.importance, 3)])),
  ].join('\n');
}

function scoresSection(s: ScoresSection): string {
  const n = s.histogram.length;
  const reachCurve = s.reach.map((r) => ({ x: r.threshold, y: s.profiles === 0 ? 0 : r.above / s.profiles }));
  return [
    '<h2>Scores (week 5)</h2>',
    `<p>${int(s.profiles)} profiles scored, written to <code>${escape(s.folder)}</code>.</p>`,
    `<div class="charts">${barChart(`Score histogram (${n} buckets)`, s.histogram, 'propensity', 'profiles')}${lineChart('Reach: share of profiles at or above a threshold', { reach: reachCurve }, { xLabel: 'threshold', yLabel: 'share of profiles', yFormat: (v) => `${Math.round(v * 100)}%` })}</div>`,
    table(['Threshold', 'At or above', 'Below'], s.reach.map((r) => [r.threshold.toFixed(2), int(r.above), int(r.below)])),
  ].join('\n');
}

function audienceSection(a: AudienceSection): string {
  const qualified = a.qualified === undefined ? 'not evaluated yet' : int(a.qualified);
  return [
    '<h2>Audience</h2>',
    table(['Audience', 'Band', 'Profiles in band (scores)', 'Qualified by the segment job', 'Segment', 'Job'], [[a.name, `${a.low} to ${a.high}`, int(a.expected), qualified, a.segmentId ?? '-', a.jobId ?? '-']]),
  ].join('\n');
}

/** The run report: one self-contained HTML file (inline CSS and SVG, no script, nothing fetched). */
export function renderRunReport(report: RunReport): string {
  const sections = [
    report.period ? periodSection(report.period) : '',
    explorationSection(report.exploration),
    report.model ? modelSection(report.model) : '',
    report.scores ? scoresSection(report.scores) : '',
    report.audience ? audienceSection(report.audience) : '',
    '<h2>Timings</h2>',
    table(['Stage', 'Seconds'], report.timings.map((t) => [t.stage, (t.ms / 1000).toFixed(1)])),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(report.title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#1f2328;padding:0 1rem}
table{border-collapse:collapse;margin:.75rem 0}td,th{border:1px solid #d0d7de;padding:.25rem .6rem;text-align:right}
td:first-child,th:first-child{text-align:left}th{background:#f6f8fa}
.charts{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}svg{width:420px;height:300px}
svg text{font-size:11px;fill:#57606a}svg text.legend{font-weight:600}.grid{stroke:#eaeef2}.chance{stroke:#afb8c1;stroke-dasharray:4 4}
</style></head><body>
<h1>${escape(report.title)}</h1><p>Generated ${escape(report.generatedAt)}</p>
${sections.filter(Boolean).join('\n')}
</body></html>
`;
}
