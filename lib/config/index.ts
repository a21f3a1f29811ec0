export * from './schema';
export * from './errors';
export { loadConfig, ENVIRONMENT_VARIABLES, type ConfigSources, type LoadedConfig } from './load';
export { parseConfigIni, configFromNotebookIni } from './config-ini';
