import type { FaultKind } from './faults';
import { periodTotals as reportTotals, type PeriodDay } from '../report/run-report';
import type { StageInvocation } from './invariants';

/**
 * A simulated day's figures: the day line and the report's period table (PeriodDay, what the report
 * shows of them) are made from them.
 */
export interface DayFigures extends PeriodDay {
  /** Object reads (GET/HEAD) per stage run, the most of the day. */
  maxObjectReads: Record<string, number>;
  joined: number;
  subscribed: number;
  users: number;
  /** Failures of the day, `stage: reason`. */
  failures: string[];
  /** Invocations whose process was killed, or that Lambda's timeout ended, by stage. */
  killed: Record<string, number>;
  timedOut: Record<string, number>;
  /** With faults: those injected during the day, by kind. */
  faults?: Partial<Record<FaultKind, number>> | undefined;
  /** Wall time of the day, and by what took it (each stage's invocations, AEP's timed work, the day's events, the checks). */
  wallMs?: number | undefined;
  wallMsBy?: Record<string, number> | undefined;
}

const STAGE_ORDER = ['featurize', 'export', 'train', 'score', 'ingestion-check', 'audience'];

type Outputs = { rows?: number; promoted?: boolean; version?: string; modelVersion?: string; qualifiedProfiles?: number; summary?: { band?: { count?: number } } };

export function summarizeDay(day: number, dayStart: Date, runs: StageInvocation[], people: { events: number; joined: number; subscribed: number; users: number }, previous?: DayFigures): DayFigures {
  const stages: DayFigures['stages'] = {};
  const maxObjectReads: Record<string, number> = {};
  const figures: DayFigures = { day, date: dayStart.toISOString().slice(0, 10), stages, rowsScored: 0, modelsTrained: 0, modelsPromoted: 0, productionModel: previous?.productionModel, audience: undefined, maxObjectReads, ...people, failures: [], killed: {}, timedOut: {} };
  for (const run of runs) {
    const tally = (stages[run.stage] ??= { runs: 0, succeeded: 0, skipped: 0, failed: 0 });
    tally.runs++;
    if (run.outcome === 'succeeded') tally.succeeded++;
    else if (run.outcome === 'skipped') tally.skipped++;
    else {
      tally.failed++;
      figures.failures.push(`${run.stage}: ${run.fault ? `${run.fault}: ` : ''}${run.reason ?? run.outcome}`);
      if (run.fault === 'killed') figures.killed[run.stage] = (figures.killed[run.stage] ?? 0) + 1;
      if (run.fault === 'timed out') figures.timedOut[run.stage] = (figures.timedOut[run.stage] ?? 0) + 1;
    }
    maxObjectReads[run.stage] = Math.max(maxObjectReads[run.stage] ?? 0, run.objectReads);
    if (run.outcome !== 'succeeded') continue;
    const outputs = (run.outputs ?? {}) as Outputs;
    if (run.stage === 'score') {
      figures.rowsScored += outputs.rows ?? 0;
      figures.productionModel = outputs.modelVersion ?? figures.productionModel;
    }
    if (run.stage === 'train') {
      figures.modelsTrained++;
      if (outputs.promoted) {
        figures.modelsPromoted++;
        figures.productionModel = outputs.version;
      }
    }
    if (run.stage === 'audience') figures.audience = outputs.qualifiedProfiles ?? outputs.summary?.band?.count ?? figures.audience;
  }
  return figures;
}

const count = (n: number) => n.toLocaleString('en-US');

/** A stage's runs of the day: `ok`, `skipped`, or each outcome counted when there were several. */
function outcomeText(tally: DayFigures['stages'][string], killed = 0, timedOut = 0): string {
  const lost = [killed > 0 && `${killed} killed`, timedOut > 0 && `${timedOut} timed out`].filter(Boolean).join(', ');
  const failed = tally.failed > 0 ? `${tally.failed} FAILED${lost ? ` (${lost})` : ''}` : '';
  if (tally.runs === 1) return failed ? `FAILED${lost ? ` (${lost})` : ''}` : tally.succeeded > 0 ? 'ok' : 'skipped';
  return [tally.succeeded > 0 && `${tally.succeeded} ok`, tally.skipped > 0 && `${tally.skipped} skipped`, failed].filter(Boolean).join(', ');
}

/**
 * `day 12  2026-01-13  featurize ok · export ok · train – · score ok 20,118 rows · ingestion-check 3 ok, 21 skipped · audience 1,042  [model … production]`,
 * then the day's faults when there were any.
 */
export function formatDayLine(figures: DayFigures): string {
  const parts = STAGE_ORDER.map((stage) => {
    const tally = figures.stages[stage];
    if (!tally) return `${stage} –`;
    const outcome = outcomeText(tally, figures.killed[stage], figures.timedOut[stage]);
    if (stage === 'score' && tally.succeeded > 0) return `${stage} ${outcome} ${count(figures.rowsScored)} rows`;
    if (stage === 'train' && figures.modelsPromoted > 0) return `${stage} ${outcome} (promoted)`;
    if (stage === 'audience' && figures.audience !== undefined && tally.failed === 0) return `${stage} ${count(figures.audience)}`;
    return `${stage} ${outcome}`;
  });
  const model = figures.productionModel ? `  [model ${figures.productionModel} production]` : '  [no production model]';
  const faults = Object.entries(figures.faults ?? {});
  const injected = faults.length > 0 ? `  faults: ${faults.map(([kind, n]) => `${kind} ${n}`).join(', ')}` : '';
  return `day ${String(figures.day).padStart(2)}  ${figures.date}  ${parts.join(' · ')}${model}${injected}`;
}

/** The run's totals: the report's (stage runs by outcome, faults by kind, models, rows scored), and invocations killed or timed out. */
export function periodTotals(days: DayFigures[]) {
  const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
  return {
    ...reportTotals(days),
    killed: days.reduce((n, day) => n + sum(day.killed), 0),
    timedOut: days.reduce((n, day) => n + sum(day.timedOut), 0),
  };
}

/** The summary printed after the days: stage runs by outcome, models, and with faults, faults by kind. */
export function formatPeriodSummary(days: DayFigures[], faultsByKind?: Record<FaultKind, number>): string[] {
  const totals = periodTotals(days);
  const lines = [
    `Stage runs: ${STAGE_ORDER.filter((stage) => totals.stages[stage]).map((stage) => `${stage} ${outcomeText(totals.stages[stage]!)}`).join(' · ')}`,
    `Models: ${totals.modelsTrained} trained, ${totals.modelsPromoted} promoted; ${count(totals.rowsScored)} rows scored`,
  ];
  if (faultsByKind) {
    const total = Object.values(faultsByKind).reduce((a, b) => a + b, 0);
    lines.push(`Faults injected: ${total} (${Object.entries(faultsByKind).map(([kind, n]) => `${kind} ${n}`).join(', ')}); invocations killed ${totals.killed}, timed out ${totals.timedOut}`);
  }
  return lines;
}
