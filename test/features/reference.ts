/**
 * An independent TypeScript computation of the feature definitions (lib/features/spec.ts), written from
 * the definitions rather than from the SQL, for the equivalence tests. Rows are keyed by user id.
 */
import { createHash } from 'crypto';
import type { FeatureSpec } from '../../lib/features/spec';

export interface RefEvent {
  _id: string;
  timestamp: string;
  eventType: string;
}

export interface RefRow {
  userId: string;
  /** ISO timestamp of the chosen row. */
  timestamp: string;
  /** The label (training only). */
  label?: number;
  /** Feature name -> value (counts and minutes; null where no matching event yet). */
  features: Record<string, number | null>;
}

const ms = (e: RefEvent) => Date.parse(e.timestamp);
/** Time, then `_id` compared byte-wise (as Spark compares strings). */
function compareEvents(a: RefEvent, b: RefEvent): number {
  return ms(a) - ms(b) || Buffer.compare(Buffer.from(a._id, 'utf8'), Buffer.from(b._id, 'utf8'));
}

/** The features at `row`, an index of `events`; every index read below is at most `row`. */
function featuresAt(spec: FeatureSpec, events: RefEvent[], row: number): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const f of spec.features) {
    if (f.kind === 'runningCount') {
      let n = 0;
      for (let i = 0; i <= row; i++) if (events[i]!.eventType === f.eventType) n++;
      out[f.name] = n;
    } else if (f.kind === 'minutesSinceLast') {
      let last: RefEvent | undefined;
      for (let i = row; i >= 0 && !last; i--) if (events[i]!.eventType === f.eventType) last = events[i];
      out[f.name] = last ? (ms(events[row]!) - ms(last)) / 60_000 : null;
    }
  }
  return out;
}

function sortedByTime(events: readonly RefEvent[]): RefEvent[] {
  return [...events].sort(compareEvents);
}

/** The training row of one user (who must have at least one event). */
export function referenceTrainingRow(spec: FeatureSpec, userId: string, userEvents: readonly RefEvent[]): RefRow {
  const events = sortedByTime(userEvents);
  const label = spec.features.find((f) => f.kind === 'label');
  if (!label || events.length === 0) throw new Error('need a label feature and at least one event');
  let row = events.findIndex((e) => e.eventType === label.eventType);
  const labelled = row >= 0;
  if (!labelled) {
    const key = (e: RefEvent) => createHash('md5').update(`${userId}${e._id}${spec.seed}`, 'utf8').digest('hex');
    row = 0;
    // i and row stay below events.length.
    for (let i = 1; i < events.length; i++) {
      const a = key(events[i]!);
      const b = key(events[row]!);
      if (a < b || (a === b && compareEvents(events[i]!, events[row]!) < 0)) row = i;
    }
  }
  return { userId, timestamp: events[row]!.timestamp, label: labelled ? 1 : 0, features: featuresAt(spec, events, row) };
}

/** The scoring row of one user: features as of the user's last event. */
export function referenceScoringRow(spec: FeatureSpec, userId: string, userEvents: readonly RefEvent[]): RefRow {
  const events = sortedByTime(userEvents);
  const row = events.length - 1;
  const last = events[row];
  if (!last) throw new Error('need at least one event');
  return { userId, timestamp: last.timestamp, features: featuresAt(spec, events, row) };
}
