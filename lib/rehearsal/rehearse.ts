import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetScheduleCommand, ListSchedulesCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { createAepServices } from '../aep';
import { findProjectRoot } from '../bundling/bundle-handler';
import { seedAndExplore } from '../cli/local-run';
import { startEmbeddedPlatform } from '../embedded/platform';
import { systemClock } from '../ports/clock';
import type { Log } from '../ports/logger';
import { added, aepResources } from './aep-resources';
import { createConsumerProject, packLibrary, runCommand, runCommandAsync } from './consumer-project';
import { REHEARSAL_MAIN, REHEARSAL_STACK } from './consumer-stack';
import { startEmulator } from './emulator';
import { LambdaFront } from './lambda-front';
import { firings, type ReadSchedule } from './schedules';

export interface RehearsalOptions {
  /** Folder above `registry.terraform.io/hashicorp/aws/…`; without it Terraform uses its own CLI configuration (the registry). */
  providerMirror?: string | undefined;
  /** Synthetic users seeded into the embedded AEP. */
  users: number;
  workDir: string;
  say: (line: string) => void;
  log: Log;
}

export interface RehearsalResult {
  timingsMs: Record<string, number>;
  resourcesDeployed: number;
  firings: Array<{ at: string; schedule: string; status: string }>;
  leftAfterDestroy: string[];
  /** AEP resources the destroy left that the deploy made: only those the README documents as retained. */
  aepRetained: string[];
}

/**
 * What `cdktf destroy` leaves in AEP by design (README, "Deploy to AWS"): the scores dataset with its
 * schema chain (`aep.retainDatasetsOnDestroy`, default true) and the ingestion's mapping set, which Data
 * Prep cannot delete. The consumer project's namePrefix is `rehearsal`.
 */
export function documentedAsRetained(entry: string): boolean {
  return entry === 'dataset: rehearsal propensity scores' || /^(schema|fieldGroup|mappingSet): /.test(entry);
}

const REGION = 'us-east-1';

/** Checks what the rehearsal needs on the machine; each error names the missing part and how to get it. */
export function checkPrerequisites(providerMirror: string | undefined): void {
  try {
    execFileSync('terraform', ['version'], { stdio: 'ignore' });
  } catch {
    throw new Error('Terraform is missing: the rehearsal runs the terraform binary (1.6 or later) from PATH');
  }
  try {
    execFileSync('python3', ['-c', 'import moto.server'], { stdio: 'ignore' });
  } catch {
    throw new Error('moto is missing: the rehearsal runs python3 -m moto.server (pip install "moto[server]==5.2.1")');
  }
  if (providerMirror !== undefined && !fs.existsSync(path.join(providerMirror, 'registry.terraform.io', 'hashicorp', 'aws'))) {
    throw new Error(`The provider mirror ${providerMirror} holds no registry.terraform.io/hashicorp/aws`);
  }
}

function cliConfig(mirror: string): string {
  return `provider_installation {
  filesystem_mirror {
    path    = ${JSON.stringify(path.resolve(mirror))}
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
`;
}

/**
 * `npm run rehearse`: deploys a consumer project with the real `cdktf deploy` into moto (behind the
 * Lambda front) and the embedded AEP, runs the schedules in the order they fire until the audience, then
 * plans, updates, destroys and deploys again.
 */
export async function rehearse(options: RehearsalOptions): Promise<RehearsalResult> {
  checkPrerequisites(options.providerMirror);
  const { say, workDir } = options;
  const root = findProjectRoot(__dirname);
  const timingsMs: Record<string, number> = {};
  const timed = async <T>(name: string, work: () => Promise<T> | T): Promise<T> => {
    const began = Date.now();
    try {
      return await work();
    } finally {
      timingsMs[name] = Date.now() - began;
      say(`${name}: ${((Date.now() - began) / 1000).toFixed(1)} s`);
    }
  };
  const stops: Array<() => Promise<void>> = [];
  try {
    const emulator = await timed('moto', () => startEmulator(path.join(workDir, 'moto.log')));
    stops.push(() => emulator.stop());
    const operatorClient = { endpoint: emulator.endpoint, region: REGION, credentials: emulator.operator };

    const platform = await timed('embedded AEP', () =>
      startEmbeddedPlatform({
        dataDir: path.join(workDir, 'aep'),
        aepObjectStore: { endpoint: emulator.endpoint, region: REGION, credentials: emulator.operator, forcePathStyle: true },
      }),
    );
    stops.push(() => platform.stop());
    const aep = createAepServices(platform.config, { clock: systemClock, log: options.log });
    const { seed } = await timed('seed', () =>
      seedAndExplore(aep, platform.config, { clock: systemClock, log: options.log }, { users: options.users, usersPerBatch: options.users, seed: 7, now: new Date(), namePrefix: 'CMLE', batchPollIntervalMs: 100 }),
    );

    const aepBefore = await aepResources(aep.client);
    // As a user does before deploying (README, "Deploy to AWS"): the credentials go into Secrets Manager outside Terraform.
    const secret = await new SecretsManagerClient(operatorClient).send(
      new CreateSecretCommand({ Name: REHEARSAL_SECRET_NAME, SecretString: JSON.stringify({ clientId: platform.connectionEnv.AEP_CLIENT_ID, clientSecret: platform.connectionEnv.AEP_CLIENT_SECRET }) }),
    );

    const { AEP_CLIENT_ID: _id, AEP_CLIENT_SECRET: _secret, AWS_ACCESS_KEY_ID: _key, AWS_SECRET_ACCESS_KEY: _secretKey, AWS_REGION: _region, ...standIns } = platform.connectionEnv;
    const front = new LambdaFront({
      emulator: emulator.endpoint,
      region: REGION,
      serviceCredentials: emulator.lambdaService,
      workDir: path.join(workDir, 'lambda'),
      projectRoot: root,
      environment: {
        ...standIns,
        PIPELINE_S3_ENDPOINT: emulator.endpoint,
        PIPELINE_S3_FORCE_PATH_STYLE: 'true',
        AWS_ENDPOINT_URL: emulator.endpoint,
        PIPELINE_POLL_INTERVAL_MS: '200',
      },
    });
    const { endpoint: frontEndpoint } = await front.start();
    stops.push(() => front.stop());

    const project = path.join(workDir, 'project');
    await timed('pack and install', () => {
      const tarball = packLibrary(root, workDir);
      createConsumerProject(project, tarball.file, { cdktf: '0.21.0', constructs: '10.8.1', '@cdktf/provider-aws': '21.22.1' }, REHEARSAL_MAIN);
      fs.writeFileSync(path.join(project, 'cdktf.json'), `${JSON.stringify({ language: 'typescript', app: 'npx tsc -p . && node dist/main.js', terraformProviders: [], terraformModules: [] }, null, 2)}\n`);
    });
    const env: NodeJS.ProcessEnv = {
      AWS_ACCESS_KEY_ID: emulator.operator.accessKeyId,
      AWS_SECRET_ACCESS_KEY: emulator.operator.secretAccessKey,
      AWS_REGION: REGION,
      AWS_ENDPOINT_URL: frontEndpoint,
      REHEARSAL_AEP_ORG_ID: platform.config.aep.orgId,
      REHEARSAL_AEP_SANDBOX: platform.config.aep.sandbox,
      REHEARSAL_SECRET_ARN: secret.ARN,
      REHEARSAL_EVENTS_DATASET_ID: seed.datasetId,
      REHEARSAL_FEATURIZE_SCHEDULE: 'cron(0 3 * * ? *)',
      REHEARSAL_AUDIENCE_LOW: '0.8',
    };
    if (options.providerMirror) {
      const configFile = path.join(workDir, 'terraform.rc');
      fs.writeFileSync(configFile, cliConfig(options.providerMirror));
      env.TF_CLI_CONFIG_FILE = configFile;
    }
    // `terraform providers lock` for other platforms would ask the registry even with a mirror configured.
    // Asynchronous: Terraform's calls come back to the Lambda front in this process.
    const cdktf = (args: string[], what: string) => runCommandAsync(path.join(root, 'node_modules', '.bin', 'cdktf'), [...args, '--skip-provider-lock'], project, what, env);

    const applied = await timed('apply', () => cdktf(['deploy', '--auto-approve'], 'cdktf deploy'));
    const resourcesDeployed = Number(/(\d+) added/.exec(applied)?.[1] ?? NaN);
    say(`deployed ${resourcesDeployed} resources`);

    // EventBridge Scheduler, played: each schedule read back from the emulator, its target invoked with its own input, in firing order.
    const scheduler = new SchedulerClient(operatorClient);
    const summaries = (await scheduler.send(new ListSchedulesCommand({}))).Schedules ?? [];
    const schedules: ReadSchedule[] = [];
    for (const summary of summaries) {
      const s = await scheduler.send(new GetScheduleCommand({ Name: summary.Name!, GroupName: summary.GroupName }));
      schedules.push({ name: s.Name!, expression: s.ScheduleExpression!, timezone: s.ScheduleExpressionTimezone ?? 'UTC', targetArn: s.Target!.Arn!, input: s.Target!.Input ?? '{}' });
    }
    const lambda = new LambdaClient({ ...operatorClient, endpoint: frontEndpoint });
    const monday = new Date(Date.UTC(2027, 0, 4));
    const fired: RehearsalResult['firings'] = [];
    await timed('scheduled stages', async () => {
      // AEP's daily scheduled segmentation (06:30 UTC by default) is the embedded platform's timed work,
      // which runs on no timer of its own under the system clock: played here at its times among the firings,
      // in real time like the invocations. (The ingestion dataflows do run on their timers.)
      const segmentation = platform.aep.scheduledSegmentation;
      let segmentedUntil = monday;
      for (const { at, schedule } of firings(schedules, monday, new Date(monday.getTime() + 3 * 86_400_000))) {
        for (let due = segmentation.nextAt(segmentedUntil); due && due <= at; due = segmentation.nextAt(segmentedUntil)) {
          await segmentation.run(new Date());
          say(`${due.toISOString()} AEP scheduled segmentation: done`);
          segmentedUntil = due;
        }
        const answer = await lambda.send(new InvokeCommand({ FunctionName: schedule.targetArn, Payload: Buffer.from(schedule.input) }));
        const payload = JSON.parse(Buffer.from(answer.Payload ?? []).toString('utf8') || 'null') as { status?: string; errorMessage?: string; stage?: string } | null;
        const status = answer.FunctionError ? `error: ${payload?.errorMessage ?? ''}` : (payload?.status ?? 'done');
        fired.push({ at: at.toISOString(), schedule: schedule.name, status });
        say(`${at.toISOString()} ${schedule.name}: ${status}`);
        if (answer.FunctionError) {
          const functionName = schedule.targetArn.split(':').pop() ?? schedule.targetArn;
          const logFile = path.join(workDir, 'lambda', 'logs', `${functionName}.log`);
          const tail = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-2000) : '(no log)';
          throw new Error(`${schedule.name} failed at ${at.toISOString()}: ${status}\n${tail}`);
        }
        if ((JSON.parse(schedule.input) as { stage?: string }).stage === 'audience' && status === 'succeeded') return;
        // AEP's own timers (query runs, the 15-minute ingestion) run in real time on the embedded platform.
        await systemClock.sleep(1000);
      }
      throw new Error('The audience stage did not succeed within three days of schedules');
    });

    // IAM enforced: the featurize function's own role, under which its stage has just succeeded (it
    // writes runs/), is denied a write and a read under models/, which it is not granted.
    const featurizeRole = front.invocations.find((i) => /featurize/i.test(i.functionName))?.role;
    if (!featurizeRole) throw new Error('The featurize function was never invoked');
    const { Credentials: c } = await new STSClient({ ...operatorClient, credentials: emulator.lambdaService }).send(new AssumeRoleCommand({ RoleArn: featurizeRole, RoleSessionName: 'rehearsal-check' }));
    const asFeaturize = new S3Client({ ...operatorClient, forcePathStyle: true, credentials: { accessKeyId: c!.AccessKeyId!, secretAccessKey: c!.SecretAccessKey!, sessionToken: c!.SessionToken! } });
    // The consumer project declares no outputs: the bucket is the one its stack named (`<stack>-propensity-bucket-…`).
    const buckets = (await new S3Client({ ...operatorClient, forcePathStyle: true }).send(new ListBucketsCommand({}))).Buckets ?? [];
    const bucketName = buckets.map((b) => b.Name ?? '').find((name) => name.startsWith(`${REHEARSAL_STACK}-propensity-bucket`));
    if (!bucketName) throw new Error(`No pipeline bucket in moto among ${buckets.map((b) => b.Name).join(', ')}`);
    const isDenied = (e: Error & { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode === 403 || /denied/i.test(e.name + e.message);
    const deniedWrite = await asFeaturize.send(new PutObjectCommand({ Bucket: bucketName, Key: 'models/intruder.json', Body: '{}' })).then(() => false, isDenied);
    const deniedRead = await asFeaturize.send(new GetObjectCommand({ Bucket: bucketName, Key: 'models/anything.json' })).then(() => false, isDenied);
    say(`featurize's role: PutObject models/ denied ${deniedWrite}, GetObject models/ denied ${deniedRead}`);
    if (!deniedWrite || !deniedRead) throw new Error("IAM enforcement: the featurize role reached models/, outside its prefixes");

    const planned = await timed('plan', () => cdktf(['diff'], 'cdktf diff'));
    if (!/No changes/.test(planned)) throw new Error(`A second plan shows changes:\n${planned.slice(-3000)}`);

    const provisionerRuns = front.invocations.filter((i) => /provision/i.test(i.functionName)).length;
    env.REHEARSAL_AUDIENCE_LOW = '0.7';
    env.REHEARSAL_FEATURIZE_SCHEDULE = 'cron(30 3 * * ? *)';
    await timed('update', () => cdktf(['deploy', '--auto-approve'], 'cdktf deploy (update)'));
    if (front.invocations.filter((i) => /provision/i.test(i.functionName)).length <= provisionerRuns) throw new Error('The update did not invoke the provisioner');

    await timed('destroy', () => cdktf(['destroy', '--auto-approve'], 'cdktf destroy'));
    const leftAfterDestroy = leftInEmulator(emulator.endpoint, emulator.operator);
    say(`left in moto after destroy: ${leftAfterDestroy.length === 0 ? 'nothing' : leftAfterDestroy.join(', ')}`);
    const aepRetained = added(aepBefore, await aepResources(aep.client));
    say(`left in AEP after destroy: ${aepRetained.join(', ') || 'nothing'}`);
    const undocumented = aepRetained.filter((entry) => !documentedAsRetained(entry));
    if (undocumented.length > 0) throw new Error(`cdktf destroy left AEP resources not documented as retained: ${undocumented.join(', ')}`);
    if (leftAfterDestroy.length > 0) throw new Error(`cdktf destroy left AWS resources in moto: ${leftAfterDestroy.join(', ')}`);
    await timed('deploy after destroy', () => cdktf(['deploy', '--auto-approve'], 'cdktf deploy after destroy'));
    await timed('final destroy', () => cdktf(['destroy', '--auto-approve'], 'cdktf destroy (final)'));
    return { timingsMs, resourcesDeployed, firings: fired, leftAfterDestroy, aepRetained };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

/** The secret the rehearsal puts into Secrets Manager before deploying, as a user does (README, "Deploy to AWS"). */
const REHEARSAL_SECRET_NAME = 'aep-pipeline/credentials';

/** What moto still holds of every kind the stack creates (moto_inventory.py), the rehearsal's own secret left out. */
function leftInEmulator(endpoint: string, operator: { accessKeyId: string; secretAccessKey: string }): string[] {
  const listed = JSON.parse(
    runCommand('python3', [path.join(__dirname, 'moto_inventory.py'), endpoint, operator.accessKeyId, operator.secretAccessKey, REGION], __dirname, 'moto inventory'),
  ) as string[];
  return listed.filter((entry) => entry !== `secretsmanager secret: ${REHEARSAL_SECRET_NAME}`);
}
