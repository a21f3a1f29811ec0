import * as z from 'zod';

/**
 * The propensity band of an audience (notebook week 5): the profiles whose `_<tenant>.propensity` lies
 * in [low, high], both ends included, and the PQL rule that selects them on `_xdm.context.profile`.
 */

/** Both ends are included: a profile with propensity exactly `low` or `high` is in the band. */
export interface PropensityBand {
  low: number;
  high: number;
}

/** The XDM class a propensity audience is evaluated on. */
export const PROFILE_SEGMENT_SCHEMA = '_xdm.context.profile';

/** A band or tenant id that cannot make a valid audience; the message names the bad value. */
export class AudienceInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AudienceInputError';
  }
}

function describe(value: unknown): string {
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (value === undefined) return 'nothing';
  return JSON.stringify(value) ?? String(value);
}

/**
 * One end of a band, a propensity: a probability from 0 to 1. The one schema every reader of a band
 * uses (the configuration, the provisioner's input, the constructs, the command line), so each refuses
 * the same values with the same words.
 */
export const propensitySchema = z.number({ error: (issue) => `must be a finite number from 0 to 1, got ${describe(issue.input)}` }).check((ctx) => {
  const value = ctx.value;
  if (!Number.isFinite(value)) ctx.issues.push({ code: 'custom', input: value, message: `must be a finite number from 0 to 1, got ${describe(value)}` });
  else if (value < 0 || value > 1) ctx.issues.push({ code: 'custom', input: value, message: `must be within [0, 1] (a propensity is a probability), got ${describe(value)}` });
});

/** A propensity written as text (an environment variable, a command-line option). */
export const propensityFromText = z.preprocess((value) => (typeof value === 'string' && value.trim() !== '' ? Number(value) : value), propensitySchema);

/** Both ends included: `low` may equal `high`, never exceed it. */
export function bandOrderIssue(band: { low: number; high: number }): string | undefined {
  return band.low > band.high ? `low (${describe(band.low)}) must not be above high (${describe(band.high)})` : undefined;
}

export const propensityBandSchema = z
  .object({ low: propensitySchema, high: propensitySchema })
  .strict()
  .superRefine((band, ctx) => {
    const issue = bandOrderIssue(band);
    if (issue) ctx.addIssue({ code: 'custom', message: issue });
  });

/**
 * Checks a band with {@link propensityBandSchema}. `names` says what to call the ends in the message
 * (e.g. the props of a construct). Returns the band unchanged.
 */
export function validateBand(band: { low: unknown; high: unknown }, names: { low: string; high: string } = { low: 'low', high: 'high' }): PropensityBand {
  const parsed = propensityBandSchema.safeParse(band);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const end = issue.path[0] === 'low' || issue.path[0] === 'high' ? issue.path[0] : undefined;
    // The order message names both ends itself.
    if (issue.message.startsWith('low (')) return issue.message.replace(/^low/, names.low).replace(/ high \(/, ` ${names.high} (`);
    return end ? `${names[end]} ${issue.message}` : issue.message;
  });
  throw new AudienceInputError(`Invalid propensity band: ${problems.join('; ')}`);
}

const TENANT_ID = /^[A-Za-z0-9]+$/;

/** Checks a tenant id as the PQL field path needs it: letters and digits, without the leading underscore. */
export function validateTenantId(tenantId: unknown): string {
  if (typeof tenantId !== 'string' || !TENANT_ID.test(tenantId)) {
    const hint = typeof tenantId === 'string' && tenantId.startsWith('_') ? ' (give it without the leading underscore)' : '';
    throw new AudienceInputError(`Invalid tenant id ${describe(tenantId)}: must be letters and digits${hint}`);
  }
  return tenantId;
}

/**
 * A number as a plain decimal literal that reads back as exactly the same double: JavaScript's shortest
 * round-trip digits, with any exponent written out (`1e-7` becomes `0.0000001`), since PQL number
 * literals are plain decimals.
 */
export function decimalLiteral(value: number): string {
  if (!Number.isFinite(value)) throw new AudienceInputError(`Cannot write ${describe(value)} as a PQL number`);
  const text = String(value);
  const match = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!match) return text;
  const [, sign, lead, rest = '', exp] = match;
  const digits = lead + rest;
  const point = 1 + Number(exp);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** The week-5 rule: `_<tenant>.propensity >= low and _<tenant>.propensity <= high`. */
export function propensityBandPql(tenantId: string, band: PropensityBand): string {
  const tenant = validateTenantId(tenantId);
  const { low, high } = validateBand(band);
  const field = `_${tenant}.propensity`;
  return `${field} >= ${decimalLiteral(low)} and ${field} <= ${decimalLiteral(high)}`;
}
