import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetBucketLifecycleConfigurationCommand,
  ListObjectsV2Command,
  PutBucketLifecycleConfigurationCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { PipelineBucket } from '../../../constructs/pipeline-bucket';
import { ObjectStoreServer } from '../../../lib/embedded/object-store/server';
import { lifecycleRulesFromTerraform } from '../../../lib/embedded/object-store/terraform-lifecycle';
import { SimulatedClock } from '../../../lib/embedded/time/simulated-clock';
import { newStack, onlyResource, synth } from '../../constructs/synth-helpers';

const QUIET = { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe('PipelineBucket lifecycle rules on the embedded object store', () => {
  let tmp: string;
  let server: ObjectStoreServer;
  let s3: S3Client;
  // Frozen between jumps, so what is due at each midnight is exact.
  const clock = new SimulatedClock(new Date('2026-03-01T09:00:00Z'), () => 0);
  const bucket = 'pipeline';

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-lifecycle-'));
    server = new ObjectStoreServer({ rootDir: tmp, clock });
    const { endpoint } = await server.start();
    s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'k', secretAccessKey: 's' }, maxAttempts: 1, logger: QUIET });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterAll(async () => {
    s3?.destroy();
    await server?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** Jumps the clock to `day`, running each sweep due on the way at its time, as a simulator does. */
  async function liveUntil(day: string): Promise<void> {
    const until = new Date(day).getTime();
    const [sweep] = server.timedWork;
    for (let next = sweep!.nextAt(clock.now()); next && next.getTime() <= until; next = sweep!.nextAt(clock.now())) {
      clock.advanceTo(next);
      await sweep!.run(next);
    }
    clock.advanceTo(new Date(until));
  }

  const keys = async () => ((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key).sort();

  it('accepts exactly the synthesized rules and expires staging after a day, egress and ingress after 30, never models, runs or empty markers', async () => {
    const { stack } = newStack();
    new PipelineBucket(stack, 'storage');
    const terraformRules = onlyResource(synth(stack), 'aws_s3_bucket_lifecycle_configuration').rule;
    const rules = lifecycleRulesFromTerraform(JSON.parse(JSON.stringify(terraformRules)));
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: rules } }));
    const stored = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
    expect(stored.Rules?.map((r) => r.ID)).toEqual(['expire-egress', 'expire-ingress', 'expire-staging', 'clean-up-versions-and-uploads']);

    const objects = ['egress/run-1/part-0.parquet', 'ingress/run-1/scores.csv', 'ingress_staging/run-1/part-0.csv', 'models/v1/model.json', 'runs/score/run-1.json'];
    for (const Key of objects) await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'data' }));
    // An empty object under an expiring prefix, like the folder markers (size 0 is outside ObjectSizeGreaterThan 0).
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'egress/marker', Body: '' }));
    const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'ingress_staging/run-2/big.csv' }));
    await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'ingress_staging/run-2/big.csv', UploadId: upload.UploadId, PartNumber: 1, Body: 'x' }));

    // Written 1 March 09:00; staging's 1 day runs out 2 March 09:00, so it goes at 00:00 on 3 March.
    await liveUntil('2026-03-02T23:59:59Z');
    expect(await keys()).toEqual(['egress/marker', ...objects].sort());
    await liveUntil('2026-03-03T00:00:00Z');
    expect(await keys()).toEqual(['egress/marker', 'egress/run-1/part-0.parquet', 'ingress/run-1/scores.csv', 'models/v1/model.json', 'runs/score/run-1.json']);

    // The upload's 3 days after initiation end 4 March 09:00: aborted at 00:00 on 5 March.
    await liveUntil('2026-03-04T23:59:59Z');
    expect((await server.sweepLifecycles(clock.now())).abortedUploads).toEqual([]);
    await liveUntil('2026-03-05T00:00:00Z');
    await expect(s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'ingress_staging/run-2/big.csv', UploadId: upload.UploadId, PartNumber: 2, Body: 'x' }))).rejects.toMatchObject({ name: 'NoSuchUpload' });

    // 30 days after 1 March 09:00 is 31 March 09:00: egress and ingress go at 00:00 on 1 April.
    await liveUntil('2026-03-31T23:59:59Z');
    expect(await keys()).toContain('egress/run-1/part-0.parquet');
    await liveUntil('2026-04-01T00:00:00Z');
    expect(await keys()).toEqual(['egress/marker', 'models/v1/model.json', 'runs/score/run-1.json']);
  });

  it('refuses rules it cannot carry out, naming the rule and field', () => {
    expect(() => lifecycleRulesFromTerraform([{ id: 'cold', status: 'Enabled', filter: [{ prefix: '' }], transition: [{ days: 30, storage_class: 'GLACIER' }] }])).toThrow(
      "Lifecycle rule 'cold' moves objects between storage classes",
    );
    expect(() => lifecycleRulesFromTerraform([{ id: 'var', status: 'Enabled', filter: [{ prefix: '' }], expiration: [{ days: '${var.days}' }] }])).toThrow(
      "Lifecycle rule 'var'.expiration.days is the Terraform expression '${var.days}'",
    );
  });
});
