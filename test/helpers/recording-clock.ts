import type { Clock } from '../../lib/ports/clock';

/** A clock whose sleeps return at once and are recorded, so retry delays can be asserted without waiting. */
export function recordingClock(start = Date.parse('2026-01-01T00:00:00Z')): Clock & { sleeps: number[] } {
  let now = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => new Date(now),
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}
