import type { QueryRunner } from '../ports/query-runner';
import { assertIdentifier, literal, type SqlDialect } from '../sql/dialect';

/** The event that marks a subscription, and the email funnel leading to it (the notebooks' week 1). */
export const SUBSCRIPTION_EVENT = 'web.formFilledOut';
export const EMAIL_FUNNEL = [
  { step: 'sent', eventType: 'directMarketing.emailSent' },
  { step: 'opened', eventType: 'directMarketing.emailOpened' },
  { step: 'clicked', eventType: 'directMarketing.emailClicked' },
  { step: 'subscribed', eventType: SUBSCRIPTION_EVENT },
] as const;

export interface ExplorationOptions {
  /** The events dataset's table (Catalog tag `adobe/pqs/table`). */
  table: string;
  /** Tenant id without underscore; the user id is `_<tenant>.userid`. */
  tenantId: string;
}

export interface EventTypeSummary {
  eventType: string;
  events: number;
  users: number;
}

export interface Correlation {
  eventType: string;
  /** Pearson correlation of the per-user count of this event type with having subscribed; null when undefined (no variance). */
  correlation: number | null;
}

export interface ExplorationResult {
  table: string;
  rows: number;
  users: number;
  firstEvent: string | null;
  lastEvent: string | null;
  eventsPerUser: number;
  subscribers: number;
  subscriberShare: number;
  eventTypes: EventTypeSummary[];
  funnel: Array<{ step: string; eventType: string; users: number; shareOfPrevious: number | null }>;
  correlations: Correlation[];
}

function num(value: unknown): number {
  // pg returns bigint and numeric as strings.
  return value === null || value === undefined ? 0 : Number(value);
}

function maybeNum(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

function iso(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString();
}

/**
 * Week 1's exploration through Query Service SQL: row and user counts, events by type, the email funnel,
 * and the correlation of each per-user event count with subscribing. The event types are read from the
 * data, so the same queries explore any ExperienceEvent dataset with a `_<tenant>.userid`.
 */
export async function explore(runner: QueryRunner, dialect: SqlDialect, options: ExplorationOptions): Promise<ExplorationResult> {
  const table = dialect.table(options.table);
  const userId = dialect.textField([`_${assertIdentifier('tenant id', options.tenantId)}`, 'userid']);
  const eventType = dialect.column('eventType');
  const timestamp = dialect.column('timestamp');

  const [totals] = await runner.query(
    `SELECT COUNT(*) AS row_count, COUNT(DISTINCT ${userId}) AS user_count, MIN(${timestamp}) AS first_event, MAX(${timestamp}) AS last_event FROM ${table}`,
  );
  const rows = num(totals?.row_count);
  const users = num(totals?.user_count);

  const byType = await runner.query(
    `SELECT ${eventType} AS event_type, COUNT(*) AS events, COUNT(DISTINCT ${userId}) AS users FROM ${table} GROUP BY ${eventType} ORDER BY events DESC, event_type`,
  );
  const eventTypes: EventTypeSummary[] = byType.map((r) => ({ eventType: String(r.event_type), events: num(r.events), users: num(r.users) }));

  const funnelColumns = EMAIL_FUNNEL.map(
    (f, i) => `COUNT(DISTINCT CASE WHEN ${eventType} = ${literal(f.eventType)} THEN ${userId} END) AS step_${i}`,
  ).join(', ');
  const [funnelRow] = await runner.query(`SELECT ${funnelColumns} FROM ${table}`);
  const funnel = EMAIL_FUNNEL.map((f, i) => ({ step: f.step, eventType: f.eventType, users: num(funnelRow?.[`step_${i}`]), shareOfPrevious: null as number | null }));
  funnel.forEach((f, i) => {
    const previous = funnel[i - 1];
    f.shareOfPrevious = previous === undefined ? null : previous.users > 0 ? f.users / previous.users : null;
  });
  const subscribers = funnel[funnel.length - 1]!.users; // EMAIL_FUNNEL is a constant list of steps, never empty

  const candidates = eventTypes.map((t) => t.eventType).filter((t) => t !== SUBSCRIPTION_EVENT);
  let correlations: Correlation[] = [];
  if (candidates.length > 0) {
    const counts = candidates
      .map((t, i) => `CAST(COUNT(CASE WHEN ${eventType} = ${literal(t)} THEN 1 END) AS DOUBLE PRECISION) AS c_${i}`)
      .join(', ');
    const subscribed = `CAST(MAX(CASE WHEN ${eventType} = ${literal(SUBSCRIPTION_EVENT)} THEN 1 ELSE 0 END) AS DOUBLE PRECISION) AS subscribed`;
    const corrs = candidates.map((_, i) => `CORR(c_${i}, subscribed) AS r_${i}`).join(', ');
    const [corrRow] = await runner.query(`SELECT ${corrs} FROM (SELECT ${counts}, ${subscribed} FROM ${table} GROUP BY ${userId}) AS per_user`);
    correlations = candidates
      .map((t, i) => ({ eventType: t, correlation: maybeNum(corrRow?.[`r_${i}`]) }))
      .sort((a, b) => Math.abs(b.correlation ?? 0) - Math.abs(a.correlation ?? 0));
  }

  return {
    table: options.table,
    rows,
    users,
    firstEvent: iso(totals?.first_event),
    lastEvent: iso(totals?.last_event),
    eventsPerUser: users > 0 ? rows / users : 0,
    subscribers,
    subscriberShare: users > 0 ? subscribers / users : 0,
    eventTypes,
    funnel,
    correlations,
  };
}
