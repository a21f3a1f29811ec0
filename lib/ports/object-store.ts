import type { Readable } from 'stream';

export interface StoredObject {
  key: string;
  size: number;
  lastModified?: Date | undefined;
  /** The object's ETag as the store gives it (quoted), for a later `putIfMatch`; `head` always has it. */
  etag?: string | undefined;
}

export interface ListOptions {
  startAfter?: string | undefined;
}

/** The bucket as the stages see it: S3 in AWS, the embedded S3-compatible store locally, through the same SDK. */
export interface ObjectStore {
  readonly bucket: string;
  put(key: string, body: Buffer | string | Readable, contentType?: string): Promise<void>;
  /**
   * Creates the object only if the key holds none (S3's `If-None-Match: *`): the new ETag, or undefined
   * when an object was there or another writer created one meanwhile.
   */
  putIfAbsent(key: string, body: Buffer | string, contentType?: string): Promise<string | undefined>;
  /**
   * Replaces the object only while its ETag is `etag` (S3's `If-Match`): the new ETag, or undefined
   * when the object changed or is gone.
   */
  putIfMatch(key: string, body: Buffer | string, etag: string, contentType?: string): Promise<string | undefined>;
  get(key: string): Promise<Buffer>;
  getStream(key: string): Promise<Readable>;
  /** `length` bytes from `offset`: a ranged GET, for formats read from the end (parquet's footer). */
  getRange(key: string, offset: number, length: number): Promise<Buffer>;
  /** A server-side copy: no bytes pass through the caller. */
  copy(fromKey: string, toKey: string): Promise<void>;
  /** Undefined when the key does not exist. */
  head(key: string): Promise<StoredObject | undefined>;
  /**
   * The objects under `prefix` in key order; only those whose key sorts after `startAfter`, when given
   * (S3's ListObjectsV2 `StartAfter`), so a reader of the newest keys need not page through the oldest.
   */
  list(prefix: string, options?: ListOptions): AsyncIterable<StoredObject>;
  delete(key: string): Promise<void>;
}
