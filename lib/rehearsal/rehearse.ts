import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
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
import { createConsumerProject, packLibrary, runCommand, runCommandAsync } from './consumer-project';
import { REHEARSAL_MAIN } from './consumer-stack';
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

    // As a user does before deploying (README, "Deploy to AWS"): the credentials go into Secrets Manager outside Terraform.
    const secret = await new SecretsManagerClient(operatorClient).send(
      new CreateSecretCommand({ Name: 'aep-pipeline/credentials', SecretString: JSON.stringify({ clientId: platform.connectionEnv.AEP_CLIENT_ID, clientSecret: platform.connectionEnv.AEP_CLIENT_SECRET }) }),
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
      for (const { at, schedule } of firings(schedules, monday, new Date(monday.getTime() + 3 * 86_400_000))) {
        const answer = await lambda.send(new InvokeCommand({ FunctionName: schedule.targetArn, Payload: Buffer.from(schedule.input) }));
        const payload = JSON.parse(Buffer.from(answer.Payload ?? []).toString('utf8') || 'null') as { status?: string; errorMessage?: string; stage?: string } | null;
        const status = answer.FunctionError ? `error: ${payload?.errorMessage ?? ''}` : (payload?.status ?? 'done');
        fired.push({ at: at.toISOString(), schedule: schedule.name, status });
        say(`${at.toISOString()} ${schedule.name}: ${status}`);
        if ((JSON.parse(schedule.input) as { stage?: string }).stage === 'audience' && status === 'succeeded') return;
        // AEP's own timers (query runs, the 15-minute ingestion) run in real time on the embedded platform.
        await systemClock.sleep(1000);
      }
      throw new Error('The audience stage did not succeed within three days of schedules');
    });

    // IAM enforced: the featurize function's own role cannot write outside its prefixes.
    const featurizeRole = front.invocations.find((i) => /featurize/i.test(i.functionName))?.role;
    if (featurizeRole) {
      const { Credentials: c } = await new STSClient({ ...operatorClient, credentials: emulator.lambdaService }).send(new AssumeRoleCommand({ RoleArn: featurizeRole, RoleSessionName: 'rehearsal-check' }));
      const s3 = new S3Client({ ...operatorClient, forcePathStyle: true, credentials: { accessKeyId: c!.AccessKeyId!, secretAccessKey: c!.SecretAccessKey!, sessionToken: c!.SessionToken! } });
      const bucket = JSON.parse(runCommand('terraform', ['output', '-json'], path.join(project, 'cdktf.out', 'stacks', 'marketing-data'), 'terraform output', env)) as Record<string, { value: string }>;
      const denied = await s3.send(new PutObjectCommand({ Bucket: bucket.bucket_name!.value, Key: 'models/intruder.json', Body: '{}' })).then(() => false, (e: Error) => /denied/i.test(e.name + e.message));
      if (!denied) throw new Error('IAM enforcement: the featurize role wrote outside its prefixes');
      const deniedRead = await s3.send(new GetObjectCommand({ Bucket: bucket.bucket_name!.value, Key: 'models/anything.json' })).then(() => false, (e: Error) => /denied/i.test(e.name + e.message));
      say(`featurize's role: PutObject models/ denied ${denied}, GetObject models/ denied ${deniedRead}`);
    }

    const planned = await timed('plan', () => cdktf(['diff'], 'cdktf diff'));
    if (!/No changes/.test(planned)) throw new Error(`A second plan shows changes:\n${planned.slice(-3000)}`);

    const provisionerRuns = front.invocations.filter((i) => /provision/i.test(i.functionName)).length;
    env.REHEARSAL_AUDIENCE_LOW = '0.7';
    env.REHEARSAL_FEATURIZE_SCHEDULE = 'cron(30 3 * * ? *)';
    await timed('update', () => cdktf(['deploy', '--auto-approve'], 'cdktf deploy (update)'));
    if (front.invocations.filter((i) => /provision/i.test(i.functionName)).length <= provisionerRuns) throw new Error('The update did not invoke the provisioner');

    await timed('destroy', () => cdktf(['destroy', '--auto-approve'], 'cdktf destroy'));
    const leftAfterDestroy = await leftInEmulator(emulator.endpoint);
    await timed('deploy after destroy', () => cdktf(['deploy', '--auto-approve'], 'cdktf deploy after destroy'));
    await timed('final destroy', () => cdktf(['destroy', '--auto-approve'], 'cdktf destroy (final)'));
    return { timingsMs, resourcesDeployed, firings: fired, leftAfterDestroy };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

/** What moto still holds, by service and model (its `/moto-api/data.json`), the rehearsal's own user and secret left out. */
async function leftInEmulator(endpoint: string): Promise<string[]> {
  const data = (await (await fetch(`${endpoint}/moto-api/data.json`)).json()) as Record<string, Record<string, unknown[]>>;
  const left: string[] = [];
  for (const [service, models] of Object.entries(data)) {
    for (const [model, items] of Object.entries(models)) {
      if (Array.isArray(items) && items.length > 0) left.push(`${service}.${model}: ${items.length}`);
    }
  }
  return left;
}
