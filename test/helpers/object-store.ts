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
