import type { Clock } from '../../ports/clock';

/**
 * The one clock of a simulated run. Between jumps time flows at the real rate, so a stage's own polling
 * and the platform's short delays behave as in a plain run; the simulator jumps it forward to the next
 * thing due (a schedule firing, an ingestion flow's next look, a lifecycle sweep), so months pass in
 * minutes. It never goes back.
 */
export class SimulatedClock implements Clock {
  private base: number;
  private realBase: number;

  constructor(
    start: Date,
    private readonly realMs: () => number = () => performance.now(),
  ) {
    this.base = start.getTime();
    this.realBase = this.realMs();
  }

  now(): Date {
    return new Date(this.base + (this.realMs() - this.realBase));
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** Jumps to `at`; a time already passed leaves the clock where it is. */
  advanceTo(at: Date): void {
    const target = at.getTime();
    if (target <= this.now().getTime()) return;
    this.base = target;
    this.realBase = this.realMs();
  }
}
