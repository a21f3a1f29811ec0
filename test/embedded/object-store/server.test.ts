import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PassThrough, Readable, Transform } from 'stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ObjectStoreServer } from '../../../lib/embedded/object-store/server';

const md5 = (b: Buffer | string) => crypto.createHash('md5').update(b).digest('hex');

function makeClient(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
    // Several tests provoke rejected streaming uploads on purpose; the SDK would warn about each one.
    logger: { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
  });
}

async function expectS3Error(p: Promise<unknown>, name: string, status?: number): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeDefined();
  const err = caught as { name: string; $metadata?: { httpStatusCode?: number } };
  expect(err.name).toBe(name);
  if (status !== undefined) expect(err.$metadata?.httpStatusCode).toBe(status);
}

async function bodyBytes(out: { Body?: unknown }): Promise<Buffer> {
  const body = out.Body as { transformToByteArray(): Promise<Uint8Array> };
  return Buffer.from(await body.transformToByteArray());
}

/** Resolves once `condition` holds, looking again every few milliseconds. */
async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

function listTree(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).map((p) => p.split(path.sep).join('/')).sort();
}

/** A stream of unknown length: no length property for the SDK to discover. */
function chunkedStream(data: Buffer, chunk = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += chunk) yield data.subarray(i, i + chunk);
    })(),
  );
}

describe('ObjectStoreServer', () => {
  let tmp: string;
  let root: string;
  let server: ObjectStoreServer;
  let s3: S3Client;
  const bucket = 'data';

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'object-store-test-'));
    root = path.join(tmp, 'root');
    server = new ObjectStoreServer({ rootDir: root });
    const { endpoint, port } = await server.start();
    expect(endpoint).toBe(`http://127.0.0.1:${port}`);
    expect(server.endpoint).toBe(endpoint);
    s3 = makeClient(endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });

  afterAll(async () => {
    s3?.destroy();
    await server?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('refuses to report an endpoint before start()', () => {
    const idle = new ObjectStoreServer({ rootDir: path.join(tmp, 'unused') });
    expect(() => idle.endpoint).toThrow(/not running/);
  });

  it('creates, heads, lists and deletes buckets with S3 error codes', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'scratch.bucket-1' }));
    await s3.send(new CreateBucketCommand({ Bucket: 'scratch.bucket-1' })); // idempotent for the owner
    await s3.send(new HeadBucketCommand({ Bucket: 'scratch.bucket-1' }));
    expect(fs.statSync(path.join(root, 'scratch.bucket-1')).isDirectory()).toBe(true);

    const listed = await s3.send(new ListBucketsCommand({}));
    expect(listed.Buckets?.map((b) => b.Name)).toEqual(['data', 'scratch.bucket-1']);
    expect(listed.Buckets?.[0]?.CreationDate).toBeInstanceOf(Date);

    await expectS3Error(s3.send(new HeadBucketCommand({ Bucket: 'no-such-bucket' })), 'NotFound', 404);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: 'no-such-bucket', Key: 'k' })), 'NoSuchBucket', 404);
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: 'no-such-bucket', Key: 'k', Body: 'x' })), 'NoSuchBucket', 404);
    await expectS3Error(s3.send(new CreateBucketCommand({ Bucket: 'ab' })), 'InvalidBucketName', 400);
    await expectS3Error(s3.send(new CreateBucketCommand({ Bucket: 'Upper_Case' })), 'InvalidBucketName', 400);

    await s3.send(new PutObjectCommand({ Bucket: 'scratch.bucket-1', Key: 'deep/er/file.txt', Body: 'x' }));
    await expectS3Error(s3.send(new DeleteBucketCommand({ Bucket: 'scratch.bucket-1' })), 'BucketNotEmpty', 409);
    await s3.send(new DeleteObjectCommand({ Bucket: 'scratch.bucket-1', Key: 'deep/er/file.txt' }));
    await s3.send(new DeleteBucketCommand({ Bucket: 'scratch.bucket-1' }));
    await expectS3Error(s3.send(new HeadBucketCommand({ Bucket: 'scratch.bucket-1' })), 'NotFound', 404);
    expect(fs.existsSync(path.join(root, 'scratch.bucket-1'))).toBe(false);
    await expectS3Error(s3.send(new DeleteBucketCommand({ Bucket: 'scratch.bucket-1' })), 'NoSuchBucket', 404);
  });

  it('stores an object as a plain file and serves it back with its metadata', async () => {
    const bytes = crypto.randomBytes(300_000);
    const key = 'egress/abc/part-0.parquet';
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: bytes,
        ContentType: 'application/vnd.apache.parquet',
        CacheControl: 'no-cache',
        Metadata: { 'run-id': 'r-42', stage: 'egress' },
      }),
    );
    expect(put.ETag).toBe(`"${md5(bytes)}"`);

    // The point of this store: the object is a plain file with identical bytes at <root>/<bucket>/<key>.
    expect(fs.readFileSync(path.join(root, bucket, 'egress', 'abc', 'part-0.parquet')).equals(bytes)).toBe(true);
    // ...and the bucket folder holds nothing but objects (metadata lives elsewhere).
    expect(listTree(path.join(root, bucket))).toEqual(['egress', 'egress/abc', 'egress/abc/part-0.parquet']);

    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ContentLength).toBe(bytes.length);
    expect(head.ContentType).toBe('application/vnd.apache.parquet');
    expect(head.CacheControl).toBe('no-cache');
    expect(head.ETag).toBe(put.ETag);
    expect(head.Metadata).toEqual({ 'run-id': 'r-42', stage: 'egress' });
    expect(head.LastModified).toBeInstanceOf(Date);
    expect(Math.abs(head.LastModified!.getTime() - Date.now())).toBeLessThan(60_000);
    expect(head.$metadata.requestId).toMatch(/^[0-9A-F]{16}$/);

    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(got.ContentType).toBe('application/vnd.apache.parquet');
    expect(got.Metadata).toEqual({ 'run-id': 'r-42', stage: 'egress' });
    expect((await bodyBytes(got)).equals(bytes)).toBe(true);

    // Overwrite replaces content and metadata together.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'v2' }));
    const head2 = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head2.ETag).toBe(`"${md5('v2')}"`);
    expect(head2.Metadata).toEqual({});
    expect(fs.readFileSync(path.join(root, bucket, key), 'utf8')).toBe('v2');

    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'egress/missing' })), 'NoSuchKey', 404);
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'egress/missing' })), 'NotFound', 404);
    // A "folder" is not an object.
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'egress/abc' })), 'NoSuchKey', 404);
  });

  it('decodes aws-chunked streaming bodies and round-trips the CRC32 trailer', async () => {
    const data = crypto.randomBytes(200_000);
    const seen: Record<string, string> = {};
    const client = makeClient(server.endpoint);
    client.middlewareStack.add(
      (next) => async (args) => {
        Object.assign(seen, (args.request as { headers: Record<string, string> }).headers);
        return next(args);
      },
      { step: 'finalizeRequest', name: 'captureHeaders' },
    );
    const put = await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'stream/chunked.bin', Body: chunkedStream(data, 10_000), ContentLength: data.length }),
    );
    client.destroy();
    expect(seen['content-encoding']).toContain('aws-chunked');
    expect(seen['x-amz-trailer']).toBe('x-amz-checksum-crc32');
    expect(put.ETag).toBe(`"${md5(data)}"`);
    expect(put.ChecksumCRC32).toBeDefined();
    expect(fs.readFileSync(path.join(root, bucket, 'stream', 'chunked.bin')).equals(data)).toBe(true);

    // With checksum mode on, the SDK validates the returned CRC32 against the bytes it receives.
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'stream/chunked.bin', ChecksumMode: 'ENABLED' }));
    expect(got.ChecksumCRC32).toBe(put.ChecksumCRC32);
    expect((await bodyBytes(got)).equals(data)).toBe(true);
  });

  it('rejects bodies whose Content-MD5, checksum header or checksum trailer do not match', async () => {
    await expectS3Error(
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad/md5', Body: 'hello', ContentMD5: crypto.createHash('md5').update('other').digest('base64') })),
      'BadDigest',
      400,
    );
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad/crc', Body: 'hello', ChecksumCRC32: 'AAAAAA==' })), 'BadDigest', 400);

    // Corrupt the trailer the SDK appends to an aws-chunked body.
    const client = makeClient(server.endpoint);
    client.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { body: Readable };
        request.body = request.body.pipe(
          new Transform({
            transform(chunk: Buffer | string, _enc, cb) {
              const text = chunk.toString();
              cb(null, text.startsWith('x-amz-checksum-crc32:') ? 'x-amz-checksum-crc32:AAAAAA==\r\n' : chunk);
            },
          }),
        );
        return next(args);
      },
      { step: 'finalizeRequest', name: 'corruptTrailer' },
    );
    const data = crypto.randomBytes(50_000);
    await expectS3Error(
      client.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad/trailer', Body: chunkedStream(data), ContentLength: data.length })),
      'BadDigest',
      400,
    );
    client.destroy();

    expect(fs.existsSync(path.join(root, bucket, 'bad'))).toBe(false);
    expect(fs.readdirSync(path.join(root, '.tmp'))).toEqual([]);
  });

  it('serves byte ranges with 206 and refuses unsatisfiable ones with InvalidRange', async () => {
    const data = Buffer.from('0123456789abcdefghij');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'range.txt', Body: data }));
    const cases: Array<[string, string, string]> = [
      ['bytes=2-5', '2345', 'bytes 2-5/20'],
      ['bytes=15-', 'fghij', 'bytes 15-19/20'],
      ['bytes=-3', 'hij', 'bytes 17-19/20'],
      ['bytes=18-100', 'ij', 'bytes 18-19/20'],
    ];
    for (const [range, body, contentRange] of cases) {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'range.txt', Range: range }));
      expect(got.$metadata.httpStatusCode).toBe(206);
      expect(got.ContentRange).toBe(contentRange);
      expect(got.ContentLength).toBe(body.length);
      expect((await bodyBytes(got)).toString()).toBe(body);
    }
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'range.txt', Range: 'bytes=20-' })), 'InvalidRange', 416);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'range.txt', Range: 'bytes=-0' })), 'InvalidRange', 416);
  });

  it('honours conditional reads and conditional writes', async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond.txt', Body: 'v1' }));
    // The SDK has no modelled 304 error, so only the status is meaningful.
    await expect(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cond.txt', IfNoneMatch: put.ETag }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 304 },
    });
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cond.txt', IfMatch: '"0000"' })), 'PreconditionFailed', 412);
    const ok = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cond.txt', IfMatch: put.ETag }));
    expect((await bodyBytes(ok)).toString()).toBe('v1');

    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond.txt', Body: 'v2', IfNoneMatch: '*' })), 'PreconditionFailed', 412);
    expect(fs.readFileSync(path.join(root, bucket, 'cond.txt'), 'utf8')).toBe('v1');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond-new.txt', Body: 'x', IfNoneMatch: '*' }));
    expect(fs.readFileSync(path.join(root, bucket, 'cond-new.txt'), 'utf8')).toBe('x');
  });

  it('takes a conditional PutObject as S3 does: If-Match replaces only the ETag given, and not a missing key', async () => {
    const first = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'lease.json', Body: 'holder a', IfNoneMatch: '*' }));
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'lease.json', Body: 'holder b', IfMatch: `"${md5('other')}"` })), 'PreconditionFailed', 412);
    const second = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'lease.json', Body: 'holder b', IfMatch: first.ETag }));
    expect(second.ETag).toBe(`"${md5('holder b')}"`);
    // The ETag read before the other writer's update no longer matches.
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'lease.json', Body: 'holder c', IfMatch: first.ETag })), 'PreconditionFailed', 412);
    expect(fs.readFileSync(path.join(root, bucket, 'lease.json'), 'utf8')).toBe('holder b');
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'no-lease.json', Body: 'x', IfMatch: first.ETag })), 'NoSuchKey', 404);
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'no-lease.json', Body: 'x', IfNoneMatch: first.ETag })), 'NotImplemented', 501);
    expect(fs.existsSync(path.join(root, bucket, 'no-lease.json'))).toBe(false);
  });

  it("answers a failed write condition with S3's XML error document", async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'xml-412.txt', Body: 'v1' }));
    const response = await fetch(`${server.endpoint}/${bucket}/xml-412.txt`, { method: 'PUT', body: 'v2', headers: { 'If-None-Match': '*' } });
    expect(response.status).toBe(412);
    const xml = await response.text();
    expect(xml).toContain('<Code>PreconditionFailed</Code>');
    expect(xml).toContain('<Message>At least one of the pre-conditions you specified did not hold</Message>');
  });

  it('lets exactly one of two writers create a key with If-None-Match: *', async () => {
    const results = await Promise.allSettled(
      ['one', 'two', 'three'].map((body) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'race.txt', Body: body, IfNoneMatch: '*' }))),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect(['PreconditionFailed', 'ConditionalRequestConflict']).toContain((r.reason as Error).name);
    }
  });

  it('answers 409 ConditionalRequestConflict when another write of the key completes during a conditional upload', async () => {
    const slow = new PassThrough();
    const pending = s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'conflict.txt', Body: slow, ContentLength: 4, IfNoneMatch: '*' }));
    slow.write('sl');
    // The slow upload has arrived (its condition held then); another writer creates the key meanwhile.
    await waitFor(() => fs.existsSync(path.join(root, '.tmp')) && fs.readdirSync(path.join(root, '.tmp')).length > 0);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'conflict.txt', Body: 'fast' }));
    slow.end('ow');
    await expectS3Error(pending, 'ConditionalRequestConflict', 409);
    expect(fs.readFileSync(path.join(root, bucket, 'conflict.txt'), 'utf8')).toBe('fast');
  });

  it('honours If-None-Match and If-Match on CompleteMultipartUpload and on the destination of CopyObject', async () => {
    const upload = async (key: string, conditions: { IfNoneMatch?: string | undefined; IfMatch?: string | undefined }) => {
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: 'whole' }));
      try {
        return await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] }, ...conditions }));
      } catch (error) {
        // As in S3, a refused completion leaves the upload open; it is the client's to abort.
        await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }));
        throw error;
      }
    };
    const created = await upload('mpu-cond.bin', { IfNoneMatch: '*' });
    await expectS3Error(upload('mpu-cond.bin', { IfNoneMatch: '*' }), 'PreconditionFailed', 412);
    await expectS3Error(upload('mpu-cond.bin', { IfMatch: `"${md5('nothing')}"` }), 'PreconditionFailed', 412);
    await upload('mpu-cond.bin', { IfMatch: created.ETag });

    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'copy-src.txt', Body: 'source' }));
    await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy-dst.txt', CopySource: `${bucket}/copy-src.txt`, IfNoneMatch: '*' }));
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy-dst.txt', CopySource: `${bucket}/mpu-cond.bin`, IfNoneMatch: '*' })), 'PreconditionFailed', 412);
    expect(fs.readFileSync(path.join(root, bucket, 'copy-dst.txt'), 'utf8')).toBe('source');
  });

  it('deletes single objects (204 even when missing) and prunes emptied folders', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'del/a/b/c.txt', Body: 'c' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'del/keep.txt', Body: 'k' }));
    const res = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'del/a/b/c.txt' }));
    expect(res.$metadata.httpStatusCode).toBe(204);
    expect(fs.existsSync(path.join(root, bucket, 'del', 'a'))).toBe(false);
    expect(fs.existsSync(path.join(root, bucket, 'del', 'keep.txt'))).toBe(true);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'del/a/b/c.txt' })), 'NoSuchKey', 404);

    const again = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'del/a/b/c.txt' }));
    expect(again.$metadata.httpStatusCode).toBe(204);
    // Deleting a "folder" key must not remove the objects below it.
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'del' }));
    expect(fs.existsSync(path.join(root, bucket, 'del', 'keep.txt'))).toBe(true);
  });

  it('deletes many objects in one DeleteObjects request', async () => {
    const keys = ['multi/1.txt', 'multi/2 & <two>.txt', 'multi/sub/3.txt'];
    for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: k }));
    const res = await s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: [...keys, 'multi/never-existed', '../outside'].map((Key) => ({ Key })) },
      }),
    );
    expect(res.Deleted?.map((d) => d.Key).sort()).toEqual([...keys, 'multi/never-existed'].sort());
    expect(res.Errors?.map((e) => [e.Key, e.Code])).toEqual([['../outside', 'InvalidArgument']]);
    expect(fs.existsSync(path.join(root, bucket, 'multi'))).toBe(false);

    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'multi/q.txt', Body: 'q' }));
    const quiet = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Quiet: true, Objects: [{ Key: 'multi/q.txt' }] } }));
    expect(quiet.Deleted ?? []).toEqual([]);
    expect(fs.existsSync(path.join(root, bucket, 'multi', 'q.txt'))).toBe(false);
  });

  it('pages through 1200 keys with ListObjectsV2 (default max-keys 1000) in byte order', async () => {
    // 1200 rather than thousands: each PUT creates two files, which costs ~1 ms apiece on some disks.
    await s3.send(new CreateBucketCommand({ Bucket: 'many' }));
    const keys = Array.from({ length: 1200 }, (_, i) => `k/${String(i).padStart(4, '0')}`);
    const queue = [...keys];
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        for (let k = queue.shift(); k !== undefined; k = queue.shift()) {
          await s3.send(new PutObjectCommand({ Bucket: 'many', Key: k, Body: k }));
        }
      }),
    );
    const listAll = async (maxKeys?: number): Promise<string[][]> => {
      const pages: string[][] = [];
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: 'many', Prefix: 'k/', MaxKeys: maxKeys, ContinuationToken: token }));
        expect(page.KeyCount).toBe(page.Contents?.length);
        expect(page.MaxKeys).toBe(maxKeys ?? 1000);
        pages.push((page.Contents ?? []).map((c) => c.Key!));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
        if (page.IsTruncated) expect(token).toBeTruthy();
      } while (token);
      return pages;
    };
    const byDefault = await listAll();
    expect(byDefault.map((p) => p.length)).toEqual([1000, 200]);
    expect(byDefault.flat()).toEqual(keys);
    const by500 = await listAll(500);
    expect(by500.map((p) => p.length)).toEqual([500, 500, 200]);
    expect(by500.flat()).toEqual(keys);

    const first = await s3.send(new ListObjectsV2Command({ Bucket: 'many', MaxKeys: 2, StartAfter: 'k/1034' }));
    expect(first.Contents?.map((c) => [c.Key, c.Size, c.ETag])).toEqual([
      ['k/1035', 6, `"${md5('k/1035')}"`],
      ['k/1036', 6, `"${md5('k/1036')}"`],
    ]);
    expect(first.IsTruncated).toBe(true);
  });

  it('rolls keys up into CommonPrefixes with a delimiter, ordered by UTF-8 bytes', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'tree' }));
    // '-' (0x2D) < '/' (0x2F) < '0' (0x30); U+FFFD (EF BF BD) < U+1F600 (F0 9F 98 80) in UTF-8 even
    // though JS string comparison (UTF-16 code units, D83D < FFFD) orders those two the other way round.
    const keys = ['a-x', 'a/b/c', 'a/d', 'a0', 'b', 'c/\u{1F600}', 'c/\uFFFD', 'c/z'];
    for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: 'tree', Key: k, Body: k }));

    const all = await s3.send(new ListObjectsV2Command({ Bucket: 'tree' }));
    expect(all.Contents?.map((c) => c.Key)).toEqual(['a-x', 'a/b/c', 'a/d', 'a0', 'b', 'c/z', 'c/\uFFFD', 'c/\u{1F600}']);

    const top = await s3.send(new ListObjectsV2Command({ Bucket: 'tree', Delimiter: '/' }));
    expect(top.Contents?.map((c) => c.Key)).toEqual(['a-x', 'a0', 'b']);
    expect(top.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/', 'c/']);
    expect(top.KeyCount).toBe(5);

    const underA = await s3.send(new ListObjectsV2Command({ Bucket: 'tree', Delimiter: '/', Prefix: 'a/' }));
    expect(underA.Contents?.map((c) => c.Key)).toEqual(['a/d']);
    expect(underA.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/b/']);

    // Common prefixes count towards max-keys and pagination resumes after a rolled-up prefix.
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: 'tree', Delimiter: '/', MaxKeys: 2, ContinuationToken: token }));
      seen.push(...(page.Contents ?? []).map((c) => c.Key!), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!));
      token = page.NextContinuationToken;
    } while (token);
    expect(seen.sort()).toEqual(['a-x', 'a/', 'a0', 'b', 'c/'].sort());

    // ListObjects v1 with Marker/NextMarker.
    const v1a = await s3.send(new ListObjectsCommand({ Bucket: 'tree', Delimiter: '/', MaxKeys: 2 }));
    expect(v1a.Contents?.map((c) => c.Key)).toEqual(['a-x']);
    expect(v1a.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/']);
    expect(v1a.IsTruncated).toBe(true);
    expect(v1a.NextMarker).toBe('a/');
    const v1b = await s3.send(new ListObjectsCommand({ Bucket: 'tree', Delimiter: '/', Marker: v1a.NextMarker }));
    expect(v1b.Contents?.map((c) => c.Key)).toEqual(['a0', 'b']);
    expect(v1b.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['c/']);
    expect(v1b.IsTruncated).toBe(false);

    await expectS3Error(s3.send(new ListObjectsV2Command({ Bucket: 'no-such-bucket' })), 'NoSuchBucket', 404);
  });

  it('copies objects, keeping or replacing metadata', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'copy/src.json', Body: '{"a":1}', ContentType: 'application/json', Metadata: { m: '1' } }));
    await s3.send(new CreateBucketCommand({ Bucket: 'other' }));

    const kept = await s3.send(new CopyObjectCommand({ Bucket: 'other', Key: 'dst/kept.json', CopySource: `${bucket}/copy/src.json` }));
    expect(kept.CopyObjectResult?.ETag).toBe(`"${md5('{"a":1}')}"`);
    const keptHead = await s3.send(new HeadObjectCommand({ Bucket: 'other', Key: 'dst/kept.json' }));
    expect(keptHead.ContentType).toBe('application/json');
    expect(keptHead.Metadata).toEqual({ m: '1' });
    expect(fs.readFileSync(path.join(root, 'other', 'dst', 'kept.json'), 'utf8')).toBe('{"a":1}');

    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: 'copy/replaced.txt',
        CopySource: encodeURIComponent(`${bucket}/copy/src.json`),
        MetadataDirective: 'REPLACE',
        ContentType: 'text/plain',
        Metadata: { n: '2' },
      }),
    );
    const replaced = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copy/replaced.txt' }));
    expect(replaced.ContentType).toBe('text/plain');
    expect(replaced.Metadata).toEqual({ n: '2' });

    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy/x', CopySource: `${bucket}/copy/missing` })), 'NoSuchKey', 404);
    await expectS3Error(
      s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy/src.json', CopySource: `${bucket}/copy/src.json` })),
      'InvalidRequest',
      400,
    );
  });

  it('assembles a multipart Upload of an unknown-length stream into one plain file', async () => {
    const partSize = 5 * 1024 * 1024;
    const data = crypto.randomBytes(2 * partSize + 123_457);
    const upload = new Upload({
      client: s3,
      params: { Bucket: bucket, Key: 'egress/big/part-0.parquet', Body: chunkedStream(data), ContentType: 'application/octet-stream', Metadata: { kind: 'mp' } },
      partSize,
      queueSize: 3,
    });
    const out = await upload.done();

    const partMd5s = [0, 1, 2].map((i) => crypto.createHash('md5').update(data.subarray(i * partSize, (i + 1) * partSize)).digest());
    expect(out.ETag).toBe(`"${md5(Buffer.concat(partMd5s))}-3"`);
    expect(fs.readFileSync(path.join(root, bucket, 'egress', 'big', 'part-0.parquet')).equals(data)).toBe(true);
    expect(fs.readdirSync(path.join(root, '.uploads'))).toEqual([]);

    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'egress/big/part-0.parquet' }));
    expect(head.ContentLength).toBe(data.length);
    expect(head.ETag).toBe(out.ETag);
    expect(head.Metadata).toEqual({ kind: 'mp' });

    const second = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'egress/big/part-0.parquet', PartNumber: 2 }));
    expect(second.PartsCount).toBe(3);
    expect((await bodyBytes(second)).equals(data.subarray(partSize, 2 * partSize))).toBe(true);
  });

  it('validates parts on CompleteMultipartUpload and forgets aborted uploads', async () => {
    const key = 'mp/manual.bin';
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    expect(UploadId).toBeTruthy();
    const p1 = Buffer.alloc(5 * 1024 * 1024, 1);
    const up1 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: p1 }));
    expect(up1.ETag).toBe(`"${md5(p1)}"`);
    const up2 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 2, Body: 'tail' }));
    const staging = path.join(root, '.uploads', UploadId!);
    expect(fs.existsSync(staging)).toBe(true);

    await expectS3Error(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket, Key: key, UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: up1.ETag }, { PartNumber: 2, ETag: '"00000000000000000000000000000000"' }] },
        }),
      ),
      'InvalidPart',
      400,
    );
    await expectS3Error(
      s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 3, ETag: up2.ETag }] } })),
      'InvalidPart',
      400,
    );
    expect(fs.existsSync(path.join(root, bucket, 'mp'))).toBe(false); // nothing visible until completion

    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }));
    expect(fs.existsSync(staging)).toBe(false);
    await expectS3Error(s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 3, Body: 'x' })), 'NoSuchUpload', 404);
    await expectS3Error(
      s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: up1.ETag }] } })),
      'NoSuchUpload',
      404,
    );
    await expectS3Error(s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: 'not-an-upload' })), 'NoSuchUpload', 404);
    expect(fs.existsSync(path.join(root, bucket, 'mp'))).toBe(false);
  });

  it('refuses keys that would escape the root and writes nothing outside it', async () => {
    const before = listTree(tmp).filter((p) => !p.startsWith('root'));
    for (const Key of ['../escape.txt', 'a/../../escape.txt', '../../../../../../tmp/escape.txt', '/etc/escape.txt', 'x/./y', 'a//b', 'trailing/']) {
      await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'pwned' })), 'InvalidArgument', 400);
      await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key })), 'InvalidArgument', 400);
    }
    await expectS3Error(
      s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'ok.txt', CopySource: `${bucket}/../../etc/passwd` })),
      'InvalidArgument',
      400,
    );
    expect(listTree(tmp).filter((p) => !p.startsWith('root'))).toEqual(before);
    expect(listTree(root).some((p) => p.includes('escape'))).toBe(false);
  });

  it('reports a conflict when a key would need to be both a file and a folder', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'conflict/x', Body: 'file' }));
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'conflict/x/y', Body: 'child' })), 'KeyPathConflict', 409);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'conflict/dir/y', Body: 'child' }));
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'conflict/dir', Body: 'file' })), 'KeyPathConflict', 409);
    expect(fs.readFileSync(path.join(root, bucket, 'conflict', 'x'), 'utf8')).toBe('file');
    // Sidecars of "k" and "k.json/..." live in distinct places, so both keys can coexist.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'conflict/k', Body: '1', ContentType: 'text/one' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'conflict/k.json/v', Body: '2', ContentType: 'text/two' }));
    expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'conflict/k' }))).ContentType).toBe('text/one');
    expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'conflict/k.json/v' }))).ContentType).toBe('text/two');
  });

  it('answers unsupported methods with MethodNotAllowed', async () => {
    const client = makeClient(server.endpoint);
    client.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { method: string }).method = 'PATCH';
        return next(args);
      },
      { step: 'finalizeRequest', name: 'patchMethod' },
    );
    await expectS3Error(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'range.txt' })), 'MethodNotAllowed', 405);
    client.destroy();
  });

  it('never lets a reader see a half-written object', async () => {
    const v1 = Buffer.alloc(1024 * 1024, 'a');
    const v2 = Buffer.alloc(3 * 1024 * 1024, 'b');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'atomic.bin', Body: v1 }));
    const writer = s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'atomic.bin', Body: chunkedStream(v2, 16 * 1024), ContentLength: v2.length }));
    const reads = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i * 3));
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'atomic.bin' }));
        return { etag: got.ETag, bytes: await bodyBytes(got) };
      }),
    );
    await writer;
    for (const r of reads) {
      const expected = r.bytes.length === v1.length ? v1 : v2;
      expect(r.bytes.equals(expected)).toBe(true);
      expect(r.etag).toBe(`"${md5(expected)}"`);
    }
    expect(fs.readFileSync(path.join(root, bucket, 'atomic.bin')).equals(v2)).toBe(true);
    expect(fs.readdirSync(path.join(root, '.tmp'))).toEqual([]);
  });

  it('serves files dropped into a bucket folder by hand, with an MD5 ETag', async () => {
    fs.mkdirSync(path.join(root, bucket, 'manual'), { recursive: true });
    fs.writeFileSync(path.join(root, bucket, 'manual', 'note.txt'), 'by hand');
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'manual/' }));
    expect(listed.Contents?.map((c) => [c.Key, c.Size, c.ETag])).toEqual([['manual/note.txt', 7, `"${md5('by hand')}"`]]);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'manual/note.txt' }));
    expect((await bodyBytes(got)).toString()).toBe('by hand');

    // Editing the file outside the server invalidates the recorded ETag.
    fs.writeFileSync(path.join(root, bucket, 'manual', 'note.txt'), 'edited by hand');
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'manual/note.txt' }));
    expect(head.ETag).toBe(`"${md5('edited by hand')}"`);
    expect(head.ContentLength).toBe(14);
  });

  it('stop() closes the listening socket', async () => {
    const own = new ObjectStoreServer({ rootDir: path.join(tmp, 'second') });
    const { endpoint } = await own.start();
    const client = makeClient(endpoint);
    await client.send(new CreateBucketCommand({ Bucket: 'tmp-bucket' }));
    await own.stop();
    expect(() => own.endpoint).toThrow(/not running/);
    // A pooled keep-alive socket may fail with "socket hang up" rather than a refused connection.
    await expect(client.send(new ListBucketsCommand({}))).rejects.toBeDefined();
    client.destroy();
    const fresh = makeClient(endpoint);
    await expect(fresh.send(new ListBucketsCommand({}))).rejects.toThrow(/ECONNREFUSED/);
    fresh.destroy();
    await own.stop(); // idempotent
  });
});
