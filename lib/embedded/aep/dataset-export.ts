/**
 * Carrying out a dataset export run: the dataset's table is read from PostgreSQL through a cursor (a
 * page of rows at a time, in one consistent snapshot) and written to the bucket through the S3 API as
 * parquet or JSON Lines part files, each uploaded as one object (a single PutObject, or a multipart
 * upload that the store makes visible only when it completes), so a reader never sees a partial file.
 *
 * Columns and types (every column of the table except the snapshot system column, all optional):
 *
 * | PostgreSQL                                   | parquet                     | JSON Lines        |
 * |----------------------------------------------|-----------------------------|-------------------|
 * | text, varchar, char, uuid, name              | UTF8                        | string            |
 * | double precision, real, numeric              | DOUBLE                      | number            |
 * | bigint, integer, smallint                    | INT64                       | number            |
 * | boolean                                      | BOOLEAN                     | boolean           |
 * | timestamptz, timestamp (taken as UTC)        | TIMESTAMP_MILLIS            | "…T…Z" (ISO 8601) |
 * | date                                         | DATE                        | "YYYY-MM-DD"      |
 * | jsonb, json                                  | UTF8 holding the JSON text  | the JSON value    |
 * | arrays                                       | UTF8 holding the JSON text  | JSON array        |
 * | anything else                                | UTF8 (its text form)        | string            |
 *
 * Parquet is written with hyparquet-writer (lib/parquet/write.ts), one row group of 10,000 rows at a
 * time, GZIP-compressed when the target asks for GZIP; its pages are data page v2, the only kind it
 * writes (Spark writes v1 by default; the pipeline's reader, hyparquet, takes both). hyparquet reads
 * INT64 back as BigInt. JSON Lines files leave null fields out, as Spark's JSON writer does, and are
 * gzipped as a whole for GZIP.
 *
 * The run holds PGlite's one session while it reads (one REPEATABLE READ transaction), so wire-protocol
 * clients wait for it: about 3 s for 100,000 rows of 18 columns.
 */
import type { PGlite } from '@electric-sql/pglite';
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { PassThrough, Transform, type Writable } from 'stream';
import { createGzip } from 'zlib';
import { ParquetFileWriter, type ParquetColumnSpec, type ParquetColumnType } from '../../parquet/write';
import { withExclusiveSession } from '../postgres';
import { SNAPSHOT_COLUMN, tableColumns } from './snapshots';

export type DatasetFileType = 'PARQUET' | 'JSON';
export type ExportCompression = 'GZIP' | 'NONE';

export interface ExportColumn {
  name: string;
  /** PostgreSQL type as `format_type` spells it. */
  sqlType: string;
  parquetType: ParquetColumnType;
  /** The value read for a parquet file (inside json_build_array): text, number (dates and times as numbers) or boolean. */
  parquetValue: string;
  /** The value read for a JSON Lines file (inside json_build_array). */
  jsonValue: string;
  /** The JSON Lines value arrives as JSON text to write as it is (big integers, JSON documents). */
  jsonRaw: boolean;
}

export interface ExportTarget {
  s3: S3Client;
  bucket: string;
  /** Key prefix of the run's files, ending with '/': `<path>/<datasetId>/exportTime=<YYYYMMDDHHMMSS>/`. */
  folder: string;
  fileType: DatasetFileType;
  compression: ExportCompression;
  /** A new part file starts after this many rows. */
  rowsPerFile: number;
  /** Shared by the run's part files: `part-00000-<fileId>.parquet`. */
  fileId: string;
  /** Export only rows of later snapshots (an incremental export); all rows when absent. */
  afterSnapshot?: number | undefined;
}

export interface ExportedFile {
  key: string;
  bytes: number;
  rows: number;
}

export interface ExportOutcome {
  records: number;
  files: ExportedFile[];
  columns: ExportColumn[];
  /** Size of the table in the database. */
  inputBytes: number;
  /** The newest snapshot the export covers, where the next incremental export starts; undefined for an empty table. */
  lastSnapshot?: number | undefined;
}

/** Rows fetched from the cursor at a time. */
const FETCH_ROWS = 5000;
/** Rows per parquet row group. */
const ROW_GROUP_ROWS = 10_000;

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** How a column of the given PostgreSQL type is read and written. */
export function exportColumn(name: string, sqlType: string): ExportColumn {
  const c = quoteIdent(name);
  const t = sqlType.toLowerCase();
  const col = (parquetType: ParquetColumnType, parquetValue: string, jsonValue: string, jsonRaw = false): ExportColumn => ({
    name,
    sqlType,
    parquetType,
    parquetValue,
    jsonValue,
    jsonRaw,
  });
  const iso = (utc: string) => `to_char(${utc}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  const epochMs = `floor(date_part('epoch', ${c}) * 1000)`;
  if (t.endsWith('[]')) return col('UTF8', `to_jsonb(${c})::text`, `to_jsonb(${c})::text`, true);
  if (t === 'text' || t.startsWith('character') || t === 'uuid' || t === 'name' || t === '"char"') return col('UTF8', `${c}::text`, `${c}::text`);
  if (t === 'double precision' || t === 'real' || t.startsWith('numeric')) return col('DOUBLE', `${c}::float8`, `${c}::float8`);
  // Big integers travel as text: a JSON number would lose digits beyond 2^53.
  if (t === 'bigint' || t === 'integer' || t === 'smallint') return col('INT64', `${c}::text`, `${c}::text`, true);
  if (t === 'boolean') return col('BOOLEAN', c, c);
  if (t === 'timestamp with time zone') return col('TIMESTAMP_MILLIS', epochMs, iso(`${c} AT TIME ZONE 'UTC'`));
  if (t === 'timestamp without time zone') return col('TIMESTAMP_MILLIS', `floor(date_part('epoch', ${c} AT TIME ZONE 'UTC') * 1000)`, iso(c));
  if (t === 'date') return col('DATE', `(${c} - date '1970-01-01')`, `to_char(${c}, 'YYYY-MM-DD')`);
  if (t === 'jsonb' || t === 'json') return col('UTF8', `${c}::text`, `${c}::text`, true);
  return col('UTF8', `${c}::text`, `${c}::text`);
}

/** The columns a dataset export writes: every column of the table but the snapshot system column. */
export async function exportColumns(db: PGlite, table: string): Promise<ExportColumn[]> {
  return (await tableColumns(db, table)).filter((c) => c.name !== SNAPSHOT_COLUMN).map((c) => exportColumn(c.name, c.type));
}

/** Counts the bytes passing through. */
class ByteCounter extends Transform {
  bytes = 0;
  _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

/** One object in the bucket, written as a stream and made visible only when complete. */
class ObjectUpload {
  readonly body = new ByteCounter();
  private readonly upload: Upload;
  private readonly finished: Promise<unknown>;
  /** Rejects as soon as the upload fails (then nobody reads the body any more, and writes would wait forever). */
  private readonly failure: Promise<never>;

  constructor(s3: S3Client, bucket: string, key: string, contentType: string) {
    this.upload = new Upload({ client: s3, params: { Bucket: bucket, Key: key, Body: this.body, ContentType: contentType }, queueSize: 1 });
    this.finished = this.upload.done();
    this.failure = new Promise<never>((_resolve, reject) => {
      this.finished.catch((err: unknown) => {
        reject(err);
        this.body.destroy();
      });
    });
    this.failure.catch(() => undefined);
  }

  /** `work`, or the upload's failure if that comes first. */
  guard<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.failure]);
  }

  async done(): Promise<number> {
    await this.finished;
    return this.body.bytes;
  }

  async abort(): Promise<void> {
    this.body.destroy();
    await this.upload.abort().catch(() => undefined);
    await this.finished.catch(() => undefined);
  }
}

/** One row as read: the column values in order (JSON-decoded). */
type Row = unknown[];

interface PartWriter {
  write(row: Row): Promise<void>;
  /** Finishes the file; resolves with its size once the object exists. */
  close(): Promise<number>;
  abort(): Promise<void>;
}

/** Writes `data` to the stream; resolves once the stream has taken it (so a slow upload holds the writer back). */
function writeTo(stream: Writable, data: string | Uint8Array): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    stream.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

function openParquetPart(upload: ObjectUpload, columns: ExportColumn[], compression: ExportCompression): PartWriter {
  const specs: ParquetColumnSpec[] = columns.map((c) => ({ name: c.name, type: c.parquetType }));
  // Each row group's bytes go to the upload as soon as the group is encoded.
  const writer = new ParquetFileWriter(specs, (bytes) => upload.guard(writeTo(upload.body, bytes)), {
    codec: compression === 'GZIP' ? 'GZIP' : 'UNCOMPRESSED',
    rowGroupRows: ROW_GROUP_ROWS,
  });
  return {
    // NaN and infinities arrive as the strings PostgreSQL spells them; the writer reads them as numbers.
    write: (row) => upload.guard(writer.writeRow(row)),
    async close() {
      await upload.guard(writer.close());
      upload.body.end();
      return upload.done();
    },
    abort: () => upload.abort(),
  };
}

function openJsonPart(upload: ObjectUpload, columns: ExportColumn[], compression: ExportCompression): PartWriter {
  const input: Writable = compression === 'GZIP' ? createGzip() : new PassThrough();
  input.pipe(upload.body);
  const keys = columns.map((c) => `${JSON.stringify(c.name)}:`);
  const write = (text: string) => writeTo(input, text);
  return {
    async write(row) {
      // One JSON object per line; null fields are left out, as Spark's JSON writer does.
      const parts: string[] = [];
      columns.forEach((c, i) => {
        const v = row[i];
        if (v !== null && v !== undefined) parts.push(keys[i] + (c.jsonRaw ? String(v) : JSON.stringify(v)));
      });
      await upload.guard(write(`{${parts.join(',')}}\n`));
    },
    async close() {
      await upload.guard(new Promise<void>((resolve) => input.end(() => resolve())));
      return upload.done();
    },
    async abort() {
      input.destroy();
      await upload.abort();
    },
  };
}

/** SQL for the text of a JSON array of the values (json_build_array takes at most 100 arguments). */
function jsonArray(values: string[]): string {
  if (values.length <= 100) return `json_build_array(${values.join(', ')})::text`;
  return `'[' || ${values.map((v) => `coalesce(to_json(${v})::text, 'null')`).join(` || ',' || `)} || ']'`;
}

/** Part file name, as Spark names them: `part-00000-<id>.parquet`, `part-00001-<id>.json.gz`. */
export function partFileName(index: number, fileId: string, fileType: DatasetFileType, compression: ExportCompression): string {
  const ext = fileType === 'PARQUET' ? 'parquet' : compression === 'GZIP' ? 'json.gz' : 'json';
  return `part-${String(index).padStart(5, '0')}-${fileId}.${ext}`;
}

/**
 * Exports the rows of `table` to `target`: all of them, or only those of snapshots after
 * `target.afterSnapshot`. Nothing to export writes no file. On failure the part being
 * written is aborted and the parts already written are deleted, so a failed run leaves no files.
 */
export async function exportTable(db: PGlite, table: string, target: ExportTarget): Promise<ExportOutcome> {
  return withExclusiveSession(db, async () => {
    const exists = await db.query<{ t: string | null }>(`SELECT to_regclass($1)::text AS t`, [quoteIdent(table)]);
    if (exists.rows[0]!.t === null) throw new Error(`The dataset's table '${table}' does not exist`); // a SELECT of scalars returns one row
    const columns = await exportColumns(db, table);
    if (columns.length === 0) throw new Error(`Table '${table}' has no columns to export`);
    const size = await db.query<{ n: number | bigint }>(`SELECT pg_total_relation_size($1::regclass) AS n`, [quoteIdent(table)]);
    const contentType = target.fileType === 'PARQUET' ? 'application/vnd.apache.parquet' : target.compression === 'GZIP' ? 'application/gzip' : 'application/x-ndjson';
    const files: ExportedFile[] = [];
    let part: { writer: PartWriter; key: string; rows: number } | undefined;
    let records = 0;
    let lastSnapshot: number | undefined;
    const openPart = async () => {
      const key = `${target.folder}${partFileName(files.length, target.fileId, target.fileType, target.compression)}`;
      const upload = new ObjectUpload(target.s3, target.bucket, key, contentType);
      const writer = target.fileType === 'PARQUET' ? openParquetPart(upload, columns, target.compression) : openJsonPart(upload, columns, target.compression);
      part = { writer, key, rows: 0 };
    };
    const closePart = async () => {
      if (!part) return;
      const done = part;
      part = undefined;
      const bytes = await done.writer.close();
      files.push({ key: done.key, bytes, rows: done.rows });
    };
    await db.exec('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      // One JSON array per row: decoding one text field per row is ~3x faster than PGlite decoding every column.
      const values = columns.map((c) => (target.fileType === 'PARQUET' ? c.parquetValue : c.jsonValue));
      const after = target.afterSnapshot;
      if (after !== undefined && !Number.isSafeInteger(after)) throw new Error(`Invalid snapshot id ${String(after)}`);
      const where = after === undefined ? '' : ` WHERE ${quoteIdent(SNAPSHOT_COLUMN)} > ${after}`;
      const newest = await db.query<{ s: number | bigint | null }>(`SELECT max(${quoteIdent(SNAPSHOT_COLUMN)}) AS s FROM ${quoteIdent(table)}`);
      const { s } = newest.rows[0]!; // an aggregate returns one row
      lastSnapshot = s === null ? after : Number(s);
      await db.exec(`DECLARE aep_export NO SCROLL CURSOR FOR SELECT ${jsonArray(values)} AS r FROM ${quoteIdent(table)}${where}`);
      for (;;) {
        const page = await db.query<{ r: string }>(`FETCH ${FETCH_ROWS} FROM aep_export`);
        for (const { r } of page.rows) {
          const row = JSON.parse(r) as Row;
          if (!part) await openPart();
          await part!.writer.write(row);
          part!.rows += 1;
          records += 1;
          if (part!.rows >= target.rowsPerFile) await closePart();
        }
        if (page.rows.length < FETCH_ROWS) break;
      }
      await closePart();
      await db.exec('COMMIT');
    } catch (err) {
      if (part) await part.writer.abort();
      // The run failed: the parts already written must not pass for an export.
      for (const f of files) await target.s3.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: f.key })).catch(() => undefined);
      throw err;
    } finally {
      if (db.isInTransaction()) await db.exec('ROLLBACK');
    }
    return { records, files, columns, inputBytes: Number(size.rows[0]!.n), lastSnapshot }; // a SELECT of scalars returns one row
  });
}
