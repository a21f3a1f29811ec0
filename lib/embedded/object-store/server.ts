/**
 * A small S3-compatible HTTP server for loopback development use.
 *
 * Objects are kept as plain files so that a run's output can be opened directly (the layout is
 * described in ./store). Signatures are not verified: this store only listens on loopback for local runs.
 *
 * Because keys become file paths, a few S3 key shapes can't be stored and are refused with a clear
 * error: keys with empty, "." or ".." segments (which includes keys ending in "/"), segments longer
 * than 250 bytes, and a key that is both an object and a "folder" of other objects ("a" and "a/b").
 */
import * as http from 'http';
import * as path from 'path';
import type { Clock } from '../../ports/clock';
import type { TimedWork } from '../time/timed-work';
import { drainRequest } from './body';
import { createBucket, deleteBucket, getBucketLocation, headBucket, listBuckets } from './buckets';
import { invalidArgument, methodNotAllowed, notImplemented, S3Error } from './errors';
import { header } from './http';
import { decodePathPart, isValidBucketName, keySegments } from './keys';
import { listObjects } from './listing';
import { abortMultipartUpload, completeMultipartUpload, createMultipartUpload, uploadPart } from './multipart';
import { copyObject, deleteObject, deleteObjects, getObject, putObject } from './objects';
import { BucketLifecycles, type LifecycleSweep } from './lifecycle';
import { FileStore, randomId } from './store';
import { el } from './xml';

/** A request as the store's hooks see it, when it arrives (before its body is read). */
export interface ObjectStoreRequest {
  method: string;
  /** Empty for the service (ListBuckets). */
  bucket: string;
  /** Empty for a bucket request (listing, lifecycle, ...). */
  key: string;
  query: URLSearchParams;
  /** The access key the request was signed with (signatures are not verified), if it was signed. */
  accessKeyId: string | undefined;
}

/** Decides whether a request fails with an S3 error before it is served; undefined serves it. */
export type ObjectStoreFaultPolicy = (request: ObjectStoreRequest) => S3Error | undefined;
export type ObjectStoreRequestObserver = (request: ObjectStoreRequest) => void;

/** The access key id in a SigV4 Authorization header or presigned URL. */
export function signingAccessKeyId(authorization: string | undefined, query: URLSearchParams): string | undefined {
  const credential = /Credential=([^,\s]+)/.exec(authorization ?? '')?.[1] ?? query.get('X-Amz-Credential') ?? undefined;
  if (credential === undefined) return undefined;
  const slash = credential.indexOf('/');
  return slash < 0 ? credential : credential.slice(0, slash);
}

export interface ObjectStoreServerOptions {
  rootDir: string;
  /** Interface to listen on; defaults to 127.0.0.1. */
  host?: string;
  /** Port to listen on; 0 (the default) lets the OS choose. */
  port?: number;
  /** Stamps LastModified and upload initiation, and dates lifecycle expiry; default the system clock. */
  clock?: Clock;
}

// Subresources we recognise but do not implement; answering 501 beats silently treating them as a
// plain GET/PUT of the bucket or object.
const UNSUPPORTED_SUBRESOURCES = [
  'acl', 'policy', 'policyStatus', 'versioning', 'versions', 'tagging', 'cors', 'lifecycle', 'website',
  'logging', 'notification', 'replication', 'encryption', 'object-lock', 'ownershipControls',
  'publicAccessBlock', 'accelerate', 'requestPayment', 'analytics', 'inventory', 'metrics',
  'intelligent-tiering', 'retention', 'legal-hold', 'torrent', 'restore', 'select', 'attributes',
];

export class ObjectStoreServer {
  private readonly store: FileStore;
  private readonly lifecycles: BucketLifecycles;
  private readonly host: string;
  private readonly port: number;
  private server?: http.Server | undefined;
  private info?: { endpoint: string; port: number } | undefined;
  private faultPolicy: ObjectStoreFaultPolicy | undefined;
  private readonly observers = new Set<ObjectStoreRequestObserver>();

  constructor(options: ObjectStoreServerOptions) {
    if (!options.rootDir) throw new Error('ObjectStoreServer: rootDir is required');
    this.store = new FileStore(path.resolve(options.rootDir), options.clock);
    this.lifecycles = new BucketLifecycles(this.store);
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 0;
  }

  get endpoint(): string {
    if (!this.info) throw new Error('ObjectStoreServer is not running: call start() and await it before reading endpoint.');
    return this.info.endpoint;
  }

  async start(): Promise<{ endpoint: string; port: number }> {
    if (this.info) return this.info;
    await this.store.init();
    await this.lifecycles.init();

    const server = http.createServer((req, res) => this.handle(req, res));
    // Large uploads from slow producers must not be cut off by Node's default 5-minute request timeout.
    server.requestTimeout = 0;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('ObjectStoreServer: could not determine listening port');
    const hostPart = this.host.includes(':') ? `[${this.host}]` : this.host;
    this.server = server;
    this.info = { endpoint: `http://${hostPart}:${address.port}`, port: address.port };
    return this.info;
  }

  /**
   * The buckets' lifecycle sweep, for a simulator to run at each 00:00 UTC of its clock (S3 applies
   * lifecycle rules once a day); due only while some bucket has a rule that removes anything.
   */
  get timedWork(): TimedWork[] {
    return [this.lifecycles.timedWork];
  }

  /** Removes now what the lifecycle rules have made eligible by `at`, and says what. */
  sweepLifecycles(at: Date): Promise<LifecycleSweep> {
    return this.lifecycles.sweep(at);
  }

  /** Consulted for every request after the observers; undefined removes it. */
  setFaultPolicy(policy: ObjectStoreFaultPolicy | undefined): void {
    this.faultPolicy = policy;
  }

  /** Calls `observer` with every request as it arrives; returns a function that removes it. */
  onRequest(observer: ObjectStoreRequestObserver): () => void {
    this.observers.add(observer);
    return () => {
      this.observers.delete(observer);
    };
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.info = undefined;
    await new Promise<void>((resolve) => {
      // In-flight requests get a short grace period; idle keep-alive sockets would otherwise hold
      // close() open until the client's agent gives up on them.
      const timer = setTimeout(() => server.closeAllConnections(), 2000);
      timer.unref();
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      server.closeIdleConnections();
    });
  }

  // ---- request dispatch ----

  /**
   * Object reads (GET and HEAD) served so far, by method: the simulator reads the count before and
   * after an invocation to see how many objects a run reads.
   */
  readonly reads = { GET: 0, HEAD: 0 };

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method === 'GET' || req.method === 'HEAD') this.reads[req.method]++;
    const requestId = randomId(8).toUpperCase();
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', Buffer.from(randomId(24)).toString('base64'));
    this.route(req, res)
      .catch((e: unknown) => this.fail(req, res, e, requestId))
      .catch(() => res.destroy());
  }

  private async fail(req: http.IncomingMessage, res: http.ServerResponse, e: unknown, requestId: string): Promise<void> {
    const err =
      e instanceof S3Error
        ? e
        : new S3Error(500, 'InternalError', `We encountered an internal error: ${e instanceof Error ? e.message : String(e)}`);
    if (res.headersSent) {
      // Part of a body is already on the wire; cutting the connection is the only way to signal failure.
      res.destroy();
      return;
    }
    // The client may still be sending a body; reading it lets the client see our answer instead of EPIPE.
    await drainRequest(req);
    if (res.writableEnded || res.destroyed) return;
    res.statusCode = err.status;
    for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const resource = (req.url ?? '/').split('?')[0]!; // split gives at least one part
    const body =
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${el('Code', err.code)}${el('Message', err.message)}` +
      `${el('Resource', decodeURIComponentSafe(resource))}${el('RequestId', requestId)}</Error>`;
    res.setHeader('Content-Type', 'application/xml');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.end(body);
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q >= 0 ? url.slice(0, q) : url;
    const query = new URLSearchParams(q >= 0 ? url.slice(q + 1) : '');
    if (!rawPath.startsWith('/')) throw new S3Error(400, 'InvalidURI', "Couldn't parse the specified URI.");
    const rest = rawPath.slice(1);
    const slash = rest.indexOf('/');
    const bucket = decodePathPart(slash < 0 ? rest : rest.slice(0, slash));
    const key = slash < 0 ? '' : decodePathPart(rest.slice(slash + 1));
    const method = req.method ?? 'GET';
    if (this.observers.size > 0 || this.faultPolicy) {
      const request: ObjectStoreRequest = { method, bucket, key, query, accessKeyId: signingAccessKeyId(header(req, 'authorization'), query) };
      for (const observer of this.observers) {
        try {
          observer(request);
        } catch {
          // A failing observer must not break the server.
        }
      }
      const fault = this.faultPolicy?.(request);
      if (fault) throw fault;
    }

    if (bucket === '') {
      if (method === 'GET' || method === 'HEAD') return listBuckets(this.store, req, res, query);
      throw methodNotAllowed();
    }
    if (!isValidBucketName(bucket)) {
      throw new S3Error(400, 'InvalidBucketName', 'The specified bucket is not valid: names are 3-63 characters of lowercase letters, digits, dots and hyphens.');
    }
    const unsupported = UNSUPPORTED_SUBRESOURCES.find((s) => query.has(s));

    if (key === '') {
      if (query.has('lifecycle')) {
        if (method === 'PUT') return this.lifecycles.put(req, res, bucket);
        if (method === 'GET') return this.lifecycles.get(req, res, bucket);
        if (method === 'DELETE') return this.lifecycles.delete(res, bucket);
        throw methodNotAllowed();
      }
      switch (method) {
        case 'PUT':
          if (unsupported) throw notImplemented(`PUT ?${unsupported}`);
          return createBucket(this.store, req, res, bucket);
        case 'HEAD':
          return headBucket(this.store, res, bucket);
        case 'DELETE':
          if (unsupported) throw notImplemented(`DELETE ?${unsupported}`);
          await deleteBucket(this.store, res, bucket);
          return this.lifecycles.forget(bucket);
        case 'GET':
          if (unsupported) throw notImplemented(`GET ?${unsupported}`);
          if (query.has('location')) return getBucketLocation(this.store, res, bucket);
          if (query.has('uploads')) throw notImplemented('ListMultipartUploads');
          if (query.has('list-type')) {
            if (query.get('list-type') !== '2') throw invalidArgument('Invalid list-type; only 2 is supported.');
            return listObjects(this.store, res, bucket, query, 2);
          }
          return listObjects(this.store, res, bucket, query, 1);
        case 'POST':
          if (query.has('delete')) return deleteObjects(this.store, req, res, bucket);
          throw methodNotAllowed();
        default:
          throw methodNotAllowed();
      }
    }

    const segments = keySegments(key);
    switch (method) {
      case 'PUT':
        if (unsupported) throw notImplemented(`PUT ?${unsupported}`);
        if (query.has('uploadId') || query.has('partNumber')) {
          if (header(req, 'x-amz-copy-source')) throw notImplemented('UploadPartCopy');
          return uploadPart(this.store, req, res, bucket, key, query);
        }
        if (header(req, 'x-amz-copy-source')) return copyObject(this.store, req, res, bucket, key, segments);
        return putObject(this.store, req, res, bucket, key, segments);
      case 'GET':
      case 'HEAD':
        if (unsupported) throw notImplemented(`${method} ?${unsupported}`);
        if (query.has('uploadId')) throw notImplemented('ListParts');
        return getObject(this.store, req, res, bucket, key, segments, query);
      case 'DELETE':
        if (unsupported) throw notImplemented(`DELETE ?${unsupported}`);
        if (query.has('uploadId')) return abortMultipartUpload(this.store, res, bucket, key, query);
        return deleteObject(this.store, res, bucket, key, segments);
      case 'POST':
        if (unsupported) throw notImplemented(`POST ?${unsupported}`);
        if (query.has('uploads')) return createMultipartUpload(this.store, req, res, bucket, key);
        if (query.has('uploadId')) return completeMultipartUpload(this.store, req, res, bucket, key, segments, query);
        throw methodNotAllowed();
      default:
        throw methodNotAllowed();
    }
  }
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
