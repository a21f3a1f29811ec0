import { openParquetObject } from '../parquet/rows';
import type { ObjectStore } from '../ports/object-store';

export class ExportVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportVerificationError';
  }
}

export interface ExportedFile {
  key: string;
  bytes: number;
  rows: number;
}

export interface ExportedFolder {
  /** `<egress>/<datasetId>/exportTime=<UTC YYYYMMDDHHMMSS>/` */
  prefix: string;
  exportTime: string;
  files: ExportedFile[];
  rows: number;
  columns: string[];
}

const EXPORT_TIME = /exportTime=(\d{14})\/$/;

/** The export folders AEP has written for a dataset, oldest first. */
export async function exportFolders(store: ObjectStore, egressPrefix: string, datasetId: string): Promise<string[]> {
  const folders = new Set<string>();
  for await (const object of store.list(`${egressPrefix}${datasetId}/`)) {
    const folder = object.key.slice(0, object.key.lastIndexOf('/') + 1);
    if (EXPORT_TIME.test(folder)) folders.add(folder);
  }
  return [...folders].sort();
}

/**
 * Reads the footers of an export folder's parquet files: each must open, and together they give the
 * row count and the column names. A missing, empty or unreadable file is an error naming its key.
 */
export async function inspectExportFolder(store: ObjectStore, prefix: string): Promise<ExportedFolder> {
  const exportTime = EXPORT_TIME.exec(prefix)?.[1];
  if (!exportTime) {
    throw new ExportVerificationError(`${prefix} is not an export folder (<dataset>/exportTime=<YYYYMMDDHHMMSS>/)`);
  }
  const files: ExportedFile[] = [];
  let columns: string[] | undefined;
  for await (const object of store.list(prefix)) {
    if (!object.key.endsWith('.parquet')) continue;
    const parquet = await openParquetObject(store, object.key);
    if (columns && parquet.columns.join(',') !== columns.join(',')) {
      throw new ExportVerificationError(`Export file ${object.key} has columns ${parquet.columns.join(', ')}, unlike the other parts (${columns.join(', ')})`);
    }
    columns = parquet.columns;
    files.push({ key: object.key, bytes: object.size, rows: parquet.rows });
  }
  if (files.length === 0) {
    throw new ExportVerificationError(`No parquet files under ${prefix}`);
  }
  return { prefix, exportTime, files, rows: files.reduce((n, f) => n + f.rows, 0), columns: columns ?? [] };
}

/**
 * Checks an export, the folders AEP wrote for one dataset since the last recorded export, against what
 * the featurize queries produced: every folder has the expected columns, and together they hold the rows.
 */
export function verifyExport(folders: readonly ExportedFolder[], expected: { rows?: number; columns: string[] }): void {
  for (const folder of folders) {
    const missing = expected.columns.filter((c) => !folder.columns.includes(c));
    if (missing.length > 0) {
      throw new ExportVerificationError(`Export ${folder.prefix} lacks the columns ${missing.join(', ')}`);
    }
  }
  const rows = folders.reduce((n, f) => n + f.rows, 0);
  if (expected.rows !== undefined && rows !== expected.rows) {
    const where = folders.length === 1 ? `Export ${folders[0]!.prefix}` : `The ${folders.length} export folders ${folders.map((f) => f.prefix).join(', ')}`;
    throw new ExportVerificationError(`${where} ${folders.length === 1 ? 'holds' : 'hold'} ${rows} rows; the query produced ${expected.rows}`);
  }
}
