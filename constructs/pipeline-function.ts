import * as path from 'path';
import { Construct } from 'constructs';
import { App, AssetType, TerraformAsset } from 'cdktf';
import { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function';
import { LambdaFunctionEventInvokeConfig } from '@cdktf/provider-aws/lib/lambda-function-event-invoke-config';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import {
  DataAwsIamPolicyDocument,
  type DataAwsIamPolicyDocumentStatement,
} from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue';
import { DeadLetterQueue } from './dead-letter-queue';
import { AlarmTopic } from './alarm-topic';
import { bundleHandler, DEFAULT_EXTERNAL_MODULES, prebuiltBundle, type BundleResult } from '../lib/bundling/bundle-handler';
import * as fs from 'fs';
import type { FunctionDefinition } from '../lib/stages/registry';
import { isLiteral, nameFromPath, normalizePrefix } from './naming';
import { admitAwsProviderVersions } from './aws-provider-versions';

/** What the function may do in one S3 bucket, folder by folder. */
export interface FunctionBucketAccess {
  /** ARN of the bucket. */
  readonly bucketArn: string;
  /**
   * Prefixes the function reads (s3:GetObject on `<prefix>*`) and lists (s3:ListBucket).
   * @default none
   */
  readonly read?: string[];
  /**
   * Prefixes the function writes: s3:PutObject, and s3:AbortMultipartUpload so a failed multipart
   * upload (the SDK's `Upload` streams large objects in parts) is cleaned up at once.
   * @default none
   */
  readonly write?: string[];
  /**
   * Prefixes the function may delete objects under (s3:DeleteObject). Kept apart from `write` because
   * writing never needs it: the pipeline's stages add objects and the bucket's lifecycle expires them.
   * @default none
   */
  readonly delete?: string[];
  /**
   * KMS key the bucket encrypts with (SSE-KMS): readers get kms:Decrypt, writers kms:GenerateDataKey
   * and kms:Decrypt (multipart uploads need both).
   * @default none (SSE-S3)
   */
  readonly kmsKeyArn?: string | undefined;
  /**
   * Allow s3:ListBucket only for keys under the `read` prefixes (an `s3:prefix` condition).
   *
   * Off by default: S3 answers a read of a missing key with 404 only to callers allowed an
   * unconditioned s3:ListBucket; with the condition a missing key reads as 403 AccessDenied, and the
   * pipeline's object store (which treats "not found" as "not produced yet") would fail instead.
   * Without it the function can list key names (never contents) elsewhere in the bucket.
   * @default false
   */
  readonly restrictListingToPrefixes?: boolean;
}

/** esbuild settings. */
export interface FunctionBundlingOptions {
  /**
   * Ship `index.js.map` and set `NODE_OPTIONS=--enable-source-maps`, so stack traces name TypeScript
   * files and lines. The map is a separate file in the zip: the code parsed at cold start does not grow.
   * @default true
   */
  readonly sourceMap?: boolean;
  /** @default true */
  readonly minify?: boolean;
  /**
   * Modules left out of the bundle because the runtime provides them.
   * @default ['@aws-sdk/*', 'pg-native']
   */
  readonly externalModules?: string[];
  /**
   * Folder relative `entry` paths are resolved from.
   * @default the nearest folder holding a package.json at or above an absolute `entry`, else at or above
   * the working directory
   */
  readonly projectRoot?: string;
  /**
   * Folder the bundle is written to before it is zipped; emptied first.
   * @default `<app outdir>/bundles/<name derived from the construct path>`
   */
  readonly outDir?: string;
}

export interface PipelineFunctionProps {
  /**
   * Handler file (TypeScript or JavaScript), absolute or relative to the project root, bundled with
   * esbuild at synth (esbuild must then be installed). Give this or `prebuiltBundle`.
   * @default none
   */
  readonly entry?: string;
  /**
   * A folder holding a bundle built earlier (`index.js`, and `index.js.map` with source maps), deployed
   * as it is: no esbuild at synth. The library's own handlers ship this way. Give this or `entry`.
   * @default none
   */
  readonly prebuiltBundle?: string;
  /**
   * Name of the exported handler function.
   * @default 'handler'
   */
  readonly handler?: string;
  /**
   * Function name: 1 to 64 letters, digits, hyphens or underscores.
   * @default derived from the construct path
   */
  readonly functionName?: string;
  /** @default none */
  readonly description?: string;
  /**
   * Lambda runtime; nodejs22.x or a newer Node.js runtime.
   * @default 'nodejs22.x'
   */
  readonly runtime?: string;
  /**
   * Instruction set. Graviton (arm64) costs less per GB-second for the same work.
   * @default 'arm64'
   */
  readonly architecture?: 'arm64' | 'x86_64';
  /**
   * Memory in MB (128 to 10240); CPU scales with it.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Timeout in seconds (1 to 900).
   * @default 300
   */
  readonly timeoutSeconds?: number;
  /**
   * Reserved concurrent executions. 1 keeps a second run from starting while one is under way, a second
   * line of defence behind the stage's lease on the ledger. Reserving needs unreserved account
   * concurrency to spare: AWS keeps 10 unreserved, so an account whose concurrency limit is 10 (as new
   * accounts often have) cannot reserve any. -1 removes a reservation made earlier.
   * @default none: the function draws on the account's unreserved concurrency
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Environment variables. Names the Lambda runtime reserves (AWS_REGION, _HANDLER, …) are rejected.
   * Never put secrets here: pass a Secrets Manager ARN and list it in `secretArns`.
   * @default none
   */
  readonly environment?: Record<string, string>;
  /**
   * Active X-Ray tracing (adds xray:PutTraceSegments and xray:PutTelemetryRecords, which AWS only
   * grants on all resources).
   * @default false
   */
  readonly tracing?: boolean;
  /**
   * Days the function's logs are kept; one of CloudWatch Logs' allowed values.
   * @default 30
   */
  readonly logRetentionDays?: number;
  /**
   * Retries of a failed asynchronous invocation (0 to 2) before it goes to the dead-letter queue.
   * 0 because the schedule runs the stage again anyway, and stages are safe to re-run.
   * @default 0
   */
  readonly maximumRetryAttempts?: number;
  /**
   * S3 access, folder by folder.
   * @default no S3 access
   */
  readonly bucketAccess?: FunctionBucketAccess;
  /**
   * Secrets Manager secrets the function may read (secretsmanager:GetSecretValue on these ARNs only).
   * @default none
   */
  readonly secretArns?: string[];
  /**
   * More permissions, appended to the function's policy as they are.
   * @default none
   */
  readonly additionalStatements?: DataAwsIamPolicyDocumentStatement[];
  /**
   * SNS topic the error and dead-letter alarms notify. Share one topic between functions.
   * @default an encrypted {@link AlarmTopic} is created for this function
   */
  readonly alarmTopicArn?: string | undefined;
  /** @default see {@link FunctionBundlingOptions} */
  readonly bundling?: FunctionBundlingOptions;
  /** @default none */
  readonly tags?: Record<string, string>;
}

/** The library's root folder, which the stage registry's handler entries are relative to. */
export const PACKAGE_ROOT = path.join(__dirname, '..');

/**
 * Options laid over a function's defaults, without the keys given as `undefined`: a JavaScript caller's
 * `memorySize: undefined` means "not set", so it must not erase the stage's own memory or timeout.
 */
export function givenOptions<T extends object>(options: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(options ?? {}).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/**
 * The code of one of the library's own functions: the bundle built with the package when there is one
 * (`<package>/dist/bundles/<handler>/`, so a consumer needs no esbuild), else its handler file, bundled
 * at synth (a checkout of the library's sources).
 */
export function libraryHandler(definition: FunctionDefinition): Pick<PipelineFunctionProps, 'entry' | 'prebuiltBundle'> {
  const shipped = path.join(PACKAGE_ROOT, 'bundles', path.basename(definition.entry).replace(/\.[cm]?[jt]s$/, ''));
  return fs.existsSync(path.join(shipped, 'index.js')) ? { prebuiltBundle: shipped } : { entry: path.join(PACKAGE_ROOT, definition.entry) };
}

/** Retention values CloudWatch Logs accepts (0 keeps logs forever). */
const LOG_RETENTION_DAYS = [
  0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/** Environment variables the Lambda runtime sets itself and refuses from configuration. */
const RESERVED_ENVIRONMENT_VARIABLES = new Set([
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_DEFAULT_REGION',
  'AWS_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
]);

/** SQS keeps a message at most 14 days: the longest a failed event can wait for someone to look. */

/** Oldest Node.js major version accepted (the brief's supported LTS floor). */
const MIN_NODE_MAJOR = 22;

function validateRuntime(runtime: string, what: string): number {
  const match = /^nodejs(\d+)\.x$/.exec(runtime);
  if (!match || Number(match[1]) < MIN_NODE_MAJOR) {
    throw new Error(`${what}: runtime "${runtime}" is not supported; use nodejs${MIN_NODE_MAJOR}.x or a newer Node.js runtime`);
  }
  return Number(match[1]);
}

function requireIntegerIn(value: number, min: number, max: number, name: string, what: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${what}: ${name} must be a whole number from ${min} to ${max}, got ${value}`);
  }
  return value;
}

function validateEnvironment(environment: Record<string, string>, what: string): void {
  for (const name of Object.keys(environment)) {
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) {
      throw new Error(`${what}: environment variable name "${name}" must start with a letter and hold only letters, digits and _`);
    }
    if (RESERVED_ENVIRONMENT_VARIABLES.has(name)) {
      throw new Error(`${what}: environment variable ${name} is reserved by the Lambda runtime`);
    }
  }
}

/**
 * One pipeline stage as a Lambda function: a handler file bundled with esbuild while `cdktf synth`
 * runs, deployed with a role that can do only what the stage needs, its own log group with
 * retention, failed asynchronous invocations kept in a dead-letter queue, and alarms on errors and on
 * that queue that notify an SNS topic.
 */
export class PipelineFunction extends Construct {
  public readonly function: LambdaFunction;
  public readonly functionName: string;
  public readonly functionArn: string;
  public readonly role: IamRole;
  public readonly roleArn: string;
  public readonly policyDocument: DataAwsIamPolicyDocument;
  public readonly policy: IamRolePolicy;
  public readonly logGroup: CloudwatchLogGroup;
  /** Receives asynchronous invocations that failed after their retries. */
  public readonly deadLetters: DeadLetterQueue;
  public readonly deadLetterQueue: SqsQueue;
  public readonly eventInvokeConfig: LambdaFunctionEventInvokeConfig;
  /** The topic created for the alarms; undefined when `alarmTopicArn` was given. */
  public readonly alarmTopic?: AlarmTopic;
  public readonly alarmTopicArn: string;
  /** Fires when the function reports at least one error in 5 minutes. */
  public readonly errorAlarm: CloudwatchMetricAlarm;
  /** Fires when a failed invocation waits in the dead-letter queue. */
  public readonly deadLetterAlarm: CloudwatchMetricAlarm;
  /** The zipped bundle. */
  public readonly asset: TerraformAsset;
  /** What esbuild produced. */
  public readonly bundle: BundleResult;
  /** Size of the bundled `index.js` in bytes. */
  public readonly bundleSizeBytes: number;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    super(scope, id);
    admitAwsProviderVersions(this);
    const what = `PipelineFunction ${this.node.path}`;

    const runtime = props.runtime ?? 'nodejs22.x';
    const nodeMajor = validateRuntime(runtime, what);
    const memorySize = requireIntegerIn(props.memorySize ?? 512, 128, 10240, 'memorySize', what);
    const timeout = requireIntegerIn(props.timeoutSeconds ?? 300, 1, 900, 'timeoutSeconds', what);
    const reserved =
      props.reservedConcurrentExecutions === undefined ? undefined : requireIntegerIn(props.reservedConcurrentExecutions, -1, 1_000_000, 'reservedConcurrentExecutions', what);
    const retries = requireIntegerIn(props.maximumRetryAttempts ?? 0, 0, 2, 'maximumRetryAttempts', what);
    const retention = props.logRetentionDays ?? 30;
    if (!LOG_RETENTION_DAYS.includes(retention)) {
      throw new Error(`${what}: logRetentionDays ${retention} is not accepted by CloudWatch Logs; use one of ${LOG_RETENTION_DAYS.join(', ')}`);
    }
    const functionName = props.functionName ?? nameFromPath(this, { maxLength: 64, allowedCharacters: 'A-Za-z0-9_-' });
    if (isLiteral(functionName) && !/^[A-Za-z0-9_-]{1,64}$/.test(functionName)) {
      throw new Error(`${what}: function name "${functionName}" must be 1 to 64 letters, digits, hyphens or underscores`);
    }
    const environment = { ...(props.environment ?? {}) };
    validateEnvironment(environment, what);
    const architecture = props.architecture ?? 'arm64';
    if (architecture !== 'arm64' && architecture !== 'x86_64') {
      throw new Error(`${what}: architecture must be "arm64" or "x86_64", got "${String(architecture)}"`);
    }

    // Bundle now, in the constructor: synth must see the code's hash to decide whether to redeploy.
    const bundling = props.bundling ?? {};
    const sourceMap = bundling.sourceMap ?? true;
    if ((props.entry === undefined) === (props.prebuiltBundle === undefined)) {
      throw new Error(`${what}: give either entry (bundled at synth) or prebuiltBundle (a folder holding index.js)`);
    }
    this.bundle = props.prebuiltBundle !== undefined ? prebuiltBundle(props.prebuiltBundle, props.handler) : bundleHandler(props.entry as string, {
      outDir:
        bundling.outDir ??
        path.join(
          path.resolve(App.of(this).outdir),
          'bundles',
          nameFromPath(this, { maxLength: 100, allowedCharacters: 'A-Za-z0-9_-' }),
        ),
      projectRoot: bundling.projectRoot,
      handlerExport: props.handler ?? 'handler',
      target: `node${nodeMajor}`,
      externalModules: bundling.externalModules ?? [...DEFAULT_EXTERNAL_MODULES],
      minify: bundling.minify ?? true,
      sourceMap,
    });
    this.bundleSizeBytes = this.bundle.bytes;
    this.asset = new TerraformAsset(this, 'code', {
      path: this.bundle.outDir,
      type: AssetType.ARCHIVE,
      assetHash: this.bundle.sha256,
    });
    if (sourceMap) {
      const current = environment.NODE_OPTIONS ?? '';
      if (!current.includes('--enable-source-maps')) environment.NODE_OPTIONS = `${current} --enable-source-maps`.trim();
    }

    this.logGroup = new CloudwatchLogGroup(this, 'logs', {
      name: `/aws/lambda/${functionName}`,
      retentionInDays: retention,
      ...(props.tags && { tags: props.tags }),
    });

    if (props.alarmTopicArn !== undefined) {
      this.alarmTopicArn = props.alarmTopicArn;
    } else {
      this.alarmTopic = new AlarmTopic(this, 'alarms', { tags: props.tags });
      this.alarmTopicArn = this.alarmTopic.topicArn;
    }

    this.deadLetters = new DeadLetterQueue(this, 'dead-letters', {
      queueName: nameFromPath(this, { maxLength: 80, allowedCharacters: 'A-Za-z0-9_-', suffix: '-dlq' }),
      meaning: `Failed invocations of ${functionName} are waiting in its dead-letter queue`,
      alarmName: `${functionName}-dead-letters`,
      alarmTopicArn: this.alarmTopicArn,
      tags: props.tags,
    });
    this.deadLetterQueue = this.deadLetters.queue;

    this.policyDocument = new DataAwsIamPolicyDocument(this, 'permissions', {
      statement: this.permissionStatements(props, what),
    });
    this.role = new IamRole(this, 'role', {
      name: nameFromPath(this, { maxLength: 64, allowedCharacters: 'A-Za-z0-9_+=,.@-', suffix: '-role' }),
      description: `Execution role of ${functionName}`,
      assumeRolePolicy: new DataAwsIamPolicyDocument(this, 'trust', {
        statement: [
          {
            effect: 'Allow',
            actions: ['sts:AssumeRole'],
            principals: [{ type: 'Service', identifiers: ['lambda.amazonaws.com'] }],
          },
        ],
      }).json,
      ...(props.tags && { tags: props.tags }),
    });
    this.roleArn = this.role.arn;
    this.policy = new IamRolePolicy(this, 'policy', {
      name: 'least-privilege',
      role: this.role.id,
      policy: this.policyDocument.json,
    });

    this.function = new LambdaFunction(this, 'function', {
      functionName,
      ...(props.description !== undefined && { description: props.description }),
      role: this.role.arn,
      runtime,
      architectures: [architecture],
      handler: this.bundle.handler,
      filename: this.asset.path,
      sourceCodeHash: this.asset.assetHash,
      memorySize,
      timeout,
      ...(reserved !== undefined && { reservedConcurrentExecutions: reserved }),
      ...(Object.keys(environment).length > 0 && { environment: { variables: environment } }),
      ...(props.tracing && { tracingConfig: { mode: 'Active' } }),
      ...(props.tags && { tags: props.tags }),
      // The log group must exist first, or Lambda creates it on first run without retention; the
      // policy first, so the first invocation can already write its logs.
      dependsOn: [this.logGroup, this.policy],
    });
    this.functionName = this.function.functionName;
    this.functionArn = this.function.arn;

    this.eventInvokeConfig = new LambdaFunctionEventInvokeConfig(this, 'async-invocations', {
      functionName: this.function.functionName,
      maximumRetryAttempts: retries,
      destinationConfig: { onFailure: { destination: this.deadLetterQueue.arn } },
      // Lambda checks the role may send to the destination when the configuration is saved.
      dependsOn: [this.policy],
    });

    this.errorAlarm = new CloudwatchMetricAlarm(this, 'error-alarm', {
      alarmName: `${functionName}-errors`,
      alarmDescription: `${functionName} reported an error`,
      namespace: 'AWS/Lambda',
      metricName: 'Errors',
      dimensions: { FunctionName: this.function.functionName },
      statistic: 'Sum',
      period: 300,
      evaluationPeriods: 1,
      threshold: 1,
      comparisonOperator: 'GreaterThanOrEqualToThreshold',
      // No invocations between scheduled runs is normal, not a failure.
      treatMissingData: 'notBreaching',
      alarmActions: [this.alarmTopicArn],
      ...(props.tags && { tags: props.tags }),
    });
    this.deadLetterAlarm = this.deadLetters.alarm as CloudwatchMetricAlarm;
  }

  private permissionStatements(props: PipelineFunctionProps, what: string): DataAwsIamPolicyDocumentStatement[] {
    const statements: DataAwsIamPolicyDocumentStatement[] = [
      {
        sid: 'WriteOwnLogs',
        effect: 'Allow',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [`${this.logGroup.arn}:*`],
      },
      {
        sid: 'SendFailedInvocationsToDeadLetterQueue',
        effect: 'Allow',
        actions: ['sqs:SendMessage'],
        resources: [this.deadLetterQueue.arn],
      },
    ];

    const access = props.bucketAccess;
    if (access) {
      const prefixes = (list: string[] | undefined) => (list ?? []).map((p) => normalizePrefix(p, what));
      const objects = (list: string[]) => list.map((p) => `${access.bucketArn}/${p}*`);
      const read = prefixes(access.read);
      const write = prefixes(access.write);
      const remove = prefixes(access.delete);
      if (read.length + write.length + remove.length === 0) {
        throw new Error(`${what}: bucketAccess names no read, write or delete prefixes`);
      }
      if (read.length > 0) {
        statements.push({ sid: 'ReadPrefixes', effect: 'Allow', actions: ['s3:GetObject'], resources: objects(read) });
        statements.push({
          sid: 'ListBucket',
          effect: 'Allow',
          actions: ['s3:ListBucket'],
          resources: [access.bucketArn],
          ...(access.restrictListingToPrefixes && {
            condition: [{ test: 'StringLike', variable: 's3:prefix', values: read.map((p) => `${p}*`) }],
          }),
        });
      }
      if (write.length > 0) {
        statements.push({
          sid: 'WritePrefixes',
          effect: 'Allow',
          actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
          resources: objects(write),
        });
      }
      if (remove.length > 0) {
        statements.push({ sid: 'DeleteUnderPrefixes', effect: 'Allow', actions: ['s3:DeleteObject'], resources: objects(remove) });
      }
      if (access.kmsKeyArn !== undefined) {
        const actions = write.length > 0 ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt'];
        statements.push({ sid: 'UseBucketKey', effect: 'Allow', actions, resources: [access.kmsKeyArn] });
      }
    }

    const secretArns = props.secretArns ?? [];
    if (secretArns.length > 0) {
      statements.push({
        sid: 'ReadSecrets',
        effect: 'Allow',
        actions: ['secretsmanager:GetSecretValue'],
        resources: secretArns,
      });
    }
    if (props.tracing) {
      // X-Ray has no resource-level permissions for these two actions.
      statements.push({
        sid: 'SendTraces',
        effect: 'Allow',
        actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
        resources: ['*'],
      });
    }
    statements.push(...(props.additionalStatements ?? []));
    return statements;
  }
}
