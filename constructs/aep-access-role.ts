import { Construct } from 'constructs';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import {
  DataAwsIamPolicyDocument,
  type DataAwsIamPolicyDocumentStatement,
} from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { PipelineBucket } from './pipeline-bucket';
import { isLiteral, nameFromPath, normalizePrefix } from './naming';
import { admitAwsProviderVersions } from './aws-provider-versions';

/** The AWS account Adobe Experience Platform assumes customer roles from. */
export const ADOBE_AWS_ACCOUNT_ID = '670664943635';

/** The two folders AEP works in, in a bucket identified by ARN. */
export interface AepBucketAccess {
  /** ARN of the bucket. */
  readonly bucketArn: string;
  /** Folder AEP exports features to, for example `egress/`. */
  readonly egressPrefix: string;
  /** Folder AEP ingests scores from, for example `ingress/`. */
  readonly ingressPrefix: string;
  /**
   * KMS key the bucket encrypts with; AEP is then also allowed to use it for those objects.
   * @default none (SSE-S3)
   */
  readonly kmsKeyArn?: string | undefined;
}

export interface AepAccessRoleProps {
  /** Your IMS organization id (`…@AdobeOrg`); AEP presents it as the external id when it assumes the role. */
  readonly imsOrgId: string;
  /** The bucket: a `PipelineBucket`, or its ARN and the two folder prefixes. */
  readonly bucket: PipelineBucket | AepBucketAccess;
  /**
   * AWS account that may assume the role.
   * @default '670664943635' (Adobe Experience Platform)
   */
  readonly adobeAccountId?: string;
  /**
   * Allow `s3:ListBucket` only for keys under the egress and ingress prefixes.
   *
   * Off by default, because two S3 behaviors make the restriction risky for a service we cannot test
   * against: AEP documents ListBucket as needed "for exploring and testing connectivity", which may
   * list from the bucket root (no prefix: denied under the restriction); and S3 answers a read of a
   * missing key with 404 only to callers allowed an unconditioned ListBucket, so AEP would see
   * 403 AccessDenied where it expects "not found". Without the restriction AEP can list key names
   * (never contents) of the other folders. Turn it on if you have verified your dataflows with it.
   * @default false
   */
  readonly restrictListingToPrefixes?: boolean;
  /**
   * Role name.
   * @default derived from the construct path
   */
  readonly roleName?: string;
  /**
   * Longest session AEP can request, in seconds (3600 to 43200).
   * @default 3600
   */
  readonly maxSessionDurationSeconds?: number;
  /** @default none */
  readonly tags?: Record<string, string>;
}

/** Object actions AEP needs in its two folders: write exports, read scores, and clean up. */
export const AEP_OBJECT_ACTIONS: readonly string[] = [
  's3:GetObject',
  's3:PutObject',
  's3:DeleteObject',
  's3:ListMultipartUploadParts',
];
/** Bucket actions AEP needs on the bucket itself. */
export const AEP_BUCKET_ACTIONS: readonly string[] = ['s3:ListBucket', 's3:GetBucketLocation'];

function bucketAccessOf(bucket: PipelineBucket | AepBucketAccess): AepBucketAccess {
  if (bucket instanceof PipelineBucket) {
    return {
      bucketArn: bucket.bucketArn,
      egressPrefix: bucket.prefixes.egress,
      ingressPrefix: bucket.prefixes.ingress,
      kmsKeyArn: bucket.kmsKeyArn,
    };
  }
  return bucket;
}

/**
 * The IAM role Adobe Experience Platform assumes to write dataset exports to the egress folder
 * ("assumed role" authentication of AEP's S3 destination). It may read the ingress folder too, but
 * AEP's S3 *source* does not assume it: that source authenticates through the bucket policy, which
 * must allow Adobe's IAM role (see `PropensityPipeline`'s `aep.ingestionSourceRoleArn`).
 *
 * Trusted only by Adobe's AWS account, and only when AEP presents your IMS org id as the external id,
 * so no other AEP customer can point their dataflows at your bucket. No IAM user and no access key.
 */
export class AepAccessRole extends Construct {
  public readonly role: IamRole;
  public readonly roleArn: string;
  public readonly roleName: string;
  /** Trust policy: Adobe's account, with the external id condition. */
  public readonly trustPolicyDocument: DataAwsIamPolicyDocument;
  /** Permissions: the two folders and the bucket. */
  public readonly policyDocument: DataAwsIamPolicyDocument;
  public readonly policy: IamRolePolicy;

  constructor(scope: Construct, id: string, props: AepAccessRoleProps) {
    super(scope, id);
    admitAwsProviderVersions(this);
    const what = `AepAccessRole ${this.node.path}`;
    if (isLiteral(props.imsOrgId) && !/^[A-Za-z0-9]+@AdobeOrg$/.test(props.imsOrgId)) {
      throw new Error(`${what}: imsOrgId "${props.imsOrgId}" must look like "0123456789ABCDEF01234567@AdobeOrg"`);
    }
    const adobeAccountId = props.adobeAccountId ?? ADOBE_AWS_ACCOUNT_ID;
    if (isLiteral(adobeAccountId) && !/^\d{12}$/.test(adobeAccountId)) {
      throw new Error(`${what}: adobeAccountId "${adobeAccountId}" must be a 12-digit AWS account id`);
    }
    const maxSession = props.maxSessionDurationSeconds ?? 3600;
    if (!Number.isInteger(maxSession) || maxSession < 3600 || maxSession > 43200) {
      throw new Error(`${what}: maxSessionDurationSeconds must be a whole number from 3600 to 43200, got ${maxSession}`);
    }
    if (props.roleName !== undefined && isLiteral(props.roleName) && !/^[\w+=,.@-]{1,64}$/.test(props.roleName)) {
      throw new Error(`${what}: roleName "${props.roleName}" must be 1 to 64 letters, digits or +=,.@_-`);
    }
    const access = bucketAccessOf(props.bucket);
    const egress = normalizePrefix(access.egressPrefix, what);
    const ingress = normalizePrefix(access.ingressPrefix, what);
    if (egress === ingress) throw new Error(`${what}: egress and ingress prefixes must differ`);

    this.trustPolicyDocument = new DataAwsIamPolicyDocument(this, 'trust', {
      statement: [
        {
          sid: 'AdobeExperiencePlatformWithExternalId',
          effect: 'Allow',
          actions: ['sts:AssumeRole'],
          // Adobe's account is in the commercial partition wherever this role lives.
          principals: [{ type: 'AWS', identifiers: [`arn:aws:iam::${adobeAccountId}:root`] }],
          condition: [{ test: 'StringEquals', variable: 'sts:ExternalId', values: [props.imsOrgId] }],
        },
      ],
    });

    const listing: DataAwsIamPolicyDocumentStatement[] = props.restrictListingToPrefixes
      ? [
          {
            sid: 'LocateBucket',
            effect: 'Allow',
            actions: ['s3:GetBucketLocation'],
            resources: [access.bucketArn],
          },
          {
            sid: 'ListAepFoldersOnly',
            effect: 'Allow',
            actions: ['s3:ListBucket'],
            resources: [access.bucketArn],
            condition: [
              {
                test: 'StringLike',
                variable: 's3:prefix',
                // `egress/*` also matches `egress/` itself.
                values: [`${egress}*`, `${ingress}*`],
              },
            ],
          },
        ]
      : [
          {
            sid: 'ListAndLocateBucket',
            effect: 'Allow',
            actions: [...AEP_BUCKET_ACTIONS],
            resources: [access.bucketArn],
          },
        ];
    const statements: DataAwsIamPolicyDocumentStatement[] = [
      {
        sid: 'AepFolders',
        effect: 'Allow',
        actions: [...AEP_OBJECT_ACTIONS],
        resources: [`${access.bucketArn}/${egress}*`, `${access.bucketArn}/${ingress}*`],
      },
      ...listing,
    ];
    if (access.kmsKeyArn !== undefined) {
      statements.push({
        sid: 'BucketKey',
        effect: 'Allow',
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [access.kmsKeyArn],
      });
    }
    this.policyDocument = new DataAwsIamPolicyDocument(this, 'permissions', { statement: statements });

    this.role = new IamRole(this, 'role', {
      name: props.roleName ?? nameFromPath(this, { maxLength: 64, allowedCharacters: 'A-Za-z0-9_+=,.@-' }),
      description: 'Assumed by Adobe Experience Platform to export to and ingest from the pipeline bucket',
      assumeRolePolicy: this.trustPolicyDocument.json,
      maxSessionDuration: maxSession,
      ...(props.tags && { tags: props.tags }),
    });
    this.roleArn = this.role.arn;
    this.roleName = this.role.name;
    this.policy = new IamRolePolicy(this, 'policy', {
      name: 'aep-bucket-access',
      role: this.role.id,
      policy: this.policyDocument.json,
    });
  }
}
