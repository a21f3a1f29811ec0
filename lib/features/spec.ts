/**
 * The feature specification: a typed, declarative, JSON-serialisable description of the week-2 training
 * and scoring sets, validated with zod. One specification compiles to Data Distiller SQL (AEP) and to
 * PostgreSQL (the embedded platform), see compile.ts.
 *
 * Feature kinds (per user, over the user's events ordered by `timestamp`, then `_id`):
 *  - `label`: 1 if the user has ANY event of `eventType` (in the history read), else 0. Exactly one per
 *    spec; it also chooses the training row (see below).
 *  - `runningCount`: how many events of `eventType` the user had from their first event up to and
 *    including the row.
 *  - `minutesSinceLast`: minutes from the most recent event of `eventType` at or before the row to the
 *    row (0 when the row itself is of that type, null when there is none yet).
 *
 * Training row choice: a user with a label event keeps the row of their first label event; a user without
 * keeps the one row with the smallest `md5(concat(userId, _id, seed))` - pseudo-random but deterministic,
 * so an independent computation can reproduce it, and changing `seed` draws another row.
 *
 * Output columns: `userId` (the `_<tenant>.userid` ECID), `timestamp` (the chosen row's event time), the
 * label (training set only), then the other features in spec order. See `trainingColumns` /
 * `scoringColumns`.
 */
import * as z from 'zod';

export const FEATURE_KINDS = ['label', 'runningCount', 'minutesSinceLast'] as const;
export type FeatureKind = (typeof FEATURE_KINDS)[number];

export interface FeatureDefinition {
  kind: FeatureKind;
  /** The output column; a plain SQL identifier (letters, digits, underscore; at most 63 characters). */
  name: string;
  /** The XDM `eventType` the feature looks at, a plain dotted name such as `directMarketing.emailSent`. */
  eventType: string;
}

export interface FeatureSpec {
  /** Seed of the training row choice for users without a label event. */
  seed: string;
  features: FeatureDefinition[];
}

/** The output column holding the user id (`_<tenant>.userid`). */
export const USER_ID_COLUMN = 'userId';
/** The output column holding the chosen row's event timestamp. */
export const TIMESTAMP_COLUMN = 'timestamp';
/**
 * Names the generated SQL uses itself (output and intermediate columns), so features cannot take them.
 * Compared case-insensitively: Data Distiller's identifiers are case-insensitive.
 */
export const RESERVED_NAMES: readonly string[] = [USER_ID_COLUMN, TIMESTAMP_COLUMN, '_id', 'eventType', 'row_pick'];

/** Raised for a specification that does not validate; the message names every bad entry. */
export class FeatureSpecError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid feature specification:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'FeatureSpecError';
  }
}

/** PostgreSQL truncates longer identifiers (NAMEDATALEN 64), which would merge distinct features. */
const MAX_NAME_LENGTH = 63;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A plain dotted name: no quotes, backslashes, spaces or anything else a literal could trip over. */
const EVENT_TYPE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
/** The seed becomes a string literal; keeping it plain avoids any dialect's escaping rules. */
const SEED = /^[A-Za-z0-9_.:-]{1,64}$/;

const featureSchema = z
  .object({
    kind: z.enum(FEATURE_KINDS, { error: (i) => `unknown kind ${JSON.stringify(i.input)}; expected one of ${FEATURE_KINDS.join(', ')}` }),
    name: z
      .string({ error: 'name must be a string' })
      .max(MAX_NAME_LENGTH, `name must be at most ${MAX_NAME_LENGTH} characters`)
      .regex(NAME, 'name must be a plain identifier: a letter or underscore, then letters, digits or underscores'),
    eventType: z
      .string({ error: 'eventType must be a string' })
      .max(255, 'eventType must be at most 255 characters')
      .regex(EVENT_TYPE, 'eventType must be a plain dotted name such as directMarketing.emailSent (letters, digits, underscores and dots)'),
  })
  .strict();

export const featureSpecSchema = z
  .object({
    seed: z.string({ error: 'seed must be a string' }).regex(SEED, 'seed must be 1 to 64 letters, digits or _ . : -'),
    features: z.array(featureSchema, { error: 'features must be an array' }).min(1, 'features must not be empty'),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const seen = new Map<string, number>(); // lower-case name → its index in spec.features
    const reserved = new Set(RESERVED_NAMES.map((n) => n.toLowerCase()));
    spec.features.forEach((f, i) => {
      const key = f.name.toLowerCase();
      if (reserved.has(key)) {
        ctx.addIssue({ code: 'custom', path: ['features', i, 'name'], message: `name ${JSON.stringify(f.name)} is reserved (${RESERVED_NAMES.join(', ')})` });
      }
      const first = seen.get(key);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['features', i, 'name'],
          message: `duplicate name ${JSON.stringify(f.name)} (features[${first}] is ${JSON.stringify(spec.features[first]!.name)}; names are case-insensitive)`,
        });
      } else {
        seen.set(key, i);
      }
    });
    const labels = spec.features.flatMap((f, i) => (f.kind === 'label' ? [i] : [])); // indices in spec.features
    if (labels.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['features'],
        message:
          labels.length === 0
            ? 'exactly one feature of kind "label" is required (it chooses the training row); found none'
            : `exactly one feature of kind "label" is required; found ${labels.length}: ${labels.map((i) => spec.features[i]!.name).join(', ')}`,
      });
    }
  });

function describePath(input: unknown, path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'spec';
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  // Name the entry: features[3] ("emailsOpened").
  if (path[0] === 'features' && typeof path[1] === 'number') {
    const entry = (input as { features?: unknown[] } | null)?.features?.[path[1]];
    const name = entry && typeof entry === 'object' ? (entry as { name?: unknown }).name : undefined;
    if (typeof name === 'string') {
      const head = `features[${path[1]}] (${JSON.stringify(name)})`;
      const rest = path.slice(2).map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
      return head + rest;
    }
  }
  return out;
}

/** Validates `input` as a feature specification; throws FeatureSpecError naming every bad entry. */
export function validateSpec(input: unknown): FeatureSpec {
  const result = featureSpecSchema.safeParse(input);
  if (!result.success) {
    throw new FeatureSpecError(result.error.issues.map((issue) => `${describePath(input, issue.path)}: ${issue.message}`));
  }
  return result.data;
}

export interface SpecChanges {
  /** Features to add after the base's features. */
  features?: FeatureDefinition[];
  /** Names of base features to drop (each must exist). */
  remove?: string[];
  /** A new seed for the training row choice. */
  seed?: string;
}

/**
 * A new specification from `base`: drops the features named in `remove`, appends `features`, and
 * optionally replaces the seed. The result is validated (duplicate names, a second label, etc. are refused).
 */
export function extendSpec(base: FeatureSpec, changes: SpecChanges): FeatureSpec {
  const valid = validateSpec(base);
  const remove = new Set(changes.remove ?? []);
  const missing = [...remove].filter((name) => !valid.features.some((f) => f.name === name));
  if (missing.length > 0) {
    throw new FeatureSpecError(missing.map((name) => `remove: no feature named ${JSON.stringify(name)} in the base specification`));
  }
  return validateSpec({
    seed: changes.seed ?? valid.seed,
    features: [...valid.features.filter((f) => !remove.has(f.name)), ...(changes.features ?? [])],
  });
}

export function labelFeature(spec: FeatureSpec): FeatureDefinition {
  return spec.features.find((f) => f.kind === 'label') as FeatureDefinition;
}

/** Features other than the label, in spec order. */
export function inputFeatures(spec: FeatureSpec): FeatureDefinition[] {
  return spec.features.filter((f) => f.kind !== 'label');
}

/** Columns of the training set, in order: userId, timestamp, the label, the other features. */
export function trainingColumns(spec: FeatureSpec): string[] {
  const valid = validateSpec(spec);
  return [USER_ID_COLUMN, TIMESTAMP_COLUMN, labelFeature(valid).name, ...inputFeatures(valid).map((f) => f.name)];
}

/** Columns of the scoring set, in order: userId, timestamp, the features (no label). */
export function scoringColumns(spec: FeatureSpec): string[] {
  const valid = validateSpec(spec);
  return [USER_ID_COLUMN, TIMESTAMP_COLUMN, ...inputFeatures(valid).map((f) => f.name)];
}

const feature = (kind: FeatureKind, name: string, eventType: string): FeatureDefinition => ({ kind, name, eventType });

/**
 * BRIEF section 2, week 2: the notebook's features, with the dismiss event spelled right
 * (`decisioning.propositionDismiss`; the notebook's misspelling made that column always null).
 */
export const WEEK2_FEATURES: FeatureSpec = Object.freeze({
  seed: 'week2',
  features: Object.freeze([
    feature('label', 'subscriptionOccurred', 'web.formFilledOut'),
    feature('runningCount', 'emailsReceived', 'directMarketing.emailSent'),
    feature('runningCount', 'emailsOpened', 'directMarketing.emailOpened'),
    feature('runningCount', 'emailsClicked', 'directMarketing.emailClicked'),
    feature('runningCount', 'productsViewed', 'commerce.productViews'),
    feature('runningCount', 'propositionInteracts', 'decisioning.propositionInteract'),
    feature('runningCount', 'propositionDismissed', 'decisioning.propositionDismiss'),
    feature('runningCount', 'webLinkClicks', 'web.webinteraction.linkClicks'),
    feature('minutesSinceLast', 'minutes_since_emailSent', 'directMarketing.emailSent'),
    feature('minutesSinceLast', 'minutes_since_emailOpened', 'directMarketing.emailOpened'),
    feature('minutesSinceLast', 'minutes_since_emailClick', 'directMarketing.emailClicked'),
    feature('minutesSinceLast', 'minutes_since_productView', 'commerce.productViews'),
    feature('minutesSinceLast', 'minutes_since_propositionInteract', 'decisioning.propositionInteract'),
    feature('minutesSinceLast', 'minutes_since_propositionDismiss', 'decisioning.propositionDismiss'),
    feature('minutesSinceLast', 'minutes_since_linkClick', 'web.webinteraction.linkClicks'),
  ].map((f) => Object.freeze(f))) as FeatureDefinition[],
});
