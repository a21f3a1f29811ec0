/**
 * The per-user model (event-time generation and propensity walk) with injected samplers:
 * scripted ones for exact replacement/subscription semantics, seeded ones for distributional checks.
 */
import { CAUSE_ORDER, EVENT_TYPE_SPECS, SUBSCRIPTION_DELAY_MS } from '../../lib/synthetic/event-types';
import { simulateEventTimes, simulateTimeline, WEEK_MS } from '../../lib/synthetic/generator';
import { streamRng } from '../../lib/random/rng';
import { RngSampler, Sampler } from '../../lib/synthetic/random';

const HOUR = 3_600_000;
const START = Date.UTC(2025, 0, 1);
const W = 10 * WEEK_MS;
const END = START + W;

/** Returns scripted values in call order; records the Poisson means it was asked for. */
class ScriptedSampler implements Sampler {
  readonly lambdas: number[] = [];
  constructor(
    readonly poissons: number[],
    readonly uniforms: number[] = [],
    readonly delaysHours: number[] = [],
    /** Returned once `uniforms` is exhausted (0.999999: never subscribe unless propensity is 1). */
    readonly uniformFallback = 0.999999,
  ) {}
  poisson(lambda: number): number {
    this.lambdas.push(lambda);
    return this.poissons.shift() ?? 0;
  }
  uniform(): number {
    return this.uniforms.shift() ?? this.uniformFallback;
  }
  exponential(mean: number): number {
    return this.delaysHours.shift() ?? mean;
  }
}

describe('simulateEventTimes: replacement semantics (scripted sampler)', () => {
  it('keeps only the dependents of the LAST cause event in list order, not the latest in time', () => {
    // impressions x2 (at 0.5W then 0.25W), no pageViews, no emailSent; clicks: 3 for the 1st, 1 for the 2nd
    const s = new ScriptedSampler([2, 0, 0, 3, 1], [0.5, 0.25]);
    const lists = simulateEventTimes(s, START, END);
    expect(lists['advertising.impressions']).toEqual([START + 0.5 * W, START + 0.25 * W]);
    expect(lists['advertising.clicks']).toEqual([START + 0.25 * W + 0.5 * HOUR]);
    // base draws use rate x 10 weeks, then one Poisson(0.01 x 10) per impression
    expect(s.lambdas).toEqual([1, 1, 5, 0.1, 0.1]);
    expect(s.poissons).toEqual([]);
  });

  it('replaces with an empty list when the last cause event draws k = 0', () => {
    const s = new ScriptedSampler([2, 0, 0, 2, 0], [0.1, 0.2]);
    expect(simulateEventTimes(s, START, END)['advertising.clicks']).toEqual([]);
  });

  it('lets emailClicked replace the base pageViews, whose dependents then come from the new list', () => {
    const s = new ScriptedSampler(
      [
        0, // impressions
        3, // base pageViews at 0.1W, 0.2W, 0.3W
        1, // emailSent at 0.6W
        1, // emailSent -> emailOpened
        1, // emailOpened -> emailClicked
        1, // emailClicked -> pageViews (replaces the 3 base pageViews)
        1, // pageViews -> linkClicks
        0, // pageViews -> productViews
        0, // pageViews -> propositionDisplay
      ],
      [0.1, 0.2, 0.3, 0.6],
    );
    const lists = simulateEventTimes(s, START, END);
    const sent = START + 0.6 * W;
    const opened = sent + 24 * HOUR;
    const clicked = opened + 0.5 * HOUR;
    const pageView = clicked + 0.1 * HOUR;
    expect(lists['directMarketing.emailSent']).toEqual([sent]);
    expect(lists['directMarketing.emailOpened']).toEqual([opened]);
    expect(lists['directMarketing.emailClicked']).toEqual([clicked]);
    expect(lists['web.webpagedetails.pageViews']).toEqual([pageView]);
    expect(lists['web.webinteraction.linkClicks']).toEqual([pageView + 0.1 * HOUR]);
    expect(lists['commerce.productViews']).toEqual([]);
    expect(s.lambdas).toEqual([1, 1, 5, 2, 0.5, 1, 0.5, 0.5, 0.5]);
    expect(s.poissons).toEqual([]);
  });

  it('leaves base pageViews alone when there is no emailClicked, and draws nothing for empty causes', () => {
    // pageViews x2; each draws linkClicks/productViews/propositionDisplay (the 2nd's draws survive)
    const s = new ScriptedSampler([0, 2, 0, 4, 4, 4, 1, 0, 1, 0, 1], [0.75, 0.5]);
    const lists = simulateEventTimes(s, START, END);
    const pv2 = START + 0.5 * W;
    expect(lists['web.webpagedetails.pageViews']).toEqual([START + 0.75 * W, pv2]);
    expect(lists['web.webinteraction.linkClicks']).toEqual([pv2 + 0.1 * HOUR]);
    expect(lists['commerce.productViews']).toEqual([]);
    expect(lists['decisioning.propositionDisplay']).toEqual([pv2 + 0.1 * HOUR]);
    // propositionDisplay -> interact (0), dismiss (1)
    expect(lists['decisioning.propositionInteract']).toEqual([]);
    expect(lists['decisioning.propositionDismiss']).toEqual([pv2 + 0.1 * HOUR + 0.05 * HOUR]);
    expect(lists['advertising.clicks']).toEqual([]);
    expect(lists['directMarketing.emailOpened']).toEqual([]);
    expect(s.lambdas).toEqual([1, 1, 5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.1, 0.1]);
  });

  it('scales every Poisson mean by the number of weeks', () => {
    const s = new ScriptedSampler([1, 0, 0, 0], [0.5]);
    simulateEventTimes(s, START, START + 4 * WEEK_MS, 4);
    expect(s.lambdas.map((l) => Math.round(l * 1e9) / 1e9)).toEqual([0.4, 0.4, 2, 0.04]);
  });
});

describe('simulateTimeline: propensity walk (scripted sampler)', () => {
  it('never lets directMarketing/advertising events trigger a subscription draw', () => {
    // impressions at 0.1W, pageViews at 0.2W, emailSent at 0.3W; the only subscription draw returns 0
    const s = new ScriptedSampler([1, 1, 1], [0.1, 0.2, 0.3, 0]);
    const t = simulateTimeline(s, START, END);
    expect(t.events.map((e) => e.eventType)).toEqual([
      'advertising.impressions',
      'web.webpagedetails.pageViews',
      'web.formFilledOut',
      'directMarketing.emailSent',
    ]);
    expect(t.subscribed).toBe(true);
    expect(t.triggerIndex).toBe(1);
    expect(t.events[2]?.timeMs).toBe(START + 0.2 * W + SUBSCRIPTION_DELAY_MS);
    expect(s.uniforms).toEqual([]);
  });

  it('draws with probability = propensity and stops drawing once subscribed', () => {
    // 3 pageViews at 0.1W, 0.2W, 0.3W. Propensity after each: 0.006, 0.011, 0.016.
    // Draws: 0.0061 (>= 0.006: no), 0.0109 (< 0.011: yes), then no further draw.
    const s = new ScriptedSampler([0, 3, 0], [0.1, 0.2, 0.3, 0.0061, 0.0109, 0]);
    const t = simulateTimeline(s, START, END);
    expect(t.triggerIndex).toBe(1);
    expect(t.events.filter((e) => e.eventType === 'web.formFilledOut')).toEqual([
      { eventType: 'web.formFilledOut', timeMs: START + 0.2 * W + SUBSCRIPTION_DELAY_MS },
    ]);
    expect(s.uniforms).toEqual([0]); // the third draw never happened
    expect(t.finalPropensity).toBeCloseTo(0.016, 12); // deltas still applied after subscribing
  });

  it('places the subscription event by time among later events', () => {
    // pageView at 0.5W, its linkClick 30 s later, subscription 60 s after the pageView
    const s = new ScriptedSampler([0, 1, 0, 1, 0, 0], [0.5, 0], [30 / 3600]);
    const t = simulateTimeline(s, START, END);
    expect(t.events).toEqual([
      { eventType: 'web.webpagedetails.pageViews', timeMs: START + 0.5 * W },
      { eventType: 'web.webinteraction.linkClicks', timeMs: START + 0.5 * W + 30_000 },
      { eventType: 'web.formFilledOut', timeMs: START + 0.5 * W + 60_000 },
    ]);
  });

  it('clamps the propensity at 0 and at 1', () => {
    // pageView -> propositionDisplay -> dismiss: 0.001 + 0.005 + 0.005 - 0.2 -> 0
    const low = simulateTimeline(new ScriptedSampler([0, 1, 0, 0, 0, 1, 0, 1], [0.5]), START, END);
    expect(low.events.map((e) => e.eventType).pop()).toBe('decisioning.propositionDismiss');
    expect(low.finalPropensity).toBe(0);
    expect(low.subscribed).toBe(false);
    // pageView -> productView -> 12 purchases: 0.001 + 0.005 + 0.005 + 1.2 -> 1; subscribes at the first p = 1
    const high = simulateTimeline(new ScriptedSampler([0, 1, 0, 0, 1, 0, 12], [0.5]), START, END);
    expect(high.finalPropensity).toBe(1);
    expect(high.subscribed).toBe(true);
    const trigger = high.events[high.triggerIndex];
    expect(trigger?.eventType).toBe('commerce.purchases');
    expect(high.events.slice(0, high.triggerIndex).filter((e) => e.eventType === 'commerce.purchases')).toHaveLength(9);
  });
});

describe('per-user model with the seeded sampler', () => {
  const USERS = 5000;
  const samplerFor = (i: number) => new RngSampler(streamRng(2025, i));

  it('puts every dependent after the last listed event of its cause, within a few mean delays', () => {
    let checked = 0;
    const bad: unknown[] = [];
    for (let i = 0; i < USERS; i++) {
      const lists = simulateEventTimes(samplerFor(i), START, END);
      for (const [cause, deps] of CAUSE_ORDER) {
        const causes = lists[cause];
        if (causes.length === 0) continue;
        const last = causes[causes.length - 1]!; // not empty, as just checked
        for (const dep of deps) {
          const maxDelay = 30 * EVENT_TYPE_SPECS[dep].meanDelayHours * HOUR; // P(exceeded) = e^-30
          for (const t of lists[dep]) {
            if (t < last || t - last > maxDelay) bad.push({ user: i, cause, dep, last, t });
            checked++;
          }
        }
      }
    }
    expect(bad).toEqual([]);
    expect(checked).toBeGreaterThan(USERS); // the check saw plenty of dependents
  });

  it('draws each dependent list from a single cause event (mean count does not grow with the causes)', () => {
    // emailOpened ~ Poisson(2) from the last emailSent only; appending per emailSent would give 2 x sends
    let users = 0;
    let opened = 0;
    let usersMany = 0;
    let openedMany = 0;
    for (let i = 0; i < USERS; i++) {
      const lists = simulateEventTimes(samplerFor(i), START, END);
      const sends = lists['directMarketing.emailSent'].length;
      if (sends === 0) {
        expect(lists['directMarketing.emailOpened']).toEqual([]);
        continue;
      }
      users++;
      opened += lists['directMarketing.emailOpened'].length;
      if (sends >= 6) {
        usersMany++;
        openedMany += lists['directMarketing.emailOpened'].length;
      }
    }
    expect(Math.abs(opened / users - 2)).toBeLessThan(0.15);
    expect(Math.abs(openedMany / usersMany - 2)).toBeLessThan(0.25);
  });

  it('keeps base events inside the window and lets delayed dependents run past its end', () => {
    let pastEnd = 0;
    let baseChecked = 0;
    const bad: unknown[] = [];
    for (let i = 0; i < USERS; i++) {
      const lists = simulateEventTimes(samplerFor(i), START, END);
      const base = [...lists['advertising.impressions'], ...lists['directMarketing.emailSent']];
      if (lists['directMarketing.emailClicked'].length === 0) base.push(...lists['web.webpagedetails.pageViews']);
      for (const t of base) {
        if (t < START || t >= END || !Number.isInteger(t)) bad.push({ user: i, base: t });
        baseChecked++;
      }
      for (const times of Object.values(lists)) {
        for (const t of times) {
          if (t < START || !Number.isInteger(t)) bad.push({ user: i, any: t });
          if (t >= END) pastEnd++;
        }
      }
    }
    expect(bad).toEqual([]);
    expect(baseChecked).toBeGreaterThan(6 * USERS);
    expect(pastEnd).toBeGreaterThan(0); // documented choice: kept, as in the notebook
  });

  it('subscribes only after non-marketing events, exactly 60 s later, at most once', () => {
    let subscribers = 0;
    let unordered = 0;
    for (let i = 0; i < USERS; i++) {
      const t = simulateTimeline(samplerFor(i), START, END);
      const forms = t.events.filter((e) => e.eventType === 'web.formFilledOut');
      expect(forms).toHaveLength(t.subscribed ? 1 : 0);
      for (let j = 1; j < t.events.length; j++) {
        if (t.events[j]!.timeMs < t.events[j - 1]!.timeMs) unordered++; // 1 <= j < t.events.length
      }
      if (!t.subscribed) continue;
      subscribers++;
      const trigger = t.events[t.triggerIndex]!; // a subscriber's trigger index is one of its events
      expect(EVENT_TYPE_SPECS[trigger.eventType].marketing).toBe(false);
      expect(trigger.eventType).not.toBe('web.formFilledOut');
      expect(forms[0]!.timeMs - trigger.timeMs).toBe(60_000); // one form, as just checked
    }
    expect(unordered).toBe(0);
    expect(subscribers / USERS).toBeGreaterThan(0.1);
  });
});
