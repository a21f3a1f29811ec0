import { AepAccessRole } from '../../constructs/aep-access-role';
import { PipelineBucket } from '../../constructs/pipeline-bucket';
import {
  documentReferencedBy,
  expectLeastPrivilege,
  newStack,
  onlyResource,
  onlyResourceId,
  resolved,
  resourcesOf,
  synth,
  type NormalizedStatement,
} from './synth-helpers';

const IMS_ORG = '0123456789ABCDEF01234567@AdobeOrg';
const BUCKET_ARN = 'arn:aws:s3:::acme-pipeline';

function permissionsOf(json: ReturnType<typeof synth>): NormalizedStatement[] {
  return documentReferencedBy(json, onlyResource(json, 'aws_iam_role_policy').policy);
}

function statementWith(statements: NormalizedStatement[], action: string): NormalizedStatement {
  const found = statements.filter((s) => s.actions.includes(action));
  const [only] = found;
  if (found.length !== 1 || !only) throw new Error(`expected one statement allowing ${action}, found ${found.length}`);
  return only;
}

describe('AepAccessRole', () => {
  describe('for a bucket given by ARN and prefixes', () => {
    const { stack } = newStack();
    const access = new AepAccessRole(stack, 'aep', {
      imsOrgId: IMS_ORG,
      bucket: { bucketArn: BUCKET_ARN, egressPrefix: 'egress/', ingressPrefix: 'ingress' },
    });
    const json = synth(stack);
    const permissions = permissionsOf(json);

    it("trusts only Adobe's account, and only with the IMS org id as external id", () => {
      const trust = documentReferencedBy(json, onlyResource(json, 'aws_iam_role').assume_role_policy);
      expect(trust).toHaveLength(1);
      expect(trust[0]).toMatchObject({
        effect: 'Allow',
        actions: ['sts:AssumeRole'],
        principals: [{ type: 'AWS', identifiers: ['arn:aws:iam::670664943635:root'] }],
        conditions: [{ test: 'StringEquals', variable: 'sts:ExternalId', values: [IMS_ORG] }],
      });
    });

    it('allows exactly the six S3 actions AEP needs', () => {
      const actions = permissions.flatMap((s) => s.actions).sort();
      expect(actions).toEqual(
        [
          's3:DeleteObject',
          's3:GetBucketLocation',
          's3:GetObject',
          's3:ListBucket',
          's3:ListMultipartUploadParts',
          's3:PutObject',
        ].sort(),
      );
      expect(permissions.every((s) => s.effect === 'Allow')).toBe(true);
    });

    it('limits object actions to the egress and ingress folders', () => {
      const objects = statementWith(permissions, 's3:GetObject');
      expect(objects.actions.sort()).toEqual(['s3:DeleteObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:PutObject']);
      expect(objects.resources.sort()).toEqual([`${BUCKET_ARN}/egress/*`, `${BUCKET_ARN}/ingress/*`]);
      expect(objects.conditions).toEqual([]);
    });

    it('allows listing and locating on the bucket ARN alone', () => {
      for (const action of ['s3:ListBucket', 's3:GetBucketLocation']) {
        expect(statementWith(permissions, action).resources).toEqual([BUCKET_ARN]);
      }
    });

    it('exposes the role and its ARN', () => {
      const roleId = onlyResourceId(json, 'aws_iam_role');
      expect(resolved(stack, access.roleArn)).toBe(`\${aws_iam_role.${roleId}.arn}`);
      expect(access.role).toBeDefined();
    });

    it('creates no IAM user, no access key and nothing broad', () => {
      expectLeastPrivilege(json);
      expect(resourcesOf(json, 'aws_iam_user')).toEqual({});
      expect(resourcesOf(json, 'aws_iam_access_key')).toEqual({});
    });
  });

  it('takes a PipelineBucket and its prefixes', () => {
    const { stack } = newStack();
    const bucket = new PipelineBucket(stack, 'storage', { prefixes: { egress: 'out/', ingress: 'in/' } });
    new AepAccessRole(stack, 'aep', { imsOrgId: IMS_ORG, bucket });
    const json = synth(stack);
    const bucketArn = `\${aws_s3_bucket.${onlyResourceId(json, 'aws_s3_bucket')}.arn}`;
    const objects = statementWith(permissionsOf(json), 's3:PutObject');
    expect(objects.resources.sort()).toEqual([`${bucketArn}/in/*`, `${bucketArn}/out/*`]);
    expectLeastPrivilege(json);
  });

  it('restricts listing to the two folders when asked', () => {
    const { stack } = newStack();
    new AepAccessRole(stack, 'aep', {
      imsOrgId: IMS_ORG,
      bucket: { bucketArn: BUCKET_ARN, egressPrefix: 'egress/', ingressPrefix: 'ingress/' },
      restrictListingToPrefixes: true,
    });
    const json = synth(stack);
    const listing = statementWith(permissionsOf(json), 's3:ListBucket');
    expect(listing.actions).toEqual(['s3:ListBucket']);
    expect(listing.conditions).toEqual([{ test: 'StringLike', variable: 's3:prefix', values: ['egress/*', 'ingress/*'] }]);
    expect(statementWith(permissionsOf(json), 's3:GetBucketLocation').conditions).toEqual([]);
  });

  it('lets AEP use the bucket key of an SSE-KMS bucket', () => {
    const { stack } = newStack();
    const keyArn = 'arn:aws:kms:us-east-1:111122223333:key/11111111-2222-4333-8444-555555555555';
    const bucket = new PipelineBucket(stack, 'storage', { kmsKeyArn: keyArn });
    new AepAccessRole(stack, 'aep', { imsOrgId: IMS_ORG, bucket });
    const json = synth(stack);
    const kms = statementWith(permissionsOf(json), 'kms:Decrypt');
    expect(kms.actions.sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(kms.resources).toEqual([keyArn]);
  });

  it('trusts another account id when given one', () => {
    const { stack } = newStack();
    new AepAccessRole(stack, 'aep', {
      imsOrgId: IMS_ORG,
      adobeAccountId: '123456789012',
      bucket: { bucketArn: BUCKET_ARN, egressPrefix: 'egress/', ingressPrefix: 'ingress/' },
    });
    const json = synth(stack);
    const trust = documentReferencedBy(json, onlyResource(json, 'aws_iam_role').assume_role_policy);
    expect(trust[0]?.principals).toEqual([{ type: 'AWS', identifiers: ['arn:aws:iam::123456789012:root'] }]);
  });

  describe('rejects bad input with a clear error', () => {
    const bucket = { bucketArn: BUCKET_ARN, egressPrefix: 'egress/', ingressPrefix: 'ingress/' };
    it.each([
      [{ imsOrgId: 'not-an-org' }, /imsOrgId "not-an-org" must look like/],
      [{ adobeAccountId: '6706649' }, /adobeAccountId "6706649" must be a 12-digit AWS account id/],
      [{ bucket: { ...bucket, ingressPrefix: 'egress' } }, /egress and ingress prefixes must differ/],
      [{ maxSessionDurationSeconds: 60 }, /maxSessionDurationSeconds must be a whole number from 3600 to 43200/],
    ])('%j', (overrides, message) => {
      const { stack } = newStack();
      expect(() => new AepAccessRole(stack, 'aep', { imsOrgId: IMS_ORG, bucket, ...overrides })).toThrow(message);
    });
  });
});
