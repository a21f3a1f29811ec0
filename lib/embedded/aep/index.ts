/**
 * The embedded platform's AEP stand-in. See server.ts.
 */
export { AepStandIn, type AepStandInOptions, type ExchangeListener, type RecordedExchange } from './server';
export { FaultInjector, type FaultSpec } from './faults';
export { DEFAULT_SCOPE } from './ims';
export { BATCH_ERROR } from './xdm-tables';
export { EXPORT_SPECS, S3_ROLE_AUTH, type ObjectStoreAccess } from './flow-service';
export { ACTIVATION_PATH, DATASET_ACTIVATION_ACCEPT } from './activation';
export { SNAPSHOT_COLUMN, SNAPSHOTS_TABLE } from './snapshots';
