import type { PipelineConfig } from '../config/schema';
import type { Clock } from '../ports/clock';
import type { Log } from '../ports/logger';
import type { SecretFetcher } from './credentials';
import { QueryServiceConnectionFactory } from './query-connection';
import { createAepRestServices, type AepRestServices } from './rest-services';

export * from './client';
export * from './errors';
export * from './retry';
export * from './services';
export { QueryServiceConnectionFactory } from './query-connection';
export { createAepRestServices, type AepRestServices } from './rest-services';
export { ImsTokenProvider } from './ims';
export { credentialsFrom, type ClientCredentials, type CredentialsSource } from './credentials';

/** The REST services and Query Service's wire protocol: what the command line and the local run use. */
export interface AepServices extends AepRestServices {
  queryConnections: QueryServiceConnectionFactory;
}

export function createAepServices(config: PipelineConfig, extras: { clock?: Clock; log?: Log; fetchSecret?: SecretFetcher } = {}): AepServices {
  const services = createAepRestServices(config, extras);
  return { ...services, queryConnections: new QueryServiceConnectionFactory({ client: services.client, queryService: config.aep.queryService }) };
}
