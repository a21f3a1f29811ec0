import * as fs from 'fs';
import * as z from 'zod';
import { configFromNotebookIni, parseConfigIni } from './config-ini';
import { ConfigError, type ConfigIssue } from './errors';
import { pipelineConfigSchema, type PipelineConfig, type PipelineConfigInput } from './schema';
import { parseVariable, SETTINGS, settingsIn, type Setting, type SettingScope } from './settings';

/** Where the configuration comes from; later sources override earlier ones: config.ini, JSON file, environment, overrides. */
export interface ConfigSources {
  env?: NodeJS.ProcessEnv;
  /** A JSON file shaped like the configuration. Defaults to the PIPELINE_CONFIG_FILE variable. */
  file?: string | undefined;
  /** A CMLE notebook config.ini. Defaults to the AEP_CONFIG_INI variable. */
  configIni?: string | undefined;
  overrides?: DeepPartial<PipelineConfigInput>;
  /**
   * Read only the variables of these settings, as a function reads only what its construct gives it.
   * @default every setting
   */
  scopes?: readonly SettingScope[];
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
  // split gives at least one part.
  node[keys[keys.length - 1]!] = value;
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
    out[key] = isTree(value) && isTree(out[key]) ? merge(out[key], value) : value;
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

function envLayer(env: NodeJS.ProcessEnv, settings: readonly Setting[]): Tree {
  const layer: Tree = {};
  for (const setting of settings) {
    const raw = env[setting.variable];
    if (raw !== undefined && raw !== '') {
      setPath(layer, setting.path, parseVariable(setting, raw));
    }
  }
  return layer;
}

/** The variables that set a path or anything under it, to tell the user where to fix a problem. */
export function variablesFor(path: string): string | undefined {
  const names = (SETTINGS as readonly Setting[]).filter((s) => s.path === path || s.path.startsWith(`${path}.`)).map((s) => s.variable);
  return names.length > 0 ? names.join(' or ') : undefined;
}

function issuesOf(error: z.ZodError): ConfigIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.') || '(root)';
    return { path, message: issue.message, source: variablesFor(path) };
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
  tree = merge(tree, envLayer(env, sources.scopes ? settingsIn(sources.scopes) : SETTINGS));
  tree = merge(tree, sources.overrides);

  const parsed = pipelineConfigSchema.safeParse(tree);
  if (!parsed.success) {
    throw new ConfigError('Invalid configuration', issuesOf(parsed.error));
  }
  return { config: parsed.data, warnings };
}
