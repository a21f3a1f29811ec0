import { streamRng, uniform } from '../random/rng';
import { generateUserStretch, type SyntheticUser, type UserState } from './generator';
import { INITIAL_PROPENSITY } from './event-types';
import { poisson } from './random';

/** Share of the seeded population that joins, on average, each simulated day. */
export const DEFAULT_DAILY_JOIN_RATE = 0.005;
const DAY_MS = 86_400_000;

export interface PopulationOptions {
  seed: number;
  /** Tenant namespace, leading underscore included. */
  tenantId: string;
  /** Day 1 is the day after this instant: the seed's `now`. */
  start: Date;
  /** @default DEFAULT_DAILY_JOIN_RATE */
  dailyJoinRate?: number;
}

/** What one simulated day brought. */
export interface PopulationDay {
  day: number;
  start: Date;
  end: Date;
  /** Every living user's events of the day, the newcomers' included. */
  users: SyntheticUser[];
  joined: number;
  subscribed: number;
}

/**
 * The synthetic customers after the seed: day after day the same users go on living by the
 * generator's model (their propensity carried over, a subscriber never subscribing twice), and new users
 * join. Each day's randomness is derived from the seed and the day alone, so a day's events depend only
 * on the seed, the population's state and the day number: rerunning gives the same days.
 */
export class SyntheticPopulation {
  private readonly states: UserState[] = [];
  private seededUsers = 0;
  private lastDay = 0;

  constructor(private readonly options: PopulationOptions) {
    const rate = options.dailyJoinRate ?? DEFAULT_DAILY_JOIN_RATE;
    if (!(rate >= 0) || !Number.isFinite(rate)) throw new RangeError(`dailyJoinRate must be a finite number >= 0, got ${String(rate)}`);
  }

  /** Takes a seeded user (in index order), as the seed generates them. */
  admit(user: SyntheticUser): void {
    if (user.index !== this.states.length) throw new RangeError(`users must be admitted in index order: expected ${this.states.length}, got ${user.index}`);
    this.states.push({ propensity: user.propensity, subscribed: user.subscribed });
    this.seededUsers = this.states.length;
  }

  get size(): number {
    return this.states.length;
  }

  get subscribers(): number {
    return this.states.filter((s) => s.subscribed).length;
  }

  /** Day `day` (1, 2, … in order): everyone's events in [start + day - 1, start + day), newcomers included. */
  live(day: number): PopulationDay {
    if (day !== this.lastDay + 1) throw new RangeError(`days are lived in order: expected day ${this.lastDay + 1}, got ${day}`);
    this.lastDay = day;
    const start = new Date(this.options.start.getTime() + (day - 1) * DAY_MS);
    const end = new Date(start.getTime() + DAY_MS);
    // Negative streams of the seed are the days', positive ones the seed's users': never the same stream.
    const dayRng = streamRng(this.options.seed, -day);
    const daySeed = Math.floor(uniform(dayRng) * 2 ** 31);
    const joined = poisson(dayRng, (this.options.dailyJoinRate ?? DEFAULT_DAILY_JOIN_RATE) * this.seededUsers);
    for (let i = 0; i < joined; i++) this.states.push({ propensity: INITIAL_PROPENSITY, subscribed: false });
    const users: SyntheticUser[] = [];
    let subscribed = 0;
    for (const [index, state] of this.states.entries()) {
      const user = generateUserStretch(index, state, { start, end, seed: daySeed, label: `d${day}` }, this.options);
      if (user.subscribed && !state.subscribed) subscribed++;
      this.states[index] = { propensity: user.propensity, subscribed: user.subscribed };
      if (user.events.length > 0) users.push(user);
    }
    return { day, start, end, users, joined, subscribed };
  }
}
