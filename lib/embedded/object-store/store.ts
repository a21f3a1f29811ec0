import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { systemClock, type Clock } from '../../ports/clock';
import { Checksum, md5OfHandle } from './checksums';
import { KeyedLock } from './concurrency';
import { conditionalRequestConflict, errCode, invalidArgument, keyConflict, noSuchBucket, noSuchKey, noSuchUpload, preconditionFailed, S3Error } from './errors';
import { etagMatches, keySegments, metaDirSegment } from './keys';

/*
 * Objects are kept as plain files so that a run's output can be opened directly:
 *
 *   <root>/<bucket>/<key>            the object bytes, nothing else
 *   <root>/.meta/<bucket>/<key>.json  sidecar: ETag, content type, user metadata, checksum
 *   <root>/.uploads/<uploadId>/       multipart staging (parts + upload description)
 *   <root>/.tmp/                      temp files that are renamed into place on commit
 *
 * Every hidden folder starts with a dot, which a valid bucket name never does, so they can't collide
 * with a bucket.
 */

const fsp = fs.promises;

const META_DIR = '.meta';
const TMP_DIR = '.tmp';
const UPLOADS_DIR = '.uploads';
export const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';

export interface ObjectMeta {
  /** MD5 hex, or "<md5-of-md5s>-<parts>" for multipart objects; unquoted. */
  etag: string;
  size: number;
  mtimeMs: number;
  ino: number;
  contentType: string;
  userMetadata: Record<string, string>;
  headers: Record<string, string>;
  /** Whole-object checksum the client sent and we verified. */
  checksum?: Checksum | undefined;
  /** Part sizes of a multipart object, so GET ?partNumber= can be answered. */
  parts?: number[];
}

/**
 * The If-Match / If-None-Match of a write (PutObject, CopyObject's destination, CompleteMultipartUpload),
 * and the key's ETag when the request arrived (null: no object), to tell a failed condition (412) from
 * a write that lost a race with another one completing meanwhile (409).
 */
export interface WriteConditions {
  ifMatch?: string | undefined;
  ifNoneMatch?: string | undefined;
  seenAtStart?: string | null | undefined;
}

export type DescriptiveMeta = Pick<ObjectMeta, 'contentType' | 'userMetadata' | 'headers'>;

export interface OpenedObject {
  handle: fs.promises.FileHandle;
  meta: ObjectMeta;
}

export function randomId(bytes: number): string {
  return crypto.randomBytes(bytes).toString('hex');
}

function matches(meta: ObjectMeta, st: fs.Stats): boolean {
  return meta.size === st.size && meta.mtimeMs === st.mtimeMs && meta.ino === st.ino;
}

/** The object files under one root directory, with the locking that keeps data and sidecars in step. */
export class FileStore {
  /** Held per "<bucket>/<key>" by writers of an object, and per "upload:<id>[:<part>]" by multipart steps. */
  readonly locks = new KeyedLock();

  constructor(
    readonly root: string,
    /** Stamps objects' LastModified and uploads' initiation, which lifecycle rules count days from. */
    readonly clock: Clock = systemClock,
  ) {}

  async init(): Promise<void> {
    for (const dir of [this.root, path.join(this.root, META_DIR), path.join(this.root, UPLOADS_DIR)]) {
      await fsp.mkdir(dir, { recursive: true });
    }
    // Temp files from an earlier run that died mid-write are never going to be committed.
    await fsp.rm(path.join(this.root, TMP_DIR), { recursive: true, force: true });
    await fsp.mkdir(path.join(this.root, TMP_DIR), { recursive: true });
  }

  // ---- paths ----

  bucketDir(bucket: string): string {
    return path.join(this.root, bucket);
  }

  private contained(base: string, target: string): string {
    // Belt and braces: keySegments already refuses traversal, this makes escaping impossible even if
    // that validation were ever loosened.
    if (!target.startsWith(base + path.sep)) throw invalidArgument('The key resolves outside its bucket.');
    return target;
  }

  /** Where the sidecars of a bucket's objects live. */
  metaBucketDir(bucket: string): string {
    return path.join(this.root, META_DIR, bucket);
  }

  objectPath(bucket: string, segments: string[]): string {
    const base = this.bucketDir(bucket);
    return this.contained(base, path.resolve(base, ...segments));
  }

  metaPath(bucket: string, segments: string[]): string {
    const base = this.metaBucketDir(bucket);
    const dirs = segments.slice(0, -1).map(metaDirSegment);
    return this.contained(base, path.resolve(base, ...dirs, `${segments[segments.length - 1]}.json`));
  }

  tmpPath(): string {
    return path.join(this.root, TMP_DIR, `${randomId(12)}.tmp`);
  }

  uploadsRoot(): string {
    return path.join(this.root, UPLOADS_DIR);
  }

  uploadDir(uploadId: string): string {
    if (!/^[0-9a-f]{32}$/.test(uploadId)) throw noSuchUpload();
    return path.join(this.uploadsRoot(), uploadId);
  }

  async requireBucket(bucket: string): Promise<void> {
    const st = await fsp.stat(this.bucketDir(bucket)).catch(() => undefined);
    if (!st?.isDirectory()) throw noSuchBucket(bucket);
  }

  // ---- sidecar metadata ----

  async writeJsonAtomic(file: string, value: unknown): Promise<void> {
    const tmp = this.tmpPath();
    await fsp.writeFile(tmp, JSON.stringify(value));
    try {
      await fsp.mkdir(path.dirname(file), { recursive: true });
      await fsp.rename(tmp, file);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw e;
    }
  }

  async readJson<T>(file: string): Promise<T | undefined> {
    try {
      return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
    } catch {
      return undefined;
    }
  }

  /**
   * Opens an object with metadata that describes exactly the bytes behind the returned handle. The
   * sidecar records size/mtime/inode of the file it describes; a mismatch means a commit is in flight
   * (wait for it via the key lock) or the file was changed outside the server (rebuild the ETag).
   */
  async openObject(bucket: string, key: string, segments: string[], lockHeld = false): Promise<OpenedObject> {
    const file = this.objectPath(bucket, segments);
    const sidecar = this.metaPath(bucket, segments);
    for (let attempt = 0; attempt < 5; attempt++) {
      let handle: fs.promises.FileHandle;
      try {
        handle = await fsp.open(file, 'r');
      } catch (e) {
        if (['ENOENT', 'ENOTDIR', 'EISDIR'].includes(errCode(e) ?? '')) {
          await this.requireBucket(bucket);
          throw noSuchKey();
        }
        throw e;
      }
      try {
        const st = await handle.stat();
        if (!st.isFile()) throw noSuchKey();
        const meta = await this.readJson<ObjectMeta>(sidecar);
        if (meta && matches(meta, st)) return { handle, meta };
        const repair = async (): Promise<ObjectMeta | undefined> => {
          const current = await fsp.stat(file).catch(() => undefined);
          if (!current || current.ino !== st.ino || current.size !== st.size || current.mtimeMs !== st.mtimeMs) return undefined;
          const again = await this.readJson<ObjectMeta>(sidecar);
          if (again && matches(again, st)) return again;
          const rebuilt: ObjectMeta = {
            etag: await md5OfHandle(handle),
            size: st.size,
            mtimeMs: st.mtimeMs,
            ino: st.ino,
            contentType: again?.contentType ?? DEFAULT_CONTENT_TYPE,
            userMetadata: again?.userMetadata ?? {},
            headers: again?.headers ?? {},
          };
          // Caching is best effort: a read-only or odd sidecar tree must not make the object unreadable.
          await this.writeJsonAtomic(sidecar, rebuilt).catch(() => undefined);
          return rebuilt;
        };
        const repaired = lockHeld ? await repair() : await this.locks.run(`${bucket}/${key}`, repair);
        if (repaired) return { handle, meta: repaired };
      } catch (e) {
        await handle.close().catch(() => undefined);
        throw e;
      }
      await handle.close().catch(() => undefined);
    }
    throw new S3Error(503, 'SlowDown', 'The object kept changing while being read; please retry.');
  }

  async describeObject(bucket: string, key: string): Promise<ObjectMeta | undefined> {
    try {
      const { handle, meta } = await this.openObject(bucket, key, keySegments(key));
      await handle.close();
      return meta;
    } catch (e) {
      // Files that vanished, or that were dropped in by hand under names S3 keys can't map to, are skipped.
      if (e instanceof S3Error && e.status >= 400 && e.status < 500) return undefined;
      throw e;
    }
  }

  /** Moves a finished temp file to its object path; the rename is what makes it visible atomically. */
  private async placeFile(tmp: string, dest: string, key: string): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await fsp.mkdir(path.dirname(dest), { recursive: true });
      } catch (e) {
        if (['EEXIST', 'ENOTDIR'].includes(errCode(e) ?? '')) throw keyConflict(key);
        throw e;
      }
      try {
        await fsp.rename(tmp, dest);
        return;
      } catch (e) {
        const code = errCode(e);
        // A concurrent delete may have pruned the freshly created parent directory.
        if (code === 'ENOENT') continue;
        if (code === 'ENOTDIR') throw keyConflict(key);
        if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EPERM') {
          // A directory is in the way: fine if it is an empty leftover, a conflict if it holds objects.
          try {
            await fsp.rmdir(dest);
          } catch {
            throw keyConflict(key);
          }
          continue;
        }
        throw e;
      }
    }
    throw new S3Error(503, 'SlowDown', 'Could not place the object because its folder kept disappearing; please retry.');
  }

  /** The object's ETag now, or null when the key holds no object: what a conditional write is checked against. */
  async currentEtag(bucket: string, key: string, segments: string[], lockHeld = false): Promise<string | null> {
    try {
      const opened = await this.openObject(bucket, key, segments, lockHeld);
      await opened.handle.close();
      return opened.meta.etag;
    } catch (e) {
      if (e instanceof S3Error && e.code === 'NoSuchKey') return null;
      throw e;
    }
  }

  /**
   * Commits a temp file as an object. Data is renamed first, then the sidecar is written, both while
   * holding the key lock; readers that catch the gap see a mismatching sidecar and wait on the lock.
   * The conditions are checked under that lock, so of two conditional writers of a key only one wins.
   */
  async commitObject(
    conditions: WriteConditions,
    bucket: string,
    key: string,
    segments: string[],
    tmp: string,
    described: DescriptiveMeta & Pick<ObjectMeta, 'etag' | 'checksum' | 'parts'>,
  ): Promise<ObjectMeta> {
    return this.locks.run(`${bucket}/${key}`, async () => {
      await this.requireBucket(bucket);
      const { ifMatch, ifNoneMatch, seenAtStart } = conditions;
      if (ifNoneMatch !== undefined || ifMatch !== undefined) {
        const existing = await this.currentEtag(bucket, key, segments, true);
        // S3: If-Match on a key that holds no object is answered 404 NoSuchKey.
        if (ifMatch !== undefined && existing === null) throw noSuchKey();
        if (ifMatch !== undefined && existing !== null && !etagMatches(ifMatch, existing)) throw preconditionFailed();
        if (ifNoneMatch !== undefined && existing !== null && seenAtStart !== null && etagMatches(ifNoneMatch, existing)) throw preconditionFailed();
        // The condition held when the request arrived, but another write to the key completed while
        // this one was uploading: S3 answers 409, and the client retries from the start.
        if (seenAtStart !== undefined && seenAtStart !== existing) throw conditionalRequestConflict();
      }
      // LastModified is the file's mtime, set from the store's clock so a simulated run ages its objects.
      const written = this.clock.now();
      await fsp.utimes(tmp, written, written);
      const st = await fsp.stat(tmp);
      const meta: ObjectMeta = { ...described, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
      await this.placeFile(tmp, this.objectPath(bucket, segments), key);
      await this.writeJsonAtomic(this.metaPath(bucket, segments), meta);
      return meta;
    });
  }

  private async pruneEmptyDirs(from: string, stopAt: string): Promise<void> {
    for (let dir = from; dir.startsWith(stopAt + path.sep); dir = path.dirname(dir)) {
      try {
        await fsp.rmdir(dir);
      } catch {
        return;
      }
    }
  }

  /** Deletes an object and its sidecar; deleting a missing key is not an error. */
  async deleteObject(bucket: string, key: string, segments: string[]): Promise<void> {
    await this.locks.run(`${bucket}/${key}`, async () => {
      const file = this.objectPath(bucket, segments);
      const st = await fsp.lstat(file).catch(() => undefined);
      if (st && !st.isDirectory()) {
        await fsp.rm(file, { force: true });
        await this.pruneEmptyDirs(path.dirname(file), this.bucketDir(bucket));
      }
      const sidecar = this.metaPath(bucket, segments);
      await fsp.rm(sidecar, { force: true });
      await this.pruneEmptyDirs(path.dirname(sidecar), this.metaBucketDir(bucket));
    });
  }
}
