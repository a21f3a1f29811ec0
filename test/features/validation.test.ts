/**
 * Bad input never becomes SQL: injection-shaped identifiers, event types and snapshot ids are refused with
 * an error naming what is wrong, and the specification is validated entry by entry.
 */
import { compileFeatureQuery, compileFeatureStatement, FeatureQueryError, type FeatureStatementOptions } from '../../lib/features/compile';
import { extendSpec, FeatureSpecError, scoringColumns, trainingColumns, validateSpec, WEEK2_FEATURES, type FeatureSpec } from '../../lib/features/spec';
import { dataDistiller, postgres, SnapshotRangeError, UnsafeIdentifierError } from '../../lib/sql/dialect';

const dialects = [dataDistiller, postgres];
const good: FeatureStatementOptions = { kind: 'training', eventsTable: 'events', tenantId: 'acme', outputTable: 'features', mode: 'create', snapshots: { from: 1, to: 2 } };

function compileBoth(options: Partial<FeatureStatementOptions>, spec: FeatureSpec = WEEK2_FEATURES): Array<() => string> {
  return dialects.map((d) => () => compileFeatureStatement(spec, d, { ...good, ...options }));
}

describe('the compiler refuses unsafe input', () => {
  it('compiles the good options in both dialects', () => {
    for (const compile of compileBoth({})) expect(compile()).toMatch(/^CREATE TABLE/);
  });

  it.each([
    ['events table', { eventsTable: 'events; DROP TABLE x' }],
    ['events table', { eventsTable: 'events" --' }],
    ['events table', { eventsTable: '' }],
    ['tenant id', { tenantId: "acme'--" }],
    ['tenant id', { tenantId: 'acme.userid, (SELECT 1)' }],
    ['output table', { outputTable: 'features AS SELECT 1; --' }],
    ['output table', { outputTable: 'x'.repeat(129) }],
  ])('refuses an unsafe %s: %j', (_what, options) => {
    for (const compile of compileBoth(options)) {
      expect(compile).toThrow(UnsafeIdentifierError);
    }
  });

  it('names what is wrong', () => {
    expect(compileBoth({ eventsTable: 'events; DROP TABLE x' })[0]).toThrow(/table name "events; DROP TABLE x"/);
    expect(compileBoth({ tenantId: "acme'--" })[1]).toThrow(/tenant id "acme'--"/);
  });

  it('refuses a tenant id given with its underscore', () => {
    for (const compile of compileBoth({ tenantId: '_acme' })) expect(compile).toThrow(/without its leading underscore/);
  });

  it.each([
    [{ from: 1.5, to: 2 }],
    [{ from: -1, to: 2 }],
    [{ from: 1, to: Number.NaN }],
    [{ from: 1, to: Infinity }],
    [{ from: 1, to: 2 ** 53 }],
    [{ from: '1 OR 1=1' as unknown as number, to: 2 }],
    [{ to: '2; DROP TABLE events' as unknown as number }],
    [{ to: 2n as unknown as number }],
    [{ from: 3, to: 3 }],
    [{ from: 4, to: 3 }],
  ])('refuses snapshots %p', (snapshots) => {
    for (const compile of compileBoth({ snapshots })) expect(compile).toThrow(SnapshotRangeError);
  });

  it('requires snapshots.to when snapshots are given, and a known kind and mode', () => {
    for (const compile of compileBoth({ snapshots: { from: 1 } as unknown as { to: number } })) expect(compile).toThrow(/snapshots.to is required/);
    for (const compile of compileBoth({ kind: 'everything' as 'training' })) expect(compile).toThrow(FeatureQueryError);
    for (const compile of compileBoth({ mode: 'replace' as 'create' })) expect(compile).toThrow(/mode must be "create" or "insert"/);
  });

  it('validates the specification it is given before writing SQL', () => {
    const bad: FeatureSpec = { seed: 'x', features: [...WEEK2_FEATURES.features, { kind: 'runningCount', name: "x'; DROP TABLE t; --", eventType: 'a.b' }] };
    for (const compile of compileBoth({}, bad)) expect(compile).toThrow(FeatureSpecError);
    const badType: FeatureSpec = { seed: 'x', features: [...WEEK2_FEATURES.features, { kind: 'runningCount', name: 'n', eventType: "a.b' OR '1'='1" }] };
    for (const d of dialects) expect(() => compileFeatureQuery(badType, d, { kind: 'scoring', eventsTable: 'e', tenantId: 't' })).toThrow(FeatureSpecError);
  });
});

describe('feature specification validation', () => {
  const withFeature = (f: Record<string, unknown>) => ({ seed: 'week2', features: [...WEEK2_FEATURES.features, f] });

  it('accepts the week-2 specification and lists its columns', () => {
    expect(validateSpec(WEEK2_FEATURES)).toEqual(WEEK2_FEATURES);
    expect(trainingColumns(WEEK2_FEATURES)).toEqual([
      'userId',
      'timestamp',
      'subscriptionOccurred',
      'emailsReceived',
      'emailsOpened',
      'emailsClicked',
      'productsViewed',
      'propositionInteracts',
      'propositionDismissed',
      'webLinkClicks',
      'minutes_since_emailSent',
      'minutes_since_emailOpened',
      'minutes_since_emailClick',
      'minutes_since_productView',
      'minutes_since_propositionInteract',
      'minutes_since_propositionDismiss',
      'minutes_since_linkClick',
    ]);
    expect(scoringColumns(WEEK2_FEATURES)).toEqual(trainingColumns(WEEK2_FEATURES).filter((c) => c !== 'subscriptionOccurred'));
    expect(WEEK2_FEATURES.features.find((f) => f.name === 'minutes_since_propositionDismiss')?.eventType).toBe('decisioning.propositionDismiss');
  });

  it.each([
    ['a duplicate name', withFeature({ kind: 'runningCount', name: 'emailsOpened', eventType: 'a.b' }), /features\[15\] \("emailsOpened"\)\.name: duplicate name "emailsOpened" \(features\[2\]/],
    ['a duplicate name differing in case', withFeature({ kind: 'runningCount', name: 'EMAILSOPENED', eventType: 'a.b' }), /duplicate name "EMAILSOPENED".*case-insensitive/],
    ['an unknown kind', withFeature({ kind: 'average', name: 'avg', eventType: 'a.b' }), /features\[15\] \("avg"\)\.kind: unknown kind "average"; expected one of label, runningCount, minutesSinceLast/],
    ['a name with a quote', withFeature({ kind: 'runningCount', name: 'emails"opened', eventType: 'a.b' }), /features\[15\] \("emails\\"opened"\)\.name: name must be a plain identifier/],
    ['a name with a space', withFeature({ kind: 'runningCount', name: 'emails opened', eventType: 'a.b' }), /\("emails opened"\)\.name: name must be a plain identifier/],
    ['a name too long for PostgreSQL', withFeature({ kind: 'runningCount', name: 'n'.repeat(64), eventType: 'a.b' }), /at most 63 characters/],
    ['a reserved name', withFeature({ kind: 'runningCount', name: 'userid', eventType: 'a.b' }), /name "userid" is reserved/],
    ['an event type with a quote', withFeature({ kind: 'runningCount', name: 'n', eventType: "web.form'FilledOut" }), /features\[15\] \("n"\)\.eventType: eventType must be a plain dotted name/],
    ['an event type with a backslash', withFeature({ kind: 'runningCount', name: 'n', eventType: 'web.form\\' }), /eventType must be a plain dotted name/],
    ['an empty event type segment', withFeature({ kind: 'runningCount', name: 'n', eventType: 'web..x' }), /eventType must be a plain dotted name/],
    ['an unknown field', withFeature({ kind: 'runningCount', name: 'n', eventType: 'a.b', window: 'all' }), /features\[15\] \("n"\).*window/],
    ['a second label', withFeature({ kind: 'label', name: 'purchased', eventType: 'commerce.purchases' }), /exactly one feature of kind "label".*found 2: subscriptionOccurred, purchased/],
    ['no label', { seed: 'x', features: [{ kind: 'runningCount', name: 'n', eventType: 'a.b' }] }, /exactly one feature of kind "label" is required .*found none/],
    ['no features', { seed: 'x', features: [] }, /features: features must not be empty/],
    ['a seed with a quote', { ...WEEK2_FEATURES, seed: "x'" }, /seed: seed must be 1 to 64/],
    ['not an object', 'WEEK2', /spec: /],
  ])('refuses %s', (_what, spec, message) => {
    expect(() => validateSpec(spec)).toThrow(FeatureSpecError);
    expect(() => validateSpec(spec)).toThrow(message);
  });

  it('reports every problem at once', () => {
    const spec = { seed: 'x', features: [{ kind: 'label', name: 'a b', eventType: 'x' }, { kind: 'nope', name: 'c', eventType: "'" }] };
    expect(() => validateSpec(spec)).toThrow(FeatureSpecError);
    try {
      validateSpec(spec);
    } catch (error) {
      expect((error as FeatureSpecError).problems).toHaveLength(3);
    }
  });

  it('extends a specification: adds, removes, reseeds, and validates the result', () => {
    const extended = extendSpec(WEEK2_FEATURES, {
      remove: ['webLinkClicks', 'minutes_since_linkClick'],
      features: [{ kind: 'runningCount', name: 'purchases', eventType: 'commerce.purchases' }],
      seed: 'other',
    });
    expect(extended.seed).toBe('other');
    expect(extended.features.map((f) => f.name)).toEqual([...WEEK2_FEATURES.features.map((f) => f.name).filter((n) => n !== 'webLinkClicks' && n !== 'minutes_since_linkClick'), 'purchases']);
    expect(WEEK2_FEATURES.features).toHaveLength(15);
    expect(() => extendSpec(WEEK2_FEATURES, { features: [{ kind: 'runningCount', name: 'emailsOpened', eventType: 'a.b' }] })).toThrow(/duplicate name "emailsOpened"/);
    expect(() => extendSpec(WEEK2_FEATURES, { remove: ['noSuchFeature'] })).toThrow(/no feature named "noSuchFeature"/);
    expect(() => extendSpec(WEEK2_FEATURES, { remove: ['subscriptionOccurred'] })).toThrow(/exactly one feature of kind "label"/);
  });

  it('keeps WEEK2_FEATURES from being changed in place', () => {
    expect(() => (WEEK2_FEATURES.features as unknown[]).push({})).toThrow(TypeError);
    expect(() => {
      (WEEK2_FEATURES.features[0] as { name: string }).name = 'x';
    }).toThrow(TypeError);
  });
});
