import { gzipSync } from 'zlib';
import type { SchemaElement } from 'hyparquet';
import { ByteWriter, ParquetWriter } from 'hyparquet-writer';

/**
 * Writing flat parquet files with hyparquet-writer, a row group at a time: what the embedded dataset
 * export writes, and the fixtures tests and benchmarks write in its place.
 *
 * | type             | parquet                          | values taken                                  |
 * |------------------|----------------------------------|-----------------------------------------------|
 * | UTF8             | BYTE_ARRAY, converted type UTF8  | strings                                       |
 * | DOUBLE           | DOUBLE                           | numbers; numeric text ("NaN", "Infinity", …)  |
 * | INT64            | INT64                            | BigInts, whole numbers, integer text          |
 * | BOOLEAN          | BOOLEAN                          | booleans                                      |
 * | TIMESTAMP_MILLIS | INT64, converted TIMESTAMP_MILLIS | Dates, milliseconds since the epoch           |
 * | DATE             | INT32, converted type DATE       | Dates, days since the epoch                   |
 *
 * null and undefined are an absent value, allowed in optional columns only. hyparquet reads INT64 back
 * as BigInt, TIMESTAMP_MILLIS and DATE as Dates. Pages are data page v2 (the only kind hyparquet-writer
 * writes), compressed with the file's codec; each column chunk carries min/max statistics.
 */
export type ParquetColumnType = 'UTF8' | 'DOUBLE' | 'INT64' | 'BOOLEAN' | 'TIMESTAMP_MILLIS' | 'DATE';
export type ParquetCodec = 'GZIP' | 'SNAPPY' | 'UNCOMPRESSED';

export interface ParquetColumnSpec {
  name: string;
  type: ParquetColumnType;
  /** @default true */
  optional?: boolean;
}

export interface ParquetFileOptions {
  /** @default 'GZIP' */
  codec?: ParquetCodec;
  /** Rows per row group. @default 10_000 */
  rowGroupRows?: number;
}

const ELEMENTS: Record<ParquetColumnType, Pick<SchemaElement, 'type' | 'converted_type'>> = {
  UTF8: { type: 'BYTE_ARRAY', converted_type: 'UTF8' },
  DOUBLE: { type: 'DOUBLE' },
  INT64: { type: 'INT64' },
  BOOLEAN: { type: 'BOOLEAN' },
  TIMESTAMP_MILLIS: { type: 'INT64', converted_type: 'TIMESTAMP_MILLIS' },
  DATE: { type: 'INT32', converted_type: 'DATE' },
};

const DAY_MS = 86_400_000;

/** A value as hyparquet-writer takes it for a column of `type`; undefined when it does not fit. */
function writable(type: ParquetColumnType, value: unknown): unknown {
  switch (type) {
    case 'UTF8':
      return typeof value === 'string' ? value : undefined;
    case 'DOUBLE':
      if (typeof value === 'number') return value;
      if (typeof value === 'bigint') return Number(value);
      if (typeof value === 'string') {
        // PostgreSQL spells NaN and the infinities as text.
        const number = Number(value);
        return value.trim() === '' || (Number.isNaN(number) && value.trim() !== 'NaN') ? undefined : number;
      }
      return undefined;
    case 'INT64':
      if (typeof value === 'bigint') return value;
      if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
      if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
      return undefined;
    case 'BOOLEAN':
      return typeof value === 'boolean' ? value : undefined;
    case 'TIMESTAMP_MILLIS':
      if (value instanceof Date) return BigInt(value.getTime());
      if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
      if (typeof value === 'bigint') return value;
      return undefined;
    case 'DATE':
      if (value instanceof Date) return Math.floor(value.getTime() / DAY_MS);
      if (typeof value === 'number' && Number.isInteger(value)) return value;
      return undefined;
  }
}

/** Holds the bytes of one row group at a time and hands them to the sink once the group is written. */
class SinkWriter extends ByteWriter {
  constructor(private readonly sink: (bytes: Uint8Array) => void | Promise<void>) {
    super(64 * 1024);
  }

   
  flush(): Promise<void> {
    // A copy: the buffer is reused for the next row group.
    const bytes = this.getBytes().slice();
    this.index = 0;
    return Promise.resolve(this.sink(bytes));
  }

  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- our close() awaits it; ByteWriter's own finish returns nothing to wait for
  finish(): Promise<void> {
    return this.flush();
  }
}

/**
 * One parquet file, written a row at a time: rows are gathered into a row group column by column, and
 * each full group is encoded and handed to `sink` (awaited, so a slow sink holds the writer back), then
 * the footer on `close`. Memory follows one row group, never the file.
 */
export class ParquetFileWriter {
  private readonly writer: ParquetWriter;
  private readonly codec: ParquetCodec;
  private readonly rowGroupRows: number;
  private columnValues: unknown[][];
  private rows = 0;
  private closed = false;

  constructor(
    private readonly columns: readonly ParquetColumnSpec[],
    sink: (bytes: Uint8Array) => void | Promise<void>,
    options: ParquetFileOptions = {},
  ) {
    if (columns.length === 0) throw new Error('A parquet file needs at least one column');
    this.codec = options.codec ?? 'GZIP';
    this.rowGroupRows = options.rowGroupRows ?? 10_000;
    const schema: SchemaElement[] = [
      { name: 'root', num_children: columns.length },
      ...columns.map((c): SchemaElement => ({ name: c.name, ...ELEMENTS[c.type], repetition_type: c.optional === false ? 'REQUIRED' : 'OPTIONAL' })),
    ];
    this.writer = new ParquetWriter({
      writer: new SinkWriter(sink),
      schema,
      codec: this.codec,
      compressors: { GZIP: (bytes) => gzipSync(bytes) },
    });
    this.columnValues = columns.map(() => []);
  }

  /** Adds one row, its values in column order; writes the row group when it is full. */
  async writeRow(values: readonly unknown[]): Promise<void> {
    if (this.closed) throw new Error('The parquet file is closed');
    for (let i = 0; i < this.columns.length; i++) {
      // i < columns.length, and columnValues holds one list per column.
      const column = this.columns[i]!;
      const value = values[i];
      if (value === null || value === undefined) {
        if (column.optional === false) throw new Error(`Parquet column ${column.name} is required and has no value`);
        this.columnValues[i]!.push(null);
        continue;
      }
      const converted = writable(column.type, value);
      if (converted === undefined) {
        const shown = typeof value === 'string' ? JSON.stringify(value) : typeof value === 'object' ? 'an object' : String(value);
        throw new Error(`Parquet column ${column.name} (${column.type}) cannot hold ${shown}`);
      }
      this.columnValues[i]!.push(converted);
    }
    this.rows += 1;
    if (this.rows >= this.rowGroupRows) await this.writeGroup();
  }

  /** Writes the last row group and the footer. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.writeGroup();
    this.closed = true;
    await this.writer.finish();
  }

  private async writeGroup(): Promise<void> {
    if (this.rows === 0) return;
    const columnData = this.columns.map((c, i) => ({ name: c.name, data: this.columnValues[i] as never[] }));
    const rows = this.rows;
    this.columnValues = this.columns.map(() => []);
    this.rows = 0;
    await this.writer.write({ columnData, rowGroupSize: rows });
  }
}

/** A whole parquet file in memory, from records keyed by column name (fixtures, small files). */
export async function parquetFile(
  columns: readonly ParquetColumnSpec[],
  records: Iterable<Record<string, unknown>>,
  options: ParquetFileOptions = {},
): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  const writer = new ParquetFileWriter(columns, (bytes) => void chunks.push(bytes), options);
  for (const record of records) await writer.writeRow(columns.map((c) => record[c.name]));
  await writer.close();
  return Buffer.concat(chunks);
}
