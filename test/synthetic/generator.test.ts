import { ecidForEmail, syntheticEmail } from '../../lib/synthetic/ecid';
import { ALL_EVENT_TYPES, EVENT_TYPE_SPECS } from '../../lib/synthetic/event-types';
import {
  generateUser,
  generateUsers,
  summarize,
  SyntheticOptions,
  SyntheticUser,
  syntheticWindow,
  WEEK_MS,
  XdmExperienceEvent,
} from '../../lib/synthetic/generator';

const NOW = new Date('2025-06-01T12:00:00.000Z');
const OPTIONS: SyntheticOptions = { seed: 42, now: NOW, tenantId: '_acmecorp' };
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const take = (start: number, count: number, options: SyntheticOptions = OPTIONS): SyntheticUser[] => [...generateUsers(start, count, options)];
const ms = (e: XdmExperienceEvent): number => Date.parse(e.timestamp);

// A sample shared by the aggregate checks (a few thousand users, as the brief asks).
const SAMPLE_SIZE = 4000;
let sample: SyntheticUser[];
beforeAll(() => {
  sample = take(0, SAMPLE_SIZE);
});

describe('determinism and batch independence', () => {
  it('gives identical output for the same seed', () => {
    expect(JSON.stringify(take(0, 200))).toBe(JSON.stringify(take(0, 200)));
    expect(generateUser(17, OPTIONS)).toEqual(generateUser(17, { ...OPTIONS }));
  });

  it('gives different events for a different seed (same identities)', () => {
    const a = take(0, 50);
    const b = take(0, 50, { ...OPTIONS, seed: 43 });
    expect(b.map((u) => u.ecid)).toEqual(a.map((u) => u.ecid));
    const differing = a.filter((u, i) => JSON.stringify(u.events.map((e) => [e.eventType, e.timestamp])) !== JSON.stringify(b[i]!.events.map((e) => [e.eventType, e.timestamp]))); // b is as long as a
    expect(differing.length).toBeGreaterThan(45);
  });

  it('gives each user the same events whatever the batching', () => {
    const whole = take(0, 300);
    const batched = [...take(0, 100), ...take(100, 75), ...take(175, 1), ...take(176, 124)];
    expect(JSON.stringify(batched)).toBe(JSON.stringify(whole));
    expect(generateUser(250, OPTIONS)).toEqual(whole[250]);
    expect(whole.map((u) => u.index)).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });

  it('gives different users different event histories', () => {
    const histories = new Set(take(0, 200).map((u) => JSON.stringify(u.events.map((e) => e.timestamp))));
    expect(histories.size).toBe(200);
  });

  it('yields nothing for count 0', () => {
    expect(take(5, 0)).toEqual([]);
  });
});

describe('identity and XDM shape', () => {
  it('uses the 0-based e-mail and its ECID on the user and in every event', () => {
    for (const user of sample.slice(0, 100)) {
      expect(user.email).toBe(syntheticEmail(user.index));
      expect(user.ecid).toBe(ecidForEmail(user.email));
      for (const e of user.events) expect(e._acmecorp).toEqual({ userid: user.ecid });
    }
    expect(sample[0]?.email).toBe('synthetic-user-0@example.com');
  });

  it('emits exactly the table field (set to 1) for every event type', () => {
    const expected: Record<string, unknown> = {
      'advertising.impressions': { advertising: { impressions: { value: 1 } } },
      'advertising.clicks': { advertising: { clicks: { value: 1 } } },
      'web.webpagedetails.pageViews': { web: { webPageDetails: { pageViews: { value: 1 } } } },
      'web.webinteraction.linkClicks': { web: { webInteraction: { linkClicks: { value: 1 } } } },
      'commerce.productViews': { commerce: { productViews: { value: 1 } } },
      'commerce.purchases': { commerce: { purchases: { value: 1 } } },
      'decisioning.propositionDisplay': { _experience: { decisioning: { propositionEventType: { display: 1 } } } },
      'decisioning.propositionInteract': { _experience: { decisioning: { propositionEventType: { interact: 1 } } } },
      'decisioning.propositionDismiss': { _experience: { decisioning: { propositionEventType: { dismiss: 1 } } } },
      'directMarketing.emailSent': { directMarketing: { sends: { value: 1 } } },
      'directMarketing.emailOpened': { directMarketing: { opens: { value: 1 } } },
      'directMarketing.emailClicked': { directMarketing: { clicks: { value: 1 } } },
      'web.formFilledOut': { web: { webPageDetails: { name: 'subscriptionForm' } } },
    };
    const seen = new Set<string>();
    for (const user of sample) {
      for (const event of user.events) {
        const { _id, timestamp, eventType, _acmecorp, ...field } = event;
        if (!seen.has(eventType)) {
          expect(typeof _id).toBe('string');
          expect(timestamp).toMatch(ISO_MS);
          expect(_acmecorp).toEqual({ userid: user.ecid });
          expect(field).toEqual(expected[eventType]);
          expect(Object.keys(event).slice(0, 4)).toEqual(['_id', 'timestamp', 'eventType', '_acmecorp']);
          seen.add(eventType);
        }
      }
    }
    expect([...seen].sort()).toEqual([...ALL_EVENT_TYPES].sort());
    expect(Object.keys(expected).sort()).toEqual([...ALL_EVENT_TYPES].sort());
  });

  it('uses the tenant id it is given', () => {
    const user = generateUser(3, { ...OPTIONS, tenantId: '_other_tenant1' });
    expect(user.events.length).toBeGreaterThan(0);
    for (const e of user.events) {
      expect(e._other_tenant1).toEqual({ userid: user.ecid });
      expect(e._acmecorp).toBeUndefined();
    }
  });

  it('gives every event a unique, deterministic _id and a millisecond ISO timestamp, in time order', () => {
    const ids = new Set<string>();
    let events = 0;
    let unordered = 0;
    let badTimestamps = 0;
    for (const user of sample) {
      user.events.forEach((e, j) => {
        ids.add(e._id);
        events++;
        if (!ISO_MS.test(e.timestamp) || new Date(ms(e)).toISOString() !== e.timestamp) badTimestamps++;
        if (j > 0 && ms(e) < ms(user.events[j - 1]!)) unordered++;
      });
    }
    expect(ids.size).toBe(events);
    expect(badTimestamps).toBe(0);
    expect(unordered).toBe(0);
    const again = generateUser(9, OPTIONS);
    const ninth = sample[9]!; // the sample holds SAMPLE_SIZE users
    expect(again.events.map((e) => e._id)).toEqual(ninth.events.map((e) => e._id));
    // ids differ between seeds too, so two seeded datasets can be ingested side by side
    expect(generateUser(9, { ...OPTIONS, seed: 7 }).events[0]?._id).not.toBe(ninth.events[0]?._id);
  });
});

describe('window', () => {
  it('ends gapWeeks before now and lasts weeks (defaults 2 and 10)', () => {
    const { start, end } = syntheticWindow(OPTIONS);
    expect(end.getTime()).toBe(NOW.getTime() - 2 * WEEK_MS);
    expect(start.getTime()).toBe(NOW.getTime() - 12 * WEEK_MS);
    const custom = syntheticWindow({ ...OPTIONS, weeks: 4, gapWeeks: 0 });
    expect(custom.end.getTime()).toBe(NOW.getTime());
    expect(custom.start.getTime()).toBe(NOW.getTime() - 4 * WEEK_MS);
  });

  it('puts base events inside [start, end) and nothing before start', () => {
    const { start, end } = syntheticWindow(OPTIONS);
    let base = 0;
    let outside = 0;
    let early = 0;
    for (const user of sample) {
      for (const e of user.events) {
        const t = ms(e);
        if (t < start.getTime()) early++;
        if (e.eventType === 'advertising.impressions' || e.eventType === 'directMarketing.emailSent') {
          base++;
          if (t >= end.getTime()) outside++;
        }
      }
    }
    expect(base).toBeGreaterThan(5 * SAMPLE_SIZE);
    expect(outside).toBe(0);
    expect(early).toBe(0);
  });

  it('honours custom weeks/gapWeeks for base events', () => {
    const options = { ...OPTIONS, weeks: 1, gapWeeks: 5 };
    const { start, end } = syntheticWindow(options);
    let sends = 0;
    for (const user of generateUsers(0, 500, options)) {
      for (const e of user.events) {
        if (e.eventType !== 'directMarketing.emailSent') continue;
        sends++;
        expect(ms(e)).toBeGreaterThanOrEqual(start.getTime());
        expect(ms(e)).toBeLessThan(end.getTime());
      }
    }
    expect(Math.abs(sends / 500 - 0.5)).toBeLessThan(0.15); // Poisson(0.5 x 1 week) per user
  });
});

describe('subscriptions', () => {
  it('emit formFilledOut at most once, only for subscribers, exactly 60 s after a non-marketing event', () => {
    let noTrigger = 0;
    for (const user of sample) {
      const forms = user.events.filter((e) => e.eventType === 'web.formFilledOut');
      expect(forms.length).toBe(user.subscribed ? 1 : 0);
      if (forms.length === 0) continue;
      const at = ms(forms[0]!) - 60_000; // one form, as just checked
      const triggers = user.events.filter((e) => ms(e) === at && !EVENT_TYPE_SPECS[e.eventType as keyof typeof EVENT_TYPE_SPECS].marketing);
      if (triggers.length === 0) noTrigger++;
    }
    expect(noTrigger).toBe(0);
  });

  it('are never the first event of a user whose history starts with marketing only', () => {
    // A subscription can only follow a web/commerce/decisioning event.
    for (const user of sample.filter((u) => u.subscribed)) {
      const formAt = user.events.findIndex((e) => e.eventType === 'web.formFilledOut');
      const before = user.events.slice(0, formAt);
      expect(before.some((e) => !EVENT_TYPE_SPECS[e.eventType as keyof typeof EVENT_TYPE_SPECS].marketing)).toBe(true);
    }
  });
});

describe('aggregate figures (realistic propensity problem)', () => {
  it('has about 10.6 events per user and about 15% subscribers', () => {
    const s = summarize(sample);
    expect(s.users).toBe(SAMPLE_SIZE);
    expect(Math.abs(s.eventsPerUser - 10.6)).toBeLessThan(0.6);
    expect(Math.abs(s.subscriberShare - 0.15)).toBeLessThan(0.025);
  });

  it('has per-type counts consistent with the replacement procedure', () => {
    const s = summarize(sample);
    const perUser = (t: string) => (s.eventsByType[t] ?? 0) / SAMPLE_SIZE;
    expect(Math.abs(perUser('directMarketing.emailSent') - 5)).toBeLessThan(0.2);
    expect(Math.abs(perUser('advertising.impressions') - 1)).toBeLessThan(0.08);
    // emailOpened ~ Poisson(2) from the last emailSent only (P(any send) ~ 0.993); appending would give ~10
    expect(Math.abs(perUser('directMarketing.emailOpened') - 2 * (1 - Math.exp(-5)))).toBeLessThan(0.12);
    // pageViews: Poisson(1) either way (base, or replaced by the last emailClicked's draw)
    expect(Math.abs(perUser('web.webpagedetails.pageViews') - 1)).toBeLessThan(0.08);
    expect(s.eventsByType['web.formFilledOut']).toBe(s.subscribers);
  });
});

describe('summarize', () => {
  it('counts users, events, subscribers and events by type', () => {
    const ev = (eventType: string): XdmExperienceEvent => ({ _id: 'x', timestamp: NOW.toISOString(), eventType });
    const users: SyntheticUser[] = [
      { index: 0, email: 'a', ecid: '1', subscribed: true, propensity: 0.5, events: [ev('web.webpagedetails.pageViews'), ev('web.formFilledOut')] },
      { index: 1, email: 'b', ecid: '2', subscribed: false, propensity: 0.1, events: [ev('advertising.impressions'), ev('advertising.impressions'), ev('custom.type')] },
    ];
    const s = summarize(users);
    expect(s).toMatchObject({ users: 2, events: 5, eventsPerUser: 2.5, subscribers: 1, subscriberShare: 0.5 });
    expect(s.eventsByType['advertising.impressions']).toBe(2);
    expect(s.eventsByType['web.formFilledOut']).toBe(1);
    expect(s.eventsByType['custom.type']).toBe(1);
    expect(s.eventsByType['commerce.purchases']).toBe(0);
  });

  it('handles no users and accepts a generator', () => {
    expect(summarize([])).toMatchObject({ users: 0, events: 0, eventsPerUser: 0, subscribers: 0, subscriberShare: 0 });
    const s = summarize(generateUsers(0, 10, OPTIONS));
    expect(s.users).toBe(10);
    expect(s.events).toBe(take(0, 10).reduce((n, u) => n + u.events.length, 0));
  });
});

describe('input validation', () => {
  it('rejects bad user indexes and counts, naming the value', () => {
    expect(() => generateUser(-1, OPTIONS)).toThrow(/index.*-1/);
    expect(() => generateUser(1.5, OPTIONS)).toThrow(/index.*1\.5/);
    expect(() => generateUser(NaN, OPTIONS)).toThrow(/index.*NaN/);
    expect(() => generateUsers(-3, 1, OPTIONS)).toThrow(/start.*-3/);
    expect(() => generateUsers(0, -1, OPTIONS)).toThrow(/count.*-1/);
    expect(() => generateUsers(0, 2.5, OPTIONS)).toThrow(/count.*2\.5/);
    expect(() => generateUsers(Number.MAX_SAFE_INTEGER, 2, OPTIONS)).toThrow(/safe integer/);
  });

  it('rejects bad seeds', () => {
    expect(() => generateUser(0, { ...OPTIONS, seed: NaN })).toThrow(/seed.*NaN/);
    expect(() => generateUser(0, { ...OPTIONS, seed: 0.5 })).toThrow(/seed.*0\.5/);
    expect(() => generateUser(0, { ...OPTIONS, seed: '42' as unknown as number })).toThrow(/seed.*42/);
    expect(() => generateUser(0, { ...OPTIONS, seed: 2 ** 60 })).toThrow(/seed/);
  });

  it('rejects invalid dates', () => {
    expect(() => generateUser(0, { ...OPTIONS, now: new Date('nope') })).toThrow(/now.*Invalid Date/);
    expect(() => generateUser(0, { ...OPTIONS, now: '2025-01-01' as unknown as Date })).toThrow(/now.*2025-01-01/);
  });

  it('rejects tenant ids without a leading underscore or with other characters', () => {
    for (const bad of ['acmecorp', '_', '_acme-corp', '_acme corp', '']) {
      expect(() => generateUser(0, { ...OPTIONS, tenantId: bad })).toThrow(new RegExp(`tenantId.*${JSON.stringify(bad).replace(/[-\s]/g, '.')}`));
    }
    expect(() => generateUser(0, { ...OPTIONS, tenantId: '_id' })).toThrow(/collides/);
    expect(() => generateUser(0, { ...OPTIONS, tenantId: '_experience' })).toThrow(/collides/);
  });

  it('rejects bad weeks and gapWeeks', () => {
    expect(() => generateUser(0, { ...OPTIONS, weeks: 0 })).toThrow(/weeks.*0/);
    expect(() => generateUser(0, { ...OPTIONS, weeks: Infinity })).toThrow(/weeks.*Infinity/);
    expect(() => generateUser(0, { ...OPTIONS, gapWeeks: -1 })).toThrow(/gapWeeks.*-1/);
  });

  it('validates generateUsers arguments when called, not on first iteration', () => {
    expect(() => generateUsers(0, 1, { ...OPTIONS, tenantId: 'bad' })).toThrow(/tenantId/);
  });
});
