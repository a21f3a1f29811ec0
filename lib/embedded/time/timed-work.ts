/**
 * Work the platform does on its own at set times (an ingestion flow's look every 15 minutes, AEP's daily
 * scheduled segmentation, the bucket's lifecycle sweep). In a simulated run the simulator asks each for
 * its next time and runs it when the clock gets there; in a plain run the platform's own timers do.
 */
export interface TimedWork {
  /** Names the work in the simulator's log and errors. */
  readonly name: string;
  /** The first time after `after` the work is due, or undefined when it has nothing left to do. */
  nextAt(after: Date): Date | undefined;
  /** Does the work due at `at` (the clock reads `at` or a little later), resolving once it is done. */
  run(at: Date): Promise<void>;
}
