import type { Clock } from '../../ports/clock';
import type { TimedWork } from './timed-work';

/** How often work with nothing due asks again, since a later request can give it something to do. */
const IDLE_RECHECK_MS = 60_000;

/**
 * Runs timed work on real timers, for a platform no simulator drives: each item runs when the clock
 * reaches its next time, one run at a time. Returns what stops it; a run under way finishes.
 */
export function runOnTimers(work: TimedWork[], clock: Clock, onError: (work: TimedWork, error: unknown) => void): () => void {
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  const schedule = (item: TimedWork) => {
    if (stopped) return;
    const now = clock.now();
    const next = item.nextAt(now);
    const wait = next === undefined ? IDLE_RECHECK_MS : Math.min(Math.max(0, next.getTime() - now.getTime()), IDLE_RECHECK_MS);
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (stopped) return;
      if (next === undefined || clock.now() < next) return schedule(item);
      item
        .run(next)
        .catch((error: unknown) => onError(item, error))
        .finally(() => schedule(item));
    }, wait);
    timer.unref();
    timers.add(timer);
  };
  work.forEach(schedule);
  return () => {
    stopped = true;
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
  };
}
