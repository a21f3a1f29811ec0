import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketLifecycleConfigurationCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { GetFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startEmulator, type Emulator } from '../../lib/rehearsal/emulator';

// Each gap of moto 5.2.1 that lib/rehearsal/moto_shim.py closes, shown on moto as released and on moto
// started through the shim, both with IAM enforcement on as the rehearsal runs them.
const region = 'us-east-1';
let dir: string;
let plain: Emulator;
let shimmed: Emulator;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moto-shim-'));
  [plain, shimmed] = await Promise.all([startEmulator(path.join(dir, 'plain.log'), { shim: false }), startEmulator(path.join(dir, 'shim.log'))]);
});

afterAll(async () => {
  await Promise.all([plain?.stop(), shimmed?.stop()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

const client = (emulator: Emulator) => ({ endpoint: emulator.endpoint, region, credentials: emulator.operator });
const s3 = (emulator: Emulator) => new S3Client({ ...client(emulator), forcePathStyle: true });
/** 'ok', 'denied' (403; moto's JSON services answer it in XML, which the SDK cannot parse), 'server error' (5xx), or the error's name. */
const outcome = (call: Promise<unknown>) =>
  call.then(
    () => 'ok',
    (error: Error & { $metadata?: { httpStatusCode?: number }; $response?: { statusCode?: number } }) => {
      const status = error.$metadata?.httpStatusCode ?? error.$response?.statusCode ?? 0;
      return status === 403 ? 'denied' : status >= 500 ? 'server error' : error.name;
    },
  );

describe('moto shim', () => {
  it('keeps ObjectSizeGreaterThan in a lifecycle And filter (moto drops it; the provider waits forever for it)', async () => {
    const rules = async (emulator: Emulator, bucket: string) => {
      const store = s3(emulator);
      await store.send(new CreateBucketCommand({ Bucket: bucket }));
      await store.send(
        new PutBucketLifecycleConfigurationCommand({
          Bucket: bucket,
          LifecycleConfiguration: {
            Rules: [{ ID: 'egress', Status: 'Enabled', Filter: { And: { Prefix: 'egress/', ObjectSizeGreaterThan: 0 } }, Expiration: { Days: 7 } }],
          },
        }),
      );
      return (await store.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules?.[0]?.Filter?.And;
    };
    expect(await rules(plain, 'lifecycle-plain')).toEqual({ Prefix: 'egress/' });
    expect(await rules(shimmed, 'lifecycle-shim')).toEqual({ Prefix: 'egress/', ObjectSizeGreaterThan: 0 });
  });

  it('evaluates Bool conditions: a TLS-only bucket policy admits the HTTPS-standing requests and still denies what it names', async () => {
    const denyWhen = (secureTransport: string, bucket: string) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`], Condition: { Bool: { 'aws:SecureTransport': secureTransport } } },
        ],
      });
    const put = async (emulator: Emulator, bucket: string, secureTransport: string) => {
      const store = s3(emulator);
      await store.send(new CreateBucketCommand({ Bucket: bucket }));
      await store.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: denyWhen(secureTransport, bucket) }));
      return outcome(store.send(new PutObjectCommand({ Bucket: bucket, Key: 'runs/a.json', Body: '{}' })));
    };
    // The constructs' statement: deny when SecureTransport is false. moto ignores the operator and denies.
    expect(await put(plain, 'tls-plain', 'false')).toBe('denied');
    expect(await put(shimmed, 'tls-shim', 'false')).toBe('ok');
    // The shim reads the condition rather than ignoring it: the requests stand for TLS ones.
    expect(await put(shimmed, 'tls-shim-inverse', 'true')).toBe('denied');
  });

  it("checks Secrets Manager calls against the secret's ARN: a role granted one secret reads it and no other", async () => {
    const read = async (emulator: Emulator) => {
      const secrets = new SecretsManagerClient(client(emulator));
      const own = await secrets.send(new CreateSecretCommand({ Name: 'pipeline/credentials', SecretString: 'own' }));
      const other = await secrets.send(new CreateSecretCommand({ Name: 'someone/else', SecretString: 'other' }));
      const iam = new IAMClient(client(emulator));
      const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }] };
      const { Role: role } = await iam.send(new CreateRoleCommand({ RoleName: 'stage', AssumeRolePolicyDocument: JSON.stringify(trust) }));
      await iam.send(
        new PutRolePolicyCommand({
          RoleName: 'stage',
          PolicyName: 'secret',
          PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: own.ARN }] }),
        }),
      );
      const { Credentials: c } = await new STSClient(client(emulator)).send(new AssumeRoleCommand({ RoleArn: role!.Arn, RoleSessionName: 'stage' }));
      const asRole = new SecretsManagerClient({
        endpoint: emulator.endpoint,
        region,
        credentials: { accessKeyId: c!.AccessKeyId!, secretAccessKey: c!.SecretAccessKey!, sessionToken: c!.SessionToken! },
      });
      return [await outcome(asRole.send(new GetSecretValueCommand({ SecretId: own.ARN }))), await outcome(asRole.send(new GetSecretValueCommand({ SecretId: other.ARN })))];
    };
    expect(await read(plain)).toEqual(['denied', 'denied']);
    expect(await read(shimmed)).toEqual(['ok', 'denied']);
  });

  it('lets the IAM user named lambda.amazonaws.com, and only it, assume a role that trusts the Lambda service', async () => {
    const assume = async (emulator: Emulator) => {
      const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] };
      const { Role: role } = await new IAMClient(client(emulator)).send(new CreateRoleCommand({ RoleName: 'execution', AssumeRolePolicyDocument: JSON.stringify(trust) }));
      const as = (credentials: Emulator['operator']) =>
        outcome(new STSClient({ endpoint: emulator.endpoint, region, credentials }).send(new AssumeRoleCommand({ RoleArn: role!.Arn, RoleSessionName: 'fn' })));
      return [await as(emulator.lambdaService), await as(emulator.operator)];
    };
    // moto fails on the trust policy's service principal (TypeError, HTTP 500) whoever asks.
    expect(await assume(plain)).toEqual(['server error', 'server error']);
    expect(await assume(shimmed)).toEqual(['ok', 'denied']);
  });

  it('checks signatures over the query and path as signed: a listing by a prefix holding "/", a function named by its ARN, a key holding "=" and ":"', async () => {
    // The key as AEP's export names its files (egress/<id>/exportTime=<time>/part-<n>.parquet).
    const exported = 'egress/run-1/exportTime=2027-01-04T03:00:00Z/part-00000.parquet';
    const calls = async (emulator: Emulator, bucket: string) => {
      const store = s3(emulator);
      await store.send(new CreateBucketCommand({ Bucket: bucket }));
      const lambda = new LambdaClient(client(emulator));
      return [
        await outcome(store.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'runs/featurize/' }))),
        await outcome(lambda.send(new GetFunctionCommand({ FunctionName: 'arn:aws:lambda:us-east-1:123456789012:function:absent' }))),
        await outcome(store.send(new PutObjectCommand({ Bucket: bucket, Key: exported, Body: 'rows' }))),
        await outcome(store.send(new GetObjectCommand({ Bucket: bucket, Key: exported }))),
      ];
    };
    expect(await calls(plain, 'query-plain')).toEqual(['denied', 'denied', 'denied', 'denied']);
    expect(await calls(shimmed, 'query-shim')).toEqual(['ok', 'ResourceNotFoundException', 'ok', 'ok']);
  });

  it("empties a once-versioned bucket as the provider's destroy does: versioning suspended, then every version and delete marker deleted (moto fails on the marker)", async () => {
    const empty = async (emulator: Emulator, bucket: string) => {
      const store = s3(emulator);
      await store.send(new CreateBucketCommand({ Bucket: bucket }));
      await store.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      await store.send(new PutObjectCommand({ Bucket: bucket, Key: 'runs/a.json', Body: '{}' }));
      await store.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'runs/a.json' }));
      // Destroying aws_s3_bucket_versioning suspends versioning before the bucket goes.
      await store.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Suspended' } }));
      const listed = await store.send(new ListObjectVersionsCommand({ Bucket: bucket }));
      const all = [...(listed.Versions ?? []), ...(listed.DeleteMarkers ?? [])].map((v) => ({ Key: v.Key!, VersionId: v.VersionId! }));
      expect(all).toHaveLength(2);
      const deleted = await outcome(store.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: all } })).then((r) => { if (r.Errors?.length) throw new Error(r.Errors[0]?.Message); }));
      const left = await store.send(new ListObjectVersionsCommand({ Bucket: bucket }));
      return [deleted, (left.Versions ?? []).length + (left.DeleteMarkers ?? []).length];
    };
    expect((await empty(plain, 'versions-plain'))[0]).not.toBe('ok');
    expect(await empty(shimmed, 'versions-shim')).toEqual(['ok', 0]);
  });

  it('checks the signature of a GET without a query string (Lambda GetFunction, ListFunctions) over its empty body', () => {
    // Signed as the AWS provider's Go SDK signs it: no x-amz-content-sha256 header (the JavaScript SDK
    // sends one, which moto takes as the payload's hash, so it never meets the gap). botocore signs alike.
    const list = (emulator: Emulator) =>
      execFileSync(
        'python3',
        [
          '-c',
          `import sys, botocore.session
c = botocore.session.get_session().create_client('lambda', region_name='${region}', endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
try:
    c.list_functions(); print('ok')
except c.exceptions.ClientError as e:
    print(e.response['ResponseMetadata']['HTTPStatusCode'], e.response['Error'].get('Message', ''))`,
          emulator.endpoint,
          emulator.operator.accessKeyId,
          emulator.operator.secretAccessKey,
        ],
        { encoding: 'utf8' },
      ).trim();
    // moto answers SignatureDoesNotMatch in XML, which botocore cannot read as Lambda's JSON.
    expect(list(plain)).toMatch(/^403\b/);
    expect(list(shimmed)).toBe('ok');
  });
});
