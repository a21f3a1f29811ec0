import * as http from 'http';
import { invalidArgument, S3Error } from './errors';
import { header } from './http';
import type { ObjectMeta } from './store';

export const MAX_PARTS = 10000;
const MAX_KEY_BYTES = 1024;
// NAME_MAX is 255 on common file systems; the sidecar adds ".json" (5 bytes) to the last segment.
const MAX_SEGMENT_BYTES = 250;

// ---- names ----

export function isValidBucketName(name: string): boolean {
  return (
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) &&
    !name.includes('..') &&
    !name.includes('.-') &&
    !name.includes('-.') &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name)
  );
}

/** Splits a key into file-system segments, refusing any key that could not map to exactly one file. */
export function keySegments(key: string): string[] {
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new S3Error(400, 'KeyTooLongError', 'Your key is too long.');
  }
  if (key.includes('\0')) throw invalidArgument('Object keys may not contain NUL characters.');
  if (process.platform === 'win32' && /[\\:*?"<>|]/.test(key)) {
    throw invalidArgument('This key contains characters that cannot be stored as a Windows file name.');
  }
  const segments = key.split('/');
  for (const s of segments) {
    if (s === '' || s === '.' || s === '..') {
      throw invalidArgument(
        'Object keys may not be absolute, end with "/", or contain empty, "." or ".." path segments in the local object store.',
      );
    }
    if (Buffer.byteLength(s, 'utf8') > MAX_SEGMENT_BYTES) {
      throw new S3Error(400, 'KeyTooLongError', `A path segment of this key is longer than ${MAX_SEGMENT_BYTES} bytes.`);
    }
  }
  return segments;
}

/**
 * Maps a directory segment into the sidecar tree. Sidecar files are "<name>.json"; a directory whose
 * name also ends in ".json" is suffixed with "@" (as is one already ending in "@", keeping the mapping
 * one-to-one), so the sidecars of keys "a" and "a.json/b" can never collide.
 */
export function metaDirSegment(segment: string): string {
  return segment.endsWith('.json') || segment.endsWith('@') ? `${segment}@` : segment;
}

export function decodePathPart(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new S3Error(400, 'InvalidURI', "Couldn't parse the specified URI.");
  }
}

export function compareKeys(a: string, b: string): number {
  // S3 orders keys by UTF-8 bytes; JS string comparison uses UTF-16 code units, which disagrees for
  // characters above U+FFFF versus U+E000..U+FFFF.
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

// ---- ranges and preconditions ----

export type RangeResult = { start: number; end: number } | 'unsatisfiable' | undefined;

export function parseRange(value: string | undefined, size: number): RangeResult {
  if (!value) return undefined;
  // Multiple ranges and malformed headers are ignored (whole object), as S3 and RFC 9110 do.
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return { start, end };
}

export function etagMatches(list: string, etag: string): boolean {
  return list
    .split(',')
    .map((s) => s.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1'))
    .some((t) => t === '*' || t === etag);
}

/** RFC 9110 §13.2.2 evaluation order; HTTP dates have whole-second precision. */
export function evaluatePreconditions(
  req: http.IncomingMessage,
  meta: Pick<ObjectMeta, 'etag' | 'mtimeMs'>,
  prefix: '' | 'x-amz-copy-source-',
): 'ok' | 'not-modified' | 'failed' {
  const lastModified = Math.floor(meta.mtimeMs / 1000) * 1000;
  const ifMatch = header(req, `${prefix}if-match`);
  const ifUnmodifiedSince = header(req, `${prefix}if-unmodified-since`);
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, meta.etag)) return 'failed';
  } else if (ifUnmodifiedSince) {
    const t = Date.parse(ifUnmodifiedSince);
    if (!Number.isNaN(t) && lastModified > t) return 'failed';
  }
  const ifNoneMatch = header(req, `${prefix}if-none-match`);
  const ifModifiedSince = header(req, `${prefix}if-modified-since`);
  if (ifNoneMatch !== undefined) {
    if (etagMatches(ifNoneMatch, meta.etag)) return 'not-modified';
  } else if (ifModifiedSince) {
    const t = Date.parse(ifModifiedSince);
    if (!Number.isNaN(t) && lastModified <= t) return 'not-modified';
  }
  return 'ok';
}
