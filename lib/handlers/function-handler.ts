import { Logger } from '@aws-lambda-powertools/logger';
import { createAepRestServices, type AepRestServices } from '../aep/rest-services';
import { createS3Client, S3ObjectStore } from '../aws/s3-object-store';
import { ConfigError, type ConfigIssue } from '../config/errors';
import { loadConfig } from '../config/load';
import { settingAt } from '../config/settings';
import type { PipelineConfig } from '../config/schema';
import { RunLedger } from '../ledger/run-ledger';
import { systemClock, type Clock } from '../ports/clock';
import type { Log } from '../ports/logger';
import { PROVISIONER, STAGES, type FunctionDefinition, type StageName } from '../stages/registry';

/**
 * What every handler builds from its environment: configuration and the ports over it. Ports only some
 * functions need (Query Service's wire protocol) come from the handler's own `ports`, so the others'
 * bundles leave them out.
 */
export interface FunctionContext {
  config: PipelineConfig;
  aep: AepRestServices;
  store: S3ObjectStore;
  ledger: RunLedger;
  clock: Clock;
  log: Log;
}

/** More ports for one function, built once at cold start from the common context. */
export type ExtraPorts<X extends object> = (context: FunctionContext) => X;

/** The part of Lambda's invocation context the logs carry. */
export interface InvocationContext {
  awsRequestId: string;
  functionName: string;
  functionVersion?: string;
  invokedFunctionArn?: string;
  memoryLimitInMB?: string;
}

/**
 * The function's configuration, read from exactly the variables of the settings its definition names
 * (what its construct sets), with every required one present. Throws one ConfigError naming every
 * missing or invalid setting.
 */
export function loadFunctionConfig(definition: FunctionDefinition, env: NodeJS.ProcessEnv = process.env): { config: PipelineConfig; warnings: string[] } {
  let loaded: { config: PipelineConfig; warnings: string[] } | undefined;
  let invalid: ConfigIssue[] = [];
  try {
    loaded = loadConfig({ env, scopes: definition.settings });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    invalid = error.issues;
  }
  const missing = definition.required
    .filter((path) => !env[settingAt(path).variable] && !invalid.some((issue) => issue.path === path))
    .map((path) => ({ path, source: settingAt(path).variable, message: 'is required' }));
  if (loaded && missing.length === 0) return loaded;
  throw new ConfigError(`The function of ${definition.entry} cannot start`, [...invalid, ...missing]);
}

function logOver(logger: Logger): Log {
  return {
    debug: (message, attributes) => logger.debug(message, ...(attributes ? [attributes] : [])),
    info: (message, attributes) => logger.info(message, ...(attributes ? [attributes] : [])),
    warn: (message, attributes) => logger.warn(message, ...(attributes ? [attributes] : [])),
    error: (message, attributes) => logger.error(message, ...(attributes ? [attributes] : [])),
  };
}

function buildContext<X extends object>(config: PipelineConfig, log: Log, ports: ExtraPorts<X> | undefined): FunctionContext & X {
  const aep = createAepRestServices(config, { log });
  const store = new S3ObjectStore(createS3Client(config.storage), config.storage.bucket);
  const context: FunctionContext = {
    config,
    aep,
    store,
    ledger: new RunLedger(store, config.storage.prefixes.runs, systemClock),
    clock: systemClock,
    log,
  };
  return { ...context, ...(ports ? ports(context) : ({} as X)) };
}

/**
 * A Lambda handler in the style of Powertools middleware. At cold start it loads the configuration
 * (failing with every missing setting named) and builds the ports, which warm invocations reuse with
 * their IMS token cache and keep-alive connections. Every log line carries the Lambda context (request
 * id, cold start, function name). A scheduled stage refuses an event meant for another stage, so a
 * schedule pointed at the wrong function fails loudly instead of running the wrong work.
 */
function wrap<E, R, X extends object>(
  serviceName: string,
  definition: FunctionDefinition,
  stage: StageName | undefined,
  run: (context: FunctionContext & X, event: E | undefined) => Promise<R>,
  ports?: ExtraPorts<X>,
) {
  const logger = new Logger({ serviceName });
  const log = logOver(logger);
  let context: (FunctionContext & X) | undefined;
  return async (event?: E, invocation?: InvocationContext): Promise<R> => {
    if (invocation) logger.addContext(invocation as Parameters<Logger['addContext']>[0]);
    try {
      if (stage !== undefined) {
        const asked = (event as { stage?: unknown } | null | undefined)?.stage;
        if (asked !== undefined && asked !== stage) {
          throw new Error(`This function runs the ${stage} stage; the event asks for ${JSON.stringify(asked)}: check the schedule's target`);
        }
      }
      if (!context) {
        const { config, warnings } = loadFunctionConfig(definition);
        warnings.forEach((w) => log.warn(w));
        context = buildContext(config, log, ports);
      }
      return await run(context, event);
    } catch (error) {
      log.error(`${serviceName} failed`, { error: error instanceof Error ? error.message : String(error) });
      throw error;
    }
  };
}

/** A stage's event: `{"stage": "<name>"}` from its schedule, with what an operator may add (the audience's `onDemand`). */
export type StageEvent = { stage?: string } & Record<string, unknown>;

/**
 * The handler of a scheduled stage, invoked by its schedule with `{"stage": "<name>"}`; `ports` adds
 * what only this stage needs to its context.
 */
export function stageHandler<R, X extends object = Record<never, never>>(
  stage: StageName,
  run: (context: FunctionContext & X, event: StageEvent | undefined) => Promise<R>,
  ports?: ExtraPorts<X>,
) {
  return wrap<StageEvent | undefined, R, X>(`aep-${stage}`, STAGES[stage], stage, (context, event) => run(context, event), ports);
}

/** The handler of the AEP provisioner, invoked by Terraform with the resource's input. */
export function provisionerHandler<R>(run: (context: FunctionContext, event: unknown) => Promise<R>) {
  return wrap<unknown, R, Record<never, never>>('aep-provisioner', PROVISIONER, undefined, run);
}
