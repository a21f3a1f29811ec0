import type { SynthesizedLifecycleRule } from '../cli/local-deployment';

/** One stage invocation of a simulated day, as the simulator saw it. */
export interface StageInvocation {
  stage: string;
  at: Date;
  /** `succeeded`, `skipped` or `failed` from the ledger record; `error` when the function itself failed. */
  outcome: 'succeeded' | 'skipped' | 'failed' | 'error';
  /** The run's reason or the function's error. */
  reason?: string | undefined;
  /** Object reads (GET and HEAD) the bucket served during the invocation. */
  objectReads: number;
  outputs?: unknown;
}

/** What the checks of a day may look at. */
export interface DayContext {
  day: number;
  /** The end of the day: the instant the checks run at. */
  now: Date;
  /** Every invocation so far, by day (index 0 is day 1). */
  invocations: StageInvocation[][];
  /** The bucket's objects: key and last-modified time. */
  listObjects: () => Promise<Array<{ key: string; lastModified: Date }>>;
  lifecycleRules: SynthesizedLifecycleRule[];
}

/** A named check run after every simulated day: what it finds wrong, empty when all holds. */
export interface Invariant {
  name: string;
  check(context: DayContext): Promise<string[]> | string[];
}

export class InvariantViolation extends Error {
  constructor(
    readonly day: number,
    readonly invariant: string,
    readonly violations: string[],
  ) {
    super(`Day ${day}: ${invariant}: ${violations.join('; ')}`);
    this.name = 'InvariantViolation';
  }
}

/** Runs every check of the day; the first that finds something fails the run, naming the day and the invariant. */
export async function checkDay(invariants: Invariant[], context: DayContext): Promise<void> {
  for (const invariant of invariants) {
    const violations = await invariant.check(context);
    if (violations.length > 0) throw new InvariantViolation(context.day, invariant.name, violations);
  }
}

const DAY_MS = 86_400_000;

/** The prefix and expiry days of each enabled rule that expires objects. */
export function expiryWindows(rules: SynthesizedLifecycleRule[]): Array<{ rule: string; prefix: string; days: number }> {
  return rules.flatMap((rule) => {
    const days = rule.expiration?.[0]?.days;
    if (rule.status !== 'Enabled' || days === undefined) return [];
    const filter = rule.filter?.[0];
    const prefix = filter?.prefix ?? filter?.and?.[0]?.prefix ?? '';
    return [{ rule: rule.id, prefix, days }];
  });
}

/**
 * S3 expires an object at the first midnight UTC at least `days` days after its creation, and acts on it
 * within a day or so after; an object older than that plus a day of grace has outlived its window.
 */
export const lifecycleWindowHeld: Invariant = {
  name: 'no staged object outlives its lifecycle window',
  async check({ now, listObjects, lifecycleRules }) {
    const windows = expiryWindows(lifecycleRules);
    if (windows.length === 0) return [];
    const objects = await listObjects();
    const out: string[] = [];
    for (const object of objects) {
      for (const window of windows) {
        if (!object.key.startsWith(window.prefix) || object.key === window.prefix) continue;
        const created = object.lastModified.getTime();
        const expiresBy = Math.ceil((created + window.days * DAY_MS) / DAY_MS) * DAY_MS + DAY_MS;
        if (now.getTime() > expiresBy) out.push(`${object.key} (written ${object.lastModified.toISOString()}) outlived rule ${window.rule} (${window.days} days)`);
      }
    }
    return out.slice(0, 5).concat(out.length > 5 ? [`and ${out.length - 5} more`] : []);
  },
};

const MISSING_INPUT = /NoSuchKey|does not exist|not found|missing/i;

/** A train run that failed on an object it could not find: retention deleted an input it still reads. */
export const trainInputsPresent: Invariant = {
  name: 'no train run failed because an input object was missing',
  check({ invocations, day }) {
    return (invocations[day - 1] ?? [])
      .filter((run) => run.stage === 'train' && (run.outcome === 'failed' || run.outcome === 'error') && MISSING_INPUT.test(run.reason ?? ''))
      .map((run) => `the train run at ${run.at.toISOString()} failed: ${run.reason ?? ''}`);
  },
};

/** Successful runs of a stage the bounded-reads check compares. */
export const READ_GROWTH_RUNS = 5;

/**
 * The objects a stage run reads must not grow with the number of past runs: a stage whose last
 * READ_GROWTH_RUNS successful runs each read more objects than the one before reads in proportion to its
 * history (a bounded design reads the same count once its window is full).
 */
export const readsBounded: Invariant = {
  name: 'the objects a stage run reads do not grow with the number of past runs',
  check({ invocations, day }) {
    const today = invocations[day - 1] ?? [];
    const out: string[] = [];
    for (const stage of new Set(today.map((run) => run.stage))) {
      const reads = invocations
        .flat()
        .filter((run) => run.stage === stage && run.outcome === 'succeeded')
        .slice(-READ_GROWTH_RUNS)
        .map((run) => run.objectReads);
      if (reads.length < READ_GROWTH_RUNS) continue;
      if (reads.every((count, i) => i === 0 || count > reads[i - 1]!)) out.push(`${stage} read ${reads.join(', ')} objects in its last ${reads.length} runs`);
    }
    return out;
  },
};

export const DEFAULT_INVARIANTS: Invariant[] = [lifecycleWindowHeld, trainInputsPresent, readsBounded];
