import type * as z from 'zod';
import { ConfigError, type ConfigIssue } from './errors';
import { pipelineConfigSchema } from './schema';

type EnvParser = (raw: string) => unknown;
const asString: EnvParser = (raw) => raw;
const asBoolean: EnvParser = (raw) => (/^(1|true|yes|on)$/i.test(raw) ? true : /^(0|false|no|off)$/i.test(raw) ? false : raw);

/**
 * One setting as it travels between a construct and a handler: the environment variable that carries
 * it, the configuration path it sets, and what it means. Its range and default live in the zod schema
 * at that path, nowhere else.
 */
export interface Setting {
  readonly variable: string;
  readonly path: string;
  readonly description: string;
  /** For the documentation, when the default is not a plain value of the schema. */
  readonly defaultText?: string;
  readonly parse?: EnvParser;
}

/**
 * Every setting a pipeline function reads, in the order the README lists them. The construct writes a
 * function's environment with this table ({@link environmentFor}) and the handler's loader reads the
 * same variables back (lib/config/load.ts), so the two cannot drift apart.
 */
export const SETTINGS = [
  { variable: 'AEP_ORG_ID', path: 'aep.orgId', description: 'IMS organization id (`…@AdobeOrg`)' },
  { variable: 'AEP_SANDBOX', path: 'aep.sandbox', description: 'sandbox name' },
  { variable: 'AEP_TENANT_ID', path: 'aep.tenantId', description: 'tenant id without `_`', defaultText: 'read from the Schema Registry' },
  { variable: 'AEP_CLIENT_ID', path: 'aep.credentials.clientId', description: 'OAuth server-to-server client id (local runs)', defaultText: 'this pair or the secret ARN' },
  { variable: 'AEP_CLIENT_SECRET', path: 'aep.credentials.clientSecret', description: 'OAuth server-to-server client secret (local runs)', defaultText: 'this pair or the secret ARN' },
  { variable: 'AEP_CREDENTIALS_SECRET_ARN', path: 'aep.credentials.secretArn', description: 'Secrets Manager secret holding `{"clientId", "clientSecret"}` (deployed functions)', defaultText: 'this or the client id and secret' },
  { variable: 'AEP_SCOPES', path: 'aep.scopes', description: 'IMS scopes' },
  { variable: 'AEP_IMS_ENDPOINT', path: 'aep.imsEndpoint', description: 'IMS' },
  { variable: 'AEP_PLATFORM_ENDPOINT', path: 'aep.platformEndpoint', description: 'platform APIs' },
  { variable: 'AEP_QUERY_SERVICE_HOST', path: 'aep.queryService.host', description: 'Query Service host (wire protocol)', defaultText: "from Query Service's connection parameters" },
  { variable: 'AEP_QUERY_SERVICE_PORT', path: 'aep.queryService.port', description: 'Query Service port' },
  { variable: 'AEP_QUERY_SERVICE_SSL', path: 'aep.queryService.ssl', description: 'TLS to Query Service', parse: asBoolean },
  { variable: 'AEP_QUERY_DIALECT', path: 'aep.queryService.dialect', description: 'SQL dialect: `data-distiller` or `postgres`' },
  { variable: 'PIPELINE_BUCKET', path: 'storage.bucket', description: "the pipeline's S3 bucket" },
  { variable: 'PIPELINE_BUCKET_REGION', path: 'storage.region', description: "the bucket's region" },
  { variable: 'PIPELINE_S3_ENDPOINT', path: 'storage.endpoint', description: 'an S3-compatible endpoint instead of AWS', defaultText: "AWS's" },
  { variable: 'PIPELINE_S3_FORCE_PATH_STYLE', path: 'storage.forcePathStyle', description: 'path-style S3 addressing', parse: asBoolean },
  { variable: 'PIPELINE_EGRESS_RETENTION_DAYS', path: 'storage.egressRetentionDays', description: "days the bucket's lifecycle keeps exported features; the training window must be shorter", defaultText: "`PipelineBucket`'s `egressExpirationDays`; unchecked for an existing bucket" },
  { variable: 'PIPELINE_EGRESS_PREFIX', path: 'storage.prefixes.egress', description: 'folder of the features AEP exports' },
  { variable: 'PIPELINE_INGRESS_PREFIX', path: 'storage.prefixes.ingress', description: 'folder of the scores AEP ingests' },
  { variable: 'PIPELINE_STAGING_PREFIX', path: 'storage.prefixes.staging', description: 'folder where a score run stages its files before publishing them', defaultText: '`<ingress>_staging/`' },
  { variable: 'PIPELINE_MODELS_PREFIX', path: 'storage.prefixes.models', description: 'folder of the model registry' },
  { variable: 'PIPELINE_RUNS_PREFIX', path: 'storage.prefixes.runs', description: 'folder of the runs ledger' },
  { variable: 'PIPELINE_EVENTS_DATASET_ID', path: 'datasets.events', description: 'the experience events dataset to featurize' },
  { variable: 'PIPELINE_FEATURES_DATASET_ID', path: 'datasets.features', description: 'the featurized dataset (a notebook config.ini names it)' },
  { variable: 'PIPELINE_SCORES_DATASET_ID', path: 'datasets.scores', description: 'the profile dataset the scores are ingested into' },
  { variable: 'PIPELINE_FEATURE_SPEC', path: 'featureSpec', description: 'the feature specification as JSON (`features.spec` of `PropensityPipeline`)', defaultText: 'the week-2 features' },
  { variable: 'PIPELINE_NAME_PREFIX', path: 'namePrefix', description: 'prefix of the names of the AEP resources the pipeline creates' },
  { variable: 'PIPELINE_EXPORT_FORMAT', path: 'export.format', description: 'file format of the dataset export: `parquet` or `json`' },
  { variable: 'PIPELINE_EXPORT_COMPRESSION', path: 'export.compression', description: 'compression of the exported files: `gzip` or `none`' },
  { variable: 'PIPELINE_AEP_ROLE_ARN', path: 'export.roleArn', description: 'the role AEP assumes to write the exports' },
  { variable: 'PIPELINE_EXPORT_INTERVAL_HOURS', path: 'export.intervalHours', description: "hours between AEP's scheduled exports: 3, 6, 9, 12 or 24" },
  { variable: 'PIPELINE_MODEL_NAME', path: 'model.name', description: 'name of the model in the registry (`models/<name>/`)' },
  { variable: 'PIPELINE_MODEL_SEED', path: 'model.seed', description: 'seed of the held-out split and the learners' },
  { variable: 'PIPELINE_MODEL_TEST_FRACTION', path: 'model.testFraction', description: 'share of each class held out to measure models, in (0, 0.5)' },
  { variable: 'PIPELINE_MODEL_THRESHOLD', path: 'model.threshold', description: 'score counted as a positive prediction, for precision and recall' },
  { variable: 'PIPELINE_MODEL_PROMOTION_TOLERANCE', path: 'model.promotionTolerance', description: "how far below the champion's held-out AUC a challenger may be and still replace it, from 0 to 0.5" },
  { variable: 'PIPELINE_MODEL_MIN_AUC', path: 'model.minAuc', description: 'lowest held-out AUC a model may have and become production, the first one included, from 0.5 to below 1' },
  { variable: 'PIPELINE_MODEL_BASELINE_MARGIN', path: 'model.baselineMargin', description: "how far above the logistic baseline's held-out AUC, on the same rows, a model must be to become production, from 0 to 0.5" },
  { variable: 'PIPELINE_MODEL_MIN_ROWS', path: 'model.minRows', description: 'fewest users a model is trained on; fewer fails the run' },
  { variable: 'PIPELINE_MODEL_RETRAIN_EVERY_DAYS', path: 'model.retrainEveryDays', description: 'days between retrainings while production holds a model; the train function runs daily and skips until then' },
  { variable: 'PIPELINE_MODEL_TRAINING_WINDOW_DAYS', path: 'model.trainingWindowDays', description: 'days of exports, counted back from the train run, a model learns from; shorter than the egress retention' },
  { variable: 'PIPELINE_AUDIENCE_DEFINITION_ID', path: 'audience.definitionId', description: "the audience's segment definition id", defaultText: 'found by name' },
  { variable: 'PIPELINE_AUDIENCE_NAME', path: 'audience.name', description: "the audience's segment definition name, when its id is not given" },
  { variable: 'PIPELINE_AUDIENCE_LOW', path: 'audience.low', description: 'lowest propensity in the audience, included, within [0, 1]', defaultText: '' },
  { variable: 'PIPELINE_AUDIENCE_HIGH', path: 'audience.high', description: 'highest propensity in the audience, included, within [low, 1]', defaultText: '' },
  { variable: 'PIPELINE_AUDIENCE_ON_DEMAND_PER_DAY', path: 'audience.onDemandPerDay', description: 'on-demand segment jobs (flexible audience evaluation) the audience stage may start in any 24 hours, when invoked with `{"onDemand": true}`' },
  { variable: 'PIPELINE_AUDIENCE_ON_DEMAND_PER_YEAR', path: 'audience.onDemandPerYear', description: 'on-demand segment jobs in any 365 days, counted in the ledger', defaultText: '100 in a development sandbox, else 50' },
  { variable: 'PIPELINE_POLL_INTERVAL_MS', path: 'polling.intervalMs', description: "how often a stage polls AEP's asynchronous work" },
  { variable: 'PIPELINE_WAIT_BUDGET_MS', path: 'polling.budgetMs', description: 'how long one invocation waits before recording the run as pending for the next' },
  { variable: 'AEP_HTTP_TIMEOUT_MS', path: 'http.timeoutMs', description: 'timeout of one AEP request' },
  { variable: 'AEP_HTTP_MAX_ATTEMPTS', path: 'http.maxAttempts', description: 'attempts of one AEP request' },
  { variable: 'AEP_HTTP_BASE_DELAY_MS', path: 'http.baseDelayMs', description: 'first retry delay, doubled each attempt, with jitter' },
  { variable: 'AEP_HTTP_MAX_DELAY_MS', path: 'http.maxDelayMs', description: 'longest retry delay (a longer Retry-After is honoured)' },
] as const satisfies readonly Setting[];

/** A dotted configuration path that a setting sets, e.g. `model.promotionTolerance`. */
export type SettingPath = (typeof SETTINGS)[number]['path'];

type ParentsOf<P extends string> = P extends `${infer Head}.${infer Rest}` ? Head | `${Head}.${ParentsOf<Rest>}` : never;
/** A setting's path or a group of them (`model`, `storage.prefixes`): what a function may read. */
export type SettingScope = SettingPath | ParentsOf<SettingPath>;

/** Setting values by path, as a construct knows them: literals, or deploy-time references as strings; undefined is unset. */
export type SettingValues = { [P in SettingPath]?: string | number | boolean | undefined };

const ALL_SETTINGS: readonly Setting[] = SETTINGS;

export function inScope(path: string, scopes: readonly SettingScope[]): boolean {
  return scopes.some((scope) => path === scope || path.startsWith(`${scope}.`));
}

/** The settings within the given scopes, in table order. */
export function settingsIn(scopes: readonly SettingScope[]): Setting[] {
  return ALL_SETTINGS.filter((setting) => inScope(setting.path, scopes));
}

export function settingAt(path: SettingPath): Setting {
  const setting = ALL_SETTINGS.find((s) => s.path === path);
  if (!setting) throw new Error(`No setting at ${path}`);
  return setting;
}

export function parseVariable(setting: Setting, raw: string): unknown {
  return (setting.parse ?? asString)(raw);
}

interface ZodDefinition {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  options?: z.ZodType[];
}

const definitionOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: ZodDefinition } })._zod.def;

/** The object (or the options of a union of objects) under defaults, optionals and transforms. */
function objectShapes(schema: z.ZodType): Array<Record<string, z.ZodType>> {
  let def = definitionOf(schema);
  while (def.type === 'default' || def.type === 'optional' || def.type === 'pipe') {
    def = definitionOf((def.type === 'pipe' ? def.in : def.innerType) as z.ZodType);
  }
  if (def.type === 'object' && def.shape) return [def.shape];
  if (def.type === 'union' && def.options) return def.options.flatMap(objectShapes);
  return [];
}

/** The zod schema of one setting: its range, its messages and its default, as the loader applies them. */
export function settingSchema(path: SettingPath): z.ZodType {
  let candidates: z.ZodType[] = [pipelineConfigSchema];
  for (const key of path.split('.')) {
    candidates = candidates.flatMap(objectShapes).flatMap((shape) => (shape[key] ? [shape[key]] : []));
  }
  const [only] = candidates;
  if (candidates.length !== 1 || only === undefined) throw new Error(`The configuration schema has no single setting at ${path}`);
  return only;
}

/** The default the loader gives a setting left unset, or undefined when there is none. */
export function settingDefault(path: SettingPath): unknown {
  const parsed = settingSchema(path).safeParse(undefined);
  return parsed.success ? parsed.data : undefined;
}

function asVariableValue(value: string | number | boolean): string {
  return typeof value === 'string' ? value : String(value);
}

/**
 * The environment a function is given: every setting in its scopes that has a value, each literal
 * checked against the same schema the handler's loader applies, so a construct fails at synth with the
 * message the function would have failed with. `isDeployTime` tells values known only at deploy time
 * (Terraform references), which are passed through unchecked.
 */
export function environmentFor(
  scopes: readonly SettingScope[],
  values: SettingValues,
  isDeployTime: (value: string) => boolean = () => false,
): Record<string, string> {
  const environment: Record<string, string> = {};
  const issues: ConfigIssue[] = [];
  for (const setting of settingsIn(scopes)) {
    const value = values[setting.path as SettingPath];
    if (value === undefined) continue;
    if (!(typeof value === 'string' && isDeployTime(value))) {
      const parsed = settingSchema(setting.path as SettingPath).safeParse(typeof value === 'string' ? parseVariable(setting, value) : value);
      if (!parsed.success) {
        issues.push(...parsed.error.issues.map((issue) => ({ path: setting.path, source: setting.variable, message: issue.message })));
        continue;
      }
    }
    environment[setting.variable] = asVariableValue(value);
  }
  if (issues.length > 0) throw new ConfigError('Invalid settings', issues);
  return environment;
}

function defaultText(setting: Setting): string {
  if (setting.defaultText !== undefined) return setting.defaultText;
  const parsed = settingSchema(setting.path as SettingPath).safeParse(undefined);
  if (!parsed.success) return 'required';
  return parsed.data === undefined ? '' : `\`${String(parsed.data)}\``;
}

/** The README's table of settings, made from {@link SETTINGS} and the schema's defaults (a test keeps the README in step). */
export function settingsTableMarkdown(): string {
  return [
    '| Variable | Setting | What it is | Default |',
    '|---|---|---|---|',
    ...ALL_SETTINGS.map((setting) => `| \`${setting.variable}\` | \`${setting.path}\` | ${setting.description} | ${defaultText(setting)} |`),
  ].join('\n');
}
