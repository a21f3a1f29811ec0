import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { mapLimited } from './concurrency';
import { errCode, invalidArgument } from './errors';
import { quote, sendXml } from './http';
import { compareKeys } from './keys';
import { FileStore, ObjectMeta } from './store';
import { el, OWNER_XML, xmlDocument } from './xml';

const fsp = fs.promises;

interface ListItem {
  key: string;
  isPrefix: boolean;
}

interface ListOutcome {
  items: ListItem[];
  contents: Map<string, ObjectMeta>;
  truncated: boolean;
}

/**
 * Yields keys in UTF-8 byte order straight from the directory tree. Entries of one directory are
 * sorted with "/" appended to sub-directory names: every key below directory "d" starts with "d/",
 * so that single sort key places the whole subtree correctly among its siblings.
 */
async function* walk(
  dir: string,
  rel: string,
  prefix: string,
  marker: string,
  skip: () => string | undefined,
): AsyncGenerator<string> {
  let dirents: fs.Dirent[];
  try {
    dirents = await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (['ENOENT', 'ENOTDIR'].includes(errCode(e) ?? '')) return;
    throw e;
  }
  const entries: Array<{ name: string; sortKey: Buffer; isDir: boolean }> = [];
  for (const d of dirents) {
    let isDir = d.isDirectory();
    let isFile = d.isFile();
    if (d.isSymbolicLink()) {
      const st = await fsp.stat(path.join(dir, d.name)).catch(() => undefined);
      isFile = !!st?.isFile();
      isDir = false; // never follow directory links: they could loop or leave the root
    }
    if (!isDir && !isFile) continue;
    entries.push({ name: d.name, isDir, sortKey: Buffer.from(rel + d.name + (isDir ? '/' : ''), 'utf8') });
  }
  entries.sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
  const prefixBuf = Buffer.from(prefix, 'utf8');
  for (const entry of entries) {
    const k = rel + entry.name + (entry.isDir ? '/' : '');
    const inPrefix = k.startsWith(prefix);
    const leadsToPrefix = entry.isDir && prefix.startsWith(k);
    if (!inPrefix && !leadsToPrefix) {
      if (Buffer.compare(entry.sortKey, prefixBuf) > 0) return; // sorted: nothing later can match
      continue;
    }
    const skipPrefix = skip();
    if (skipPrefix !== undefined && k.startsWith(skipPrefix)) continue;
    if (entry.isDir) {
      if (marker && !marker.startsWith(k) && compareKeys(k, marker) < 0) continue;
      yield* walk(path.join(dir, entry.name), k, prefix, marker, skip);
    } else {
      if (marker && compareKeys(k, marker) <= 0) continue;
      yield k;
    }
  }
}

async function collectListing(store: FileStore, bucket: string, prefix: string, delimiter: string, marker: string, maxKeys: number): Promise<ListOutcome> {
  await store.requireBucket(bucket);
  const items: ListItem[] = [];
  let truncated = false;
  // A marker that is itself a common prefix (from NextMarker / a continuation token) means "resume
  // after everything rolled up under it".
  let skipPrefix: string | undefined;
  if (delimiter && marker.startsWith(prefix)) {
    const idx = marker.indexOf(delimiter, prefix.length);
    if (idx >= 0 && idx + delimiter.length === marker.length) skipPrefix = marker;
  }
  if (maxKeys > 0) {
    for await (const key of walk(store.bucketDir(bucket), '', prefix, marker, () => skipPrefix)) {
      let item: ListItem = { key, isPrefix: false };
      if (delimiter) {
        const idx = key.indexOf(delimiter, prefix.length);
        if (idx >= 0) item = { key: key.slice(0, idx + delimiter.length), isPrefix: true };
      }
      if (item.isPrefix && item.key === skipPrefix) continue;
      if (items.length === maxKeys) {
        truncated = true;
        break;
      }
      items.push(item);
      if (item.isPrefix) skipPrefix = item.key;
    }
  }
  const contents = new Map<string, ObjectMeta>();
  const keys = items.filter((i) => !i.isPrefix).map((i) => i.key);
  const metas = await mapLimited(keys, 32, (k) => store.describeObject(bucket, k));
  keys.forEach((k, i) => {
    const m = metas[i];
    if (m) contents.set(k, m);
  });
  // Objects deleted between the walk and the stat simply drop out of this page.
  return { items: items.filter((i) => i.isPrefix || contents.has(i.key)), contents, truncated };
}

/** Every key of a bucket under `prefix`, in S3's order. */
export function bucketKeys(store: FileStore, bucket: string, prefix = ''): AsyncGenerator<string> {
  return walk(store.bucketDir(bucket), '', prefix, '', () => undefined);
}

export async function listObjects(store: FileStore, res: http.ServerResponse, bucket: string, query: URLSearchParams, version: 1 | 2): Promise<void> {
  const prefix = query.get('prefix') ?? '';
  const delimiter = query.get('delimiter') ?? '';
  const maxKeysText = query.get('max-keys');
  let maxKeys = 1000;
  if (maxKeysText !== null) {
    if (!/^\d+$/.test(maxKeysText)) throw invalidArgument('Provided max-keys not an integer or within integer range');
    maxKeys = Math.min(1000, Number(maxKeysText));
  }
  const urlEncode = query.get('encoding-type') === 'url';
  if (query.has('encoding-type') && !urlEncode) throw invalidArgument('Invalid Encoding Method specified in Request');
  const enc = (s: string) => (urlEncode ? encodeURIComponent(s).replace(/%2F/g, '/') : s);

  let marker = '';
  const continuationToken = query.get('continuation-token');
  const startAfter = query.get('start-after') ?? '';
  if (version === 2) {
    if (continuationToken !== null) {
      const decoded = Buffer.from(continuationToken, 'base64url').toString('utf8');
      if (!decoded.startsWith('m:')) throw invalidArgument('The continuation token provided is incorrect');
      marker = decoded.slice(2);
    } else {
      marker = startAfter;
    }
  } else {
    marker = query.get('marker') ?? '';
  }

  const { items, contents, truncated } = await collectListing(store, bucket, prefix, delimiter, marker, maxKeys);
  const last = items[items.length - 1]?.key;
  const contentXml = items
    .filter((i) => !i.isPrefix)
    .map((i) => {
      const m = contents.get(i.key) as ObjectMeta;
      const owner = version === 1 || query.get('fetch-owner') === 'true' ? OWNER_XML : '';
      return (
        `<Contents>${el('Key', enc(i.key))}${el('LastModified', new Date(m.mtimeMs).toISOString())}${el('ETag', quote(m.etag))}` +
        `${m.checksum ? el('ChecksumAlgorithm', m.checksum.algorithm.toUpperCase()) : ''}${el('Size', m.size)}${owner}` +
        `${el('StorageClass', 'STANDARD')}</Contents>`
      );
    })
    .join('');
  const prefixXml = items
    .filter((i) => i.isPrefix)
    .map((i) => `<CommonPrefixes>${el('Prefix', enc(i.key))}</CommonPrefixes>`)
    .join('');
  let inner = el('Name', bucket) + el('Prefix', enc(prefix));
  if (version === 2) {
    inner +=
      (delimiter ? el('Delimiter', enc(delimiter)) : '') +
      el('MaxKeys', maxKeys) +
      (urlEncode ? el('EncodingType', 'url') : '') +
      el('KeyCount', items.length) +
      el('IsTruncated', truncated) +
      (continuationToken !== null ? el('ContinuationToken', continuationToken) : '') +
      (truncated && last !== undefined ? el('NextContinuationToken', Buffer.from(`m:${last}`, 'utf8').toString('base64url')) : '') +
      (startAfter ? el('StartAfter', enc(startAfter)) : '');
  } else {
    inner +=
      el('Marker', enc(marker)) +
      (delimiter ? el('Delimiter', enc(delimiter)) : '') +
      el('MaxKeys', maxKeys) +
      (urlEncode ? el('EncodingType', 'url') : '') +
      el('IsTruncated', truncated) +
      // S3 only sends NextMarker with a delimiter; sending it always saves v1 clients a guess.
      (truncated && last !== undefined ? el('NextMarker', enc(last)) : '');
  }
  sendXml(res, 200, xmlDocument('ListBucketResult', inner + contentXml + prefixXml));
}
