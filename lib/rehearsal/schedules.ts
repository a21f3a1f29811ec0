import { fireTimes } from '../simulation/schedule-expression';

/** An EventBridge Scheduler schedule as read back: its name, expression, time zone and target input. */
export interface ReadSchedule {
  name: string;
  expression: string;
  timezone: string;
  targetArn: string;
  input: string;
}

/**
 * The schedules' firings from `from` (inclusive; a `rate(…)` schedule's creation) until `to`, in the
 * order they happen, ties by name. Expressions are read as Scheduler reads them
 * (`lib/simulation/schedule-expression.ts`: cron, rate and at, in the schedule's time zone).
 */
export function firings(schedules: ReadSchedule[], from: Date, to: Date): Array<{ at: Date; schedule: ReadSchedule }> {
  const all: Array<{ at: Date; schedule: ReadSchedule }> = [];
  for (const schedule of schedules) {
    const times = fireTimes(schedule.expression, { timezone: schedule.timezone, startsAt: from });
    for (let at = times.next(new Date(from.getTime() - 1)); at !== undefined && at < to; at = times.next(at)) {
      all.push({ at, schedule });
    }
  }
  return all.sort((a, b) => a.at.getTime() - b.at.getTime() || a.schedule.name.localeCompare(b.schedule.name));
}
