/**
 * The event-type table of the week-1 generative model (synthetic users and XDM ExperienceEvents),
 * restated from the product brief as typed data.
 *
 * Every behavioural event type has
 *  - a weekly average rate (base events: Poisson(rate x weeks) occurrences in the window; dependent
 *    events: Poisson(rate x weeks) occurrences per cause event, see `CAUSE_ORDER`),
 *  - the change it makes to the user's subscription propensity,
 *  - the XDM field it sets (to 1),
 *  - the mean delay in hours after the event that caused it (exponentially distributed).
 *
 * The subscription event (`web.formFilledOut`) is not drawn from rates: it is emitted by the
 * propensity walk (see generator.ts).
 */

/** All behavioural event types, in table order. */
export const BEHAVIOUR_EVENT_TYPES = [
  'advertising.impressions',
  'advertising.clicks',
  'web.webpagedetails.pageViews',
  'web.webinteraction.linkClicks',
  'commerce.productViews',
  'commerce.purchases',
  'decisioning.propositionDisplay',
  'decisioning.propositionInteract',
  'decisioning.propositionDismiss',
  'directMarketing.emailSent',
  'directMarketing.emailOpened',
  'directMarketing.emailClicked',
] as const;

export type BehaviourEventType = (typeof BEHAVIOUR_EVENT_TYPES)[number];

/** The subscription event emitted 60 s after the event that triggered the subscription. */
export const SUBSCRIPTION_EVENT_TYPE = 'web.formFilledOut' as const;
export type SubscriptionEventType = typeof SUBSCRIPTION_EVENT_TYPE;

export type SyntheticEventType = BehaviourEventType | SubscriptionEventType;

/** All event types the model can emit (behavioural types in table order, then the subscription). */
export const ALL_EVENT_TYPES: readonly SyntheticEventType[] = [...BEHAVIOUR_EVENT_TYPES, SUBSCRIPTION_EVENT_TYPE];

export interface EventTypeSpec {
  readonly eventType: SyntheticEventType;
  /** Weekly average rate (0 for the subscription event, which is not rate-driven). */
  readonly weeklyRate: number;
  /** Change to the subscription propensity when the event occurs. */
  readonly propensityDelta: number;
  /** Path of the XDM field the event sets, e.g. ['directMarketing', 'opens', 'value']. */
  readonly xdmPath: readonly string[];
  /** Value written at `xdmPath`. */
  readonly xdmValue: number | string;
  /** Mean delay (hours) after the causing event; 0 means no delay. */
  readonly meanDelayHours: number;
  /**
   * True for directMarketing.* and advertising.* events: they move the propensity but never
   * trigger a subscription draw.
   */
  readonly marketing: boolean;
}

function spec(
  eventType: SyntheticEventType,
  weeklyRate: number,
  propensityDelta: number,
  xdmField: string,
  meanDelayHours: number,
  xdmValue: number | string = 1,
): EventTypeSpec {
  return Object.freeze({
    eventType,
    weeklyRate,
    propensityDelta,
    xdmPath: Object.freeze(xdmField.split('.')),
    xdmValue,
    meanDelayHours,
    marketing: eventType.startsWith('directMarketing.') || eventType.startsWith('advertising.'),
  });
}

/** The table, keyed by event type. */
export const EVENT_TYPE_SPECS: Readonly<Record<SyntheticEventType, EventTypeSpec>> = Object.freeze({
  'advertising.impressions': spec('advertising.impressions', 0.1, 0.001, 'advertising.impressions.value', 0),
  'advertising.clicks': spec('advertising.clicks', 0.01, 0.002, 'advertising.clicks.value', 0.5),
  'web.webpagedetails.pageViews': spec('web.webpagedetails.pageViews', 0.1, 0.005, 'web.webPageDetails.pageViews.value', 0.1),
  'web.webinteraction.linkClicks': spec('web.webinteraction.linkClicks', 0.05, 0.005, 'web.webInteraction.linkClicks.value', 0.1),
  'commerce.productViews': spec('commerce.productViews', 0.05, 0.005, 'commerce.productViews.value', 0.2),
  'commerce.purchases': spec('commerce.purchases', 0.01, 0.1, 'commerce.purchases.value', 1),
  'decisioning.propositionDisplay': spec('decisioning.propositionDisplay', 0.05, 0.005, '_experience.decisioning.propositionEventType.display', 0.1),
  'decisioning.propositionInteract': spec('decisioning.propositionInteract', 0.01, 0.1, '_experience.decisioning.propositionEventType.interact', 0.05),
  'decisioning.propositionDismiss': spec('decisioning.propositionDismiss', 0.01, -0.2, '_experience.decisioning.propositionEventType.dismiss', 0.05),
  'directMarketing.emailSent': spec('directMarketing.emailSent', 0.5, 0.005, 'directMarketing.sends.value', 0),
  'directMarketing.emailOpened': spec('directMarketing.emailOpened', 0.2, 0.02, 'directMarketing.opens.value', 24),
  'directMarketing.emailClicked': spec('directMarketing.emailClicked', 0.05, 0.1, 'directMarketing.clicks.value', 0.5),
  'web.formFilledOut': spec('web.formFilledOut', 0, 0, 'web.webPageDetails.name', 0, 'subscriptionForm'),
});

/**
 * Base events: Poisson(rate x weeks) occurrences at uniform random times within the window.
 * Drawn in this order.
 */
export const BASE_EVENT_TYPES: readonly BehaviourEventType[] = [
  'advertising.impressions',
  'web.webpagedetails.pageViews',
  'directMarketing.emailSent',
];

/**
 * Cause types and their dependents, in the exact order the model walks them. For every event of a
 * cause type, each dependent type's whole event list is REPLACED by freshly drawn events after that
 * cause event, so only the last cause event's dependents survive.
 */
export const CAUSE_ORDER: ReadonlyArray<readonly [BehaviourEventType, readonly BehaviourEventType[]]> = [
  ['advertising.impressions', ['advertising.clicks']],
  ['directMarketing.emailSent', ['directMarketing.emailOpened']],
  ['directMarketing.emailOpened', ['directMarketing.emailClicked']],
  ['directMarketing.emailClicked', ['web.webpagedetails.pageViews']],
  ['web.webpagedetails.pageViews', ['web.webinteraction.linkClicks', 'commerce.productViews', 'decisioning.propositionDisplay']],
  ['commerce.productViews', ['commerce.purchases']],
  ['decisioning.propositionDisplay', ['decisioning.propositionInteract', 'decisioning.propositionDismiss']],
];

/** Initial subscription propensity of every user. */
export const INITIAL_PROPENSITY = 0.001;

/** Delay between the triggering event and the emitted subscription event. */
export const SUBSCRIPTION_DELAY_MS = 60_000;
