import { Readable } from 'stream';
import type { ObjectStore } from '../../lib/ports/object-store';

/** A call that changes the bucket, and the key it changes. */
export interface Mutation {
  op: 'put' | 'putIfAbsent' | 'putIfMatch' | 'copy' | 'delete';
  key: string;
}

export interface StoreHooks {
  /** Before every call, reading ones included, with the key (or the listed prefix); throwing stops the call. */
  beforeCall?(call: string, key: string): void;
  /** Before a call that changes the bucket; throwing stops it. */
  beforeMutation?(mutation: Mutation): void;
  /** After a call that changed the bucket, with whether a conditional put took place. */
  afterMutation?(mutation: Mutation, applied: boolean): void;
}

/** The store as the stage sees it, with `hooks` told of each call: one wrapper for the tests that watch or break the bucket. */
export function interceptedStore(store: ObjectStore, hooks: StoreHooks): ObjectStore {
  const mutate = async <T>(mutation: Mutation, call: () => Promise<T>, applied: (result: T) => boolean = () => true): Promise<T> => {
    hooks.beforeCall?.(mutation.op, mutation.key);
    hooks.beforeMutation?.(mutation);
    const result = await call();
    hooks.afterMutation?.(mutation, applied(result));
    return result;
  };
  const read = <T>(name: string, key: string, call: () => T): T => {
    hooks.beforeCall?.(name, key);
    return call();
  };
  return {
    bucket: store.bucket,
    put: (key, body, contentType) => mutate({ op: 'put', key }, () => store.put(key, body, contentType)),
    putIfAbsent: (key, body, contentType) => mutate({ op: 'putIfAbsent', key }, () => store.putIfAbsent(key, body, contentType), (etag) => etag !== undefined),
    putIfMatch: (key, body, etag, contentType) => mutate({ op: 'putIfMatch', key }, () => store.putIfMatch(key, body, etag, contentType), (next) => next !== undefined),
    copy: (from, to) => mutate({ op: 'copy', key: to }, () => store.copy(from, to)),
    delete: (key) => mutate({ op: 'delete', key }, () => store.delete(key)),
    get: (key) => read('get', key, () => store.get(key)),
    getStream: (key) => read('getStream', key, () => store.getStream(key)),
    getRange: (key, offset, length) => read('getRange', key, () => store.getRange(key, offset, length)),
    head: (key) => read('head', key, () => store.head(key)),
    list: (prefix, options) => read('list', prefix, () => store.list(prefix, options)),
  };
}

/** The store, recording every write, copy and delete that took place, in order (`put`, `copy`, `delete` and the key). */
export function recordingStore(store: ObjectStore): ObjectStore & { operations: string[] } {
  const operations: string[] = [];
  const verb = { put: 'put', putIfAbsent: 'put', putIfMatch: 'put', copy: 'copy', delete: 'delete' } as const;
  return {
    operations,
    ...interceptedStore(store, { afterMutation: (m, applied) => void (applied && operations.push(`${verb[m.op]} ${m.key}`)) }),
  };
}

/**
 * An object store in memory with S3's semantics the ledger relies on: listing in key order from
 * `startAfter`, ETags and conditional puts. For tests that write thousands of objects and only count calls.
 */
export function memoryStore(bucket = 'memory-bucket'): ObjectStore {
  const objects = new Map<string, { body: Buffer; etag: string; lastModified: Date }>();
  let version = 0;
  const bytesOf = async (body: Buffer | string | Readable): Promise<Buffer> => {
    if (typeof body === 'string') return Buffer.from(body, 'utf8');
    if (Buffer.isBuffer(body)) return body;
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(Buffer.from(chunk as Buffer));
    return Buffer.concat(chunks);
  };
  const write = async (key: string, body: Buffer | string | Readable): Promise<string> => {
    const etag = `"${(version += 1)}"`;
    objects.set(key, { body: await bytesOf(body), etag, lastModified: new Date() });
    return etag;
  };
  const found = (key: string) => {
    const object = objects.get(key);
    if (!object) throw Object.assign(new Error(`NoSuchKey: ${key}`), { name: 'NoSuchKey' });
    return object;
  };
  return {
    bucket,
    put: async (key, body) => void (await write(key, body)),
    putIfAbsent: async (key, body) => (objects.has(key) ? undefined : write(key, body)),
    putIfMatch: async (key, body, etag) => (objects.get(key)?.etag === etag ? write(key, body) : undefined),
    get: async (key) => found(key).body,
    getStream: async (key) => Readable.from([found(key).body]),
    getRange: async (key, offset, length) => found(key).body.subarray(offset, offset + length),
    copy: async (from, to) => void (await write(to, found(from).body)),
    head: async (key) => {
      const object = objects.get(key);
      return object && { key, size: object.body.length, lastModified: object.lastModified, etag: object.etag };
    },
    list: (prefix, options) => {
      const keys = [...objects.keys()].filter((key) => key.startsWith(prefix) && (options?.startAfter === undefined || key > options.startAfter)).sort();
      return (async function* () {
        for (const key of keys) {
          const object = objects.get(key);
          if (object) yield { key, size: object.body.length, lastModified: object.lastModified, etag: object.etag };
        }
      })();
    },
    delete: async (key) => void objects.delete(key),
  };
}
