import * as fs from 'fs';
import * as http from 'http';
import { pipeline } from 'stream/promises';
import { drainRequest, readXmlBody, receiveToFile } from './body';
import { DigestStream } from './checksums';
import { invalidArgument, malformedXml, notImplemented, preconditionFailed, S3Error } from './errors';
import { header, quote, sendEmpty, sendXml } from './http';
import { decodePathPart, evaluatePreconditions, isValidBucketName, keySegments, MAX_PARTS, parseRange, RangeResult } from './keys';
import { DEFAULT_CONTENT_TYPE, DescriptiveMeta, FileStore, type WriteConditions } from './store';
import { el, xmlDocument, xmlElements, xmlText } from './xml';

const fsp = fs.promises;

const STORED_HEADERS = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'];
const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'Content-Type',
  'response-content-language': 'Content-Language',
  'response-expires': 'Expires',
  'response-cache-control': 'Cache-Control',
  'response-content-disposition': 'Content-Disposition',
  'response-content-encoding': 'Content-Encoding',
};

export function descriptiveFromRequest(req: http.IncomingMessage): DescriptiveMeta {
  const userMetadata: Record<string, string> = {};
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    const v = Array.isArray(value) ? value.join(',') : value;
    if (name.startsWith('x-amz-meta-')) userMetadata[name.slice('x-amz-meta-'.length)] = v;
    else if (STORED_HEADERS.includes(name)) headers[name] = v;
  }
  if (headers['content-encoding'] !== undefined) {
    // aws-chunked describes the transfer, not the stored object.
    const rest = headers['content-encoding']
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s && s.toLowerCase() !== 'aws-chunked');
    if (rest.length) headers['content-encoding'] = rest.join(',');
    else delete headers['content-encoding'];
  }
  return { contentType: header(req, 'content-type') || DEFAULT_CONTENT_TYPE, userMetadata, headers };
}

/**
 * The conditions of a write request, with the key's ETag as the request arrives. S3 takes only `*` in
 * a write's If-None-Match.
 */
export async function writeConditionsOf(store: FileStore, req: http.IncomingMessage, bucket: string, key: string, segments: string[]): Promise<WriteConditions> {
  const ifMatch = header(req, 'if-match');
  const ifNoneMatch = header(req, 'if-none-match');
  if (ifMatch === undefined && ifNoneMatch === undefined) return {};
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') throw notImplemented('If-None-Match with a value other than *');
  return { ifMatch, ifNoneMatch, seenAtStart: await store.currentEtag(bucket, key, segments) };
}

export async function putObject(store: FileStore, req: http.IncomingMessage, res: http.ServerResponse, bucket: string, key: string, segments: string[]): Promise<void> {
  await store.requireBucket(bucket);
  const conditions = await writeConditionsOf(store, req, bucket, key, segments);
  const tmp = store.tmpPath();
  const body = await receiveToFile(req, tmp);
  try {
    const meta = await store.commitObject(conditions, bucket, key, segments, tmp, {
      ...descriptiveFromRequest(req),
      etag: body.md5.toString('hex'),
      checksum: body.checksum,
    });
    res.setHeader('ETag', quote(meta.etag));
    if (body.checksum) res.setHeader(`x-amz-checksum-${body.checksum.algorithm}`, body.checksum.value);
    sendEmpty(res, 200);
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

export async function getObject(
  store: FileStore,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  bucket: string,
  key: string,
  segments: string[],
  query: URLSearchParams,
): Promise<void> {
  const isHead = req.method === 'HEAD';
  const { handle, meta } = await store.openObject(bucket, key, segments);
  let streaming = false;
  try {
    const condition = evaluatePreconditions(req, meta, '');
    res.setHeader('ETag', quote(meta.etag));
    res.setHeader('Last-Modified', new Date(meta.mtimeMs).toUTCString());
    if (condition === 'failed') throw preconditionFailed();
    if (condition === 'not-modified') {
      sendEmpty(res, 304);
      return;
    }

    let range: RangeResult;
    const partNumberText = query.get('partNumber');
    if (partNumberText !== null) {
      const partNumber = Number(partNumberText);
      const parts = meta.parts ?? [meta.size];
      if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PARTS) throw invalidArgument('Part number must be an integer between 1 and 10000, inclusive');
      if (partNumber > parts.length) throw new S3Error(416, 'InvalidPartNumber', 'The requested partnumber is not satisfiable');
      const start = parts.slice(0, partNumber - 1).reduce((a, b) => a + b, 0);
      range = meta.size === 0 ? undefined : { start, end: start + parts[partNumber - 1]! - 1 }; // 1 <= partNumber <= parts.length
      res.setHeader('x-amz-mp-parts-count', String(parts.length));
    } else {
      range = parseRange(header(req, 'range'), meta.size);
    }
    if (range === 'unsatisfiable') {
      throw new S3Error(416, 'InvalidRange', 'The requested range is not satisfiable', { 'Content-Range': `bytes */${meta.size}` });
    }

    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Content-Type', meta.contentType);
    for (const [name, value] of Object.entries(meta.headers)) res.setHeader(name, value);
    for (const [name, value] of Object.entries(meta.userMetadata)) res.setHeader(`x-amz-meta-${name}`, value);
    for (const [param, name] of Object.entries(RESPONSE_OVERRIDES)) {
      const v = query.get(param);
      if (v !== null) res.setHeader(name, v);
    }
    // Only a whole-object checksum can be checked by the client, so none is sent for partial reads.
    if (!range && meta.checksum && header(req, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED') {
      res.setHeader(`x-amz-checksum-${meta.checksum.algorithm}`, meta.checksum.value);
      res.setHeader('x-amz-checksum-type', 'FULL_OBJECT');
    }
    const start = range ? range.start : 0;
    const end = range ? range.end : meta.size - 1;
    res.setHeader('Content-Length', String(end - start + 1));
    if (range) res.setHeader('Content-Range', `bytes ${start}-${end}/${meta.size}`);
    res.statusCode = range ? 206 : 200;

    if (isHead || meta.size === 0) {
      res.end();
      return;
    }
    streaming = true;
    // The handle belongs to the stream from here on, which closes it when done or destroyed.
    await pipeline(handle.createReadStream({ start, end }), res);
  } finally {
    if (!streaming) await handle.close().catch(() => undefined);
  }
}

export async function deleteObject(store: FileStore, res: http.ServerResponse, bucket: string, key: string, segments: string[]): Promise<void> {
  await store.requireBucket(bucket);
  await store.deleteObject(bucket, key, segments);
  sendEmpty(res, 204);
}

export async function deleteObjects(store: FileStore, req: http.IncomingMessage, res: http.ServerResponse, bucket: string): Promise<void> {
  await store.requireBucket(bucket);
  const xml = await readXmlBody(req);
  if (!/<Delete[\s>]/.test(xml)) throw malformedXml();
  const quiet = xmlText(xml, 'Quiet')?.trim().toLowerCase() === 'true';
  const objects = xmlElements(xml, 'Object');
  if (objects.length === 0 || objects.length > 1000) {
    throw new S3Error(400, 'MalformedXML', 'A Delete request must name between 1 and 1000 objects.');
  }
  const results: string[] = [];
  for (const obj of objects) {
    const key = xmlText(obj, 'Key');
    if (key === undefined) throw new S3Error(400, 'MalformedXML', 'Every Object in a Delete request needs a Key.');
    try {
      await store.deleteObject(bucket, key, keySegments(key));
      if (!quiet) results.push(`<Deleted>${el('Key', key)}</Deleted>`);
    } catch (e) {
      const err = e instanceof S3Error ? e : new S3Error(500, 'InternalError', e instanceof Error ? e.message : String(e));
      results.push(`<Error>${el('Key', key)}${el('Code', err.code)}${el('Message', err.message)}</Error>`);
    }
  }
  sendXml(res, 200, xmlDocument('DeleteResult', results.join('')));
}

export async function copyObject(store: FileStore, req: http.IncomingMessage, res: http.ServerResponse, bucket: string, key: string, segments: string[]): Promise<void> {
  await drainRequest(req);
  await store.requireBucket(bucket);
  const conditions = await writeConditionsOf(store, req, bucket, key, segments);
  const source = (header(req, 'x-amz-copy-source') ?? '').split('?')[0]!; // split gives at least one part
  const decoded = decodePathPart(source).replace(/^\//, '');
  const slash = decoded.indexOf('/');
  if (slash <= 0) throw invalidArgument('Copy Source must mention the source bucket and key: sourcebucket/sourcekey');
  const srcBucket = decoded.slice(0, slash);
  const srcKey = decoded.slice(slash + 1);
  if (!isValidBucketName(srcBucket)) throw new S3Error(400, 'InvalidBucketName', 'The source bucket name is not valid.');
  const srcSegments = keySegments(srcKey);
  const directive = (header(req, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') throw invalidArgument('Unknown metadata directive.');
  if (srcBucket === bucket && srcKey === key && directive === 'COPY') {
    throw new S3Error(
      400,
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }

  const { handle, meta: srcMeta } = await store.openObject(srcBucket, srcKey, srcSegments);
  const tmp = store.tmpPath();
  try {
    const condition = evaluatePreconditions(req, srcMeta, 'x-amz-copy-source-');
    if (condition !== 'ok') throw preconditionFailed();
    const digest = new DigestStream({ sha256: false });
    await pipeline(handle.createReadStream({ start: 0, autoClose: false }), digest, fs.createWriteStream(tmp, { flags: 'wx' }));
    const descriptive: DescriptiveMeta =
      directive === 'COPY'
        ? { contentType: srcMeta.contentType, userMetadata: srcMeta.userMetadata, headers: srcMeta.headers }
        : descriptiveFromRequest(req);
    // The bytes are identical, so a verified whole-object checksum still holds; the ETag becomes a
    // plain MD5 even for a multipart source, as in S3.
    const meta = await store.commitObject(conditions, bucket, key, segments, tmp, {
      ...descriptive,
      etag: digest.md5.toString('hex'),
      checksum: srcMeta.parts ? undefined : srcMeta.checksum,
    });
    const inner = el('LastModified', new Date(meta.mtimeMs).toISOString()) + el('ETag', quote(meta.etag));
    sendXml(res, 200, xmlDocument('CopyObjectResult', inner));
  } finally {
    await handle.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
  }
}
