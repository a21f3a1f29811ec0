/**
 * Week-1 generative model: synthetic users and their XDM ExperienceEvents (pure logic, no I/O).
 *
 * Per user (see event-types.ts for the table):
 *  1. Base events (impressions, pageViews, emailSent): Poisson(rate x weeks) each, at uniform
 *     random times in the window [end - weeks, end), where end = now - gapWeeks.
 *  2. Cause types are walked in `CAUSE_ORDER`. For each event of a cause type (in list order) and
 *     each of its dependent types, k ~ Poisson(dependent rate x weeks) delays are drawn from
 *     Exponential(dependent mean delay) and the dependent's whole list is REPLACED by
 *     [t + delay_i]; so only the last cause event's dependents survive (even when its k is 0), and
 *     emailClicked's draw replaces the base pageViews before pageViews act as a cause.
 *  3. Events are walked in time order. The propensity starts at 0.001 and moves by each event's
 *     delta, clamped to [0, 1]. After each non-directMarketing/non-advertising event an unsubscribed
 *     user subscribes with probability = propensity, which emits web.formFilledOut 60 s later.
 *
 * Decisions (documented, not in the brief's table):
 *  - Dependent events pushed past the window end by their delays are KEPT (as the notebook does);
 *    only base events are guaranteed inside the window. No event precedes the window start.
 *  - "weeks" scales both base and dependent Poisson means (the notebook uses N_WEEKS for both).
 *  - Times are whole milliseconds (base: start + floor(u x span); dependent: cause + floor(delay)),
 *    so timestamps are exact and the subscription is exactly 60 000 ms after its trigger.
 *  - Equal timestamps are ordered by table order of the type, then draw order; the subscription
 *    event goes after any event with the same timestamp.
 *  - User n's e-mail is synthetic-user-<n>@example.com with n = the 0-based user index.
 *  - User i's randomness comes from its own stream streamRng(seed, i), so a user's events do not
 *    depend on the batch it is generated in.
 */
import {
  ALL_EVENT_TYPES,
  BASE_EVENT_TYPES,
  BEHAVIOUR_EVENT_TYPES,
  CAUSE_ORDER,
  EVENT_TYPE_SPECS,
  INITIAL_PROPENSITY,
  SUBSCRIPTION_DELAY_MS,
  SUBSCRIPTION_EVENT_TYPE,
  SyntheticEventType,
} from './event-types';
import { ecidForEmail, syntheticEmail } from './ecid';
import { streamRng } from '../random/rng';
import { RngSampler, Sampler } from './random';

export interface SyntheticOptions {
  seed: number;
  now: Date;
  /** Tenant namespace, including the leading underscore, e.g. `_acmecorp`. */
  tenantId: string;
  /** Length of the event window in weeks (default 10). */
  weeks?: number;
  /** Weeks between the window end and `now` (default 2). */
  gapWeeks?: number;
}

export interface XdmExperienceEvent {
  _id: string;
  timestamp: string;
  eventType: string;
  [field: string]: unknown;
}

export interface SyntheticUser {
  index: number;
  email: string;
  ecid: string;
  subscribed: boolean;
  /** Propensity after the user's last event: where a later day of their life starts. */
  propensity: number;
  /** In time order. */
  events: XdmExperienceEvent[];
}

export interface SyntheticSummary {
  users: number;
  events: number;
  eventsPerUser: number;
  subscribers: number;
  subscriberShare: number;
  eventsByType: Record<string, number>;
}

export const DEFAULT_WEEKS = 10;
export const DEFAULT_GAP_WEEKS = 2;
export const WEEK_MS = 7 * 24 * 3_600_000;
const HOUR_MS = 3_600_000;

const TENANT_ID_PATTERN = /^_[A-Za-z0-9_]+$/;
/** Top-level keys an event already uses; a tenant id equal to one would overwrite it. */
const RESERVED_TOP_LEVEL_KEYS = new Set(['_id', ...ALL_EVENT_TYPES.map((t) => EVENT_TYPE_SPECS[t].xdmPath[0])]);

// ---- numeric tables indexed by type id (position in ALL_EVENT_TYPES) -------------------------
// Every type id is a position in ALL_EVENT_TYPES, so the tables below, and the per-type lists of a
// simulation, hold an entry for it; reads by type id are asserted without a check.

const BEHAVIOUR_COUNT = BEHAVIOUR_EVENT_TYPES.length;
const SUBSCRIPTION_ID = ALL_EVENT_TYPES.indexOf(SUBSCRIPTION_EVENT_TYPE);
const typeId = (t: SyntheticEventType): number => ALL_EVENT_TYPES.indexOf(t);

const RATE = ALL_EVENT_TYPES.map((t) => EVENT_TYPE_SPECS[t].weeklyRate);
const DELTA = ALL_EVENT_TYPES.map((t) => EVENT_TYPE_SPECS[t].propensityDelta);
const MEAN_DELAY_HOURS = ALL_EVENT_TYPES.map((t) => EVENT_TYPE_SPECS[t].meanDelayHours);
const MARKETING = ALL_EVENT_TYPES.map((t) => EVENT_TYPE_SPECS[t].marketing);
const BASE_IDS = BASE_EVENT_TYPES.map(typeId);
const CAUSE_IDS = CAUSE_ORDER.map(([cause, deps]) => [typeId(cause), deps.map(typeId)] as const);
const XDM_PATHS = ALL_EVENT_TYPES.map((t) => EVENT_TYPE_SPECS[t].xdmPath);
const XDM_VALUES = ALL_EVENT_TYPES.map((t) => EVENT_TYPE_SPECS[t].xdmValue);

// ---- validation --------------------------------------------------------------------------------

interface ResolvedOptions {
  seed: number;
  tenantId: string;
  weeks: number;
  startMs: number;
  endMs: number;
}

function checkIndex(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

function resolveOptions(options: SyntheticOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options must be an object, got ${String(options)}`);
  }
  const { seed, now, tenantId } = options;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new RangeError(`seed must be a safe integer, got ${String(seed)}`);
  }
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
    throw new RangeError(`now must be a valid Date, got ${String(now)}`);
  }
  if (typeof tenantId !== 'string' || !TENANT_ID_PATTERN.test(tenantId)) {
    throw new RangeError(`tenantId must match ${String(TENANT_ID_PATTERN)} (leading underscore included), got ${JSON.stringify(tenantId)}`);
  }
  if (RESERVED_TOP_LEVEL_KEYS.has(tenantId)) {
    throw new RangeError(`tenantId ${JSON.stringify(tenantId)} collides with an XDM field the events already use`);
  }
  const weeks = options.weeks ?? DEFAULT_WEEKS;
  if (typeof weeks !== 'number' || !Number.isFinite(weeks) || weeks <= 0) {
    throw new RangeError(`weeks must be a finite number > 0, got ${String(weeks)}`);
  }
  const gapWeeks = options.gapWeeks ?? DEFAULT_GAP_WEEKS;
  if (typeof gapWeeks !== 'number' || !Number.isFinite(gapWeeks) || gapWeeks < 0) {
    throw new RangeError(`gapWeeks must be a finite number >= 0, got ${String(gapWeeks)}`);
  }
  const endMs = Math.round(now.getTime() - gapWeeks * WEEK_MS);
  const startMs = Math.round(endMs - weeks * WEEK_MS);
  if (!Number.isFinite(new Date(startMs).getTime())) {
    throw new RangeError(`window start ${startMs} ms is outside the Date range (now ${now.toISOString()}, weeks ${weeks}, gapWeeks ${gapWeeks})`);
  }
  return { seed, tenantId, weeks, startMs, endMs };
}

/** The event window [start, end) for the given options (base events fall inside it). */
export function syntheticWindow(options: SyntheticOptions): { start: Date; end: Date } {
  const { startMs, endMs } = resolveOptions(options);
  return { start: new Date(startMs), end: new Date(endMs) };
}

// ---- per-user simulation (injected sampler) ------------------------------------------------------

/**
 * Steps 1-2 of the model: event times (integer ms) of every behavioural type, in list (draw) order,
 * keyed by event type. Exposed for tests; `sampler` supplies all randomness.
 */
export function simulateEventTimes(
  sampler: Sampler,
  startMs: number,
  endMs: number,
  weeks: number = DEFAULT_WEEKS,
): Record<(typeof BEHAVIOUR_EVENT_TYPES)[number], number[]> {
  const lists = simulateLists(sampler, startMs, endMs, weeks);
  const out = {} as Record<(typeof BEHAVIOUR_EVENT_TYPES)[number], number[]>;
  for (let id = 0; id < BEHAVIOUR_COUNT; id++) {
    out[BEHAVIOUR_EVENT_TYPES[id]!] = lists[id]!;
  }
  return out;
}

function simulateLists(sampler: Sampler, startMs: number, endMs: number, weeks: number): number[][] {
  const lists: number[][] = [];
  for (let id = 0; id < BEHAVIOUR_COUNT; id++) {
    lists.push([]);
  }
  const span = endMs - startMs;
  for (const id of BASE_IDS) {
    const n = sampler.poisson(RATE[id]! * weeks);
    const times = lists[id]!;
    for (let i = 0; i < n; i++) {
      times.push(startMs + Math.floor(sampler.uniform() * span));
    }
  }
  for (const [causeId, dependentIds] of CAUSE_IDS) {
    // The cause list is read once: its own dependents never include itself.
    const causes = lists[causeId]!;
    for (const t of causes) {
      for (const depId of dependentIds) {
        const k = sampler.poisson(RATE[depId]! * weeks);
        const meanHours = MEAN_DELAY_HOURS[depId]!;
        const times = new Array<number>(k);
        for (let i = 0; i < k; i++) {
          times[i] = t + Math.floor(sampler.exponential(meanHours) * HOUR_MS);
        }
        lists[depId] = times; // replace, not append
      }
    }
  }
  return lists;
}

export interface TimelineEvent {
  eventType: SyntheticEventType;
  timeMs: number;
}

export interface Timeline {
  /** All events in time order, including the subscription event if any. */
  events: TimelineEvent[];
  subscribed: boolean;
  /** Position in `events` of the event that triggered the subscription, or -1. */
  triggerIndex: number;
  /** Propensity after the last behavioural event. */
  finalPropensity: number;
}

interface Entry {
  id: number;
  timeMs: number;
}

const byTime = (a: Entry, b: Entry): number => a.timeMs - b.timeMs;

function simulateEntries(sampler: Sampler, startMs: number, endMs: number, weeks: number, from: { propensity: number; subscribed: boolean } = { propensity: INITIAL_PROPENSITY, subscribed: false }) {
  const lists = simulateLists(sampler, startMs, endMs, weeks);
  const entries: Entry[] = [];
  for (let id = 0; id < BEHAVIOUR_COUNT; id++) {
    for (const timeMs of lists[id]!) {
      entries.push({ id, timeMs });
    }
  }
  entries.sort(byTime); // stable: ties keep table order, then draw order

  let propensity = from.propensity;
  let triggerIndex = -1;
  for (const [i, { id }] of entries.entries()) {
    propensity = Math.min(1, Math.max(0, propensity + DELTA[id]!));
    if (!from.subscribed && triggerIndex < 0 && !MARKETING[id] && sampler.uniform() < propensity) {
      triggerIndex = i;
    }
  }
  if (triggerIndex >= 0) {
    const timeMs = entries[triggerIndex]!.timeMs + SUBSCRIPTION_DELAY_MS; // an index of entries
    let at = triggerIndex + 1;
    while (at < entries.length && entries[at]!.timeMs <= timeMs) {
      at++;
    }
    entries.splice(at, 0, { id: SUBSCRIPTION_ID, timeMs });
  }
  return { entries, triggerIndex, propensity };
}

/** Steps 1-3 of the model for one user with an injected sampler. Exposed for tests. */
export function simulateTimeline(sampler: Sampler, startMs: number, endMs: number, weeks: number = DEFAULT_WEEKS): Timeline {
  const { entries, triggerIndex, propensity } = simulateEntries(sampler, startMs, endMs, weeks);
  return {
    events: entries.map((e) => ({ eventType: ALL_EVENT_TYPES[e.id]!, timeMs: e.timeMs })),
    subscribed: triggerIndex >= 0,
    triggerIndex,
    finalPropensity: propensity,
  };
}

// ---- XDM output -------------------------------------------------------------------------------------

function xdmEvents(entries: Entry[], ecid: string, idPrefix: string, tenantId: string): XdmExperienceEvent[] {
  const events = new Array<XdmExperienceEvent>(entries.length);
  for (const [j, { id, timeMs }] of entries.entries()) {
    const event: XdmExperienceEvent = {
      _id: idPrefix + j,
      timestamp: new Date(timeMs).toISOString(),
      eventType: ALL_EVENT_TYPES[id]!,
    };
    event[tenantId] = { userid: ecid };
    const path = XDM_PATHS[id]!;
    let node: Record<string, unknown> = event;
    const last = path.length - 1; // an XDM path has at least one field
    for (let p = 0; p < last; p++) {
      const child: Record<string, unknown> = {};
      node[path[p]!] = child;
      node = child;
    }
    node[path[last]!] = XDM_VALUES[id];
    events[j] = event;
  }
  return events;
}

function buildUser(index: number, o: ResolvedOptions): SyntheticUser {
  const sampler = new RngSampler(streamRng(o.seed, index));
  const { entries, triggerIndex, propensity } = simulateEntries(sampler, o.startMs, o.endMs, o.weeks);
  const email = syntheticEmail(index);
  const ecid = ecidForEmail(email);
  return { index, email, ecid, subscribed: triggerIndex >= 0, propensity, events: xdmEvents(entries, ecid, `synthetic-${o.seed}-${index}-`, o.tenantId) };
}

/** Where a user's life stands at the start of a day: what the day's events build on. */
export interface UserState {
  propensity: number;
  subscribed: boolean;
}

/**
 * One more stretch `[start, end)` of user `index`'s life, by the same model as their first weeks
 * (base events, their dependents, the propensity walk and the chance to subscribe), starting from
 * `state`: a subscriber keeps living but does not subscribe again. The randomness is the stream
 * `stream` of `seed`, so the same (seed, stream, user, state) always gives the same events; event ids
 * carry `label` so they never repeat an earlier stretch's.
 */
export function generateUserStretch(index: number, state: UserState, stretch: { start: Date; end: Date; seed: number; label: string }, options: Pick<SyntheticOptions, 'seed' | 'tenantId'>): SyntheticUser {
  checkIndex('index', index);
  if (!TENANT_ID_PATTERN.test(options.tenantId)) throw new RangeError(`tenantId must match ${String(TENANT_ID_PATTERN)}, got ${JSON.stringify(options.tenantId)}`);
  const startMs = stretch.start.getTime();
  const endMs = stretch.end.getTime();
  if (!(endMs > startMs)) throw new RangeError(`a stretch must end after it starts, got ${stretch.start.toISOString()} to ${stretch.end.toISOString()}`);
  const sampler = new RngSampler(streamRng(stretch.seed, index));
  const { entries, triggerIndex, propensity } = simulateEntries(sampler, startMs, endMs, (endMs - startMs) / WEEK_MS, state);
  const email = syntheticEmail(index);
  const ecid = ecidForEmail(email);
  const events = xdmEvents(entries, ecid, `synthetic-${options.seed}-${index}-${stretch.label}-`, options.tenantId);
  return { index, email, ecid, subscribed: state.subscribed || triggerIndex >= 0, propensity, events };
}

/** User `index` (0-based); depends only on (index, options), not on any other user. */
export function generateUser(index: number, options: SyntheticOptions): SyntheticUser {
  checkIndex('index', index);
  return buildUser(index, resolveOptions(options));
}

/** Users start, start + 1, ..., start + count - 1 (arguments are validated when called). */
export function generateUsers(start: number, count: number, options: SyntheticOptions): Generator<SyntheticUser> {
  checkIndex('start', start);
  checkIndex('count', count);
  if (count > 0 && count - 1 > Number.MAX_SAFE_INTEGER - start) {
    throw new RangeError(`start + count - 1 must be a safe integer, got start ${start}, count ${count}`);
  }
  const resolved = resolveOptions(options);
  return (function* users(): Generator<SyntheticUser> {
    for (let i = 0; i < count; i++) {
      yield buildUser(start + i, resolved);
    }
  })();
}

/** Aggregate figures over users (every known event type appears in eventsByType, possibly as 0). */
export function summarize(users: Iterable<SyntheticUser>): SyntheticSummary {
  const eventsByType: Record<string, number> = {};
  for (const t of ALL_EVENT_TYPES) {
    eventsByType[t] = 0;
  }
  let userCount = 0;
  let eventCount = 0;
  let subscribers = 0;
  for (const user of users) {
    userCount++;
    if (user.subscribed) {
      subscribers++;
    }
    for (const event of user.events) {
      eventCount++;
      eventsByType[event.eventType] = (eventsByType[event.eventType] ?? 0) + 1;
    }
  }
  return {
    users: userCount,
    events: eventCount,
    eventsPerUser: userCount === 0 ? 0 : eventCount / userCount,
    subscribers,
    subscriberShare: userCount === 0 ? 0 : subscribers / userCount,
    eventsByType,
  };
}
