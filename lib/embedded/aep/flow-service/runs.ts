/**
 * Runs as Flow Service returns them: a dataset export's and an ingestion's share their envelope and
 * status, and differ in their metrics (an export counts the files it wrote, an ingestion the files it read).
 */
import { INGESTION_SPECS, type IngestionRun } from '../source-ingestion';
import { EXPORT_SPECS, type ExportRun } from './model';

function runHead(run: { id: string; flowId: string; etag: string }, flowSpecId: string, meta: Record<string, unknown>): Record<string, unknown> {
  return { ...meta, flowId: run.flowId, flowSpec: { id: flowSpecId, version: '1.0' }, providerRefId: run.id.replace(/-/g, ''), etag: run.etag };
}

/** A dataset export run (destinations.yaml). */
export function renderExportRun(r: ExportRun, meta: Record<string, unknown>): Record<string, unknown> {
  const status = r.state;
  const errors = r.errors.map((e) => ({ ...e }));
  const durationSummary: Record<string, unknown> = {};
  if (r.startedAt !== undefined) durationSummary.startedAtUTC = r.startedAt;
  if (r.completedAt !== undefined) durationSummary.completedAtUTC = r.completedAt;
  const outputBytes = r.files.reduce((n, f) => n + f.bytes, 0);
  const recordSummary: Record<string, unknown> = {};
  if (r.inputRecords !== undefined) {
    Object.assign(recordSummary, {
      inputRecordCount: r.inputRecords,
      outputRecordCount: r.outputRecords ?? 0,
      failedRecordCount: r.state === 'failed' ? r.inputRecords - (r.outputRecords ?? 0) : 0,
      sourceSummaries: [{ id: r.datasetId, inputRecordCount: r.inputRecords }],
      targetSummaries: [{ id: r.targetConnectionId, outputRecordCount: r.outputRecords ?? 0 }],
    });
  }
  if (errors.length > 0) recordSummary.failedInfo = errors.map((e) => ({ ...e, type: 'Error' }));
  const metrics: Record<string, unknown> = {
    durationSummary,
    sizeSummary: r.inputBytes !== undefined ? { inputBytes: r.inputBytes, outputBytes } : {},
    recordSummary,
    fileSummary: {
      outputFileCount: r.files.length,
      manifest: { fileInfo: r.files.map((f) => ({ path: f.key, pathPrefix: r.folder ?? '', outputBytes: f.bytes, recordCount: f.rows })) },
    },
    statusSummary: errors.length > 0 ? { status, errors } : { status },
  };
  return {
    ...runHead(r, EXPORT_SPECS.datasetExportFlow, meta),
    metrics,
    status: { value: status, errors },
  };
}

/** An ingestion run (FlowRunItemDTO of flow-service.yaml). */
export function renderIngestionRun(run: IngestionRun, meta: Record<string, unknown>): Record<string, unknown> {
  const status = run.state;
  const errors = run.errors.map((e) => ({ ...e }));
  const durationSummary: Record<string, unknown> = { startedAtUTC: run.startedAt };
  if (run.completedAt !== undefined) durationSummary.completedAtUTC = run.completedAt;
  const failedRecords = run.state === 'failed' ? run.inputRecords : run.inputRecords - run.outputRecords;
  const recordSummary: Record<string, unknown> = {
    inputRecordCount: run.inputRecords,
    outputRecordCount: run.outputRecords,
    failedRecordCount: run.state === 'inProgress' ? 0 : failedRecords,
  };
  if (errors.length > 0) recordSummary.failedInfo = errors.map((e) => ({ ...e, type: 'Error' }));
  const loaded = run.state === 'success';
  return {
    ...runHead(run, INGESTION_SPECS.cloudStorageFlow, meta),
    metrics: {
      durationSummary,
      sizeSummary: { inputBytes: run.inputBytes, outputBytes: 0 },
      recordSummary,
      fileSummary: {
        inputFileCount: run.files.length,
        outputFileCount: loaded && run.batchId ? 1 : 0,
        failedFileCount: run.state === 'failed' ? run.files.length : 0,
        manifest: {
          fileInfo: run.files.map((f) => ({
            path: `${run.bucket}/${f.key}`,
            pathPrefix: run.sourcePath,
            inputBytes: f.bytes,
            recordCount: loaded ? f.records - f.failed : 0,
            failedRecordCount: loaded ? f.failed : f.records,
          })),
        },
      },
      statusSummary: errors.length > 0 ? { status, errors } : { status },
    },
    ...(run.batchId ? { batchId: run.batchId } : {}),
    status: { value: status, errors },
  };
}
