import { createAepServices, type AepServices } from '../aep';
import { createS3Client, S3ObjectStore } from '../aws/s3-object-store';
import { loadConfig } from '../config/load';
import type { PipelineConfig } from '../config/schema';
import { RunLedger } from '../ledger/run-ledger';
import { systemClock, type Clock } from '../ports/clock';
import type { Log } from '../ports/logger';
import type { QueryRunner } from '../ports/query-runner';
import { dialectFor, type SqlDialect } from '../sql/dialect';
import { powertoolsLog } from './powertools-log';

/** What every stage handler builds from its environment: configuration and the ports over it. */
export interface StageContext {
  config: PipelineConfig;
  aep: AepServices;
  store: S3ObjectStore;
  ledger: RunLedger;
  query: QueryRunner;
  dialect: SqlDialect;
  clock: Clock;
  log: Log;
}

const contexts = new Map<string, StageContext>();

/**
 * Built once per container, on first use: warm invocations reuse the IMS token cache and the HTTP
 * keep-alive connections. Invalid configuration fails here, naming every problem.
 */
export function stageContext(serviceName: string): StageContext {
  let context = contexts.get(serviceName);
  if (!context) {
    const log = powertoolsLog(serviceName);
    const { config, warnings } = loadConfig();
    warnings.forEach((w) => log.warn(w));
    const aep = createAepServices(config, { log });
    const store = new S3ObjectStore(createS3Client(config.storage), config.storage.bucket);
    context = {
      config,
      aep,
      store,
      ledger: new RunLedger(store, config.storage.prefixes.runs, systemClock),
      query: aep.queryConnections.runner(),
      dialect: dialectFor(config.aep.queryService.dialect),
      clock: systemClock,
      log,
    };
    contexts.set(serviceName, context);
  }
  return context;
}
