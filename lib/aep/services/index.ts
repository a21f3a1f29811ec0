export * from './schema-registry';
export * from './catalog';
export * from './batch-ingestion';
export * from './query-service';
export * from './flow-service';
export * from './activation';
export * from './data-prep';
export * from './segmentation';
