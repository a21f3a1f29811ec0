import { settingAt, type SettingPath, type SettingScope } from '../config/settings';
import type { LedgerStage } from '../ledger/stage-outputs';

/** The bucket's folders, by the name `PipelineBucket.prefixes` and `storage.prefixes` give them. */
export type BucketFolder = 'egress' | 'ingress' | 'staging' | 'models' | 'runs';

/** What a function may do under each folder of the bucket; its role grants exactly this. */
export interface BucketAccess {
  readonly read: readonly BucketFolder[];
  readonly write: readonly BucketFolder[];
  readonly delete: readonly BucketFolder[];
}

/** A pipeline function: its handler, what it reads of the configuration, and its size. */
export interface FunctionDefinition {
  /** The handler module, relative to the package root. */
  readonly entry: string;
  readonly description: string;
  /** The settings the function reads: its construct sets these, and its loader reads only these. */
  readonly settings: readonly SettingScope[];
  /** Settings without which the function cannot run; missing ones fail the cold start, all named at once. */
  readonly required: readonly SettingPath[];
  readonly bucket?: BucketAccess;
  readonly memorySize: number;
  readonly timeoutSeconds: number;
}

/** A scheduled stage: a function on its own schedule, handing work to the others through the ledger. */
export interface StageDefinition extends FunctionDefinition {
  readonly name: StageName;
  /** EventBridge Scheduler expression, in UTC. */
  readonly schedule: string;
  /** The schedule in words, for the documentation. */
  readonly when: string;
}

/** What every function reads: how to reach AEP and the bucket, and where the ledger is. */
const CONNECTION: readonly SettingScope[] = [
  'aep',
  'http',
  'storage.bucket',
  'storage.region',
  'storage.endpoint',
  'storage.forcePathStyle',
  'storage.prefixes.runs',
];

/** The scheduled stages in the order a day runs them. */
export const STAGE_NAMES = ['featurize', 'export', 'train', 'score', 'ingestion-check', 'audience'] as const satisfies readonly LedgerStage[];
export type StageName = (typeof STAGE_NAMES)[number];

/**
 * The one table the constructs, the local runner, the command line and the README's stage table are
 * made from. Lambda gives CPU in proportion to memory: 1,769 MB is one full vCPU.
 */
export const STAGES: { readonly [S in StageName]: StageDefinition & { readonly name: S } } = {
  featurize: {
    name: 'featurize',
    entry: 'lib/handlers/featurize.ts',
    description: 'submits the feature queries for new event snapshots (Query Service batch queries)',
    settings: [...CONNECTION, 'datasets.events', 'namePrefix', 'featureSpec'],
    required: ['datasets.events'],
    // Deletes its own intents once their queries are recorded.
    bucket: { read: ['runs'], write: ['runs'], delete: ['runs'] },
    schedule: 'cron(0 3 * * ? *)',
    when: 'daily 03:00',
    memorySize: 512,
    // Featurize only submits queries.
    timeoutSeconds: 300,
  },
  export: {
    name: 'export',
    entry: 'lib/handlers/export.ts',
    description: "runs the dataset export of finished featurizations to egress/, waits for AEP's files and verifies them",
    settings: [...CONNECTION, 'namePrefix', 'featureSpec', 'export', 'storage.prefixes.egress', 'polling'],
    required: ['export.roleArn'],
    bucket: { read: ['runs', 'egress'], write: ['runs'], delete: [] },
    schedule: 'cron(0 4 * * ? *)',
    when: 'daily 04:00',
    memorySize: 512,
    timeoutSeconds: 900,
  },
  train: {
    name: 'train',
    entry: 'lib/handlers/train.ts',
    description: 'learns a model from the exports of its window, registers it, and promotes it when it passes the quality floor and is at least as good as production',
    settings: [...CONNECTION, 'model', 'storage.prefixes.models', 'storage.egressRetentionDays', 'featureSpec'],
    required: [],
    bucket: { read: ['runs', 'egress', 'models'], write: ['runs', 'models'], delete: [] },
    // Daily: a run that is not due skips; one that fails or is killed is retried the next day.
    schedule: 'cron(0 5 * * ? *)',
    when: 'daily 05:00, retraining weekly',
    // Training holds the exported rows and fits the trees in memory.
    memorySize: 3008,
    timeoutSeconds: 900,
  },
  score: {
    name: 'score',
    entry: 'lib/handlers/score.ts',
    description: 'scores the newest scoring export with the production model and publishes the CSV AEP ingests',
    settings: [...CONNECTION, 'model.name', 'storage.prefixes.models', 'storage.prefixes.ingress', 'storage.prefixes.staging', 'datasets.scores'],
    required: ['datasets.scores'],
    // Parts are staged outside what AEP watches, copied in, then the staged copies deleted. Nothing is
    // deleted where AEP looks: a run that stops mid-publish is finished by the next one, which then
    // deletes the run's publishing intent from the ledger. It reads ingress/ too: publishing heads each
    // part where AEP looks before copying it, and HeadObject needs s3:GetObject on the key.
    bucket: { read: ['runs', 'egress', 'models', 'ingress', 'staging'], write: ['runs', 'ingress', 'staging'], delete: ['runs', 'staging'] },
    schedule: 'cron(30 5 * * ? *)',
    when: 'daily 05:30',
    memorySize: 1769,
    timeoutSeconds: 900,
  },
  'ingestion-check': {
    name: 'ingestion-check',
    entry: 'lib/handlers/ingestion-check.ts',
    description: "confirms AEP's dataflow ingested every score file in full; fails (and alarms) otherwise",
    settings: [...CONNECTION, 'namePrefix'],
    required: [],
    bucket: { read: ['runs'], write: ['runs'], delete: [] },
    schedule: 'cron(15 * * * ? *)',
    when: 'hourly at :15',
    memorySize: 512,
    timeoutSeconds: 120,
  },
  audience: {
    name: 'audience',
    entry: 'lib/handlers/audience.ts',
    description: "summarizes new scores (histogram, reach, the band's reach) and, once ingested, records the qualified count of AEP's daily scheduled segmentation (an on-demand segment job only when asked, within a budget)",
    settings: [...CONNECTION, 'audience', 'polling'],
    required: ['audience.low', 'audience.high'],
    bucket: { read: ['runs', 'ingress'], write: ['runs'], delete: [] },
    schedule: 'cron(0 7 * * ? *)',
    when: 'daily 07:00',
    memorySize: 512,
    timeoutSeconds: 900,
  },
};

/** The AEP provisioner, invoked by Terraform (create, update, delete), not by a schedule. */
export const PROVISIONER: FunctionDefinition = {
  entry: 'lib/handlers/provision.ts',
  description: 'creates, updates and deletes the AEP resources of the propensity pipeline',
  settings: CONNECTION,
  required: [],
  memorySize: 512,
  timeoutSeconds: 300,
};

export function isStageName(name: string): name is StageName {
  return (STAGE_NAMES as readonly string[]).includes(name);
}

/** The README's stage table, made from the registry (a test keeps the README in step). */
export function stageTableMarkdown(): string {
  const folders = (list: readonly BucketFolder[]) => (list.length > 0 ? list.join(', ') : '-');
  const rows = STAGE_NAMES.map((name) => {
    const stage = STAGES[name];
    const access = stage.bucket ?? { read: [], write: [], delete: [] };
    const needs = stage.required.length > 0 ? stage.required.map((path) => `\`${settingAt(path).variable}\``).join(', ') : '-';
    return `| \`${name}\` | ${stage.when} (\`${stage.schedule}\`) | ${stage.description} | ${stage.memorySize.toLocaleString('en-US')} MB, ${stage.timeoutSeconds} s | ${folders(access.read)} | ${folders(access.write)} | ${folders(access.delete)} | ${needs} |`;
  });
  return [
    '| Stage | Default schedule (UTC) | What it does | Memory, timeout | Reads | Writes | Deletes | Needs |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
