import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStore } from '../../lib/aws/s3-object-store';
import { internalError } from '../../lib/embedded/object-store/errors';
import { ObjectStoreServer } from '../../lib/embedded/object-store/server';

let dir: string;
let server: ObjectStoreServer;
let store: S3ObjectStore;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3-object-store-test-'));
  server = new ObjectStoreServer({ rootDir: dir });
  const { endpoint } = await server.start();
  const s3 = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await s3.send(new CreateBucketCommand({ Bucket: 'leases' }));
  store = new S3ObjectStore(s3, 'leases');
});
afterAll(async () => {
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('creates an object only where none is, and replaces it only while its ETag is the one given', async () => {
  const created = await store.putIfAbsent('lease.json', 'a', 'application/json');
  expect(created).toMatch(/^"[0-9a-f]{32}"$/);
  expect(await store.putIfAbsent('lease.json', 'b')).toBeUndefined();
  expect((await store.head('lease.json'))?.etag).toBe(created);

  const replaced = await store.putIfMatch('lease.json', 'c', created!); // created just above
  expect(replaced).toBeDefined();
  expect(replaced).not.toBe(created);
  expect(await store.putIfMatch('lease.json', 'd', created!)).toBeUndefined();
  expect((await store.get('lease.json')).toString()).toBe('c');
  expect(await store.putIfMatch('missing.json', 'e', replaced!)).toBeUndefined();
  expect(await store.head('missing.json')).toBeUndefined();
});

it('lets one of several writers racing for a key create it', async () => {
  const results = await Promise.all(['1', '2', '3', '4'].map((body) => store.putIfAbsent('race.json', body)));
  expect(results.filter((etag) => etag !== undefined)).toHaveLength(1);
});

it('names the request and the object when S3 fails, a 500 to a HEAD (no body) included, and keeps the error S3 gave', async () => {
  server.setFaultPolicy(({ key }) => (key === 'broken.json' ? internalError() : undefined));
  try {
    const head = await store.head('broken.json').catch((error: Error & { $metadata?: { httpStatusCode?: number } }) => error);
    expect(head).toBeInstanceOf(Error);
    expect((head as Error).message).toMatch(/^S3 HeadObject of s3:\/\/leases\/broken\.json failed with HTTP 500: \w+/);
    expect((head as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(500);
    await expect(store.get('broken.json')).rejects.toThrow(
      'S3 GetObject of s3://leases/broken.json failed with HTTP 500: InternalError: We encountered an internal error. Please try again.',
    );
    await expect(store.put('broken.json', 'x')).rejects.toThrow(/^S3 PutObject of s3:\/\/leases\/broken\.json failed with HTTP 500: InternalError/);
  } finally {
    server.setFaultPolicy(undefined);
  }
});
