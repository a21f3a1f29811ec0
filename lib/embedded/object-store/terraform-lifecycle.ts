/**
 * The rules of an `aws_s3_bucket_lifecycle_configuration` resource, as they stand in synthesized
 * Terraform JSON, turned into the rules of a PutBucketLifecycleConfiguration call, so the embedded
 * store can be given exactly what a deployment gives S3.
 */
import type { LifecycleRule, LifecycleRuleFilter, Tag } from '@aws-sdk/client-s3';

type Json = Record<string, unknown>;

/** A nested block: Terraform JSON writes one as an object or as a list of one object. */
function block(value: unknown, where: string): Json | undefined {
  if (value === undefined || value === null) return undefined;
  const list: unknown[] = Array.isArray(value) ? value : [value];
  if (list.length > 1) fail(where, 'holds more than one block');
  const one = list[0];
  if (one === undefined) return undefined;
  if (typeof one !== 'object' || one === null || Array.isArray(one)) fail(where, 'is not a block');
  return one as Json;
}

function fail(where: string, what: string): never {
  throw new Error(`Lifecycle rule ${where} ${what}`);
}

function literal(value: unknown, where: string): unknown {
  if (typeof value === 'string' && value.includes('${')) fail(where, `is the Terraform expression '${value}', known only at apply time`);
  return value;
}

function text(value: unknown, where: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  const v = literal(value, where);
  if (typeof v !== 'string') fail(where, `must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function count(value: unknown, where: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const v = literal(value, where);
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n)) fail(where, `must be a whole number, got ${JSON.stringify(v)}`);
  return n;
}

function flag(value: unknown, where: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  const v = literal(value, where);
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  return fail(where, `must be true or false, got ${JSON.stringify(v)}`);
}

function tags(value: unknown, where: string): Tag[] {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'object' || Array.isArray(value)) fail(where, 'must be a map of tag names to values');
  return Object.entries(value as Json).map(([Key, v]) => ({ Key, Value: text(v, `${where}.${Key}`) ?? '' }));
}

function filterOf(value: unknown, where: string): LifecycleRuleFilter | undefined {
  const f = block(value, where);
  if (!f) return undefined;
  const filter: LifecycleRuleFilter = {};
  const and = block(f.and, `${where}.and`);
  if (and) {
    filter.And = {
      Prefix: text(and.prefix, `${where}.and.prefix`),
      Tags: tags(and.tags, `${where}.and.tags`),
      ObjectSizeGreaterThan: count(and.object_size_greater_than, `${where}.and.object_size_greater_than`),
      ObjectSizeLessThan: count(and.object_size_less_than, `${where}.and.object_size_less_than`),
    };
    if (filter.And.Tags!.length === 0) delete filter.And.Tags; // set just above
    return filter;
  }
  const tag = block(f.tag, `${where}.tag`);
  if (tag) filter.Tag = { Key: text(tag.key, `${where}.tag.key`), Value: text(tag.value, `${where}.tag.value`) ?? '' };
  filter.Prefix = text(f.prefix, `${where}.prefix`);
  filter.ObjectSizeGreaterThan = count(f.object_size_greater_than, `${where}.object_size_greater_than`);
  filter.ObjectSizeLessThan = count(f.object_size_less_than, `${where}.object_size_less_than`);
  return filter;
}

/**
 * Converts the `rule` list of a synthesized `aws_s3_bucket_lifecycle_configuration` (snake_case
 * fields, nested blocks as lists) to the rules of a PutBucketLifecycleConfiguration request. Refuses,
 * naming the rule and field, a value left to Terraform to compute and a transition between storage
 * classes, which the embedded store has no use for.
 */
export function lifecycleRulesFromTerraform(rules: unknown): LifecycleRule[] {
  if (!Array.isArray(rules)) throw new Error('Lifecycle rules must be the list under the resource\'s "rule" key');
  return rules.map((raw, i) => {
    if (typeof raw !== 'object' || raw === null) fail(`#${i}`, 'is not a block');
    const r = raw as Json;
    const where = `'${typeof r.id === 'string' ? r.id : `#${i}`}'`;
    if (r.transition !== undefined || r.noncurrent_version_transition !== undefined) fail(where, 'moves objects between storage classes, which the embedded store does not model');
    const status = text(r.status, `${where}.status`);
    if (status !== 'Enabled' && status !== 'Disabled') fail(`${where}.status`, `must be Enabled or Disabled, got ${JSON.stringify(status)}`);
    const rule: LifecycleRule = { ID: text(r.id, `${where}.id`), Status: status };
    const filter = filterOf(r.filter, `${where}.filter`);
    const prefix = text(r.prefix, `${where}.prefix`);
    // The provider sends an empty filter when a rule names neither, which S3 applies to every object.
    if (filter) rule.Filter = filter;
    else if (prefix !== undefined) rule.Prefix = prefix;
    else rule.Filter = {};
    const expiration = block(r.expiration, `${where}.expiration`);
    if (expiration) {
      const date = text(expiration.date, `${where}.expiration.date`);
      rule.Expiration = {
        Days: count(expiration.days, `${where}.expiration.days`) || undefined,
        Date: date ? new Date(date) : undefined,
        ExpiredObjectDeleteMarker: flag(expiration.expired_object_delete_marker, `${where}.expiration.expired_object_delete_marker`) || undefined,
      };
    }
    const noncurrent = block(r.noncurrent_version_expiration, `${where}.noncurrent_version_expiration`);
    if (noncurrent) {
      rule.NoncurrentVersionExpiration = {
        NoncurrentDays: count(noncurrent.noncurrent_days, `${where}.noncurrent_version_expiration.noncurrent_days`),
        NewerNoncurrentVersions: count(noncurrent.newer_noncurrent_versions, `${where}.noncurrent_version_expiration.newer_noncurrent_versions`),
      };
    }
    const abort = block(r.abort_incomplete_multipart_upload, `${where}.abort_incomplete_multipart_upload`);
    if (abort) {
      rule.AbortIncompleteMultipartUpload = {
        DaysAfterInitiation: count(abort.days_after_initiation, `${where}.abort_incomplete_multipart_upload.days_after_initiation`),
      };
    }
    return rule;
  });
}
