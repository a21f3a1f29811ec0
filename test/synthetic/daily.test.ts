import { SyntheticPopulation } from '../../lib/synthetic/daily';
import { generateUsers } from '../../lib/synthetic/generator';

const START = new Date('2026-01-01T00:00:00Z');
const OPTIONS = { seed: 42, tenantId: '_embedded', start: START };

function population(users = 300, options = OPTIONS) {
  const p = new SyntheticPopulation(options);
  for (const user of generateUsers(0, users, { seed: options.seed, now: START, tenantId: options.tenantId })) p.admit(user);
  return p;
}

it('gives the same days for the same seed, and other days for another', () => {
  const a = population();
  const b = population();
  const days = (p: SyntheticPopulation) => [1, 2, 3].map((d) => p.live(d));
  const [left, right] = [days(a), days(b)];
  expect(JSON.stringify(left)).toBe(JSON.stringify(right));
  const other = population(300, { ...OPTIONS, seed: 7 });
  expect(JSON.stringify(other.live(1).users.slice(0, 5))).not.toBe(JSON.stringify(left[0]?.users.slice(0, 5)));
});

it("keeps the seeded users living inside the day, with ids no earlier day used, and lets new users join", () => {
  const p = population(2000);
  const seen = new Set<string>();
  let joined = 0;
  for (let day = 1; day <= 5; day++) {
    const lived = p.live(day);
    joined += lived.joined;
    const base = lived.users.flatMap((u) => u.events).filter((e) => e.eventType !== 'web.formFilledOut');
    expect(base.length).toBeGreaterThan(0);
    for (const user of lived.users) {
      for (const event of user.events) {
        expect(seen.has(event._id)).toBe(false);
        seen.add(event._id);
      }
      // Base events fall inside the day; dependents may follow the cause past midnight, as in the seed.
      expect(new Date(user.events[0]!.timestamp).getTime()).toBeGreaterThanOrEqual(lived.start.getTime());
    }
  }
  expect(joined).toBeGreaterThan(0);
  expect(p.size).toBe(2000 + joined);
});

it('lets people subscribe along the way, once each, as the propensity model says', () => {
  const p = population(2000);
  const before = p.subscribers;
  let subscribedOnDays = 0;
  const subscriptions = new Map<number, number>();
  for (let day = 1; day <= 10; day++) {
    const lived = p.live(day);
    subscribedOnDays += lived.subscribed;
    for (const user of lived.users) {
      const count = user.events.filter((e) => e.eventType === 'web.formFilledOut').length;
      if (count > 0) subscriptions.set(user.index, (subscriptions.get(user.index) ?? 0) + count);
    }
  }
  expect(subscribedOnDays).toBeGreaterThan(0);
  expect(p.subscribers).toBe(before + subscribedOnDays);
  expect(Math.max(...subscriptions.values())).toBe(1);
});

it('refuses days out of order and users out of order', () => {
  const p = population(10);
  expect(() => p.live(2)).toThrow(/expected day 1, got 2/);
  expect(() => p.admit({ index: 99, email: '', ecid: '', subscribed: false, propensity: 0, events: [] })).toThrow(/expected 10, got 99/);
  expect(() => new SyntheticPopulation({ ...OPTIONS, dailyJoinRate: -1 })).toThrow(/dailyJoinRate must be a finite number >= 0, got -1/);
});
