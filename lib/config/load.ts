import * as fs from 'fs';
import { z } from 'zod';
import { configFromNotebookIni, parseConfigIni } from './config-ini';
import { ConfigError, type ConfigIssue } from './errors';
import { pipelineConfigSchema, type PipelineConfig, type PipelineConfigInput } from './schema';

type EnvParser = (raw: string) => unknown;
const asString: EnvParser = (raw) => raw;
const asBoolean: EnvParser = (raw) => (/^(1|true|yes|on)$/i.test(raw) ? true : /^(0|false|no|off)$/i.test(raw) ? false : raw);

/** Environment variables, each with the configuration path it sets. Documented in the README. */
export const ENVIRONMENT_VARIABLES: ReadonlyArray<{ name: string; path: string; parse: EnvParser }> = [
  { name: 'AEP_ORG_ID', path: 'aep.orgId', parse: asString },
  { name: 'AEP_SANDBOX', path: 'aep.sandbox', parse: asString },
  { name: 'AEP_TENANT_ID', path: 'aep.tenantId', parse: asString },
  { name: 'AEP_CLIENT_ID', path: 'aep.credentials.clientId', parse: asString },
  { name: 'AEP_CLIENT_SECRET', path: 'aep.credentials.clientSecret', parse: asString },
  { name: 'AEP_CREDENTIALS_SECRET_ARN', path: 'aep.credentials.secretArn', parse: asString },
  { name: 'AEP_SCOPES', path: 'aep.scopes', parse: asString },
  { name: 'AEP_IMS_ENDPOINT', path: 'aep.imsEndpoint', parse: asString },
  { name: 'AEP_PLATFORM_ENDPOINT', path: 'aep.platformEndpoint', parse: asString },
  { name: 'AEP_QUERY_SERVICE_HOST', path: 'aep.queryService.host', parse: asString },
  { name: 'AEP_QUERY_SERVICE_PORT', path: 'aep.queryService.port', parse: asString },
  { name: 'AEP_QUERY_SERVICE_SSL', path: 'aep.queryService.ssl', parse: asBoolean },
  { name: 'AEP_QUERY_DIALECT', path: 'aep.queryService.dialect', parse: asString },
  { name: 'PIPELINE_BUCKET', path: 'storage.bucket', parse: asString },
  { name: 'PIPELINE_BUCKET_REGION', path: 'storage.region', parse: asString },
  { name: 'PIPELINE_S3_ENDPOINT', path: 'storage.endpoint', parse: asString },
  { name: 'PIPELINE_S3_FORCE_PATH_STYLE', path: 'storage.forcePathStyle', parse: asBoolean },
  { name: 'PIPELINE_EGRESS_PREFIX', path: 'storage.prefixes.egress', parse: asString },
  { name: 'PIPELINE_INGRESS_PREFIX', path: 'storage.prefixes.ingress', parse: asString },
  { name: 'PIPELINE_MODELS_PREFIX', path: 'storage.prefixes.models', parse: asString },
  { name: 'PIPELINE_RUNS_PREFIX', path: 'storage.prefixes.runs', parse: asString },
  { name: 'PIPELINE_EVENTS_DATASET_ID', path: 'datasets.events', parse: asString },
  { name: 'PIPELINE_FEATURES_DATASET_ID', path: 'datasets.features', parse: asString },
  { name: 'PIPELINE_SCORES_DATASET_ID', path: 'datasets.scores', parse: asString },
  { name: 'PIPELINE_MODEL_NAME', path: 'model.name', parse: asString },
  { name: 'PIPELINE_MODEL_SEED', path: 'model.seed', parse: asString },
  { name: 'PIPELINE_MODEL_TEST_FRACTION', path: 'model.testFraction', parse: asString },
  { name: 'PIPELINE_MODEL_THRESHOLD', path: 'model.threshold', parse: asString },
  { name: 'PIPELINE_MODEL_PROMOTION_TOLERANCE', path: 'model.promotionTolerance', parse: asString },
  { name: 'PIPELINE_MODEL_MIN_ROWS', path: 'model.minRows', parse: asString },
  { name: 'PIPELINE_NAME_PREFIX', path: 'namePrefix', parse: asString },
  { name: 'PIPELINE_FEATURE_SPEC', path: 'featureSpec', parse: asString },
  { name: 'PIPELINE_AEP_ROLE_ARN', path: 'export.roleArn', parse: asString },
  { name: 'PIPELINE_EXPORT_INTERVAL_HOURS', path: 'export.intervalHours', parse: asString },
  { name: 'PIPELINE_AUDIENCE_DEFINITION_ID', path: 'audience.definitionId', parse: asString },
  { name: 'PIPELINE_AUDIENCE_NAME', path: 'audience.name', parse: asString },
  { name: 'PIPELINE_AUDIENCE_LOW', path: 'audience.low', parse: asString },
  { name: 'PIPELINE_AUDIENCE_HIGH', path: 'audience.high', parse: asString },
  { name: 'PIPELINE_POLL_INTERVAL_MS', path: 'polling.intervalMs', parse: asString },
  { name: 'PIPELINE_WAIT_BUDGET_MS', path: 'polling.budgetMs', parse: asString },
  { name: 'AEP_HTTP_TIMEOUT_MS', path: 'http.timeoutMs', parse: asString },
  { name: 'AEP_HTTP_MAX_ATTEMPTS', path: 'http.maxAttempts', parse: asString },
];

/** Where the configuration comes from; later sources override earlier ones: config.ini, JSON file, environment, overrides. */
export interface ConfigSources {
  env?: NodeJS.ProcessEnv;
  /** A JSON file shaped like the configuration. Defaults to the PIPELINE_CONFIG_FILE variable. */
  file?: string;
  /** A CMLE notebook config.ini. Defaults to the AEP_CONFIG_INI variable. */
  configIni?: string;
  overrides?: DeepPartial<PipelineConfigInput>;
}

type DeepPartial<T> = T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

export interface LoadedConfig {
  config: PipelineConfig;
  /** Settings read but not used, with the reason. */
  warnings: string[];
}

type Tree = Record<string, unknown>;

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function setPath(tree: Tree, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = tree;
  for (const key of keys.slice(0, -1)) {
    if (!isTree(node[key])) {
      node[key] = {};
    }
    node = node[key] as Tree;
  }
  node[keys[keys.length - 1]] = value;
}

/** Deep merge where `undefined` never erases a value from an earlier source. */
function merge(base: Tree, layer: unknown): Tree {
  if (!isTree(layer)) {
    return base;
  }
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(layer)) {
    if (value === undefined) {
      continue;
    }
    out[key] = isTree(value) && isTree(out[key]) ? merge(out[key] as Tree, value) : value;
  }
  return out;
}

function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError('Cannot read the configuration file', [{ path: file, message: (error as Error).message }]);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError('The configuration file is not valid JSON', [{ path: file, message: (error as Error).message }]);
  }
}

function readIniFile(file: string): { input: PipelineConfigInput; warnings: string[] } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError('Cannot read the notebook config.ini', [{ path: file, message: (error as Error).message }]);
  }
  return configFromNotebookIni(parseConfigIni(text, file));
}

function envLayer(env: NodeJS.ProcessEnv): Tree {
  const layer: Tree = {};
  for (const variable of ENVIRONMENT_VARIABLES) {
    const raw = env[variable.name];
    if (raw !== undefined && raw !== '') {
      setPath(layer, variable.path, variable.parse(raw));
    }
  }
  return layer;
}

function issuesOf(error: z.ZodError): ConfigIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.') || '(root)';
    const names = ENVIRONMENT_VARIABLES.filter((v) => v.path === path || v.path.startsWith(`${path}.`)).map((v) => v.name);
    return { path, message: issue.message, source: names.length > 0 ? names.join(' or ') : undefined };
  });
}

/** Reads, merges and validates the configuration once, at the edge. Throws ConfigError listing every problem. */
export function loadConfig(sources: ConfigSources = {}): LoadedConfig {
  const env = sources.env ?? process.env;
  const warnings: string[] = [];
  let tree: Tree = {};

  const iniFile = sources.configIni ?? env.AEP_CONFIG_INI;
  if (iniFile) {
    const fromIni = readIniFile(iniFile);
    warnings.push(...fromIni.warnings);
    tree = merge(tree, fromIni.input);
  }
  const jsonFile = sources.file ?? env.PIPELINE_CONFIG_FILE;
  if (jsonFile) {
    tree = merge(tree, readJsonFile(jsonFile));
  }
  tree = merge(tree, envLayer(env));
  tree = merge(tree, sources.overrides);

  const parsed = pipelineConfigSchema.safeParse(tree);
  if (!parsed.success) {
    throw new ConfigError('Invalid configuration', issuesOf(parsed.error));
  }
  return { config: parsed.data, warnings };
}
