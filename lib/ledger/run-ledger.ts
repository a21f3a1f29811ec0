import { randomBytes } from 'crypto';
import type { Clock } from '../ports/clock';
import type { ObjectStore } from '../ports/object-store';

export type RunStatus = 'succeeded' | 'failed' | 'skipped';

/** What one run of a stage did: the `runs/` ledger through which stages hand work to each other. */
export interface RunRecord {
  stage: string;
  runId: string;
  startedAt: string;
  finishedAt: string;
  status: RunStatus;
  /** Why a run was skipped, or a failure's message. */
  reason?: string;
  /** References to what the run consumed (dataset ids, query ids, object keys). */
  inputs?: Record<string, unknown>;
  /** References to what it produced. Ids and keys only, never data or secrets. */
  outputs?: Record<string, unknown>;
}

const STAGE_NAME = /^[a-z][a-z0-9-]{0,39}$/;

/** Sortable, unique run ids: UTC time to the millisecond, then a random suffix. */
export function newRunId(now: Date): string {
  return `${now.toISOString().replace(/[-:.]/g, '')}-${randomBytes(3).toString('hex')}`;
}

/**
 * The ledger kept in the bucket under `runs/<stage>/<runId>.json`. Run ids sort by time, so the newest
 * runs are the last keys of a stage's prefix.
 */
export class RunLedger {
  constructor(
    private readonly store: ObjectStore,
    private readonly prefix: string,
    private readonly clock: Clock,
  ) {}

  private stagePrefix(stage: string): string {
    if (!STAGE_NAME.test(stage)) {
      throw new Error(`Invalid stage name ${JSON.stringify(stage)}: lowercase letters, digits and hyphens`);
    }
    return `${this.prefix}${stage}/`;
  }

  /**
   * Runs `work` as one ledger entry: recorded as succeeded with its outputs, or failed with the error's
   * message (then rethrown). `work` is told its run id, for what it names after the run.
   */
  async run(
    stage: string,
    work: (run: { runId: string; startedAt: string }) => Promise<{ status?: RunStatus; reason?: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }>,
  ): Promise<RunRecord> {
    const started = this.clock.now();
    const base = { stage, runId: newRunId(started), startedAt: started.toISOString() };
    this.stagePrefix(stage);
    let record: RunRecord;
    try {
      const result = await work({ runId: base.runId, startedAt: base.startedAt });
      record = { ...base, finishedAt: this.clock.now().toISOString(), status: result.status ?? 'succeeded', ...result };
    } catch (error) {
      record = { ...base, finishedAt: this.clock.now().toISOString(), status: 'failed', reason: (error as Error).message };
      await this.record(record);
      throw error;
    }
    await this.record(record);
    return record;
  }

  async record(run: RunRecord): Promise<void> {
    await this.store.put(`${this.stagePrefix(run.stage)}${run.runId}.json`, `${JSON.stringify(run, null, 2)}\n`, 'application/json');
  }

  /** The newest runs of a stage, newest first. */
  async recent(stage: string, limit = 10): Promise<RunRecord[]> {
    const keys: string[] = [];
    for await (const object of this.store.list(this.stagePrefix(stage))) {
      if (object.key.endsWith('.json')) keys.push(object.key);
    }
    keys.sort().reverse();
    return Promise.all(keys.slice(0, limit).map(async (key) => JSON.parse((await this.store.get(key)).toString('utf8')) as RunRecord));
  }

  /**
   * The newest run of a stage that `accept` takes, reading records newest first a page at a time: a
   * stage that often skips can have its last success far back.
   */
  async newest(stage: string, accept: (run: RunRecord) => boolean, pageSize = 25): Promise<RunRecord | undefined> {
    const keys: string[] = [];
    for await (const object of this.store.list(this.stagePrefix(stage))) {
      if (object.key.endsWith('.json')) keys.push(object.key);
    }
    keys.sort().reverse();
    for (let start = 0; start < keys.length; start += pageSize) {
      const page = await Promise.all(keys.slice(start, start + pageSize).map(async (key) => JSON.parse((await this.store.get(key)).toString('utf8')) as RunRecord));
      const found = page.find(accept);
      if (found) return found;
    }
    return undefined;
  }

  /**
   * The runs of a stage recorded after the run `runId` (of any stage), newest first. Run ids sort by
   * time, so only those records are read.
   */
  async after(stage: string, runId: string): Promise<RunRecord[]> {
    const prefix = this.stagePrefix(stage);
    const keys: string[] = [];
    for await (const object of this.store.list(prefix)) {
      if (object.key.endsWith('.json') && object.key.slice(prefix.length, -'.json'.length) > runId) keys.push(object.key);
    }
    keys.sort().reverse();
    return Promise.all(keys.map(async (key) => JSON.parse((await this.store.get(key)).toString('utf8')) as RunRecord));
  }

  /** The stages that have recorded runs. */
  async stages(): Promise<string[]> {
    const stages = new Set<string>();
    for await (const object of this.store.list(this.prefix)) {
      const stage = object.key.slice(this.prefix.length).split('/')[0];
      if (stage) stages.add(stage);
    }
    return [...stages].sort();
  }
}
