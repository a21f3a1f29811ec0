import { Cron } from 'croner';

/** When a schedule fires next, strictly after `after`; undefined when it never fires again. */
export interface FireTimes {
  next(after: Date): Date | undefined;
}

export class ScheduleExpressionError extends Error {
  constructor(expression: string, reason: string) {
    super(`Schedule expression "${expression}" cannot be read: ${reason}`);
    this.name = 'ScheduleExpressionError';
  }
}

const RATE_UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/**
 * One AWS day-of-week value (1-7 = SUN-SAT, or a name) as croner's standard numbering (0-6 = SUN-SAT).
 * Names pass through: both read them alike.
 */
function dayOfWeekValue(value: string, expression: string): string {
  if (/^[A-Za-z]{3}$/.test(value)) {
    if (!DAY_NAMES.includes(value.toUpperCase())) throw new ScheduleExpressionError(expression, `"${value}" is not a day of the week`);
    return value.toUpperCase();
  }
  const day = Number(value);
  if (!/^\d$/.test(value) || day < 1 || day > 7) throw new ScheduleExpressionError(expression, `day-of-week ${value} is outside 1-7 (SUN-SAT)`);
  return String(day - 1);
}

/** AWS's day-of-week field in croner's numbering: lists, ranges, steps, `L` (last) and `#` (nth). */
function dayOfWeekField(field: string, expression: string): string {
  if (field === '?' || field === '*') return '*';
  // A lone L is the week's last day, Saturday.
  if (field.toUpperCase() === 'L') return '6';
  return field
    .split(',')
    .map((part) => {
      const nth = /^(\w+)#([1-5])$/.exec(part);
      if (nth) return `${dayOfWeekValue(nth[1]!, expression)}#${nth[2]!}`;
      const last = /^(\w+)L$/i.exec(part);
      if (last) return `${dayOfWeekValue(last[1]!, expression)}L`;
      const [range, step] = part.split('/');
      const bounds = (range ?? '').split('-');
      const translated = range === '*' ? '*' : bounds.map((bound) => dayOfWeekValue(bound, expression)).join('-');
      return step === undefined ? translated : `${translated}/${step}`;
    })
    .join(',');
}

/**
 * AWS's `cron(min hour day-of-month month day-of-week year)` as croner's 7-part pattern
 * (`sec min hour day-of-month month day-of-week year`): the seconds are 0, `?` becomes `*`, and the
 * day-of-week values move from AWS's 1-7 (SUN-SAT) to croner's 0-6. Day-of-month's `L` and `W`, months
 * and years read the same in both.
 */
export function awsCronToCroner(fields: string, expression = `cron(${fields})`): string {
  const parts = fields.trim().split(/\s+/);
  if (parts.length !== 6) throw new ScheduleExpressionError(expression, `a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), found ${parts.length}`);
  const [minute, hour, dayOfMonth, month, dayOfWeek, year] = parts as [string, string, string, string, string, string];
  if ((dayOfMonth === '?') === (dayOfWeek === '?')) throw new ScheduleExpressionError(expression, 'exactly one of day-of-month and day-of-week must be "?"');
  return ['0', minute, hour, dayOfMonth === '?' ? '*' : dayOfMonth, month, dayOfWeekField(dayOfWeek, expression), year].join(' ');
}

/** The wall-clock time `local` (`yyyy-mm-ddThh:mm:ss`) in `timezone`, as an instant. */
function instantOf(local: string, timezone: string): Date {
  // Croner resolves a local ISO time in a zone; a one-shot pattern gives exactly that instant.
  const once = new Cron(local, { timezone, paused: true });
  const at = once.nextRun(new Date(0));
  if (!at) throw new ScheduleExpressionError(`at(${local})`, `no such time in ${timezone}`);
  return at;
}

/**
 * The fire times of an EventBridge Scheduler expression, with Scheduler's semantics:
 * - `cron(…)` read in `timezone`: when a jump forward of daylight saving time skips the time, that run is
 *   skipped; when the clock falls back, the repeated time runs once.
 * - `rate(n unit)`: every n units of elapsed time from `startsAt` (the schedule's creation or start
 *   date), daylight saving time or not, the first run at `startsAt`.
 * - `at(yyyy-mm-ddThh:mm:ss)`: once, at that wall-clock time in `timezone`.
 */
export function fireTimes(expression: string, options: { timezone?: string | undefined; startsAt: Date }): FireTimes {
  const timezone = options.timezone ?? 'UTC';
  const rate = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression);
  if (rate) {
    const periodMs = Number(rate[1]) * RATE_UNIT_MS[rate[2]!]!;
    if (periodMs <= 0) throw new ScheduleExpressionError(expression, 'the rate must be at least 1');
    const origin = options.startsAt.getTime();
    return {
      next: (after) => {
        const elapsed = after.getTime() - origin;
        const runs = elapsed < 0 ? 0 : Math.floor(elapsed / periodMs) + 1;
        return new Date(origin + runs * periodMs);
      },
    };
  }
  const at = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/.exec(expression);
  if (at) {
    const instant = instantOf(at[1]!, timezone);
    return { next: (after) => (instant.getTime() > after.getTime() ? instant : undefined) };
  }
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (!cron) throw new ScheduleExpressionError(expression, 'it must be cron(…), rate(…) or at(…)');
  let pattern: Cron;
  try {
    pattern = new Cron(awsCronToCroner(cron[1]!, expression), { timezone, mode: '7-part', paused: true });
  } catch (error) {
    if (error instanceof ScheduleExpressionError) throw error;
    throw new ScheduleExpressionError(expression, error instanceof Error ? error.message : String(error));
  }
  return {
    next: (after) => {
      let from = after;
      // Croner moves a time that daylight saving skips to the first valid one; Scheduler skips the run.
      for (let tries = 0; tries < 1000; tries++) {
        const candidate = pattern.nextRun(from);
        if (!candidate) return undefined;
        if (pattern.match(candidate)) return candidate;
        from = candidate;
      }
      return undefined;
    },
  };
}
