import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { drainRequest } from './body';
import { errCode, S3Error } from './errors';
import { sendEmpty, sendXml } from './http';
import { compareKeys, isValidBucketName } from './keys';
import { removeUploadsOfBucket } from './multipart';
import { FileStore } from './store';
import { el, OWNER_XML, S3_NS, xmlDocument } from './xml';

const fsp = fs.promises;

export async function listBuckets(store: FileStore, req: http.IncomingMessage, res: http.ServerResponse, query: URLSearchParams): Promise<void> {
  const prefix = query.get('prefix') ?? '';
  const entries = await fsp.readdir(store.root, { withFileTypes: true });
  const buckets: Array<{ name: string; created: Date }> = [];
  for (const d of entries) {
    if (!d.isDirectory() || !isValidBucketName(d.name) || !d.name.startsWith(prefix)) continue;
    const st = await fsp.stat(path.join(store.root, d.name)).catch(() => undefined);
    if (st) buckets.push({ name: d.name, created: st.birthtimeMs > 0 ? st.birthtime : st.ctime });
  }
  buckets.sort((a, b) => compareKeys(a.name, b.name));
  const inner =
    `${OWNER_XML}<Buckets>` +
    buckets.map((b) => `<Bucket>${el('Name', b.name)}${el('CreationDate', b.created.toISOString())}</Bucket>`).join('') +
    `</Buckets>${prefix ? el('Prefix', prefix) : ''}`;
  sendXml(res, 200, xmlDocument('ListAllMyBucketsResult', inner), req.method === 'HEAD');
}

export async function createBucket(store: FileStore, req: http.IncomingMessage, res: http.ServerResponse, bucket: string): Promise<void> {
  // The optional CreateBucketConfiguration body (region) has no meaning for a local store.
  await drainRequest(req);
  try {
    await fsp.mkdir(store.bucketDir(bucket));
  } catch (e) {
    if (errCode(e) !== 'EEXIST') throw e;
    const st = await fsp.stat(store.bucketDir(bucket));
    if (!st.isDirectory()) throw new S3Error(409, 'BucketAlreadyExists', 'A non-bucket file with this name exists in the store root.');
  }
  res.setHeader('Location', `/${bucket}`);
  sendEmpty(res, 200);
}

export async function headBucket(store: FileStore, res: http.ServerResponse, bucket: string): Promise<void> {
  await store.requireBucket(bucket);
  res.setHeader('x-amz-bucket-region', 'us-east-1');
  sendEmpty(res, 200);
}

export async function getBucketLocation(store: FileStore, res: http.ServerResponse, bucket: string): Promise<void> {
  await store.requireBucket(bucket);
  sendXml(res, 200, `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="${S3_NS}"/>`);
}

export async function deleteBucket(store: FileStore, res: http.ServerResponse, bucket: string): Promise<void> {
  await store.requireBucket(bucket);
  const notEmpty = () => new S3Error(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty.');
  // Post-order rmdir (never rm -r) so an object written concurrently is never swept away.
  const removeTree = async (d: string): Promise<void> => {
    const entries = await fsp.readdir(d, { withFileTypes: true });
    for (const e of entries) {
      if (!e.isDirectory()) throw notEmpty();
      await removeTree(path.join(d, e.name));
    }
    try {
      await fsp.rmdir(d);
    } catch (e) {
      if (errCode(e) === 'ENOTEMPTY' || errCode(e) === 'EEXIST') throw notEmpty();
      throw e;
    }
  };
  await removeTree(store.bucketDir(bucket));
  await fsp.rm(store.metaBucketDir(bucket), { recursive: true, force: true });
  await removeUploadsOfBucket(store, bucket);
  sendEmpty(res, 204);
}
