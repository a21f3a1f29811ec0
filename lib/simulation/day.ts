import type { StageInvocation } from './invariants';

/** A simulated day's figures: the day line and the report's period table are made from them. */
export interface DayFigures {
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
  /** Object reads (GET/HEAD) per stage run, the most of the day. */
  maxObjectReads: Record<string, number>;
  /** The day's new events and people. */
  events: number;
  joined: number;
  subscribed: number;
  users: number;
  /** Failures of the day, `stage: reason`. */
  failures: string[];
}

const STAGE_ORDER = ['featurize', 'export', 'train', 'score', 'ingestion-check', 'audience'];

type Outputs = { rows?: number; promoted?: boolean; version?: string; modelVersion?: string; qualifiedProfiles?: number; summary?: { band?: { count?: number } } };

export function summarizeDay(day: number, dayStart: Date, runs: StageInvocation[], people: { events: number; joined: number; subscribed: number; users: number }, previous?: DayFigures): DayFigures {
  const stages: DayFigures['stages'] = {};
  const maxObjectReads: Record<string, number> = {};
  const figures: DayFigures = { day, date: dayStart.toISOString().slice(0, 10), stages, rowsScored: 0, modelsTrained: 0, modelsPromoted: 0, productionModel: previous?.productionModel, audience: undefined, maxObjectReads, ...people, failures: [] };
  for (const run of runs) {
    const tally = (stages[run.stage] ??= { runs: 0, succeeded: 0, skipped: 0, failed: 0 });
    tally.runs++;
    if (run.outcome === 'succeeded') tally.succeeded++;
    else if (run.outcome === 'skipped') tally.skipped++;
    else {
      tally.failed++;
      figures.failures.push(`${run.stage}: ${run.reason ?? run.outcome}`);
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

/** `day 12  2026-01-13  featurize ok · export ok · train – · score ok 20,118 rows · ingestion-check 3/24 ok · audience 1,042  [model … production]` */
export function formatDayLine(figures: DayFigures): string {
  const parts = STAGE_ORDER.map((stage) => {
    const tally = figures.stages[stage];
    if (!tally) return `${stage} –`;
    if (stage === 'ingestion-check') return `${stage} ${tally.succeeded}/${tally.runs} ok`;
    const outcome = tally.failed > 0 ? `FAILED${tally.runs > 1 ? ` ${tally.failed}/${tally.runs}` : ''}` : tally.succeeded > 0 ? 'ok' : 'skipped';
    if (stage === 'score' && tally.succeeded > 0) return `${stage} ${outcome} ${count(figures.rowsScored)} rows`;
    if (stage === 'train' && figures.modelsPromoted > 0) return `${stage} ${outcome} (promoted)`;
    if (stage === 'audience' && figures.audience !== undefined) return `${stage} ${count(figures.audience)}`;
    return `${stage} ${outcome}`;
  });
  const model = figures.productionModel ? `  [model ${figures.productionModel} production]` : '  [no production model]';
  return `day ${String(figures.day).padStart(2)}  ${figures.date}  ${parts.join(' · ')}${model}`;
}
