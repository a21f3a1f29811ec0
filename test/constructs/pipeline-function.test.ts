import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { Construct } from 'constructs';
import { PipelineFunction, type PipelineFunctionProps } from '../../constructs/pipeline-function';
import { bundleHandler } from '../../lib/bundling/bundle-handler';
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
  type SynthesizedStack,
} from './synth-helpers';

const HELLO = 'test/constructs/fixtures/hello-handler.ts';
const GOODBYE = 'test/constructs/fixtures/goodbye-handler.ts';
const SDK = 'test/constructs/fixtures/sdk-handler.ts';
const BUCKET_ARN = 'arn:aws:s3:::acme-pipeline';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:aep-credentials-AbCdEf';

function build(props: Partial<PipelineFunctionProps> = {}) {
  const { stack } = newStack();
  const fn = new PipelineFunction(stack, 'featurize', { entry: HELLO, ...props });
  return { stack, fn, json: synth(stack) };
}

function permissionsOf(json: SynthesizedStack): NormalizedStatement[] {
  return documentReferencedBy(json, onlyResource(json, 'aws_iam_role_policy').policy);
}

function statementsAllowing(statements: NormalizedStatement[], action: string): NormalizedStatement[] {
  return statements.filter((s) => s.effect === 'Allow' && s.actions.includes(action));
}

describe('PipelineFunction', () => {
  describe('by default', () => {
    const { stack, fn, json } = build({ environment: { STAGE: 'featurize', LOG_LEVEL: 'INFO' } });
    const lambda = onlyResource(json, 'aws_lambda_function');
    const ref = (type: string, attribute: string) => `\${${type}.${onlyResourceId(json, type)}.${attribute}}`;

    it('runs the bundled handler on nodejs22.x, arm64, 512 MB, 300 s', () => {
      expect(lambda).toMatchObject({
        runtime: 'nodejs22.x',
        architectures: ['arm64'],
        memory_size: 512,
        timeout: 300,
        handler: 'index.handler',
        function_name: 'test-featurize',
      });
      expect(lambda.tracing_config).toBeUndefined();
    });

    it('reserves no concurrency by default, so it deploys on an account whose concurrency limit is 10', () => {
      expect(lambda).not.toHaveProperty('reserved_concurrent_executions');
    });

    it('passes the environment variables, plus source map support', () => {
      expect(lambda.environment.variables).toEqual({
        STAGE: 'featurize',
        LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      });
    });

    it('creates its log group with 30 days retention before the function', () => {
      expect(onlyResource(json, 'aws_cloudwatch_log_group')).toMatchObject({
        name: '/aws/lambda/test-featurize',
        retention_in_days: 30,
      });
      expect(lambda.depends_on).toContain(`aws_cloudwatch_log_group.${onlyResourceId(json, 'aws_cloudwatch_log_group')}`);
    });

    it('sends failed asynchronous invocations, without retries, to an encrypted dead-letter queue', () => {
      expect(onlyResource(json, 'aws_sqs_queue')).toMatchObject({
        sqs_managed_sse_enabled: true,
        message_retention_seconds: 14 * 24 * 3600,
      });
      expect(onlyResource(json, 'aws_lambda_function_event_invoke_config')).toMatchObject({
        function_name: ref('aws_lambda_function', 'function_name'),
        maximum_retry_attempts: 0,
        destination_config: { on_failure: { destination: ref('aws_sqs_queue', 'arn') } },
      });
    });

    it('alarms on any error and on dead letters, notifying the alarm topic', () => {
      const alarms = Object.values(resourcesOf(json, 'aws_cloudwatch_metric_alarm'));
      const errors = alarms.find((a) => a.metric_name === 'Errors');
      expect(errors).toMatchObject({
        namespace: 'AWS/Lambda',
        dimensions: { FunctionName: ref('aws_lambda_function', 'function_name') },
        statistic: 'Sum',
        period: 300,
        evaluation_periods: 1,
        threshold: 1,
        comparison_operator: 'GreaterThanOrEqualToThreshold',
        treat_missing_data: 'notBreaching',
        alarm_actions: [ref('aws_sns_topic', 'arn')],
      });
      const deadLetters = alarms.find((a) => a.metric_name === 'ApproximateNumberOfMessagesVisible');
      expect(deadLetters).toMatchObject({
        namespace: 'AWS/SQS',
        dimensions: { QueueName: ref('aws_sqs_queue', 'name') },
        threshold: 1,
        comparison_operator: 'GreaterThanOrEqualToThreshold',
        alarm_actions: [ref('aws_sns_topic', 'arn')],
      });
      expect(alarms).toHaveLength(2);
    });

    it('encrypts the alarm topic with a key CloudWatch may use', () => {
      expect(onlyResource(json, 'aws_sns_topic').kms_master_key_id).toBe(ref('aws_kms_key', 'arn'));
      const key = onlyResource(json, 'aws_kms_key');
      expect(key.enable_key_rotation).toBe(true);
      const cloudwatch = documentReferencedBy(json, key.policy).filter((s) =>
        s.principals.some((p) => p.type === 'Service' && p.identifiers.includes('cloudwatch.amazonaws.com')),
      );
      expect(cloudwatch).toHaveLength(1);
      expect(cloudwatch[0]?.actions.sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
    });

    it('is assumed by Lambda only', () => {
      const trust = documentReferencedBy(json, onlyResource(json, 'aws_iam_role').assume_role_policy);
      expect(trust).toHaveLength(1);
      expect(trust[0]).toMatchObject({
        actions: ['sts:AssumeRole'],
        principals: [{ type: 'Service', identifiers: ['lambda.amazonaws.com'] }],
      });
    });

    it('may write logs to its own log group and send to its own queue, nothing else', () => {
      const permissions = permissionsOf(json);
      expect(permissions).toHaveLength(2);
      const logs = statementsAllowing(permissions, 'logs:PutLogEvents');
      expect(logs).toHaveLength(1);
      expect(logs[0]?.actions.sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
      expect(logs[0]?.resources).toEqual([`${ref('aws_cloudwatch_log_group', 'arn')}:*`]);
      const sqs = statementsAllowing(permissions, 'sqs:SendMessage');
      expect(sqs[0]?.resources).toEqual([ref('aws_sqs_queue', 'arn')]);
      expectLeastPrivilege(json);
    });

    it('exposes what it created', () => {
      expect(resolved(stack, fn.functionArn)).toBe(ref('aws_lambda_function', 'arn'));
      expect(resolved(stack, fn.functionName)).toBe(ref('aws_lambda_function', 'function_name'));
      expect(resolved(stack, fn.alarmTopicArn)).toBe(ref('aws_sns_topic', 'arn'));
      expect(fn.role).toBeDefined();
      expect(fn.logGroup).toBeDefined();
      expect(fn.deadLetterQueue).toBeDefined();
      expect(fn.errorAlarm).toBeDefined();
      expect(fn.alarmTopic).toBeDefined();
    });
  });

  describe('bundling', () => {
    it('writes a small bundle and its source map', () => {
      const { fn } = build();
      const files = fs.readdirSync(fn.bundle.outDir).sort();
      expect(files).toEqual(['index.js', 'index.js.map']);
      expect(fn.bundleSizeBytes).toBe(fs.statSync(path.join(fn.bundle.outDir, 'index.js')).size);
      expect(fn.bundleSizeBytes).toBeGreaterThan(0);
      expect(fn.bundleSizeBytes).toBeLessThan(2048);
      const code = fs.readFileSync(path.join(fn.bundle.outDir, 'index.js'), 'utf8');
      expect(code).toContain('//# sourceMappingURL=index.js.map');
      // Minified CommonJS: no line-per-statement layout, no TypeScript left.
      expect(code.split('\n').length).toBeLessThanOrEqual(4);
      const map = JSON.parse(fs.readFileSync(path.join(fn.bundle.outDir, 'index.js.map'), 'utf8'));
      expect(map.sources).toEqual([HELLO]);
    });

    it('builds a handler that runs', async () => {
      const { fn } = build();
      const loaded = (await import(path.join(fn.bundle.outDir, 'index.js'))) as { handler: (e: unknown) => Promise<unknown> };
      await expect(loaded.handler({ stage: 'featurize' })).resolves.toEqual({ stage: 'featurize' });
    });

    it('leaves the AWS SDK out of the bundle, to be loaded from the runtime', () => {
      const { fn } = build({ entry: SDK });
      const code = fs.readFileSync(path.join(fn.bundle.outDir, 'index.js'), 'utf8');
      expect(code).toMatch(/require\("@aws-sdk\/client-s3"\)/);
      expect(fn.bundleSizeBytes).toBeLessThan(2048);
    });

    it('hashes the code: a changed handler redeploys, the same handler does not', () => {
      const hello = build();
      const helloAgain = build();
      const goodbye = build({ entry: GOODBYE });
      const hashOf = (json: SynthesizedStack) => onlyResource(json, 'aws_lambda_function').source_code_hash as string;
      expect(hashOf(hello.json)).toBe(hello.fn.asset.assetHash);
      expect(hashOf(hello.json)).toMatch(/^[0-9a-f]{64}$/);
      expect(hashOf(helloAgain.json)).toBe(hashOf(hello.json));
      expect(hashOf(goodbye.json)).not.toBe(hashOf(hello.json));
      expect(onlyResource(goodbye.json, 'aws_lambda_function').filename).toContain(hashOf(goodbye.json));
    });

    it('zips the bundle into the synthesized stack as an archive asset', () => {
      const { app, stack } = newStack();
      new AwsProvider(stack, 'aws', { region: 'us-east-1' });
      const fn = new PipelineFunction(stack, 'featurize', { entry: HELLO });
      app.synth();
      const zip = path.join(app.outdir, 'stacks', 'test', fn.asset.path);
      expect(fs.existsSync(zip)).toBe(true);
      expect(fs.readFileSync(zip).subarray(0, 2).toString()).toBe('PK');
    });

    it('can leave out the source map', () => {
      const { fn, json } = build({ bundling: { sourceMap: false } });
      expect(fs.readdirSync(fn.bundle.outDir)).toEqual(['index.js']);
      expect(onlyResource(json, 'aws_lambda_function').environment).toBeUndefined();
    });

    it('fails with the compiler message when the handler does not compile', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broken-handler-'));
      const entry = path.join(dir, 'broken.ts');
      fs.writeFileSync(entry, 'export const handler = async ( => 1;\n');
      expect(() => bundleHandler(entry, { outDir: path.join(dir, 'out') })).toThrow(/Bundling .*broken\.ts failed:\n.*broken\.ts:1:/);
    });
  });

  describe('permissions from props', () => {
    const { json } = build({
      bucketAccess: { bucketArn: BUCKET_ARN, read: ['egress/', 'models'], write: ['runs/'] },
      secretArns: [SECRET_ARN],
      additionalStatements: [{ effect: 'Allow', actions: ['sqs:GetQueueUrl'], resources: ['arn:aws:sqs:us-east-1:111122223333:x'] }],
    });
    const permissions = permissionsOf(json);

    it('reads objects only under the read prefixes', () => {
      const read = statementsAllowing(permissions, 's3:GetObject');
      expect(read).toHaveLength(1);
      expect(read[0]?.actions).toEqual(['s3:GetObject']);
      expect(read[0]?.resources).toEqual([`${BUCKET_ARN}/egress/*`, `${BUCKET_ARN}/models/*`]);
    });

    it('lists the bucket itself (so missing keys read as 404)', () => {
      const list = statementsAllowing(permissions, 's3:ListBucket');
      expect(list).toHaveLength(1);
      expect(list[0]?.resources).toEqual([BUCKET_ARN]);
      expect(list[0]?.conditions).toEqual([]);
    });

    it('writes only under the write prefixes and deletes nothing', () => {
      const write = statementsAllowing(permissions, 's3:PutObject');
      expect(write).toHaveLength(1);
      expect(write[0]?.actions.sort()).toEqual(['s3:AbortMultipartUpload', 's3:PutObject']);
      expect(write[0]?.resources).toEqual([`${BUCKET_ARN}/runs/*`]);
      expect(statementsAllowing(permissions, 's3:DeleteObject')).toEqual([]);
    });

    it('reads exactly the listed secrets', () => {
      const secrets = statementsAllowing(permissions, 'secretsmanager:GetSecretValue');
      expect(secrets).toHaveLength(1);
      expect(secrets[0]?.actions).toEqual(['secretsmanager:GetSecretValue']);
      expect(secrets[0]?.resources).toEqual([SECRET_ARN]);
    });

    it('appends additional statements as given', () => {
      expect(statementsAllowing(permissions, 'sqs:GetQueueUrl')[0]?.resources).toEqual(['arn:aws:sqs:us-east-1:111122223333:x']);
    });

    it('stays least-privilege', () => {
      expectLeastPrivilege(json);
    });
  });

  it('grants delete, listing limited to prefixes, and the bucket key only when asked', () => {
    const keyArn = 'arn:aws:kms:us-east-1:111122223333:key/11111111-2222-4333-8444-555555555555';
    const { json } = build({
      bucketAccess: {
        bucketArn: BUCKET_ARN,
        read: ['runs/'],
        write: ['runs/'],
        delete: ['runs/'],
        kmsKeyArn: keyArn,
        restrictListingToPrefixes: true,
      },
    });
    const permissions = permissionsOf(json);
    expect(statementsAllowing(permissions, 's3:DeleteObject')[0]?.resources).toEqual([`${BUCKET_ARN}/runs/*`]);
    expect(statementsAllowing(permissions, 's3:ListBucket')[0]?.conditions).toEqual([
      { test: 'StringLike', variable: 's3:prefix', values: ['runs/*'] },
    ]);
    const kms = statementsAllowing(permissions, 'kms:Decrypt')[0];
    expect(kms?.actions.sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(kms?.resources).toEqual([keyArn]);
    expectLeastPrivilege(json);
  });

  it('notifies a given topic and creates none', () => {
    const topicArn = 'arn:aws:sns:us-east-1:111122223333:pipeline-alarms';
    const { fn, json } = build({ alarmTopicArn: topicArn });
    expect(resourcesOf(json, 'aws_sns_topic')).toEqual({});
    expect(resourcesOf(json, 'aws_kms_key')).toEqual({});
    for (const alarm of Object.values(resourcesOf(json, 'aws_cloudwatch_metric_alarm'))) {
      expect(alarm.alarm_actions).toEqual([topicArn]);
    }
    expect(fn.alarmTopic).toBeUndefined();
    expect(fn.alarmTopicArn).toBe(topicArn);
  });

  it('takes runtime, memory, timeout, concurrency, retention, retries, tracing and name', () => {
    const { json } = build({
      functionName: 'acme-score',
      runtime: 'nodejs24.x',
      architecture: 'x86_64',
      memorySize: 2048,
      timeoutSeconds: 900,
      reservedConcurrentExecutions: 1,
      logRetentionDays: 90,
      maximumRetryAttempts: 2,
      tracing: true,
    });
    expect(onlyResource(json, 'aws_lambda_function')).toMatchObject({
      function_name: 'acme-score',
      runtime: 'nodejs24.x',
      architectures: ['x86_64'],
      memory_size: 2048,
      timeout: 900,
      reserved_concurrent_executions: 1,
      tracing_config: { mode: 'Active' },
    });
    expect(onlyResource(json, 'aws_cloudwatch_log_group')).toMatchObject({ name: '/aws/lambda/acme-score', retention_in_days: 90 });
    expect(onlyResource(json, 'aws_lambda_function_event_invoke_config').maximum_retry_attempts).toBe(2);
    expect(statementsAllowing(permissionsOf(json), 'xray:PutTraceSegments')).toHaveLength(1);
    expectLeastPrivilege(json);
  });

  it('derives a valid name of at most 64 characters from a deep construct path', () => {
    const { stack } = newStack();
    let scope: Construct = stack;
    for (const id of ['AcmePropensityPipelineForSubscriptions', 'Stages', 'Featurize.Weekly']) scope = new Construct(scope, id);
    new PipelineFunction(scope, 'Function With Spaces', { entry: HELLO });
    const json = synth(stack);
    const name = onlyResource(json, 'aws_lambda_function').function_name as string;
    expect(name.length).toBeLessThanOrEqual(64);
    expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(name.startsWith('test-AcmePropensityPipeline')).toBe(true);
    expect((onlyResource(json, 'aws_iam_role').name as string).length).toBeLessThanOrEqual(64);
  });

  describe('rejects bad props with a clear error', () => {
    it.each([
      [{ timeoutSeconds: 901 }, /timeoutSeconds must be a whole number from 1 to 900, got 901/],
      [{ runtime: 'nodejs18.x' }, /runtime "nodejs18.x" is not supported; use nodejs22.x or a newer Node.js runtime/],
      [{ runtime: 'python3.12' }, /runtime "python3.12" is not supported/],
      [{ functionName: 'bad name!' }, /function name "bad name!" must be 1 to 64 letters, digits, hyphens or underscores/],
      [{ functionName: 'x'.repeat(65) }, /function name "x{65}" must be 1 to 64/],
      [{ memorySize: 64 }, /memorySize must be a whole number from 128 to 10240, got 64/],
      [{ logRetentionDays: 31 }, /logRetentionDays 31 is not accepted by CloudWatch Logs/],
      [{ maximumRetryAttempts: 3 }, /maximumRetryAttempts must be a whole number from 0 to 2, got 3/],
      [{ environment: { AWS_REGION: 'eu-west-1' } }, /environment variable AWS_REGION is reserved by the Lambda runtime/],
      [{ environment: { 'BAD-NAME': 'x' } }, /environment variable name "BAD-NAME" must start with a letter/],
      [{ handler: 'main' }, /does not export "main" \(it exports handler\)/],
      [{ entry: 'test/constructs/fixtures/missing.ts' }, /Handler entry test\/constructs\/fixtures\/missing\.ts does not exist/],
      [{ entry: 'test/constructs/fixtures' }, /must be a \.ts or \.js file/],
      [{ bucketAccess: { bucketArn: BUCKET_ARN } }, /bucketAccess names no read, write or delete prefixes/],
    ])('%j', (props, message) => {
      expect(() => build(props as Partial<PipelineFunctionProps>)).toThrow(message);
    });
  });
});

describe('PipelineFunction with a prebuilt bundle', () => {
  it('deploys the folder as it is, hashed as bundleHandler hashes what it writes, with no bundling at synth', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prebuilt-'));
    const built = bundleHandler(HELLO, { outDir: dir });
    const { stack } = newStack();
    const fn = new PipelineFunction(stack, 'featurize', { prebuiltBundle: dir });
    const json = synth(stack);
    expect(fn.bundle).toMatchObject({ outDir: dir, sha256: built.sha256, bytes: built.bytes, handler: 'index.handler' });
    expect(onlyResource(json, 'aws_lambda_function')).toMatchObject({ handler: 'index.handler', source_code_hash: fn.asset.assetHash });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('takes either entry or prebuiltBundle, and names a folder without index.js', () => {
    const { stack } = newStack();
    expect(() => new PipelineFunction(stack, 'both', { entry: HELLO, prebuiltBundle: '/nowhere' })).toThrow(/give either entry .* or prebuiltBundle/);
    expect(() => new PipelineFunction(stack, 'neither', {})).toThrow(/give either entry .* or prebuiltBundle/);
    expect(() => new PipelineFunction(stack, 'empty', { prebuiltBundle: os.tmpdir() })).toThrow(/has no index\.js/);
  });
});

describe('bundleHandler', () => {
  it("bundles an absolute entry within its own package, whatever the working directory (synth run from another project)", () => {
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'elsewhere-'));
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bundle-'));
    const cwd = process.cwd();
    try {
      process.chdir(elsewhere);
      const bundle = bundleHandler(path.join(cwd, HELLO), { outDir });
      expect(fs.existsSync(path.join(bundle.outDir, 'index.js'))).toBe(true);
    } finally {
      process.chdir(cwd);
      fs.rmSync(elsewhere, { recursive: true, force: true });
      fs.rmSync(outDir, { recursive: true, force: true });
    }
  });

  it('refuses to empty a folder holding the project or the handler', () => {
    expect(() => bundleHandler('test/constructs/fixtures/hello-handler.ts', { outDir: 'test/constructs' })).toThrow(
      /contains the project or the handler; give a folder of its own/,
    );
    expect(() => bundleHandler('test/constructs/fixtures/hello-handler.ts', { outDir: '.' })).toThrow(/contains the project/);
  });
});
