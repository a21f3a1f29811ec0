import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  NoSuchKey,
  NotFound,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'stream';
import type { StorageConfig } from '../config/schema';
import type { ListOptions, ObjectStore, StoredObject } from '../ports/object-store';

export class ObjectNotFoundError extends Error {
  constructor(
    readonly bucket: string,
    readonly key: string,
  ) {
    super(`s3://${bucket}/${key} does not exist`);
    this.name = 'ObjectNotFoundError';
  }
}

/** An S3 client for the configured bucket; with `endpoint` set it talks to an S3-compatible store instead of AWS. */
export function createS3Client(storage: StorageConfig, credentials?: S3ClientConfig['credentials']): S3Client {
  return new S3Client({
    region: storage.region,
    ...(storage.endpoint !== undefined && { endpoint: storage.endpoint }),
    forcePathStyle: storage.forcePathStyle,
    ...(credentials !== undefined && { credentials }),
  });
}

/**
 * Whether S3 refused a conditional write: 412 (the condition failed), 409 (another write of the key
 * completed meanwhile) or, for If-Match, 404 (no object to match).
 */
function conditionFailed(error: unknown): boolean {
  const name = (error as { name?: string }).name;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return name === 'PreconditionFailed' || name === 'ConditionalRequestConflict' || name === 'NoSuchKey' || status === 412 || status === 409;
}

/**
 * Names the request and object in an S3 error's message, keeping the error itself (its class, name and
 * status, which callers and the SDK's retry rules read). A 500 to a HEAD has no body, and the SDK's own
 * message then says only "UnknownError".
 */
function located(error: unknown, request: string, bucket: string, key: string): unknown {
  if (error instanceof Error && !(error instanceof ObjectNotFoundError)) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const detail = error.message && error.message !== error.name ? `${error.name}: ${error.message}` : error.name;
    error.message = `S3 ${request} of s3://${bucket}/${key} failed${status ? ` with HTTP ${status}` : ''}: ${detail}`;
  }
  return error;
}

export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async put(key: string, body: Buffer | string | Readable, contentType?: string): Promise<void> {
    // Upload streams in parts, so an object of any size is sent without holding it in memory.
    await new Upload({ client: this.s3, params: { Bucket: this.bucket, Key: key, Body: body, ContentType: contentType } }).done().catch((error: unknown) => {
      throw located(error, 'PutObject', this.bucket, key);
    });
  }

  async putIfAbsent(key: string, body: Buffer | string, contentType?: string): Promise<string | undefined> {
    return this.conditionalPut(key, body, contentType, { IfNoneMatch: '*' });
  }

  async putIfMatch(key: string, body: Buffer | string, etag: string, contentType?: string): Promise<string | undefined> {
    return this.conditionalPut(key, body, contentType, { IfMatch: etag });
  }

  /** One PUT (the bodies are small), so the condition covers the whole write. */
  private async conditionalPut(key: string, body: Buffer | string, contentType: string | undefined, condition: { IfNoneMatch: string } | { IfMatch: string }): Promise<string | undefined> {
    try {
      const response = await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType, ...condition }));
      return response.ETag;
    } catch (error) {
      if (conditionFailed(error)) return undefined;
      throw located(error, 'PutObject', this.bucket, key);
    }
  }

  async getStream(key: string): Promise<Readable> {
    try {
      const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return response.Body as Readable;
    } catch (error) {
      if (error instanceof NoSuchKey) throw new ObjectNotFoundError(this.bucket, key);
      throw located(error, 'GetObject', this.bucket, key);
    }
  }

  async get(key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.getStream(key)) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
    }
    return Buffer.concat(chunks);
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    if (length <= 0) return Buffer.alloc(0);
    try {
      const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${offset}-${offset + length - 1}` }));
      const bytes = await response.Body!.transformToByteArray();
      // A view, not a copy: the SDK hands over the array.
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (error) {
      if (error instanceof NoSuchKey) throw new ObjectNotFoundError(this.bucket, key);
      throw located(error, 'GetObject (a range)', this.bucket, key);
    }
  }

  async copy(fromKey: string, toKey: string): Promise<void> {
    const source = `${this.bucket}/${fromKey.split('/').map(encodeURIComponent).join('/')}`;
    try {
      await this.s3.send(new CopyObjectCommand({ Bucket: this.bucket, Key: toKey, CopySource: source }));
    } catch (error) {
      if (error instanceof NoSuchKey) throw new ObjectNotFoundError(this.bucket, fromKey);
      throw located(error, `CopyObject from ${fromKey}`, this.bucket, toKey);
    }
  }

  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const response = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { key, size: response.ContentLength ?? 0, lastModified: response.LastModified, etag: response.ETag };
    } catch (error) {
      if (error instanceof NotFound || error instanceof NoSuchKey || (error as { name?: string }).name === 'NotFound') return undefined;
      throw located(error, 'HeadObject', this.bucket, key);
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<StoredObject> {
    let token: string | undefined;
    do {
      // S3 ignores StartAfter once a continuation token is given.
      const page = await this.s3
        .send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token, StartAfter: options.startAfter }))
        .catch((error: unknown) => {
          throw located(error, 'ListObjectsV2', this.bucket, prefix);
        });
      for (const item of page.Contents ?? []) {
        if (item.Key) yield { key: item.Key, size: item.Size ?? 0, lastModified: item.LastModified };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })).catch((error: unknown) => {
      throw located(error, 'DeleteObject', this.bucket, key);
    });
  }
}
