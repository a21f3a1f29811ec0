/**
 * The embedded platform's AEP stand-in. See server.ts.
 */
export { AepStandIn, type AepStandInOptions, type ExchangeListener, type RecordedExchange } from './server';
export { FaultInjector, type FaultSpec, type RunFaultSpec } from './faults';
export { DEFAULT_SCOPE } from './ims';
export { BATCH_ERROR } from './xdm-tables';
export { EXPORT_SPECS, S3_ROLE_AUTH, type ObjectStoreAccess } from './flow-service';
export { INGESTION_SPECS, S3_IAM_ROLE_AUTH } from './source-ingestion';
export { DATA_PREP_BASE } from './data-prep';
export { ACTIVATION_PATH, DATASET_ACTIVATION_ACCEPT } from './activation';
export { SNAPSHOT_COLUMN, SNAPSHOTS_TABLE } from './snapshots';
