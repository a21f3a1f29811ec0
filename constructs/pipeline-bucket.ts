import { Construct } from 'constructs';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket';
import { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block';
import { S3BucketOwnershipControls } from '@cdktf/provider-aws/lib/s3-bucket-ownership-controls';
import { S3BucketServerSideEncryptionConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration';
import { S3BucketVersioningA } from '@cdktf/provider-aws/lib/s3-bucket-versioning';
import { S3BucketLifecycleConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration';
import { S3BucketPolicy } from '@cdktf/provider-aws/lib/s3-bucket-policy';
import { S3Object } from '@cdktf/provider-aws/lib/s3-object';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { DEFAULT_PREFIXES, stagingPrefixFor } from '../lib/config/schema';
import type { BucketFolder } from '../lib/stages/registry';
import { isLiteral, nameFromPath, normalizePrefix } from './naming';
import { admitAwsProviderVersions } from './aws-provider-versions';

/** The folders of the pipeline's bucket: every prefix the pipeline writes. Each ends in `/`. */
export interface PipelinePrefixes extends Record<BucketFolder, string> {
  /** Features exported from AEP. */
  readonly egress: string;
  /** Scores written for AEP to ingest. */
  readonly ingress: string;
  /** Score files being written, before a score run publishes them to `ingress`; outside what AEP watches. */
  readonly staging: string;
  /** Versioned model registry. */
  readonly models: string;
  /** Ledger of what each stage did. */
  readonly runs: string;
}

/** A bucket created elsewhere that the pipeline should use as is. */
export interface ExistingBucket {
  /** Bucket name. */
  readonly name: string;
  /**
   * The bucket's region, which the functions' S3 clients use.
   * @default the functions' default, us-east-1
   */
  readonly region?: string;
  /**
   * Bucket ARN.
   * @default `arn:<partition>:s3:::<name>` in the provider's partition
   */
  readonly arn?: string;
  /**
   * ARN of the KMS key the bucket encrypts with, if it uses SSE-KMS, so readers and writers can be
   * granted the key too.
   * @default none (SSE-S3)
   */
  readonly kmsKeyArn?: string;
}

export interface PipelineBucketProps {
  /**
   * Use this bucket instead of creating one. Nothing is created then: no encryption, policy,
   * lifecycle or folder markers are managed, and the construct only exposes name, ARN and prefixes.
   * @default a new bucket is created
   */
  readonly existingBucket?: ExistingBucket;
  /**
   * Exact bucket name (globally unique, 3 to 63 lower-case letters, digits, dots and hyphens).
   * @default Terraform generates a unique name starting with a prefix derived from the construct path
   */
  readonly bucketName?: string;
  /**
   * Encrypt with this KMS key (SSE-KMS with an S3 Bucket Key, which cuts KMS requests and cost).
   * @default SSE-S3 (AES256)
   */
  readonly kmsKeyArn?: string;
  /**
   * Folder names. Each is normalized to end in `/`.
   * @default { egress: 'egress/', ingress: 'ingress/', staging: '<ingress>_staging/', models: 'models/', runs: 'runs/' }
   */
  readonly prefixes?: Partial<PipelinePrefixes>;
  /**
   * Days after which exported features under the egress prefix expire.
   * @default 30
   */
  readonly egressExpirationDays?: number;
  /**
   * Days after which scores under the ingress prefix expire (AEP ingests them within minutes).
   * @default 30
   */
  readonly ingressExpirationDays?: number;
  /**
   * Days after which score files left under the staging prefix expire. A score run deletes what it
   * staged; only a run killed mid-way (a Lambda timeout) leaves parts behind.
   * @default 1
   */
  readonly stagingExpirationDays?: number;
  /**
   * Days an overwritten or deleted object's previous version is kept before it expires.
   * @default 7
   */
  readonly noncurrentVersionExpirationDays?: number;
  /**
   * Days after which unfinished multipart uploads are aborted and their parts deleted.
   * @default 3
   */
  readonly abortIncompleteMultipartUploadDays?: number;
  /**
   * Let `terraform destroy` delete a bucket that still holds objects (all versions are lost).
   * @default false
   */
  readonly forceDestroy?: boolean;
  /**
   * Tags for every resource created.
   * @default none
   */
  readonly tags?: Record<string, string>;
}

/** S3's longest `bucket_prefix`: Terraform appends a 26-character unique suffix to reach 63. */
const MAX_BUCKET_PREFIX_LENGTH = 37;

function requireDays(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) throw new Error(`PipelineBucket: ${what} must be a whole number of days >= 1, got ${value}`);
  return value;
}

function validateBucketName(name: string): void {
  if (!isLiteral(name)) return;
  const valid =
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) && !name.includes('..') && !/^\d+\.\d+\.\d+\.\d+$/.test(name);
  if (!valid) {
    throw new Error(
      `PipelineBucket: bucket name "${name}" is invalid: use 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit`,
    );
  }
}

/**
 * The pipeline's S3 bucket, secure by default: all public access blocked, ACLs disabled (bucket owner
 * enforced), encrypted at rest (SSE-S3, or SSE-KMS with a bucket key), versioned, TLS-only, with
 * exported features and scores expiring, and the four pipeline folders present from the start.
 *
 * Pass `existingBucket` to use a bucket managed elsewhere: then nothing is created.
 */
export class PipelineBucket extends Construct {
  /** Bucket name. */
  public readonly bucketName: string;
  /** Bucket ARN. */
  public readonly bucketArn: string;
  /** The bucket's region; undefined for an existing bucket given without one. */
  public readonly region?: string | undefined;
  /** The folder prefixes, each ending in `/`. */
  public readonly prefixes: PipelinePrefixes;
  /** KMS key used for default encryption, undefined for SSE-S3. */
  public readonly kmsKeyArn?: string | undefined;
  /** True when the bucket was passed in rather than created. */
  public readonly isExisting: boolean;
  /** Days after which exported features expire; undefined for an existing bucket, whose lifecycle is managed elsewhere. */
  public readonly egressExpirationDays?: number | undefined;

  /** The bucket; undefined for an existing bucket. */
  public readonly bucket?: S3Bucket;
  public readonly publicAccessBlock?: S3BucketPublicAccessBlock;
  public readonly ownershipControls?: S3BucketOwnershipControls;
  public readonly encryption?: S3BucketServerSideEncryptionConfigurationA;
  public readonly versioning?: S3BucketVersioningA;
  public readonly lifecycle?: S3BucketLifecycleConfiguration;
  /** The TLS-only bucket policy document; add statements through `sourcePolicyDocuments` of your own. */
  public readonly policyDocument?: DataAwsIamPolicyDocument;
  public readonly bucketPolicy?: S3BucketPolicy;
  /** Empty `<prefix>` objects, so the folders show in consoles and AEP's folder browser before any data arrives. */
  public readonly folderMarkers: Record<Exclude<BucketFolder, 'staging'>, S3Object> | undefined;

  constructor(scope: Construct, id: string, props: PipelineBucketProps = {}) {
    super(scope, id);
    admitAwsProviderVersions(this);
    const what = `PipelineBucket ${this.node.path}`;
    const ingress = normalizePrefix(props.prefixes?.ingress ?? DEFAULT_PREFIXES.ingress, what);
    this.prefixes = {
      egress: normalizePrefix(props.prefixes?.egress ?? DEFAULT_PREFIXES.egress, what),
      ingress,
      staging: normalizePrefix(props.prefixes?.staging ?? (isLiteral(ingress) ? stagingPrefixFor(ingress) : DEFAULT_PREFIXES.staging), what),
      models: normalizePrefix(props.prefixes?.models ?? DEFAULT_PREFIXES.models, what),
      runs: normalizePrefix(props.prefixes?.runs ?? DEFAULT_PREFIXES.runs, what),
    };
    const literalPrefixes = Object.values(this.prefixes).filter(isLiteral);
    for (const a of literalPrefixes) {
      for (const b of literalPrefixes) {
        // A prefix inside another would let lifecycle rules and IAM grants of one reach the other.
        if (a !== b && b.startsWith(a)) throw new Error(`${what}: prefix "${b}" lies inside prefix "${a}"; use separate folders`);
      }
    }
    if (new Set(literalPrefixes).size !== literalPrefixes.length) throw new Error(`${what}: the prefixes must differ`);

    if (props.existingBucket) {
      const ignored = (['bucketName', 'kmsKeyArn', 'forceDestroy'] as const).filter((key) => props[key] !== undefined);
      if (ignored.length > 0) throw new Error(`${what}: ${ignored.join(', ')} cannot be set with existingBucket (nothing is created)`);
      this.isExisting = true;
      this.bucketName = props.existingBucket.name;
      this.region = props.existingBucket.region;
      this.bucketArn =
        props.existingBucket.arn ?? `arn:${new DataAwsPartition(this, 'partition').partition}:s3:::${props.existingBucket.name}`;
      this.kmsKeyArn = props.existingBucket.kmsKeyArn;
      this.folderMarkers = undefined;
      return;
    }

    if (props.bucketName !== undefined) validateBucketName(props.bucketName);
    const egressDays = requireDays(props.egressExpirationDays ?? 30, 'egressExpirationDays');
    const ingressDays = requireDays(props.ingressExpirationDays ?? 30, 'ingressExpirationDays');
    const stagingDays = requireDays(props.stagingExpirationDays ?? 1, 'stagingExpirationDays');
    const noncurrentDays = requireDays(props.noncurrentVersionExpirationDays ?? 7, 'noncurrentVersionExpirationDays');
    const abortDays = requireDays(props.abortIncompleteMultipartUploadDays ?? 3, 'abortIncompleteMultipartUploadDays');
    const tags = props.tags;

    this.isExisting = false;
    this.egressExpirationDays = egressDays;
    this.kmsKeyArn = props.kmsKeyArn;
    this.bucket = new S3Bucket(this, 'bucket', {
      ...(props.bucketName === undefined
        ? { bucketPrefix: `${nameFromPath(this, { maxLength: MAX_BUCKET_PREFIX_LENGTH - 1, allowedCharacters: 'a-z0-9-', lowerCase: true })}-` }
        : { bucket: props.bucketName }),
      forceDestroy: props.forceDestroy ?? false,
      ...(tags && { tags }),
    });
    this.bucketName = this.bucket.bucket;
    this.bucketArn = this.bucket.arn;
    this.region = this.bucket.region;

    this.publicAccessBlock = new S3BucketPublicAccessBlock(this, 'public-access-block', {
      bucket: this.bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });

    this.ownershipControls = new S3BucketOwnershipControls(this, 'ownership', {
      bucket: this.bucket.id,
      rule: { objectOwnership: 'BucketOwnerEnforced' },
    });

    this.encryption = new S3BucketServerSideEncryptionConfigurationA(this, 'encryption', {
      bucket: this.bucket.id,
      rule: [
        props.kmsKeyArn === undefined
          ? { applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }
          : {
              applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: props.kmsKeyArn },
              bucketKeyEnabled: true,
            },
      ],
    });

    this.versioning = new S3BucketVersioningA(this, 'versioning', {
      bucket: this.bucket.id,
      versioningConfiguration: { status: 'Enabled' },
    });

    // The prefix rules only match objects larger than 0 bytes, so they never expire the empty folder
    // markers below (Terraform would otherwise recreate them on every apply after expiry).
    const expireUnder = (ruleId: string, prefix: string, days: number) => ({
      id: ruleId,
      status: 'Enabled',
      filter: [{ and: [{ prefix, objectSizeGreaterThan: 0 }] }],
      expiration: [{ days }],
    });
    this.lifecycle = new S3BucketLifecycleConfiguration(this, 'lifecycle', {
      bucket: this.bucket.id,
      rule: [
        expireUnder('expire-egress', this.prefixes.egress, egressDays),
        expireUnder('expire-ingress', this.prefixes.ingress, ingressDays),
        expireUnder('expire-staging', this.prefixes.staging, stagingDays),
        {
          id: 'clean-up-versions-and-uploads',
          status: 'Enabled',
          filter: [{ prefix: '' }],
          noncurrentVersionExpiration: [{ noncurrentDays }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: abortDays }],
          // Once every version of a key has expired, its lone delete marker is removed too.
          expiration: [{ expiredObjectDeleteMarker: true }],
        },
      ],
      // Lifecycle rules on noncurrent versions need versioning in place first.
      dependsOn: [this.versioning],
    });

    this.policyDocument = new DataAwsIamPolicyDocument(this, 'tls-only', {
      statement: [
        {
          sid: 'DenyInsecureTransport',
          effect: 'Deny',
          principals: [{ type: 'AWS', identifiers: ['*'] }],
          actions: ['s3:*'],
          resources: [this.bucketArn, `${this.bucketArn}/*`],
          condition: [{ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] }],
        },
      ],
    });
    this.bucketPolicy = new S3BucketPolicy(this, 'policy', {
      bucket: this.bucket.id,
      policy: this.policyDocument.json,
      // With BlockPublicPolicy on, S3 evaluates every policy put afterwards; ordering avoids a race.
      dependsOn: [this.publicAccessBlock],
    });

    const marker = (name: Exclude<BucketFolder, 'staging'>) =>
      new S3Object(this, `folder-${name}`, {
        bucket: this.bucket!.id,
        key: this.prefixes[name],
        content: '',
        contentType: 'application/x-directory',
        ...(tags && { tags }),
        // Objects written before encryption is configured would carry the old default.
        dependsOn: [this.encryption!],
      });
    this.folderMarkers = {
      egress: marker('egress'),
      ingress: marker('ingress'),
      models: marker('models'),
      runs: marker('runs'),
    };
  }

  /**
   * IAM resource pattern for every object under a prefix: `<bucketArn>/<prefix>*`.
   * The prefix is normalized to end in `/` so `egress` never also matches `egress-old/`.
   */
  public arnForPrefix(prefix: string): string {
    return `${this.bucketArn}/${normalizePrefix(prefix, `PipelineBucket ${this.node.path}`)}*`;
  }
}
