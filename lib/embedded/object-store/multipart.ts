import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { Readable } from 'stream';
import { pipeline } from 'stream/promises';
import { drainRequest, readXmlBody, receiveToFile } from './body';
import { Checksum } from './checksums';
import { errCode, invalidArgument, malformedXml, noSuchUpload, S3Error } from './errors';
import { header, quote, sendEmpty, sendXml } from './http';
import { MAX_PARTS } from './keys';
import { descriptiveFromRequest, writeConditionsOf } from './objects';
import { DescriptiveMeta, FileStore, randomId } from './store';
import { el, xmlDocument, xmlElements, xmlText } from './xml';

/*
 * An upload is staged in its own folder until it is completed or aborted:
 *
 *   upload.json                   UploadInfo: where the object goes and how it is described
 *   <partNumber>.part             the part's bytes
 *   <partNumber>.json             PartInfo: the part's ETag, size and checksum
 */

const fsp = fs.promises;

const MIN_PART_SIZE = 5 * 1024 * 1024;

interface UploadInfo extends DescriptiveMeta {
  bucket: string;
  key: string;
  initiated: string;
}

interface PartInfo {
  etag: string;
  size: number;
  checksum?: Checksum | undefined;
}

async function loadUpload(store: FileStore, bucket: string, key: string, uploadId: string | null): Promise<{ dir: string; info: UploadInfo }> {
  if (uploadId === null) throw noSuchUpload();
  const dir = store.uploadDir(uploadId);
  const info = await store.readJson<UploadInfo>(path.join(dir, 'upload.json'));
  if (!info || info.bucket !== bucket || info.key !== key) throw noSuchUpload();
  return { dir, info };
}

export async function createMultipartUpload(store: FileStore, req: http.IncomingMessage, res: http.ServerResponse, bucket: string, key: string): Promise<void> {
  await drainRequest(req);
  await store.requireBucket(bucket);
  const uploadId = randomId(16);
  const info: UploadInfo = { bucket, key, initiated: store.clock.now().toISOString(), ...descriptiveFromRequest(req) };
  const dir = store.uploadDir(uploadId);
  await fsp.mkdir(dir, { recursive: true });
  await store.writeJsonAtomic(path.join(dir, 'upload.json'), info);
  const algorithm = header(req, 'x-amz-checksum-algorithm');
  if (algorithm) res.setHeader('x-amz-checksum-algorithm', algorithm);
  const inner = el('Bucket', bucket) + el('Key', key) + el('UploadId', uploadId);
  sendXml(res, 200, xmlDocument('InitiateMultipartUploadResult', inner));
}

function parsePartNumber(text: string | null): number {
  const n = Number(text);
  if (text === null || !/^\d+$/.test(text) || n < 1 || n > MAX_PARTS) {
    throw invalidArgument('Part number must be an integer between 1 and 10000, inclusive');
  }
  return n;
}

export async function uploadPart(store: FileStore, req: http.IncomingMessage, res: http.ServerResponse, bucket: string, key: string, query: URLSearchParams): Promise<void> {
  await store.requireBucket(bucket);
  const partNumber = parsePartNumber(query.get('partNumber'));
  const uploadId = query.get('uploadId');
  const { dir } = await loadUpload(store, bucket, key, uploadId);
  const tmp = store.tmpPath();
  const body = await receiveToFile(req, tmp);
  try {
    const part: PartInfo = { etag: body.md5.toString('hex'), size: body.size, checksum: body.checksum };
    await store.locks.run(`upload:${uploadId}:${partNumber}`, async () => {
      try {
        await fsp.rename(tmp, path.join(dir, `${partNumber}.part`));
        await store.writeJsonAtomic(path.join(dir, `${partNumber}.json`), part);
      } catch (e) {
        // The staging folder vanishes when the upload is aborted or completed meanwhile.
        if (errCode(e) === 'ENOENT') throw noSuchUpload();
        throw e;
      }
    });
    res.setHeader('ETag', quote(part.etag));
    if (body.checksum) res.setHeader(`x-amz-checksum-${body.checksum.algorithm}`, body.checksum.value);
    sendEmpty(res, 200);
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

export async function completeMultipartUpload(
  store: FileStore,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  bucket: string,
  key: string,
  segments: string[],
  query: URLSearchParams,
): Promise<void> {
  await store.requireBucket(bucket);
  const uploadId = query.get('uploadId');
  await loadUpload(store, bucket, key, uploadId);
  const conditions = await writeConditionsOf(store, req, bucket, key, segments);
  const xml = await readXmlBody(req);
  await store.locks.run(`upload:${uploadId}`, async () => {
    // Re-read under the lock: a concurrent Complete or Abort may have consumed the upload.
    const { dir, info } = await loadUpload(store, bucket, key, uploadId);
    const requested = xmlElements(xml, 'Part').map((p) => ({
      partNumber: Number(xmlText(p, 'PartNumber')?.trim()),
      etag: (xmlText(p, 'ETag') ?? '').trim().replace(/^"(.*)"$/, '$1'),
    }));
    if (requested.length === 0) throw malformedXml();
    const invalidPart = () =>
      new S3Error(400, 'InvalidPart', "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.");
    const sizes: number[] = [];
    const md5s: Buffer[] = [];
    let previous = 0;
    for (const [i, p] of requested.entries()) {
      if (!Number.isInteger(p.partNumber) || p.partNumber < 1 || p.partNumber > MAX_PARTS) throw invalidPart();
      if (p.partNumber <= previous) {
        throw new S3Error(400, 'InvalidPartOrder', 'The list of parts was not in ascending order. Parts must be ordered by part number.');
      }
      previous = p.partNumber;
      const stored = await store.readJson<PartInfo>(path.join(dir, `${p.partNumber}.json`));
      const st = await fsp.stat(path.join(dir, `${p.partNumber}.part`)).catch(() => undefined);
      if (!stored || !st || stored.size !== st.size || stored.etag !== p.etag) throw invalidPart();
      if (i < requested.length - 1 && stored.size < MIN_PART_SIZE) {
        throw new S3Error(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.');
      }
      sizes.push(stored.size);
      md5s.push(Buffer.from(stored.etag, 'hex'));
    }
    const tmp = store.tmpPath();
    try {
      await pipeline(
        Readable.from(concatFiles(requested.map((p) => path.join(dir, `${p.partNumber}.part`)))),
        fs.createWriteStream(tmp, { flags: 'wx' }),
      );
      const etag = `${crypto.createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-${requested.length}`;
      await store.commitObject(conditions, bucket, key, segments, tmp, {
        contentType: info.contentType,
        userMetadata: info.userMetadata,
        headers: info.headers,
        etag,
        parts: sizes,
      });
      await fsp.rm(dir, { recursive: true, force: true });
      const hostHeader = header(req, 'host') ?? 'localhost';
      const location = `http://${hostHeader}/${bucket}/${segments.map(encodeURIComponent).join('/')}`;
      const inner = el('Location', location) + el('Bucket', bucket) + el('Key', key) + el('ETag', quote(etag));
      sendXml(res, 200, xmlDocument('CompleteMultipartUploadResult', inner));
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  });
}

export async function abortMultipartUpload(store: FileStore, res: http.ServerResponse, bucket: string, key: string, query: URLSearchParams): Promise<void> {
  await store.requireBucket(bucket);
  const uploadId = query.get('uploadId');
  await store.locks.run(`upload:${uploadId}`, async () => {
    const { dir } = await loadUpload(store, bucket, key, uploadId);
    await fsp.rm(dir, { recursive: true, force: true });
  });
  sendEmpty(res, 204);
}

async function* concatFiles(files: string[]): AsyncGenerator<Buffer> {
  for (const file of files) {
    for await (const chunk of fs.createReadStream(file)) yield chunk as Buffer;
  }
}

/** Forgets every unfinished upload into `bucket`, which is being deleted. */
export async function removeUploadsOfBucket(store: FileStore, bucket: string): Promise<void> {
  const uploadsRoot = store.uploadsRoot();
  for (const id of await fsp.readdir(uploadsRoot).catch(() => [] as string[])) {
    const info = await store.readJson<UploadInfo>(path.join(uploadsRoot, id, 'upload.json'));
    if (info?.bucket === bucket) await fsp.rm(path.join(uploadsRoot, id), { recursive: true, force: true });
  }
}

/** The unfinished uploads of the store, with where each goes and when it was initiated. */
export async function unfinishedUploads(store: FileStore): Promise<Array<{ uploadId: string; bucket: string; key: string; initiated: number }>> {
  const uploadsRoot = store.uploadsRoot();
  const uploads: Array<{ uploadId: string; bucket: string; key: string; initiated: number }> = [];
  for (const uploadId of await fsp.readdir(uploadsRoot).catch(() => [] as string[])) {
    const info = await store.readJson<UploadInfo>(path.join(uploadsRoot, uploadId, 'upload.json'));
    if (info) uploads.push({ uploadId, bucket: info.bucket, key: info.key, initiated: Date.parse(info.initiated) });
  }
  return uploads;
}

/** Aborts an upload as AbortMultipartUpload does, waiting for a part or completion under way. */
export async function discardUpload(store: FileStore, uploadId: string): Promise<void> {
  await store.locks.run(`upload:${uploadId}`, () => fsp.rm(store.uploadDir(uploadId), { recursive: true, force: true }));
}
