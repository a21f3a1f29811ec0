import type { PipelineConfig } from '../config/schema';
import type { Clock } from '../ports/clock';
import type { Log } from '../ports/logger';
import { AepClient } from './client';
import type { SecretFetcher } from './credentials';
import { QueryServiceConnectionFactory } from './query-connection';
import { Activation, BatchIngestion, Catalog, DataPrep, FlowService, QueryServiceApi, SchemaRegistry, Segmentation } from './services';

export * from './client';
export * from './errors';
export * from './retry';
export * from './services';
export { QueryServiceConnectionFactory } from './query-connection';
export { ImsTokenProvider } from './ims';
export { credentialsFrom, type ClientCredentials, type CredentialsSource } from './credentials';

/** One client and every service module over it. */
export interface AepServices {
  client: AepClient;
  schemaRegistry: SchemaRegistry;
  catalog: Catalog;
  ingestion: BatchIngestion;
  queryService: QueryServiceApi;
  queryConnections: QueryServiceConnectionFactory;
  flowService: FlowService;
  activation: Activation;
  dataPrep: DataPrep;
  segmentation: Segmentation;
}

export function createAepServices(config: PipelineConfig, extras: { clock?: Clock; log?: Log; fetchSecret?: SecretFetcher } = {}): AepServices {
  const client = AepClient.fromConfig(config, extras);
  return {
    client,
    schemaRegistry: new SchemaRegistry(client),
    catalog: new Catalog(client),
    ingestion: new BatchIngestion(client),
    queryService: new QueryServiceApi(client),
    queryConnections: new QueryServiceConnectionFactory({ client, queryService: config.aep.queryService }),
    flowService: new FlowService(client),
    activation: new Activation(client),
    dataPrep: new DataPrep(client),
    segmentation: new Segmentation(client),
  };
}
