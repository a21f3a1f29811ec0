import { brotliDecompressSync, gunzipSync } from 'zlib';
import { parquetMetadataAsync, parquetRead, parquetSchema, type AsyncBuffer, type ColumnData, type FileMetaData, type RowGroup } from 'hyparquet';
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

// hyparquet decodes snappy itself; gzip and brotli go through Node's zlib, which is native code. Its
// Buffers are Uint8Arrays, and hyparquet reads them by their offset, so they are used as they are.
export const PARQUET_COMPRESSORS = {
  GZIP: (input: Uint8Array) => gunzipSync(input),
  BROTLI: (input: Uint8Array) => brotliDecompressSync(input),
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
      const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
      return (whole ? bytes.buffer : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) as ArrayBuffer;
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

/** A value read as a number: NaN for null, booleans as 0 and 1; anything else is an error naming the column. */
function numberValue(key: string, column: string, value: unknown): number {
  if (typeof value === 'number') return value;
  if (value === undefined || value === null) return NaN;
  if (typeof value === 'bigint') {
    const number = Number(value);
    if (!Number.isSafeInteger(number)) throw new ParquetReadError(key, `Export file ${key}: column ${column} holds ${value}, beyond a safe integer`);
    return number;
  }
  if (typeof value === 'boolean') return value ? 1 : 0;
  const shown = value instanceof Date ? value.toISOString() : typeof value === 'string' ? JSON.stringify(value) : 'a nested value';
  throw new ParquetReadError(key, `Export file ${key}: column ${column} holds ${shown}, not a number`);
}

/** One row group, column by column: `values[c][r]` is column `columns[c]` of the group's row `r`. */
export interface ParquetColumnBatch {
  key: string;
  rows: number;
  /** Columns read as plain values. */
  columns: readonly string[];
  values: ParquetValue[][];
  /**
   * Columns read as numbers (the `numbers` option), NaN for null. The arrays are reused for the next row
   * group of the stream: a consumer keeps what it needs before asking for the next batch.
   */
  numberColumns: readonly string[];
  numbers: Float64Array[];
}

/**
 * Reads one column of a row group. Columns are read one at a time, and each is converted before the
 * next is read: what the reader builds for a column (arrays, BigInts, boxed numbers) then lives only
 * briefly, and a young-generation collection frees it instead of promoting it.
 */
async function readColumn<T>(
  parquet: ParquetObject,
  column: string,
  rowStart: number,
  rows: number,
  into: (chunks: ColumnData[]) => T,
): Promise<T> {
  const { key } = parquet;
  // Chunks arrive in callbacks; they are converted after the read, so a bad value fails the read, not a callback.
  const chunks: ColumnData[] = [];
  try {
    await parquetRead({
      file: parquet.file,
      metadata: parquet.metadata,
      columns: [column],
      rowStart,
      rowEnd: rowStart + rows,
      compressors: PARQUET_COMPRESSORS,
      onChunk: (chunk) => chunks.push(chunk),
    });
  } catch (error) {
    throw new ParquetReadError(key, `Export file ${key} is not readable parquet: ${(error as Error).message}`);
  }
  return into(chunks);
}

/** Calls `each` with every value of the chunks that falls in the group's rows, by row index in the group. */
function forEachValue(chunks: ColumnData[], rowStart: number, rows: number, each: (row: number, value: unknown) => void): void {
  for (const chunk of chunks) {
    const from = Math.max(chunk.rowStart, rowStart);
    const to = Math.min(chunk.rowEnd, rowStart + rows);
    for (let row = from; row < to; row++) each(row - rowStart, chunk.columnData[row - chunk.rowStart]);
  }
}

/**
 * Reads one row group of an open parquet object: `columns` as plain values, `numbers` as numbers, into
 * `numberArrays` (one per number column, grown when too short).
 */
async function readRowGroup(
  parquet: ParquetObject,
  columns: readonly string[],
  numberColumns: readonly string[],
  numberArrays: Float64Array[],
  rowStart: number,
  rows: number,
): Promise<ParquetColumnBatch> {
  const { key } = parquet;
  // Numbers first: they go into reused arrays, so the plain values, new objects, are the last made and
  // the youngest when the consumer takes them.
  for (const [index, column] of numberColumns.entries()) {
    // numberArrays holds one array per number column.
    if (numberArrays[index]!.length < rows) numberArrays[index] = new Float64Array(rows);
    const target = numberArrays[index]!;
    target.fill(NaN, 0, rows);
    await readColumn(parquet, column, rowStart, rows, (chunks) =>
      forEachValue(chunks, rowStart, rows, (row, value) => (target[row] = numberValue(key, column, value))),
    );
  }
  const values: ParquetValue[][] = [];
  for (const column of columns) {
    values.push(
      await readColumn(parquet, column, rowStart, rows, (chunks) => {
        const [only] = chunks;
        // The usual case, one plain array holding exactly the group's rows, is converted where it lies.
        if (chunks.length === 1 && only && Array.isArray(only.columnData) && only.rowStart === rowStart && only.rowEnd === rowStart + rows) {
          const target = only.columnData as unknown[];
          for (let row = 0; row < rows; row++) target[row] = plainValue(key, column, target[row]);
          return target as ParquetValue[];
        }
        const target = new Array<ParquetValue>(rows).fill(null);
        forEachValue(chunks, rowStart, rows, (row, value) => (target[row] = plainValue(key, column, value)));
        return target;
      }),
    );
  }
  return { key, rows, columns, values, numberColumns, numbers: numberArrays.map((array) => array.subarray(0, rows)) };
}

function sliceOf(bytes: ArrayBuffer, start: number, end: number): ArrayBuffer {
  return start === 0 && end === bytes.byteLength ? bytes : bytes.slice(start, end);
}

/** Where a row group's column chunks lie in the file, all columns together; undefined when the footer does not say. */
function rowGroupBytes(group: RowGroup): { start: number; end: number } | undefined {
  let start = Infinity;
  let end = 0;
  for (const column of group.columns) {
    const meta = column.meta_data;
    if (!meta) return undefined;
    const offset = Number(meta.dictionary_page_offset || meta.data_page_offset);
    start = Math.min(start, offset);
    end = Math.max(end, offset + Number(meta.total_compressed_size));
  }
  return end > start ? { start, end } : undefined;
}

/**
 * Streams parquet objects one row group at a time, column by column: for consumers that work on whole
 * columns (scoring), where a row object per row would cost more than reading the file. `columns` are read
 * as plain values (all of the file's when neither option is given), `numbers` as Float64Arrays; a file
 * that lacks one fails naming the file and the column, a value in `numbers` that is not a number (or
 * null) fails naming the column. Each row group is fetched in one ranged read, and the next one's bytes
 * are fetched while the consumer works on this one, so the store's latency is hidden; one row group is
 * decoded at a time.
 */
export async function* parquetColumnBatches(
  store: ObjectStore,
  keys: readonly string[],
  options: { columns?: readonly string[]; numbers?: readonly string[] } = {},
): AsyncGenerator<ParquetColumnBatch> {
  const numberColumns = options.numbers ?? [];
  const numberArrays = numberColumns.map(() => new Float64Array(0));
  for (const key of keys) {
    const parquet = await openParquetObject(store, key);
    const columns = options.columns ?? (options.numbers ? [] : parquet.columns);
    const missing = [...columns, ...numberColumns].filter((column) => !parquet.columns.includes(column));
    if (missing.length > 0) {
      throw new ParquetReadError(key, `Export file ${key} lacks the column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (it has ${parquet.columns.join(', ')})`);
    }
    const groups = parquet.metadata.row_groups;
    const fetched = new Map<number, Promise<ArrayBuffer>>();
    const fetch = (index: number) => {
      const range = rowGroupBytes(groups[index]!); // called with indices of groups only
      if (!range || fetched.has(index)) return;
      const bytes = Promise.resolve(parquet.file.slice(range.start, range.end));
      // Awaited when its row group is read; a consumer that stops early must not leave an unhandled rejection.
      bytes.catch(() => undefined);
      fetched.set(index, bytes);
    };
    let rowStart = 0;
    for (const [index, group] of groups.entries()) {
      fetch(index);
      const range = rowGroupBytes(group);
      const bytes = fetched.get(index);
      const file: AsyncBuffer = {
        byteLength: parquet.file.byteLength,
        slice: async (start, end = parquet.file.byteLength) =>
          range && bytes && start >= range.start && end <= range.end ? sliceOf(await bytes, start - range.start, end - range.start) : parquet.file.slice(start, end),
      };
      const rows = Number(group.num_rows);
      const batch = await readRowGroup({ ...parquet, file }, columns, numberColumns, numberArrays, rowStart, rows);
      fetched.delete(index);
      // The next group's bytes arrive while the consumer works on this one; asked for only now, they are
      // held for as short a time as that allows.
      if (index + 1 < groups.length) fetch(index + 1);
      rowStart += rows;
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
      // One value array per column, each batch.rows long.
      for (let c = 0; c < batch.columns.length; c++) row[batch.columns[c]!] = batch.values[c]![r]!;
      yield row;
    }
  }
}
