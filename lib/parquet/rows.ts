import { brotliDecompressSync, gunzipSync } from 'zlib';
import { parquetMetadataAsync, parquetRead, parquetSchema, type AsyncBuffer, type ColumnData, type FileMetaData } from 'hyparquet';
import type { ObjectStore } from '../ports/object-store';

/** A parquet object that cannot be read as the caller needs: the message names its key. */
export class ParquetReadError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
    this.name = 'ParquetReadError';
  }
}

export type ParquetValue = number | string | boolean | null;
export type ParquetRow = Record<string, ParquetValue>;

/** An open parquet object: its footer, read; its row groups, read on demand. */
export interface ParquetObject {
  key: string;
  metadata: FileMetaData;
  columns: string[];
  rows: number;
  file: AsyncBuffer;
}

// hyparquet decodes snappy itself; gzip and brotli go through Node's zlib, which is native code.
const COMPRESSORS = {
  GZIP: (input: Uint8Array) => new Uint8Array(gunzipSync(input)),
  BROTLI: (input: Uint8Array) => new Uint8Array(brotliDecompressSync(input)),
};

/**
 * Opens a parquet object through ranged GETs: the footer first, then each row group's column chunks
 * when asked, so memory follows a row group, never the file. A missing or malformed object is an error
 * naming its key.
 */
export async function openParquetObject(store: ObjectStore, key: string): Promise<ParquetObject> {
  const object = await store.head(key);
  if (!object) throw new ParquetReadError(key, `Parquet file ${key} does not exist`);
  const file: AsyncBuffer = {
    byteLength: object.size,
    slice: async (start, end) => {
      const bytes = await store.getRange(key, start, (end ?? object.size) - start);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
    },
  };
  try {
    const metadata = await parquetMetadataAsync(file);
    const columns = parquetSchema(metadata).children.map((child) => child.element.name);
    return { key, metadata, columns, rows: Number(metadata.num_rows), file };
  } catch (error) {
    throw new ParquetReadError(key, `Export file ${key} is not readable parquet: ${(error as Error).message}`);
  }
}

/**
 * Plain values: INT64 comes back as BigInt and is made a Number (counts and minutes fit easily);
 * timestamps become ISO strings; an absent optional value is null.
 */
function plainValue(key: string, column: string, value: unknown): ParquetValue {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') {
    const number = Number(value);
    if (!Number.isSafeInteger(number)) throw new ParquetReadError(key, `Export file ${key}: column ${column} holds ${value}, beyond a safe integer`);
    return number;
  }
  if (value instanceof Date) return value.toISOString();
  throw new ParquetReadError(key, `Export file ${key}: column ${column} holds a nested value; only flat columns are read`);
}

/** One row group's values, column by column: `values[c][r]` is column `columns[c]` of the group's row `r`. */
export interface ParquetColumnBatch {
  key: string;
  columns: readonly string[];
  rows: number;
  values: ParquetValue[][];
}

/** Reads one row group of an open parquet object, the given columns as plain values. */
async function readRowGroup(parquet: ParquetObject, columns: readonly string[], rowStart: number, rows: number): Promise<ParquetColumnBatch> {
  const { key } = parquet;
  const rowEnd = rowStart + rows;
  // Chunks arrive in callbacks; they are converted after the read, so a bad value fails the read, not a callback.
  const chunks: ColumnData[] = [];
  try {
    await parquetRead({
      file: parquet.file,
      metadata: parquet.metadata,
      columns: [...columns],
      rowStart,
      rowEnd,
      compressors: COMPRESSORS,
      onChunk: (chunk) => chunks.push(chunk),
    });
  } catch (error) {
    throw new ParquetReadError(key, `Export file ${key} is not readable parquet: ${(error as Error).message}`);
  }
  const values = columns.map((column) => {
    const own = chunks.filter((chunk) => chunk.columnName === column);
    const [only] = own;
    // The usual case, one plain array holding exactly the group's rows, is converted where it lies.
    const target: unknown[] =
      own.length === 1 && Array.isArray(only.columnData) && only.rowStart === rowStart && only.rowEnd === rowEnd ? only.columnData : new Array<unknown>(rows).fill(null);
    for (const chunk of own) {
      if (chunk.columnData === target) continue;
      const from = Math.max(chunk.rowStart, rowStart);
      const to = Math.min(chunk.rowEnd, rowEnd);
      for (let row = from; row < to; row++) target[row - rowStart] = chunk.columnData[row - chunk.rowStart];
    }
    for (let row = 0; row < rows; row++) target[row] = plainValue(key, column, target[row]);
    return target as ParquetValue[];
  });
  return { key, columns, rows, values };
}

/**
 * Streams parquet objects one row group at a time, column by column: for consumers that work on whole
 * columns (scoring), where a row object per row would cost more than reading the file. With `columns`,
 * only those are read, in that order, and a file that lacks one fails naming the file and the column.
 * The next row group is read while the consumer works on this one, so the store's latency is hidden;
 * at most two row groups are held.
 */
export async function* parquetColumnBatches(
  store: ObjectStore,
  keys: readonly string[],
  options: { columns?: readonly string[] } = {},
): AsyncGenerator<ParquetColumnBatch> {
  for (const key of keys) {
    const parquet = await openParquetObject(store, key);
    const columns = options.columns ?? parquet.columns;
    const missing = columns.filter((column) => !parquet.columns.includes(column));
    if (missing.length > 0) {
      throw new ParquetReadError(key, `Export file ${key} lacks the column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (it has ${parquet.columns.join(', ')})`);
    }
    const groups: Array<{ rowStart: number; rows: number }> = [];
    for (let i = 0, rowStart = 0; i < parquet.metadata.row_groups.length; i++) {
      const rows = Number(parquet.metadata.row_groups[i].num_rows);
      groups.push({ rowStart, rows });
      rowStart += rows;
    }
    const read = (index: number) => {
      const batch = readRowGroup(parquet, columns, groups[index].rowStart, groups[index].rows);
      // Awaited in turn below; a consumer that stops early must not leave an unhandled rejection.
      batch.catch(() => undefined);
      return batch;
    };
    let next = groups.length > 0 ? read(0) : undefined;
    for (let index = 0; next; index++) {
      const batch = await next;
      next = index + 1 < groups.length ? read(index + 1) : undefined;
      yield batch;
    }
  }
}

/**
 * Streams the rows of parquet objects, one file and one row group at a time. With `columns`, only those
 * are read, in that order, and a file that lacks one fails naming the file and the column.
 */
export async function* parquetRows(store: ObjectStore, keys: readonly string[], options: { columns?: readonly string[] } = {}): AsyncGenerator<ParquetRow> {
  for await (const batch of parquetColumnBatches(store, keys, options)) {
    for (let r = 0; r < batch.rows; r++) {
      const row: ParquetRow = {};
      for (let c = 0; c < batch.columns.length; c++) row[batch.columns[c]] = batch.values[c][r];
      yield row;
    }
  }
}
