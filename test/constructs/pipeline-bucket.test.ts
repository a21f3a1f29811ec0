import { Testing } from 'cdktf';
import { PipelineBucket } from '../../constructs/pipeline-bucket';
import {
  dataOf,
  documentReferencedBy,
  expectLeastPrivilege,
  newStack,
  onlyResource,
  onlyResourceId,
  resolved,
  resourcesOf,
  synth,
} from './synth-helpers';

describe('PipelineBucket', () => {
  describe('by default', () => {
    const { stack } = newStack();
    const bucket = new PipelineBucket(stack, 'storage');
    const raw = Testing.synth(stack);
    const json = synth(stack);
    const bucketId = onlyResourceId(json, 'aws_s3_bucket');
    const bucketArn = `\${aws_s3_bucket.${bucketId}.arn}`;

    it('creates one bucket that terraform destroy will not empty', () => {
      expect(onlyResource(json, 'aws_s3_bucket')).toMatchObject({ force_destroy: false, bucket_prefix: 'test-storage-' });
      expect(resolved(stack, bucket.bucketArn)).toBe(bucketArn);
      expect(resolved(stack, bucket.bucketName)).toBe(`\${aws_s3_bucket.${bucketId}.bucket}`);
    });

    it('blocks every kind of public access', () => {
      expect(
        Testing.toHaveResourceWithProperties(raw, 'aws_s3_bucket_public_access_block', {
          block_public_acls: true,
          block_public_policy: true,
          ignore_public_acls: true,
          restrict_public_buckets: true,
        }),
      ).toBe(true);
    });

    it('disables ACLs (bucket owner enforced)', () => {
      expect(onlyResource(json, 'aws_s3_bucket_ownership_controls').rule).toEqual({ object_ownership: 'BucketOwnerEnforced' });
    });

    it('encrypts with SSE-S3', () => {
      const rule = onlyResource(json, 'aws_s3_bucket_server_side_encryption_configuration').rule;
      expect(rule).toEqual([{ apply_server_side_encryption_by_default: { sse_algorithm: 'AES256' } }]);
    });

    it('turns versioning on', () => {
      expect(onlyResource(json, 'aws_s3_bucket_versioning').versioning_configuration).toEqual({ status: 'Enabled' });
    });

    it('denies any request without TLS, on the bucket and its objects', () => {
      const statements = documentReferencedBy(json, onlyResource(json, 'aws_s3_bucket_policy').policy);
      expect(statements).toHaveLength(1);
      const [deny] = statements;
      expect(deny?.effect).toBe('Deny');
      expect(deny?.actions).toEqual(['s3:*']);
      expect(deny?.principals).toEqual([{ type: 'AWS', identifiers: ['*'] }]);
      expect(deny?.resources.sort()).toEqual([bucketArn, `${bucketArn}/*`].sort());
      expect(deny?.conditions).toEqual([{ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] }]);
    });

    it('expires egress and ingress objects after 30 days and staged score files after 1 day, but never the folder markers', () => {
      const rules = onlyResource(json, 'aws_s3_bucket_lifecycle_configuration').rule as any[];
      const byId = Object.fromEntries(rules.map((r) => [r.id, r]));
      for (const [id, prefix] of [
        ['expire-egress', 'egress/'],
        ['expire-ingress', 'ingress/'],
      ] as const) {
        expect(byId[id]).toMatchObject({
          status: 'Enabled',
          expiration: [{ days: 30 }],
          filter: [{ and: [{ prefix, object_size_greater_than: 0 }] }],
        });
      }
      // Parts a killed score run left behind go within a day.
      expect(byId['expire-staging']).toMatchObject({
        status: 'Enabled',
        expiration: [{ days: 1 }],
        filter: [{ and: [{ prefix: 'ingress_staging/', object_size_greater_than: 0 }] }],
      });
      // No rule expires current objects under models/ or runs/.
      const expiringPrefixes = rules.filter((r) => r.expiration?.[0]?.days).map((r) => r.filter[0].and[0].prefix);
      expect(expiringPrefixes.sort()).toEqual(['egress/', 'ingress/', 'ingress_staging/']);
    });

    it('expires noncurrent versions and aborts stale multipart uploads bucket-wide', () => {
      const rules = onlyResource(json, 'aws_s3_bucket_lifecycle_configuration').rule as any[];
      const cleanup = rules.find((r) => r.id === 'clean-up-versions-and-uploads');
      expect(cleanup).toMatchObject({
        filter: [{ prefix: '' }],
        noncurrent_version_expiration: [{ noncurrent_days: 7 }],
        abort_incomplete_multipart_upload: [{ days_after_initiation: 3 }],
      });
    });

    it('creates the four folders as empty marker objects', () => {
      const markers = Object.values(resourcesOf(json, 'aws_s3_object'));
      expect(markers.map((m) => m.key).sort()).toEqual(['egress/', 'ingress/', 'models/', 'runs/']);
      for (const marker of markers) {
        expect(marker.content).toBe('');
        expect(marker.bucket).toBe(`\${aws_s3_bucket.${bucketId}.id}`);
      }
    });

    it('exposes prefixes ending in / and object ARN patterns per prefix', () => {
      expect(bucket.prefixes).toEqual({ egress: 'egress/', ingress: 'ingress/', staging: 'ingress_staging/', models: 'models/', runs: 'runs/' });
      expect(bucket.arnForPrefix('models')).toBe(`${bucket.bucketArn}/models/*`);
      expect(bucket.arnForPrefix(bucket.prefixes.runs)).toBe(`${bucket.bucketArn}/runs/*`);
    });

    it('exposes every resource it creates', () => {
      expect(bucket.bucket).toBeDefined();
      expect(bucket.encryption).toBeDefined();
      expect(bucket.bucketPolicy).toBeDefined();
      expect(bucket.lifecycle).toBeDefined();
      expect(Object.keys(bucket.folderMarkers ?? {})).toEqual(['egress', 'ingress', 'models', 'runs']);
    });

    it('grants nothing broad and creates no IAM user or key', () => {
      expectLeastPrivilege(json);
    });
  });

  it('encrypts with SSE-KMS and a bucket key when given a key', () => {
    const { stack } = newStack();
    const keyArn = 'arn:aws:kms:eu-west-1:111122223333:key/0a1b2c3d-0000-4000-8000-000000000001';
    const bucket = new PipelineBucket(stack, 'storage', { kmsKeyArn: keyArn });
    const json = synth(stack);
    expect(onlyResource(json, 'aws_s3_bucket_server_side_encryption_configuration').rule).toEqual([
      { apply_server_side_encryption_by_default: { sse_algorithm: 'aws:kms', kms_master_key_id: keyArn }, bucket_key_enabled: true },
    ]);
    expect(bucket.kmsKeyArn).toBe(keyArn);
  });

  it('derives its name prefix from the construct path, letters kept and lower-cased', () => {
    const { stack } = newStack();
    new PipelineBucket(stack, 'PipelineBucket');
    expect(onlyResource(synth(stack), 'aws_s3_bucket').bucket_prefix).toBe('test-pipelinebucket-');
  });

  it('takes expiration days, prefixes, a name and forceDestroy', () => {
    const { stack } = newStack();
    const bucket = new PipelineBucket(stack, 'storage', {
      bucketName: 'acme-propensity-data',
      forceDestroy: true,
      egressExpirationDays: 10,
      ingressExpirationDays: 2,
      stagingExpirationDays: 3,
      prefixes: { egress: 'exports', ingress: 'scores/' },
    });
    const json = synth(stack);
    expect(onlyResource(json, 'aws_s3_bucket')).toMatchObject({ bucket: 'acme-propensity-data', force_destroy: true });
    const rules = onlyResource(json, 'aws_s3_bucket_lifecycle_configuration').rule as any[];
    const days = Object.fromEntries(rules.filter((r) => r.expiration?.[0]?.days).map((r) => [r.filter[0].and[0].prefix, r.expiration[0].days]));
    expect(days).toEqual({ 'exports/': 10, 'scores/': 2, 'scores_staging/': 3 });
    // The staging folder follows the ingress folder unless it is named.
    expect(bucket.prefixes).toEqual({ egress: 'exports/', ingress: 'scores/', staging: 'scores_staging/', models: 'models/', runs: 'runs/' });
    expect(Object.values(resourcesOf(json, 'aws_s3_object')).map((m) => m.key).sort()).toEqual([
      'exports/',
      'models/',
      'runs/',
      'scores/',
    ]);
  });

  describe('with an existing bucket', () => {
    it('creates nothing and exposes name, ARN and prefixes', () => {
      const { stack } = newStack();
      const bucket = new PipelineBucket(stack, 'storage', {
        existingBucket: { name: 'already-there', arn: 'arn:aws:s3:::already-there' },
      });
      const json = synth(stack);
      expect(json.resource ?? {}).toEqual({});
      expect(bucket.bucketName).toBe('already-there');
      expect(bucket.bucketArn).toBe('arn:aws:s3:::already-there');
      expect(bucket.arnForPrefix(bucket.prefixes.egress)).toBe('arn:aws:s3:::already-there/egress/*');
      expect(bucket.isExisting).toBe(true);
      expect(bucket.bucket).toBeUndefined();
      expect(bucket.folderMarkers).toBeUndefined();
    });

    it('derives the ARN in the provider partition when none is given', () => {
      const { stack } = newStack();
      const bucket = new PipelineBucket(stack, 'storage', { existingBucket: { name: 'already-there' } });
      const json = synth(stack);
      expect(json.resource ?? {}).toEqual({});
      expect(Object.keys(dataOf(json, 'aws_partition'))).toHaveLength(1);
      const partitionId = Object.keys(dataOf(json, 'aws_partition'))[0];
      expect(resolved(stack, bucket.bucketArn)).toBe(`arn:\${data.aws_partition.${partitionId}.partition}:s3:::already-there`);
    });

    it('refuses settings that only apply to a created bucket', () => {
      const { stack } = newStack();
      expect(() => new PipelineBucket(stack, 'storage', { existingBucket: { name: 'x-y-z' }, forceDestroy: true })).toThrow(
        /forceDestroy cannot be set with existingBucket/,
      );
    });
  });

  describe('rejects bad input with a clear error', () => {
    it.each([
      [{ bucketName: 'Not_A_Bucket' }, /bucket name "Not_A_Bucket" is invalid/],
      [{ egressExpirationDays: 0 }, /egressExpirationDays must be a whole number of days >= 1, got 0/],
      [{ ingressExpirationDays: 1.5 }, /ingressExpirationDays must be a whole number/],
      [{ prefixes: { models: 'egress/models/' } }, /prefix "egress\/models\/" lies inside prefix "egress\/"/],
      [{ prefixes: { runs: '/runs' } }, /prefix "\/runs" must be a folder name/],
      [{ prefixes: { runs: 'runs/*' } }, /must not contain wildcards/],
    ])('%j', (props, message) => {
      const { stack } = newStack();
      expect(() => new PipelineBucket(stack, 'storage', props)).toThrow(message);
    });
  });
});
