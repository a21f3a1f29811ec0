import type { PipelineConfig } from '../config/schema';
import type { Clock } from '../ports/clock';
import type { Log } from '../ports/logger';
import { AepClient } from './client';
import type { SecretFetcher } from './credentials';
import { Activation, BatchIngestion, Catalog, DataPrep, FlowService, QueryServiceApi, SchemaRegistry, Segmentation } from './services';

/**
 * One client and every REST service module over it: what the stages and the provisioner use. Query
 * Service's wire protocol (the PostgreSQL driver) is apart, in `AepServices`, so the functions that do
 * not query leave the driver out of their bundles.
 */
export interface AepRestServices {
  client: AepClient;
  schemaRegistry: SchemaRegistry;
  catalog: Catalog;
  ingestion: BatchIngestion;
  queryService: QueryServiceApi;
  flowService: FlowService;
  activation: Activation;
  dataPrep: DataPrep;
  segmentation: Segmentation;
}

export function createAepRestServices(config: PipelineConfig, extras: { clock?: Clock; log?: Log; fetchSecret?: SecretFetcher } = {}): AepRestServices {
  const client = AepClient.fromConfig(config, extras);
  return {
    client,
    schemaRegistry: new SchemaRegistry(client),
    catalog: new Catalog(client),
    ingestion: new BatchIngestion(client),
    queryService: new QueryServiceApi(client),
    flowService: new FlowService(client),
    activation: new Activation(client),
    dataPrep: new DataPrep(client),
    segmentation: new Segmentation(client),
  };
}
