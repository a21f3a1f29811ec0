import { randomBytes } from 'crypto';
import type { Clock } from '../ports/clock';
import type { ObjectStore } from '../ports/object-store';
import { isStageName, STAGES } from '../stages/registry';
import { Lease, type LeaseRecord } from './lease';
import type { LedgerOutputs, LedgerStage } from './stage-outputs';

export type { LedgerOutputs, LedgerStage } from './stage-outputs';

export type RunStatus = 'succeeded' | 'failed' | 'skipped';

interface RunRecordFields<S extends string> {
  stage: S;
  runId: string;
  startedAt: string;
  finishedAt: string;
  /** Why a run was skipped, or a failure's message. */
  reason?: string;
  /** References to what the run consumed (dataset ids, query ids, object keys). */
  inputs?: Record<string, unknown>;
}

/**
 * What one run of stage `S` did, `O` being what the stage records as outputs: references to what it
 * produced, ids and keys only, never data or secrets. A succeeded run has its outputs; a skipped one
 * may have what it got done so far; a failed one has the error's message as its reason.
 */
export type StageRunRecord<S extends string, O> =
  | (RunRecordFields<S> & { status: 'succeeded'; outputs: O })
  | (RunRecordFields<S> & { status: 'skipped' | 'failed'; outputs?: O });

/**
 * A run of the pipeline's stage `S`, its outputs typed by the stage (LedgerOutputs): the `runs/` ledger
 * through which stages hand work to each other. Of any stage by default, telling them apart by `stage`.
 */
export type RunRecord<S extends LedgerStage = LedgerStage> = { [K in S]: StageRunRecord<K, LedgerOutputs[K]> }[S];

/** A record as stored, of whatever stage folder holds it: what a listing of the ledger shows. */
export type StoredRunRecord = StageRunRecord<string, unknown>;

/** What a run's work returns: its outputs when it succeeded, or why it was skipped. */
export type RunResult<O> =
  | { status?: 'succeeded'; reason?: string; inputs?: Record<string, unknown>; outputs: O }
  | { status: 'skipped' | 'failed'; reason?: string; inputs?: Record<string, unknown>; outputs?: O };

/** The stage names of a map from stage name to outputs type. */
type StageOf<M> = Extract<keyof M, string>;

const STAGE_NAME = /^[a-z][a-z0-9-]{0,39}$/;

const DAY_MS = 24 * 60 * 60 * 1000;
/**
 * How far back `newest` lists first, and then again wider, before the whole folder: the run it looks for
 * is almost always recent, while a stage's folder grows without end (the hourly check alone records 24
 * runs a day), and a listing returns at most 1,000 keys a request.
 */
const NEWEST_LOOKBACK_DAYS = [2, 35] as const;

/**
 * How long a run of a scheduled stage may hold its lease: its function's timeout, after which Lambda has
 * stopped it, so a lease still held then belongs to a dead run. Other stages (seed, explore, provision,
 * a test's own) run without one.
 */
export function stageLeaseMs(stage: string): number | undefined {
  return isStageName(stage) ? STAGES[stage].timeoutSeconds * 1000 : undefined;
}

/** What a stage's work is given: its run id, and the lease it holds (scheduled stages). */
export interface RunContext {
  runId: string;
  startedAt: string;
  lease?: Lease | undefined;
}

/** The reason recorded by a run that found another run of its stage at work. */
export function leaseHeldReason(holder: LeaseRecord): string {
  return `Run ${holder.holder} holds the ${holder.stage} lease until ${holder.expiresAt}; two runs of a stage never work at once`;
}

/** Sortable, unique run ids: UTC time to the millisecond, then a random suffix. */
export function newRunId(now: Date): string {
  return `${runIdFloor(now)}-${randomBytes(3).toString('hex')}`;
}

/**
 * A bound below every run id of runs started at `time` or later (and above those of earlier runs), for
 * `after`: the run id of that millisecond without its random suffix.
 */
export function runIdFloor(time: Date): string {
  return time.toISOString().replace(/[-:.]/g, '');
}

/**
 * The ledger kept in the bucket under `runs/<stage>/<runId>.json`. Run ids sort by time, so the newest
 * runs are the last keys of a stage's prefix. Beside the records, names starting with `_`:
 * `runs/<stage>/_lease.json`, the lease of a scheduled stage (see `run`), and
 * `runs/<stage>/_intents/<runId>.json`, what a run is about to do before it does it (see `intend`).
 *
 * `M` maps each stage name to its outputs type: the pipeline's stages (LedgerOutputs) unless a test
 * gives stages of its own. Every method takes a stage of `M` and types the records it reads or writes
 * by that stage, so callers never cast outputs.
 */
export class RunLedger<M extends object = LedgerOutputs> {
  /** Runs of this process that recorded an intent, settled when they are recorded succeeded. */
  private readonly intended = new Set<string>();

  constructor(
    private readonly store: ObjectStore,
    private readonly prefix: string,
    private readonly clock: Clock,
    /** How long a run of a stage holds its lease; undefined runs the stage without one. */
    private readonly leaseMs: (stage: string) => number | undefined = stageLeaseMs,
  ) {}

  /** The folder of a stage; the name is checked at run time too, for the names that come from outside the code. */
  private stagePrefix(stage: string): string {
    if (!STAGE_NAME.test(stage)) {
      throw new Error(`Invalid stage name ${JSON.stringify(stage)}: lowercase letters, digits and hyphens`);
    }
    return `${this.prefix}${stage}/`;
  }

  /**
   * The keys of a stage's records, newest first; only those of runs after the run id `after`, when given,
   * which the listing starts from, so older records are not even listed.
   */
  private async keys(stage: string, after?: string): Promise<string[]> {
    const prefix = this.stagePrefix(stage);
    const keys: string[] = [];
    for await (const object of this.store.list(prefix, { startAfter: after === undefined ? undefined : `${prefix}${after}` })) {
      const name = object.key.slice(prefix.length);
      if (!name.endsWith('.json') || name.startsWith('_') || name.includes('/')) continue; // the lease and intents
      if (after === undefined || name.slice(0, -'.json'.length) > after) keys.push(object.key);
    }
    return keys.sort().reverse();
  }

  /**
   * Reads records. The ledger's one cast: a record is taken to be what the stage whose folder holds it
   * records now. JSON written by an older version may lack an output field added since; a stage that
   * reads such a field checks it (as the ingestion check does `confirmedThrough`).
   */
  private async read<R extends StoredRunRecord>(keys: readonly string[]): Promise<R[]> {
    return Promise.all(keys.map(async (key) => JSON.parse((await this.store.get(key)).toString('utf8')) as R));
  }

  /**
   * Runs `work` as one ledger entry: recorded as succeeded with its outputs, or failed with the error's
   * message (then rethrown). `work` is told its run id, for what it names after the run.
   *
   * A scheduled stage's run first takes the stage's lease (`runs/<stage>/_lease.json`, see Lease) for its
   * function's timeout: while another run holds it, this one does nothing and is recorded skipped, naming
   * the holder. The lease is given back once the run is recorded; a run that dies keeps it until it
   * expires, and the next run takes it over and finds what the dead one left (its intents).
   */
  async run<S extends StageOf<M>>(stage: S, work: (run: RunContext) => Promise<RunResult<M[S]>>): Promise<StageRunRecord<S, M[S]>> {
    const started = this.clock.now();
    const base = { stage, runId: newRunId(started), startedAt: started.toISOString() };
    this.stagePrefix(stage);
    const durationMs = this.leaseMs(stage);
    let lease: Lease | undefined;
    if (durationMs !== undefined) {
      const taken = await Lease.acquire(this.store, this.leaseKey(stage), { stage, holder: base.runId, durationMs, clock: this.clock });
      if (!taken.held) {
        const skipped: StageRunRecord<S, M[S]> = {
          ...base,
          finishedAt: this.clock.now().toISOString(),
          status: 'skipped',
          reason: leaseHeldReason(taken.holder),
          inputs: { leaseHolder: taken.holder.holder },
        };
        await this.record(skipped);
        return skipped;
      }
      lease = taken.lease;
    }
    let record: StageRunRecord<S, M[S]>;
    try {
      try {
        const result = await work({ runId: base.runId, startedAt: base.startedAt, lease });
        const finishedAt = this.clock.now().toISOString();
        if (result.status === 'skipped' || result.status === 'failed') {
          const { status, ...rest } = result;
          record = { ...base, finishedAt, status, ...rest };
        } else {
          record = { ...base, finishedAt, status: 'succeeded', ...result };
        }
      } catch (error) {
        record = { ...base, finishedAt: this.clock.now().toISOString(), status: 'failed', reason: (error as Error).message };
        await this.record(record);
        throw error;
      }
      await this.record(record);
      if (record.status === 'succeeded' && this.intended.delete(base.runId)) await this.settle(stage, base.runId);
      return record;
    } finally {
      // A lease not given back (the store failing now) expires by itself.
      await lease?.release().catch(() => undefined);
    }
  }

  private leaseKey(stage: string): string {
    return `${this.stagePrefix(stage)}_lease.json`;
  }

  private intentKey(stage: string, runId: string): string {
    if (!/^[0-9A-Za-z-]+$/.test(runId)) throw new Error(`Invalid run id ${JSON.stringify(runId)}`);
    return `${this.stagePrefix(stage)}_intents/${runId}.json`;
  }

  /**
   * Records what run `runId` is about to do, before it does it: a run that dies after this leaves the
   * intent for the next run of the stage to finish or undo. Settled (deleted) when the run is recorded
   * succeeded, or by the run that finished it.
   */
  async intend(stage: StageOf<M>, runId: string, intent: object): Promise<void> {
    this.intended.add(runId);
    await this.store.put(this.intentKey(stage, runId), `${JSON.stringify({ runId, ...intent }, null, 2)}\n`, 'application/json');
  }

  /**
   * The intents of runs of a stage not settled yet, oldest first, as stored: the stage that wrote them
   * checks their shape.
   */
  async intents(stage: StageOf<M>): Promise<Array<{ runId: string } & Record<string, unknown>>> {
    const prefix = `${this.stagePrefix(stage)}_intents/`;
    const keys: string[] = [];
    for await (const object of this.store.list(prefix)) if (object.key.endsWith('.json')) keys.push(object.key);
    return Promise.all(keys.sort().map(async (key) => JSON.parse((await this.store.get(key)).toString('utf8')) as { runId: string } & Record<string, unknown>));
  }

  /** Deletes the intent of run `runId`, once what it announced is done (or was never begun). */
  async settle(stage: StageOf<M>, runId: string): Promise<void> {
    await this.store.delete(this.intentKey(stage, runId));
  }

  async record<S extends StageOf<M>>(run: StageRunRecord<S, M[S]>): Promise<void> {
    await this.store.put(`${this.stagePrefix(run.stage)}${run.runId}.json`, `${JSON.stringify(run, null, 2)}\n`, 'application/json');
  }

  /** The records of the given runs of a stage that exist, as `recent` types them. */
  async runs<S extends StageOf<M>>(stage: S, runIds: readonly string[]): Promise<Array<StageRunRecord<S, M[S]>>> {
    const keys = runIds.map((runId) => `${this.stagePrefix(stage)}${runId}.json`);
    const present = await Promise.all(keys.map(async (key) => ((await this.store.head(key)) ? key : undefined)));
    return this.read(present.filter((key) => key !== undefined));
  }

  /** The ids of the newest runs of a stage, newest first: a listing, no record is read. */
  async runIds(stage: StageOf<M>, limit?: number): Promise<string[]> {
    const prefix = this.stagePrefix(stage);
    return (await this.keys(stage)).slice(0, limit).map((key) => key.slice(prefix.length, -'.json'.length));
  }

  /** The newest runs of a stage, newest first. */
  async recent<S extends StageOf<M>>(stage: S, limit = 10): Promise<Array<StageRunRecord<S, M[S]>>> {
    return this.read((await this.keys(stage)).slice(0, limit));
  }

  /**
   * The newest runs in the folder of a stage named at run time (the `runs` command's `--stage`, or one
   * that `stages()` found), as stored: for listing the ledger, whatever stage or version wrote them.
   */
  async recentStored(stage: string, limit = 10): Promise<StoredRunRecord[]> {
    return this.read((await this.keys(stage)).slice(0, limit));
  }

  /**
   * The newest run of a stage that `accept` takes, reading records one at a time, newest first, and
   * stopping at the first taken: what a lookup reads is the runs since the one it wants, not the stage's
   * history. With `after`, only runs after that run id (or `runIdFloor`) are considered. Without it the
   * folder is listed from a few days back, then further (NEWEST_LOOKBACK_DAYS), and whole only when no
   * recent run is taken, so the listing does not grow with history either. When `accept` narrows the
   * record (as `(r) => r.status === 'succeeded'` does), so does the answer.
   */
  async newest<S extends StageOf<M>, R extends StageRunRecord<S, M[S]>>(stage: S, accept: (run: StageRunRecord<S, M[S]>) => run is R, options?: { after?: string }): Promise<R | undefined>;
  async newest<S extends StageOf<M>>(stage: S, accept: (run: StageRunRecord<S, M[S]>) => boolean, options?: { after?: string }): Promise<StageRunRecord<S, M[S]> | undefined>;
  async newest<S extends StageOf<M>>(stage: S, accept: (run: StageRunRecord<S, M[S]>) => boolean, options: { after?: string } = {}): Promise<StageRunRecord<S, M[S]> | undefined> {
    if (options.after !== undefined) return this.first(await this.keys(stage, options.after), accept);
    const now = this.clock.now().getTime();
    // Each wider listing reads only the runs the narrower one did not reach.
    let readDownTo: string | undefined;
    for (const floor of [...NEWEST_LOOKBACK_DAYS.map((days) => runIdFloor(new Date(now - days * DAY_MS))), '']) {
      const keys = await this.keys(stage, floor);
      const unread = readDownTo === undefined ? keys : keys.filter((key) => this.runIdOf(stage, key) <= readDownTo!);
      const found = await this.first(unread, accept);
      if (found) return found;
      readDownTo = floor;
    }
    return undefined;
  }

  private runIdOf(stage: string, key: string): string {
    return key.slice(this.stagePrefix(stage).length, -'.json'.length);
  }

  /**
   * The oldest run of a stage after the run `runId` (of any stage, or a `runIdFloor`) that `accept`
   * takes, reading records one at a time, oldest first: for what followed a run soon after it.
   */
  async oldestAfter<S extends StageOf<M>>(stage: S, runId: string, accept: (run: StageRunRecord<S, M[S]>) => boolean): Promise<StageRunRecord<S, M[S]> | undefined> {
    return this.first((await this.keys(stage, runId)).reverse(), accept);
  }

  private async first<R extends StoredRunRecord>(keys: readonly string[], accept: (run: R) => boolean): Promise<R | undefined> {
    for (const key of keys) {
      const [run] = await this.read<R>([key]);
      if (run && accept(run)) return run;
    }
    return undefined;
  }

  /**
   * The runs of a stage recorded after the run `runId` (of any stage, or a `runIdFloor`; '' for all),
   * newest first, the newest `limit` of them when given. Run ids sort by time, so only those records are
   * listed, and only those returned are read.
   */
  async after<S extends StageOf<M>>(stage: S, runId: string, limit?: number): Promise<Array<StageRunRecord<S, M[S]>>> {
    return this.read((await this.keys(stage, runId)).slice(0, limit));
  }

  /** The stages that have recorded runs: the folders under the prefix, as named on disk. */
  async stages(): Promise<string[]> {
    const stages = new Set<string>();
    for await (const object of this.store.list(this.prefix)) {
      const stage = object.key.slice(this.prefix.length).split('/')[0];
      if (stage) stages.add(stage);
    }
    return [...stages].sort();
  }
}
