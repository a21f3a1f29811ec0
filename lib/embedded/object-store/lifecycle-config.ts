/**
 * A bucket's lifecycle configuration as S3 reads, checks and answers it (PutBucketLifecycleConfiguration,
 * GetBucketLifecycleConfiguration), and when its rules make an object or an unfinished upload eligible
 * for removal.
 *
 * The store keeps no object versions, so NoncurrentVersionExpiration and ExpiredObjectDeleteMarker are
 * accepted, stored and given back, and have nothing to act on. Objects carry no tags here either, so a
 * rule filtering on tags never matches an object.
 */
import { invalidArgument, malformedXml, notImplemented, S3Error } from './errors';
import { el, parseXmlDocument, xmlDocument, type XmlNode } from './xml';

export interface LifecycleTag {
  key: string;
  value: string;
}

/** What a rule applies to; a filter with none of these applies to every object. */
export interface LifecycleFilter {
  prefix?: string;
  tag?: LifecycleTag;
  objectSizeGreaterThan?: number;
  objectSizeLessThan?: number;
  and?: { prefix?: string; tags: LifecycleTag[]; objectSizeGreaterThan?: number; objectSizeLessThan?: number };
}

export interface LifecycleRule {
  id?: string;
  status: 'Enabled' | 'Disabled';
  /** The rule-level Prefix of the older schema, instead of a Filter. */
  prefix?: string;
  filter?: LifecycleFilter;
  expiration?: { days?: number; date?: string; expiredObjectDeleteMarker?: boolean };
  abortIncompleteMultipartUpload?: { daysAfterInitiation: number };
  noncurrentVersionExpiration?: { noncurrentDays: number; newerNoncurrentVersions?: number };
}

const DAY_MS = 86_400_000;
const MAX_RULES = 1000;
const MAX_ID_LENGTH = 255;

const invalidRequest = (message: string) => new S3Error(400, 'InvalidRequest', message);

/** Children of `node` by name, refusing names outside `allowed` and repeats of any but `repeatable`. */
function childrenOf(node: XmlNode, allowed: string[], repeatable: string[] = []): Map<string, XmlNode[]> {
  const byName = new Map<string, XmlNode[]>();
  for (const child of node.children) {
    if (!allowed.includes(child.name)) throw malformedXml();
    const list = byName.get(child.name) ?? [];
    if (list.length > 0 && !repeatable.includes(child.name)) throw malformedXml();
    list.push(child);
    byName.set(child.name, list);
  }
  return byName;
}

function leafText(node: XmlNode): string {
  if (node.children.length > 0) throw malformedXml();
  return node.text;
}

function integer(node: XmlNode): number {
  const text = leafText(node).trim();
  if (!/^-?\d+$/.test(text)) throw malformedXml();
  return Number(text);
}

function positive(node: XmlNode, what: string): number {
  const n = integer(node);
  if (n < 1) throw invalidArgument(`'${what}' must be a positive integer`);
  return n;
}

function parseTag(node: XmlNode): LifecycleTag {
  const c = childrenOf(node, ['Key', 'Value']);
  const key = c.get('Key')?.[0];
  if (!key) throw malformedXml();
  const value = c.get('Value')?.[0];
  return { key: leafText(key), value: value ? leafText(value) : '' };
}

function parseSize(c: Map<string, XmlNode[]>, filter: { objectSizeGreaterThan?: number; objectSizeLessThan?: number }): void {
  const greater = c.get('ObjectSizeGreaterThan')?.[0];
  const less = c.get('ObjectSizeLessThan')?.[0];
  if (greater) filter.objectSizeGreaterThan = integer(greater);
  if (less) filter.objectSizeLessThan = integer(less);
  if ((filter.objectSizeGreaterThan ?? 0) < 0 || (filter.objectSizeLessThan ?? 1) < 1) {
    throw invalidArgument('ObjectSizeGreaterThan must be 0 or more, and ObjectSizeLessThan 1 or more');
  }
  if (filter.objectSizeGreaterThan !== undefined && filter.objectSizeLessThan !== undefined && filter.objectSizeLessThan <= filter.objectSizeGreaterThan) {
    throw invalidArgument('ObjectSizeLessThan must be greater than ObjectSizeGreaterThan');
  }
}

function parseFilter(node: XmlNode): LifecycleFilter {
  const sizes = ['ObjectSizeGreaterThan', 'ObjectSizeLessThan'];
  const c = childrenOf(node, ['Prefix', 'Tag', 'And', ...sizes]);
  // Outside And a filter holds one predicate at most.
  if (node.children.length > 1) throw malformedXml();
  const filter: LifecycleFilter = {};
  const prefix = c.get('Prefix')?.[0];
  if (prefix) filter.prefix = leafText(prefix);
  const tag = c.get('Tag')?.[0];
  if (tag) filter.tag = parseTag(tag);
  parseSize(c, filter);
  const and = c.get('And')?.[0];
  if (and) {
    const a = childrenOf(and, ['Prefix', 'Tag', ...sizes], ['Tag']);
    const andPrefix = a.get('Prefix')?.[0];
    const conditions: NonNullable<LifecycleFilter['and']> = { tags: (a.get('Tag') ?? []).map(parseTag), ...(andPrefix && { prefix: leafText(andPrefix) }) };
    parseSize(a, conditions);
    if (new Set(conditions.tags.map((t) => t.key)).size !== conditions.tags.length) throw invalidRequest('Duplicate Tag Keys are not allowed.');
    filter.and = conditions;
  }
  return filter;
}

function parseRule(node: XmlNode): LifecycleRule {
  const c = childrenOf(
    node,
    ['ID', 'Prefix', 'Filter', 'Status', 'Expiration', 'Transition', 'NoncurrentVersionTransition', 'NoncurrentVersionExpiration', 'AbortIncompleteMultipartUpload'],
    ['Transition', 'NoncurrentVersionTransition'],
  );
  if (c.has('Transition') || c.has('NoncurrentVersionTransition')) throw notImplemented('Lifecycle transitions between storage classes');
  const status = c.get('Status')?.[0];
  const statusText = status ? leafText(status) : undefined;
  if (statusText !== 'Enabled' && statusText !== 'Disabled') throw malformedXml();
  const rule: LifecycleRule = { status: statusText };
  const id = c.get('ID')?.[0];
  if (id) {
    rule.id = leafText(id);
    if (rule.id.length > MAX_ID_LENGTH) throw invalidArgument(`ID length should not exceed allowed limit of ${MAX_ID_LENGTH}`);
  }
  const prefix = c.get('Prefix')?.[0];
  const filter = c.get('Filter')?.[0];
  if ((prefix === undefined) === (filter === undefined)) throw malformedXml();
  if (prefix) rule.prefix = leafText(prefix);
  if (filter) rule.filter = parseFilter(filter);

  const expiration = c.get('Expiration')?.[0];
  if (expiration) {
    const e = childrenOf(expiration, ['Days', 'Date', 'ExpiredObjectDeleteMarker']);
    if (expiration.children.length !== 1) throw malformedXml();
    const days = e.get('Days')?.[0];
    const date = e.get('Date')?.[0];
    const marker = e.get('ExpiredObjectDeleteMarker')?.[0];
    if (days) rule.expiration = { days: positive(days, 'Days') };
    if (date) {
      const text = leafText(date).trim();
      const at = Date.parse(text);
      if (!Number.isFinite(at)) throw malformedXml();
      if (at % DAY_MS !== 0) throw invalidArgument("'Date' must be at midnight GMT");
      rule.expiration = { date: new Date(at).toISOString() };
    }
    if (marker) {
      const text = leafText(marker).trim();
      if (text !== 'true' && text !== 'false') throw malformedXml();
      if (hasTags(rule)) throw invalidRequest('ExpiredObjectDeleteMarker cannot be specified with tags.');
      rule.expiration = { expiredObjectDeleteMarker: text === 'true' };
    }
  }
  const noncurrent = c.get('NoncurrentVersionExpiration')?.[0];
  if (noncurrent) {
    const n = childrenOf(noncurrent, ['NoncurrentDays', 'NewerNoncurrentVersions']);
    const days = n.get('NoncurrentDays')?.[0];
    if (!days) throw malformedXml();
    const newer = n.get('NewerNoncurrentVersions')?.[0];
    rule.noncurrentVersionExpiration = { noncurrentDays: positive(days, 'NoncurrentDays'), ...(newer && { newerNoncurrentVersions: positive(newer, 'NewerNoncurrentVersions') }) };
  }
  const abort = c.get('AbortIncompleteMultipartUpload')?.[0];
  if (abort) {
    const a = childrenOf(abort, ['DaysAfterInitiation']);
    const days = a.get('DaysAfterInitiation')?.[0];
    if (!days) throw malformedXml();
    if (hasTags(rule)) throw invalidRequest('Tags cannot be specified with AbortIncompleteMultipartUpload');
    rule.abortIncompleteMultipartUpload = { daysAfterInitiation: positive(days, 'DaysAfterInitiation') };
  }
  if (!rule.expiration && !rule.noncurrentVersionExpiration && !rule.abortIncompleteMultipartUpload) {
    throw invalidRequest('At least one action needs to be specified in a rule');
  }
  return rule;
}

function hasTags(rule: LifecycleRule): boolean {
  return rule.filter?.tag !== undefined || (rule.filter?.and?.tags.length ?? 0) > 0;
}

/** Reads and checks a PutBucketLifecycleConfiguration body as S3 does, with S3's error codes. */
export function parseLifecycleConfiguration(xml: string): LifecycleRule[] {
  const root = parseXmlDocument(xml);
  if (root.name !== 'LifecycleConfiguration') throw malformedXml();
  const rules = [...childrenOf(root, ['Rule'], ['Rule']).get('Rule') ?? []].map(parseRule);
  if (rules.length === 0) throw malformedXml();
  if (rules.length > MAX_RULES) throw invalidRequest(`A lifecycle configuration holds at most ${MAX_RULES} rules`);
  const ids = rules.flatMap((r) => (r.id === undefined ? [] : [r.id]));
  if (new Set(ids).size !== ids.length) throw invalidArgument('Rule ID must be unique. Found same ID for more than one rule');
  return rules;
}

function renderTag(tag: LifecycleTag): string {
  return `<Tag>${el('Key', tag.key)}${el('Value', tag.value)}</Tag>`;
}

function renderSizes(f: { objectSizeGreaterThan?: number; objectSizeLessThan?: number }): string {
  return (
    (f.objectSizeGreaterThan === undefined ? '' : el('ObjectSizeGreaterThan', f.objectSizeGreaterThan)) +
    (f.objectSizeLessThan === undefined ? '' : el('ObjectSizeLessThan', f.objectSizeLessThan))
  );
}

function renderFilter(f: LifecycleFilter): string {
  const and = f.and
    ? `<And>${f.and.prefix === undefined ? '' : el('Prefix', f.and.prefix)}${f.and.tags.map(renderTag).join('')}${renderSizes(f.and)}</And>`
    : '';
  return `<Filter>${f.prefix === undefined ? '' : el('Prefix', f.prefix)}${f.tag ? renderTag(f.tag) : ''}${renderSizes(f)}${and}</Filter>`;
}

/** The GetBucketLifecycleConfiguration answer for `rules`. */
export function renderLifecycleConfiguration(rules: LifecycleRule[]): string {
  const inner = rules
    .map((r) => {
      const e = r.expiration;
      const expiration = e
        ? `<Expiration>${e.days !== undefined ? el('Days', e.days) : ''}${e.date !== undefined ? el('Date', e.date) : ''}${e.expiredObjectDeleteMarker !== undefined ? el('ExpiredObjectDeleteMarker', e.expiredObjectDeleteMarker) : ''}</Expiration>`
        : '';
      const n = r.noncurrentVersionExpiration;
      const noncurrent = n
        ? `<NoncurrentVersionExpiration>${el('NoncurrentDays', n.noncurrentDays)}${n.newerNoncurrentVersions === undefined ? '' : el('NewerNoncurrentVersions', n.newerNoncurrentVersions)}</NoncurrentVersionExpiration>`
        : '';
      const abort = r.abortIncompleteMultipartUpload
        ? `<AbortIncompleteMultipartUpload>${el('DaysAfterInitiation', r.abortIncompleteMultipartUpload.daysAfterInitiation)}</AbortIncompleteMultipartUpload>`
        : '';
      return (
        `<Rule>${r.id === undefined ? '' : el('ID', r.id)}${r.prefix === undefined ? '' : el('Prefix', r.prefix)}` +
        `${r.filter ? renderFilter(r.filter) : ''}${el('Status', r.status)}${expiration}${noncurrent}${abort}</Rule>`
      );
    })
    .join('');
  return xmlDocument('LifecycleConfiguration', inner);
}

/** What a rule's filter asks of an object, all of it at once. */
function conditions(rule: LifecycleRule): { prefix: string; tags: LifecycleTag[]; greaterThan?: number | undefined; lessThan?: number | undefined } {
  const f = rule.filter ?? {};
  if (f.and) return { prefix: f.and.prefix ?? '', tags: f.and.tags, greaterThan: f.and.objectSizeGreaterThan, lessThan: f.and.objectSizeLessThan };
  return { prefix: rule.prefix ?? f.prefix ?? '', tags: f.tag ? [f.tag] : [], greaterThan: f.objectSizeGreaterThan, lessThan: f.objectSizeLessThan };
}

/** 00:00 UTC of the day after the instant `ms`: S3 rounds every lifecycle due time up to it. */
export function nextMidnightUtc(ms: number): number {
  return (Math.floor(ms / DAY_MS) + 1) * DAY_MS;
}

/**
 * When the enabled rules make an object eligible for expiry (epoch ms), or undefined if none does: S3
 * adds a rule's Days to the creation time and rounds up to the next 00:00 UTC; a Date rule takes the
 * objects it matches from that date on.
 */
export function objectExpiresAt(rules: LifecycleRule[], object: { key: string; size: number; lastModified: number }): number | undefined {
  let earliest: number | undefined;
  for (const rule of rules) {
    const e = rule.expiration;
    if (rule.status !== 'Enabled' || !e || (e.days === undefined && e.date === undefined)) continue;
    const c = conditions(rule);
    if (!object.key.startsWith(c.prefix) || c.tags.length > 0) continue;
    if (c.greaterThan !== undefined && !(object.size > c.greaterThan)) continue;
    if (c.lessThan !== undefined && !(object.size < c.lessThan)) continue;
    const at = e.days !== undefined ? nextMidnightUtc(object.lastModified + e.days * DAY_MS) : Date.parse(e.date!); // one of the two, checked above
    if (earliest === undefined || at < earliest) earliest = at;
  }
  return earliest;
}

/** When the enabled rules abort an unfinished multipart upload (epoch ms), or undefined if none does. */
export function uploadAbortedAt(rules: LifecycleRule[], upload: { key: string; initiated: number }): number | undefined {
  let earliest: number | undefined;
  for (const rule of rules) {
    const abort = rule.abortIncompleteMultipartUpload;
    if (rule.status !== 'Enabled' || !abort || !upload.key.startsWith(conditions(rule).prefix)) continue;
    const at = nextMidnightUtc(upload.initiated + abort.daysAfterInitiation * DAY_MS);
    if (earliest === undefined || at < earliest) earliest = at;
  }
  return earliest;
}

/** Whether any enabled rule can remove something, so a sweep has work to look for. */
export function rulesAct(rules: LifecycleRule[]): boolean {
  return rules.some((r) => r.status === 'Enabled' && (r.abortIncompleteMultipartUpload || r.expiration?.days !== undefined || r.expiration?.date !== undefined));
}
