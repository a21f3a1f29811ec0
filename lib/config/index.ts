export * from './schema';
export * from './errors';
export { loadConfig, variablesFor, type ConfigSources, type LoadedConfig } from './load';
export * from './settings';
export { parseConfigIni, configFromNotebookIni } from './config-ini';
