import type { FeatureSpec } from '../../lib/features/spec';
import { scoringColumns, trainingColumns } from '../../lib/features/spec';
import type { RefRow } from './reference';

const MINUTES_TOLERANCE = 1e-6;

/** A timestamp column as ISO text; PGlite in-process returns Dates of another realm than jest's. */
export function isoTimestamp(value: unknown): string {
  if (Object.prototype.toString.call(value) === '[object Date]') return new Date((value as Date).getTime()).toISOString();
  return String(value);
}

/**
 * Every column of every row against the reference: the same users, the same chosen row (timestamp),
 * the label, counts equal, minutes within 1e-6, nulls where expected. Returns the mismatches (empty when
 * all agree), so a failure lists what differs.
 */
export function mismatches(spec: FeatureSpec, kind: 'training' | 'scoring', actual: Record<string, unknown>[], expected: readonly RefRow[]): string[] {
  const problems: string[] = [];
  const columns = kind === 'training' ? trainingColumns(spec) : scoringColumns(spec);
  const byUser = new Map(expected.map((r) => [r.userId, r]));
  const seen = new Set<string>();
  for (const row of actual) {
    if (problems.length > 20) break;
    const keys = Object.keys(row);
    if (keys.join(',') !== columns.join(',')) {
      problems.push(`columns ${keys.join(',')} instead of ${columns.join(',')}`);
      continue;
    }
    const userId = String(row.userId);
    if (seen.has(userId)) problems.push(`user ${userId} has more than one row`);
    seen.add(userId);
    const ref = byUser.get(userId);
    if (!ref) {
      problems.push(`unexpected user ${userId}`);
      continue;
    }
    const timestamp = isoTimestamp(row.timestamp);
    if (timestamp !== ref.timestamp) problems.push(`user ${userId}: row at ${timestamp}, expected ${ref.timestamp}`);
    if (kind === 'training') {
      const labelName = columns[2]!; // training columns: user id, timestamp, the label, then the features
      if (Number(row[labelName]) !== ref.label) problems.push(`user ${userId}: ${labelName} ${String(row[labelName])}, expected ${ref.label}`);
    }
    for (const f of spec.features) {
      if (f.kind === 'label') continue;
      const got = row[f.name];
      const want = ref.features[f.name];
      if (want === null || want === undefined) {
        if (got !== null) problems.push(`user ${userId}: ${f.name} ${String(got)}, expected null`);
      } else if (got === null || got === undefined) {
        problems.push(`user ${userId}: ${f.name} null, expected ${want}`);
      } else if (f.kind === 'runningCount' ? Number(got) !== want : Math.abs(Number(got) - want) > MINUTES_TOLERANCE) {
        problems.push(`user ${userId}: ${f.name} ${String(got)}, expected ${want}`);
      }
    }
  }
  for (const r of expected) {
    if (problems.length > 20) break;
    if (!seen.has(r.userId)) problems.push(`missing user ${r.userId}`);
  }
  return problems;
}
