/**
 * Bucket lifecycle configurations (`?lifecycle`) and the sweep that carries them out. Configurations
 * are kept as `<root>/.lifecycle/<bucket>.json` and in memory, so when the next sweep is due can be
 * answered at once. S3 acts on its rules once a day, some time after 00:00 UTC; the sweep is due at
 * each 00:00 UTC on the store's clock while some bucket has a rule that removes anything.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import type { TimedWork } from '../time/timed-work';
import { readXmlBody } from './body';
import { errCode, S3Error } from './errors';
import { sendEmpty, sendXml } from './http';
import { keySegments } from './keys';
import { nextMidnightUtc, objectExpiresAt, parseLifecycleConfiguration, renderLifecycleConfiguration, rulesAct, uploadAbortedAt, type LifecycleRule } from './lifecycle-config';
import { bucketKeys } from './listing';
import { discardUpload, unfinishedUploads } from './multipart';
import type { FileStore } from './store';

const fsp = fs.promises;

const LIFECYCLE_DIR = '.lifecycle';
/** S3 answers lifecycle calls with the default minimum size for transitions, which it has applied since 2024. */
const TRANSITION_MINIMUM_HEADER = { 'x-amz-transition-default-minimum-object-size': 'all_storage_classes_128K' };

/** What one sweep removed. */
export interface LifecycleSweep {
  expired: Array<{ bucket: string; key: string }>;
  abortedUploads: Array<{ bucket: string; key: string; uploadId: string }>;
}

export class BucketLifecycles {
  private readonly rules = new Map<string, LifecycleRule[]>();

  constructor(private readonly store: FileStore) {}

  private file(bucket: string): string {
    return path.join(this.store.root, LIFECYCLE_DIR, `${bucket}.json`);
  }

  /** Loads the configurations kept by an earlier run of the store. */
  async init(): Promise<void> {
    const dir = path.join(this.store.root, LIFECYCLE_DIR);
    await fsp.mkdir(dir, { recursive: true });
    for (const name of await fsp.readdir(dir)) {
      if (!name.endsWith('.json')) continue;
      const rules = await this.store.readJson<LifecycleRule[]>(path.join(dir, name));
      if (Array.isArray(rules)) this.rules.set(name.slice(0, -'.json'.length), rules);
    }
  }

  /** PutBucketLifecycleConfiguration: replaces the bucket's whole configuration. */
  async put(req: http.IncomingMessage, res: http.ServerResponse, bucket: string): Promise<void> {
    const integrity = Object.keys(req.headers).some((h) => h === 'content-md5' || h.startsWith('x-amz-checksum-') || h === 'x-amz-trailer');
    const xml = await readXmlBody(req);
    if (!integrity) throw new S3Error(400, 'InvalidRequest', 'Missing required header for this request: Content-MD5');
    await this.store.requireBucket(bucket);
    const rules = parseLifecycleConfiguration(xml);
    await this.store.writeJsonAtomic(this.file(bucket), rules);
    this.rules.set(bucket, rules);
    for (const [k, v] of Object.entries(TRANSITION_MINIMUM_HEADER)) res.setHeader(k, v);
    sendEmpty(res, 200);
  }

  /** GetBucketLifecycleConfiguration. */
  async get(req: http.IncomingMessage, res: http.ServerResponse, bucket: string): Promise<void> {
    await this.store.requireBucket(bucket);
    const rules = this.rules.get(bucket);
    if (!rules) throw new S3Error(404, 'NoSuchLifecycleConfiguration', 'The lifecycle configuration does not exist');
    for (const [k, v] of Object.entries(TRANSITION_MINIMUM_HEADER)) res.setHeader(k, v);
    sendXml(res, 200, renderLifecycleConfiguration(rules), req.method === 'HEAD');
  }

  /** DeleteBucketLifecycle: 204 whether or not there was a configuration. */
  async delete(res: http.ServerResponse, bucket: string): Promise<void> {
    await this.store.requireBucket(bucket);
    await this.forget(bucket);
    sendEmpty(res, 204);
  }

  /** Drops the configuration of a bucket that is gone. */
  async forget(bucket: string): Promise<void> {
    this.rules.delete(bucket);
    await fsp.rm(this.file(bucket), { force: true }).catch((e: unknown) => {
      if (errCode(e) !== 'ENOENT') throw e;
    });
  }

  /**
   * Removes what the rules have made eligible by `at`: objects past their expiry, and unfinished
   * multipart uploads initiated too long ago.
   */
  async sweep(at: Date): Promise<LifecycleSweep> {
    const now = at.getTime();
    const outcome: LifecycleSweep = { expired: [], abortedUploads: [] };
    for (const [bucket, rules] of this.rules) {
      if (!rulesAct(rules)) continue;
      for await (const key of bucketKeys(this.store, bucket)) {
        const meta = await this.store.describeObject(bucket, key);
        if (!meta) continue;
        const due = objectExpiresAt(rules, { key, size: meta.size, lastModified: meta.mtimeMs });
        if (due === undefined || due > now) continue;
        await this.store.deleteObject(bucket, key, keySegments(key));
        outcome.expired.push({ bucket, key });
      }
    }
    for (const upload of await unfinishedUploads(this.store)) {
      const rules = this.rules.get(upload.bucket);
      const due = rules && uploadAbortedAt(rules, upload);
      if (due === undefined || due > now) continue;
      await discardUpload(this.store, upload.uploadId);
      outcome.abortedUploads.push({ bucket: upload.bucket, key: upload.key, uploadId: upload.uploadId });
    }
    return outcome;
  }

  /** The sweep as work due at each 00:00 UTC while some bucket has a rule that removes anything. */
  readonly timedWork: TimedWork = {
    name: 'S3 lifecycle sweep',
    nextAt: (after) => ([...this.rules.values()].some(rulesAct) ? new Date(nextMidnightUtc(after.getTime())) : undefined),
    run: async (at) => {
      await this.sweep(at);
    },
  };
}

