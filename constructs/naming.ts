import { createHash } from 'crypto';
import { Token } from 'cdktf';
import type { IConstruct } from 'constructs';

/** Rules for one kind of AWS resource name. */
export interface NameRules {
  /** Longest name AWS accepts for this resource type. */
  readonly maxLength: number;
  /** Characters outside this class are replaced by `-` (give the class without the brackets' negation). */
  readonly allowedCharacters: string;
  /** S3 bucket names must be lower case. @default false */
  readonly lowerCase?: boolean;
  /** Appended after the path-derived part, kept whole even when the rest is shortened. @default '' */
  readonly suffix?: string;
}

/** Length of the hash that keeps shortened names unique. */
const HASH_LENGTH = 8;

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, HASH_LENGTH);
}

/**
 * A deterministic physical name for a construct, built from its path in the construct tree
 * (stack id included, so two stacks in one account do not collide).
 *
 * Invalid characters become `-`. When the result is too long it is cut and a hash of the full path
 * is appended, so two long paths that share a beginning still get different names.
 */
export function nameFromPath(scope: IConstruct, rules: NameRules): string {
  const suffix = rules.suffix ?? '';
  const fullPath = scope.node.path;
  const invalid = new RegExp(`[^${rules.allowedCharacters}]+`, 'g');
  const joined = fullPath
    .split('/')
    .filter((part) => part.length > 0)
    .join('-');
  // Lower-cased before invalid characters are replaced, so `PipelineBucket` keeps its letters.
  let base = (rules.lowerCase ? joined.toLowerCase() : joined)
    .replace(invalid, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '');
  if (base.length === 0) base = 'construct';
  if (base.length + suffix.length <= rules.maxLength) return base + suffix;
  const keep = rules.maxLength - suffix.length - HASH_LENGTH - 1;
  if (keep < 1) throw new Error(`Cannot derive a name of at most ${rules.maxLength} characters with suffix "${suffix}"`);
  return `${base.slice(0, keep).replace(/-+$/, '')}-${shortHash(fullPath)}${suffix}`;
}

/** True when the value is a literal string we can check (not a Terraform reference resolved at deploy time). */
export function isLiteral(value: string | undefined): value is string {
  return value !== undefined && !Token.isUnresolved(value);
}

/**
 * Normalizes an S3 key prefix to the `folder/` form and rejects prefixes that would make IAM resource
 * patterns ambiguous (a leading `/`, wildcards, empty segments).
 */
export function normalizePrefix(prefix: string, what: string): string {
  if (!isLiteral(prefix)) return prefix;
  const withSlash = prefix.endsWith('/') ? prefix : `${prefix}/`;
  if (withSlash === '/' || withSlash.startsWith('/') || withSlash.includes('//')) {
    throw new Error(`${what}: prefix "${prefix}" must be a folder name like "egress/" (no leading "/", no empty segments)`);
  }
  if (/[*?\s\\]/.test(withSlash)) {
    throw new Error(`${what}: prefix "${prefix}" must not contain wildcards, whitespace or backslashes`);
  }
  return withSlash;
}
