/**
 * What a CloudStorageToAEP dataflow run does in the stand-in: read the delimited files that arrived
 * under the source connection's path, apply the flow's Data Prep mapping set, and load the records into
 * the target dataset as one Catalog batch (see flow-service/sources.ts for the connections and
 * flow-service/ingestion-runs.ts for the schedule).
 *
 * - Files are read with csv-parse (header row, the source connection's column delimiter, a leading BOM
 *   dropped); a file that cannot be read fails the run, and then nothing of the run is loaded.
 * - Each row is mapped field by field and converted to the destination field's type (number, integer,
 *   boolean, date-time, string). A row whose value does not convert, or that lacks the schema's
 *   primary identity, is a failed record; the others are loaded. A run with records but none loaded fails.
 * - The loaded records are one batch of the dataset (a new snapshot), made through the same loader as
 *   Batch Ingestion, so Catalog lists the batch and Query Service sees the rows.
 */
import type { PGlite } from '@electric-sql/pglite';
import { parse } from 'csv-parse';
import type { Readable } from 'stream';
import type { BatchRecord, Catalog } from './catalog';
import type { ResolvedMapping } from './data-prep';
import { batchId as newBatchId } from './ids';
import { loadBatch, type TableTarget } from './xdm-tables';

/** The connection and flow specs of an ingestion from Amazon S3 into a data lake dataset. */
export const INGESTION_SPECS = {
  s3Source: 'ecadc60c-7455-4d87-84dc-2a0e293d997b',
  dataLakeTarget: 'c604ff05-7f1a-43c0-8e18-33bf874cb11c',
  cloudStorageFlow: '9753525b-82c7-4dce-8a9b-5ccfce2b9876',
} as const;

/**
 * Authentication of the Amazon S3 source without keys, as Adobe documents it for Experience Platform
 * on AWS: the bucket's policy allows Adobe's IAM role, and the base connection names the bucket.
 */
export const S3_IAM_ROLE_AUTH = 'IAMRole Based';

/** An error of an ingestion or export run. */
export interface RunError {
  /** `AREA-NNNN-STATUS`, the pattern destinations.yaml gives for run errors. */
  code: string;
  message: string;
}

/** Where a source connection reads: a bucket, a key prefix, and an optional file-name pattern. */
export interface SourceLocation {
  bucket: string;
  /** Key prefix of the folder, '' for the bucket root or ending with '/'; or the key of one file. */
  prefix: string;
  /** A file-name pattern (the last segment of the path held `*`), matched against each file's name. */
  pattern?: RegExp;
  /** Whether the path names one file. */
  file: boolean;
  recursive: boolean;
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
}

/**
 * Reads `params.path` of an S3 source connection: `<bucket>/<folder>` (a folder), `<bucket>/<folder>/*.csv`
 * (the files of a folder whose names match), or `<bucket>/<key>` with `type: file`. A leading `/` is allowed.
 */
export function sourceLocation(path: string, type: 'file' | 'folder', recursive: boolean): SourceLocation | string {
  const segments = path.replace(/^\/+/, '').replace(/\/+$/, '').split('/');
  const bucket = segments.shift() ?? '';
  if (bucket === '') return `'params.path' '${path}' must start with the bucket name`;
  if (segments.some((s) => s === '' || s === '.' || s === '..')) return `'params.path' '${path}' must not have empty, '.' or '..' segments`;
  if (segments.slice(0, -1).some((s) => s.includes('*'))) return `'params.path' '${path}' may have '*' only in its last segment`;
  const last = segments[segments.length - 1];
  if (last !== undefined && last.includes('*')) {
    segments.pop();
    return { bucket, prefix: segments.length > 0 ? `${segments.join('/')}/` : '', pattern: globToRegExp(last), file: false, recursive };
  }
  if (type === 'file') {
    if (segments.length === 0) return `'params.path' '${path}' names a bucket, not a file`;
    return { bucket, prefix: segments.join('/'), file: true, recursive: false };
  }
  return { bucket, prefix: segments.length > 0 ? `${segments.join('/')}/` : '', file: false, recursive };
}

/** Whether an object of the listing belongs to the location. */
export function inLocation(location: SourceLocation, key: string): boolean {
  if (location.file) return key === location.prefix;
  if (!key.startsWith(location.prefix) || key.endsWith('/')) return false;
  const rest = key.slice(location.prefix.length);
  if (!location.recursive && rest.includes('/')) return false;
  const name = rest.slice(rest.lastIndexOf('/') + 1);
  return location.pattern ? location.pattern.test(name) : true;
}

export interface SourceFile {
  key: string;
  bytes: number;
  open(): Promise<Readable>;
}

/** One input file of a run, with what became of its rows. */
export interface IngestedFile {
  key: string;
  bytes: number;
  records: number;
  failed: number;
}

export interface IngestionRun {
  id: string;
  flowId: string;
  bucket: string;
  /** The source connection's path. */
  sourcePath: string;
  createdAt: number;
  updatedAt: number;
  etag: string;
  state: 'inProgress' | 'success' | 'failed';
  startedAt: number;
  completedAt?: number;
  files: IngestedFile[];
  inputRecords: number;
  outputRecords: number;
  inputBytes: number;
  batchId?: string;
  errors: RunError[];
}

export interface IngestionTarget {
  datasetId: string;
  table: TableTarget;
  mappings: ResolvedMapping[];
  /** Paths (segments) of the schema's primary identity fields: a record without them fails. */
  primaryIdentities: string[][];
  columnDelimiter: string;
}

/** Errors kept per run, as AEP keeps a sample of them. */
const MAX_ERRORS = 20;

class FileUnreadable extends Error {}

type Converted = { ok: true; value: unknown } | { ok: false; message: string };

function convert(raw: string, m: ResolvedMapping): Converted {
  const field = m.field;
  if (!field || field.type === 'string') {
    if (field?.format === 'date-time' && Number.isNaN(Date.parse(raw))) return { ok: false, message: `'${raw}' is not a date-time` };
    return { ok: true, value: raw };
  }
  const text = raw.trim();
  switch (field.type) {
    case 'number': {
      const n = Number(text);
      return text !== '' && Number.isFinite(n) ? { ok: true, value: n } : { ok: false, message: `'${raw}' is not a number` };
    }
    case 'integer':
      return /^[-+]?\d+$/.test(text) && Number.isSafeInteger(Number(text)) ? { ok: true, value: Number(text) } : { ok: false, message: `'${raw}' is not an integer` };
    case 'boolean':
      if (/^(true|false)$/i.test(text)) return { ok: true, value: text.toLowerCase() === 'true' };
      return { ok: false, message: `'${raw}' is not true or false` };
    default:
      return { ok: false, message: `fields of type ${field.type} cannot take a delimited value` };
  }
}

function setPath(record: Record<string, unknown>, path: string[], value: unknown): void {
  let node = record;
  for (const segment of path.slice(0, -1)) {
    if (typeof node[segment] !== 'object' || node[segment] === null) node[segment] = {};
    node = node[segment] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value; // a destination path has at least one segment
}

function hasPath(record: Record<string, unknown>, path: string[]): boolean {
  let node: unknown = record;
  for (const segment of path) {
    if (typeof node !== 'object' || node === null || !(segment in node)) return false;
    node = (node as Record<string, unknown>)[segment];
  }
  return node !== null && node !== undefined && node !== '';
}

/** One row to an XDM record, or the reason it fails. */
export function mapRow(row: Record<string, string>, target: Pick<IngestionTarget, 'mappings' | 'primaryIdentities'>): { record: Record<string, unknown> } | { error: string } {
  const record: Record<string, unknown> = {};
  for (const m of target.mappings) {
    const raw = m.sourceType === 'STATIC' ? m.source : row[m.source];
    if (raw === undefined || raw === '') continue;
    const converted = convert(raw, m);
    if (!converted.ok) return { error: `${m.source} -> ${m.destination}: ${converted.message}` };
    setPath(record, m.path, converted.value);
  }
  for (const identity of target.primaryIdentities) {
    if (!hasPath(record, identity)) return { error: `the primary identity ${identity.join('.')} is missing` };
  }
  return { record };
}

async function readFile(file: SourceFile, target: IngestionTarget, lines: string[], errors: RunError[], bucket: string): Promise<IngestedFile> {
  const out: IngestedFile = { key: file.key, bytes: file.bytes, records: 0, failed: 0 };
  const columns = target.mappings.filter((m) => m.sourceType === 'ATTRIBUTE').map((m) => m.source);
  let stream: Readable;
  try {
    stream = await file.open();
  } catch (err) {
    throw new FileUnreadable(`File '${bucket}/${file.key}' could not be read: ${(err as Error).message}`);
  }
  const parser = stream.pipe(parse({ columns: true, bom: true, skip_empty_lines: true, delimiter: target.columnDelimiter }));
  let header: string[] | undefined;
  try {
    for await (const row of parser as AsyncIterable<Record<string, string>>) {
      if (!header) {
        header = Object.keys(row);
        const missing = columns.filter((c) => !header!.includes(c));
        if (missing.length > 0) {
          throw new FileUnreadable(`File '${bucket}/${file.key}' has no column ${missing.map((c) => `'${c}'`).join(', ')} that the mapping set reads (its header: ${header.join(', ')})`);
        }
      }
      out.records += 1;
      const mapped = mapRow(row, target);
      if ('error' in mapped) {
        out.failed += 1;
        if (errors.length < MAX_ERRORS) errors.push({ code: 'MAPPER-2001-400', message: `File '${bucket}/${file.key}' row ${out.records}: ${mapped.error}` });
      } else {
        lines.push(JSON.stringify(mapped.record));
      }
    }
  } catch (err) {
    stream.destroy();
    if (err instanceof FileUnreadable) throw err;
    throw new FileUnreadable(`File '${bucket}/${file.key}' could not be read: ${(err as Error).message}`);
  }
  return out;
}

/**
 * Carries out one run over `files`: fills in `run` (counts, files, errors, state) and the batch.
 * Never throws: every failure ends the run `failed` with errors naming the file.
 */
export async function ingest(
  db: PGlite,
  catalog: Catalog,
  run: IngestionRun,
  files: SourceFile[],
  target: IngestionTarget | string,
  injectedFailure?: string,
): Promise<void> {
  const now = catalog.clock.now().getTime();
  const batch: BatchRecord | undefined =
    typeof target === 'string'
      ? undefined
      : {
          id: newBatchId(now),
          datasetId: target.datasetId,
          status: 'processing',
          created: now,
          updated: now,
          started: now,
          externalId: run.id,
          inputFormat: { format: 'csv' },
          format: { kind: 'json', multiLine: false },
          tags: { flowId: [run.flowId], flowRunId: [run.id] },
          files: new Map(),
          errors: [],
          versionPatch: 0,
        };
  if (batch) {
    catalog.batches.set(batch.id, batch);
    run.batchId = batch.id;
  }
  run.inputBytes = files.reduce((n, f) => n + f.bytes, 0);
  const fail = (errors: RunError[]) => {
    run.errors = errors.slice(0, MAX_ERRORS);
    run.outputRecords = 0;
    run.state = 'failed';
    if (batch) {
      batch.errors = run.errors.map((e) => ({ code: e.code, description: e.message }));
      batch.recordCount = 0;
      batch.failedRecordCount = run.inputRecords;
      batch.status = 'failed';
    }
  };
  const names = files.map((f) => `'${run.bucket}/${f.key}'`).join(', ');
  const untouched = () => files.map((f) => ({ key: f.key, bytes: f.bytes, records: 0, failed: 0 }));
  try {
    if (typeof target === 'string' || injectedFailure !== undefined) run.files = untouched();
    if (typeof target === 'string') return fail([{ code: 'INGEST-1004-400', message: `The run could not start: ${target}. Files not ingested: ${names}` }]);
    if (injectedFailure !== undefined) return fail([{ code: 'INGEST-1500-500', message: `${injectedFailure}. Files not ingested: ${names}` }]);
    const lines: string[] = [];
    const errors: RunError[] = [];
    for (const file of files) {
      try {
        run.files.push(await readFile(file, target, lines, errors, run.bucket));
      } catch (err) {
        run.files.push({ key: file.key, bytes: file.bytes, records: 0, failed: 0 });
        run.inputRecords = run.files.reduce((n, f) => n + f.records, 0);
        return fail([{ code: 'INGEST-1001-400', message: (err as Error).message }]);
      }
    }
    run.inputRecords = run.files.reduce((n, f) => n + f.records, 0);
    if (run.inputRecords > 0 && lines.length === 0) {
      return fail([{ code: 'MAPPER-2002-400', message: `No record of ${names} could be mapped; first errors: ${errors.slice(0, 3).map((e) => e.message).join('; ')}` }, ...errors]);
    }
    if (lines.length > 0) {
      const loaded = await loadBatch(db, target.table, [{ name: `${run.id}.json`, data: Buffer.from(lines.join('\n'), 'utf8') }], { kind: 'json', multiLine: false }, batch!.id);
      if (!loaded.ok) {
        return fail([
          ...loaded.errors.map((e) => ({ code: 'INGEST-1002-400', message: `The mapped records of ${names} could not be stored: ${e.description}` })),
        ]);
      }
    }
    run.outputRecords = lines.length;
    run.errors = errors;
    run.state = 'success';
    if (batch) {
      batch.recordCount = lines.length;
      batch.failedRecordCount = run.inputRecords - lines.length;
      batch.size = run.inputBytes;
      batch.errors = errors.map((e) => ({ code: e.code, description: e.message }));
      batch.status = 'success';
    }
  } catch (err) {
    fail([{ code: 'INGEST-1003-500', message: `The run failed on ${names}: ${(err as Error).message}` }]);
  } finally {
    run.completedAt = Math.max(catalog.clock.now().getTime(), run.startedAt);
    run.updatedAt = run.completedAt;
    if (batch) {
      batch.updated = run.completedAt;
      batch.completed = run.completedAt;
      batch.versionPatch += 1;
      catalog.noteBatchOutcome(batch);
    }
  }
}
