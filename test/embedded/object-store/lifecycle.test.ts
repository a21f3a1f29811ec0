import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteBucketLifecycleCommand,
  DeleteObjectCommand,
  GetBucketLifecycleConfigurationCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketLifecycleConfigurationCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type LifecycleRule,
} from '@aws-sdk/client-s3';
import { ObjectStoreServer } from '../../../lib/embedded/object-store/server';
import { SimulatedClock } from '../../../lib/embedded/time/simulated-clock';

const QUIET = { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** A clock stopped at `start` (time moves only when the test jumps it), so expiry instants are exact. */
function frozenClock(start: string): SimulatedClock {
  return new SimulatedClock(new Date(start), () => 0);
}

async function s3Error(p: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, status: err.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

describe('Object store: bucket lifecycle configuration', () => {
  let tmp: string;
  let clock: SimulatedClock;
  let server: ObjectStoreServer;
  let endpoint: string;
  let s3: S3Client;
  const bucket = 'aged';

  beforeEach(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lifecycle-test-'));
    clock = frozenClock('2026-01-15T10:30:00Z');
    server = new ObjectStoreServer({ rootDir: tmp, clock });
    ({ endpoint } = await server.start());
    s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'k', secretAccessKey: 's' }, maxAttempts: 1, logger: QUIET });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterEach(async () => {
    s3.destroy();
    await server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const put = (Rules: LifecycleRule[]) => s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules } }));
  const keys = async () => ((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key).sort();
  const rawPut = (xml: string, headers: Record<string, string> = { 'Content-MD5': crypto.createHash('md5').update(xml).digest('base64') }) =>
    fetch(`${endpoint}/${bucket}?lifecycle`, { method: 'PUT', body: xml, headers }).then(async (r) => ({ status: r.status, body: await r.text() }));
  const rule = (inner: string) => `<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule>${inner}</Rule></LifecycleConfiguration>`;

  it('stores, answers and deletes a configuration through the S3 API', async () => {
    expect(await s3Error(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket })))).toEqual({ name: 'NoSuchLifecycleConfiguration', status: 404 });
    const rules: LifecycleRule[] = [
      { ID: 'logs', Status: 'Enabled', Filter: { And: { Prefix: 'logs/', ObjectSizeGreaterThan: 0, ObjectSizeLessThan: 1000, Tags: [{ Key: 'k', Value: 'v' }] } }, Expiration: { Days: 7 } },
      { ID: 'on-a-date', Status: 'Disabled', Filter: { Prefix: 'old/' }, Expiration: { Date: new Date('2027-01-01T00:00:00Z') } },
      { ID: 'versions', Status: 'Enabled', Filter: {}, NoncurrentVersionExpiration: { NoncurrentDays: 7 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 3 } },
      { ID: 'markers', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { ExpiredObjectDeleteMarker: true } },
    ];
    await put(rules);
    const got = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
    expect(got.Rules).toEqual([
      rules[0],
      rules[1],
      { ...rules[2], Filter: {} },
      rules[3],
    ]);
    await s3.send(new DeleteBucketLifecycleCommand({ Bucket: bucket }));
    expect((await s3Error(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket })))).name).toBe('NoSuchLifecycleConfiguration');
  });

  it('answers S3 error codes for malformed or invalid configurations', async () => {
    const cases: Array<[string, number, string]> = [
      ['<LifecycleConfiguration><Rule>', 400, 'MalformedXML'],
      ['<LifecycleConfiguration></LifecycleConfiguration>', 400, 'MalformedXML'],
      [rule('<Filter/><Status>On</Status><Expiration><Days>1</Days></Expiration>'), 400, 'MalformedXML'],
      [rule('<Status>Enabled</Status><Expiration><Days>1</Days></Expiration>'), 400, 'MalformedXML'],
      [rule('<Filter><Prefix>a/</Prefix><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>'), 400, 'MalformedXML'],
      [rule('<Filter/><Status>Enabled</Status><Expiration><Days>1</Days><Date>2027-01-01T00:00:00Z</Date></Expiration>'), 400, 'MalformedXML'],
      [rule('<Filter/><Status>Enabled</Status><Expiration><Days>0</Days></Expiration>'), 400, 'InvalidArgument'],
      [rule('<Filter/><Status>Enabled</Status><Expiration><Date>2027-01-01T12:00:00Z</Date></Expiration>'), 400, 'InvalidArgument'],
      [rule('<Filter/><Status>Enabled</Status>'), 400, 'InvalidRequest'],
      [rule('<Filter><Tag><Key>a</Key><Value>b</Value></Tag></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>'), 400, 'InvalidRequest'],
      [
        `<LifecycleConfiguration>${['a', 'a'].map((id) => `<Rule><ID>${id}</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`).join('')}</LifecycleConfiguration>`,
        400,
        'InvalidArgument',
      ],
    ];
    for (const [xml, status, code] of cases) {
      const res = await rawPut(xml);
      expect({ xml, status: res.status, code: /<Code>(\w+)<\/Code>/.exec(res.body)?.[1] }).toEqual({ xml, status, code });
    }
    const unsigned = await rawPut(rule('<Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>'), {});
    expect(unsigned.status).toBe(400);
    expect(unsigned.body).toContain('Content-MD5');
    // Nothing invalid was kept.
    expect((await s3Error(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket })))).name).toBe('NoSuchLifecycleConfiguration');
  });

  it('stamps LastModified from the store clock', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a.txt', Body: 'x' }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'a.txt' }));
    expect(head.LastModified?.toISOString()).toBe('2026-01-15T10:30:00.000Z');
  });

  it('expires objects at 00:00 UTC of the day after creation plus Days, matching prefix and size', async () => {
    await put([{ ID: 'three-days', Status: 'Enabled', Filter: { And: { Prefix: 'tmp/', ObjectSizeGreaterThan: 0 } }, Expiration: { Days: 3 } }]);
    for (const [Key, Body] of [['tmp/a', 'x'], ['tmp/empty', ''], ['keep/b', 'x']] as const) await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body }));
    const [sweep] = server.timedWork;
    // Created 15 Jan 10:30 + 3 days = 18 Jan 10:30, so eligible from 19 Jan 00:00.
    expect(sweep!.nextAt(clock.now())?.toISOString()).toBe('2026-01-16T00:00:00.000Z');
    const before = new Date('2026-01-18T00:00:00Z');
    clock.advanceTo(before);
    await sweep!.run(before);
    expect(await keys()).toEqual(['keep/b', 'tmp/a', 'tmp/empty']);
    const due = new Date('2026-01-19T00:00:00Z');
    clock.advanceTo(due);
    await sweep!.run(due);
    expect(await keys()).toEqual(['keep/b', 'tmp/empty']);
  });

  it('aborts multipart uploads initiated more than DaysAfterInitiation ago, and only those', async () => {
    await put([{ ID: 'uploads', Status: 'Enabled', Filter: { Prefix: '' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }]);
    const old = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'big/old' }));
    clock.advanceTo(new Date('2026-01-16T12:00:00Z'));
    const recent = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'big/recent' }));
    const outcome = await server.sweepLifecycles(new Date('2026-01-17T00:00:00Z'));
    expect(outcome.abortedUploads.map((u) => u.key)).toEqual(['big/old']);
    const part = (Key: string, UploadId: string | undefined) => s3.send(new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber: 1, Body: 'x' }));
    expect((await s3Error(part('big/old', old.UploadId))).name).toBe('NoSuchUpload');
    await expect(part('big/recent', recent.UploadId)).resolves.toBeDefined();
  });

  it('has no sweep due without rules that remove anything, and forgets the rules of a deleted bucket', async () => {
    const [sweep] = server.timedWork;
    expect(sweep!.nextAt(clock.now())).toBeUndefined();
    await put([{ ID: 'off', Status: 'Disabled', Filter: {}, Expiration: { Days: 1 } }]);
    expect(sweep!.nextAt(clock.now())).toBeUndefined();
    await put([{ ID: 'on', Status: 'Enabled', Filter: {}, Expiration: { Days: 1 } }]);
    expect(sweep!.nextAt(clock.now())).toBeDefined();
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'x', Body: 'x' }));
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'x' }));
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    expect(sweep!.nextAt(clock.now())).toBeUndefined();
  });

  it('keeps configurations across a restart of the store', async () => {
    await put([{ ID: 'kept', Status: 'Enabled', Filter: {}, Expiration: { Days: 2 } }]);
    await server.stop();
    server = new ObjectStoreServer({ rootDir: tmp, clock });
    ({ endpoint } = await server.start());
    s3.destroy();
    s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'k', secretAccessKey: 's' }, maxAttempts: 1, logger: QUIET });
    expect((await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules?.[0]?.ID).toBe('kept');
  });
});
