import { parquetMetadata, parquetReadObjects, type SchemaElement } from 'hyparquet';
import { PARQUET_COMPRESSORS } from '../../lib/parquet/rows';

/** A whole parquet file as hyparquet reads it: INT64 as BigInt, TIMESTAMP_MILLIS and DATE as Dates, absent values as null. */
export interface ParquetContents {
  rows: Record<string, unknown>[];
  /** Each column's schema element, by name, in file order. */
  columns: Record<string, SchemaElement>;
  /** The codecs of the column chunks, each once. */
  codecs: string[];
  rowCount: number;
}

/** Reads a parquet file held in memory, footer and every row. */
export async function readParquet(data: Uint8Array): Promise<ParquetContents> {
  const file = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
  const metadata = parquetMetadata(file);
  const rows = (await parquetReadObjects({ file, metadata, compressors: PARQUET_COMPRESSORS })) as Record<string, unknown>[];
  const columns = Object.fromEntries(metadata.schema.slice(1).map((element) => [element.name, element]));
  const codecs = [...new Set(metadata.row_groups.flatMap((group) => group.columns.map((column) => String(column.meta_data?.codec))))];
  return { rows, columns, codecs, rowCount: Number(metadata.num_rows) };
}
