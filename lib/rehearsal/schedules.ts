/** An EventBridge Scheduler schedule as read back: its name, expression, time zone and target input. */
export interface ReadSchedule {
  name: string;
  expression: string;
  timezone: string;
  targetArn: string;
  input: string;
}

const DAYS: Record<string, number> = { SUN: 0, MON: 1, TUE: 2, WED: 3, THU: 4, FRI: 5, SAT: 6 };

function matches(field: string, value: number, names: Record<string, number> = {}): boolean {
  if (field === '*' || field === '?') return true;
  return field.split(',').some((part) => {
    const [range, step] = part.split('/');
    const [from, to] = (range ?? '').split('-').map((v) => names[v.toUpperCase()] ?? Number(v));
    if (from === undefined || Number.isNaN(from)) return range === '*' && value % Number(step ?? 1) === 0;
    const last = to ?? (step ? Infinity : from);
    return value >= from && value <= last && (value - from) % Number(step ?? 1) === 0;
  });
}

/**
 * The first minute at or after `after` (UTC) at which a `cron(…)` expression fires. Handles the fields
 * the pipeline's schedules use (numbers, lists, ranges, steps, `*`, `?`, day names) in UTC; anything
 * else is an error naming the expression.
 */
export function nextFiring(expression: string, after: Date): Date {
  const cron = /^cron\((.+)\)$/.exec(expression.trim())?.[1]?.split(/\s+/);
  if (!cron || cron.length !== 6) throw new Error(`Cannot order schedule "${expression}": only cron(minutes hours day-of-month month day-of-week year) is read`);
  const [minutes, hours, dayOfMonth, month, dayOfWeek] = cron as [string, string, string, string, string];
  const t = new Date(Math.ceil(after.getTime() / 60_000) * 60_000);
  for (let i = 0; i < 366 * 24 * 60; i += 1, t.setTime(t.getTime() + 60_000)) {
    if (
      matches(minutes, t.getUTCMinutes()) &&
      matches(hours, t.getUTCHours()) &&
      matches(dayOfMonth, t.getUTCDate()) &&
      matches(month, t.getUTCMonth() + 1) &&
      matches(dayOfWeek, t.getUTCDay(), DAYS)
    ) {
      return new Date(t);
    }
  }
  throw new Error(`Schedule "${expression}" never fires within a year`);
}

/** The schedules' firings between `from` and `to`, in the order they happen (ties by name). */
export function firings(schedules: ReadSchedule[], from: Date, to: Date): Array<{ at: Date; schedule: ReadSchedule }> {
  const all: Array<{ at: Date; schedule: ReadSchedule }> = [];
  for (const schedule of schedules) {
    for (let at = nextFiring(schedule.expression, from); at < to; at = nextFiring(schedule.expression, new Date(at.getTime() + 60_000))) {
      all.push({ at, schedule });
    }
  }
  return all.sort((a, b) => a.at.getTime() - b.at.getTime() || a.schedule.name.localeCompare(b.schedule.name));
}
