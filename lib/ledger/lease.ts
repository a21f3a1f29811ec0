import type { Clock } from '../ports/clock';
import type { ObjectStore } from '../ports/object-store';

/** What the lease object holds: who holds the stage and until when. */
export interface LeaseRecord {
  stage: string;
  /** The run id of the holder. */
  holder: string;
  acquiredAt: string;
  /** After this instant the holder is taken to be dead, and another run may take the lease over. */
  expiresAt: string;
  /** Set when the holder gave the lease back before it expired. */
  releasedAt?: string;
}

export interface LeaseTerms {
  stage: string;
  holder: string;
  /** How long a holder may work: the stage function's timeout, after which Lambda has stopped it. */
  durationMs: number;
  clock: Clock;
}

export type LeaseOutcome = { held: true; lease: Lease } | { held: false; holder: LeaseRecord };

function isLeaseRecord(value: unknown): value is LeaseRecord {
  const record = value as Partial<LeaseRecord> | null;
  return typeof record?.holder === 'string' && typeof record.expiresAt === 'string' && !Number.isNaN(Date.parse(record.expiresAt));
}

/**
 * A stage's lease, kept as one object in the bucket and changed only with S3 conditional writes, so two
 * runners of a stage (a schedule and a manual run, two deployments on one bucket) never work at once:
 * taken with `If-None-Match: *`; taken over, once expired, with `If-Match` on the ETag read, so of two
 * runners taking over the same expired lease one wins; renewed and released with `If-Match` on the
 * holder's own ETag, so a holder that lost the lease cannot write over its successor's.
 */
export class Lease {
  private constructor(
    private readonly store: ObjectStore,
    readonly key: string,
    private readonly terms: LeaseTerms,
    private etag: string,
    private record: LeaseRecord,
  ) {}

  /** Takes the lease at `key`, or says who holds it. */
  static async acquire(store: ObjectStore, key: string, terms: LeaseTerms): Promise<LeaseOutcome> {
    const record = Lease.recordFor(terms);
    const body = Lease.body(record);
    const created = await store.putIfAbsent(key, body, 'application/json');
    if (created !== undefined) return { held: true, lease: new Lease(store, key, terms, created, record) };
    // Another writer may change the object between each read and write; each round reads it afresh.
    let holder: LeaseRecord | undefined;
    for (let round = 0; round < 5; round++) {
      const current = await store.head(key);
      if (current?.etag === undefined) {
        const again = await store.putIfAbsent(key, body, 'application/json');
        if (again !== undefined) return { held: true, lease: new Lease(store, key, terms, again, record) };
        continue;
      }
      holder = await Lease.read(store, key);
      // An unreadable lease object is taken over: it would otherwise stop the stage for good.
      if (holder && Date.parse(holder.expiresAt) > terms.clock.now().getTime()) return { held: false, holder };
      const taken = await store.putIfMatch(key, body, current.etag, 'application/json');
      if (taken !== undefined) return { held: true, lease: new Lease(store, key, terms, taken, record) };
    }
    if (holder) return { held: false, holder };
    throw new Error(`The lease ${key} of stage ${terms.stage} kept changing while run ${terms.holder} tried to take it`);
  }

  get holder(): LeaseRecord {
    return this.record;
  }

  /**
   * Extends the lease by its duration from now, only if this run still holds it: false when it was
   * taken over (this run outlived its expiry), and the caller must not go on with its side effects.
   */
  async renew(): Promise<boolean> {
    const record = { ...Lease.recordFor(this.terms), acquiredAt: this.record.acquiredAt };
    const etag = await this.store.putIfMatch(this.key, Lease.body(record), this.etag, 'application/json');
    if (etag === undefined) return false;
    [this.etag, this.record] = [etag, record];
    return true;
  }

  /** Gives the lease back (expired now), unless another run has taken it since. */
  async release(): Promise<void> {
    const now = this.terms.clock.now().toISOString();
    await this.store.putIfMatch(this.key, Lease.body({ ...this.record, expiresAt: now, releasedAt: now }), this.etag, 'application/json');
  }

  private static recordFor(terms: LeaseTerms): LeaseRecord {
    const now = terms.clock.now();
    return { stage: terms.stage, holder: terms.holder, acquiredAt: now.toISOString(), expiresAt: new Date(now.getTime() + terms.durationMs).toISOString() };
  }

  private static body(record: LeaseRecord): string {
    return `${JSON.stringify(record, null, 2)}\n`;
  }

  private static async read(store: ObjectStore, key: string): Promise<LeaseRecord | undefined> {
    try {
      const value: unknown = JSON.parse((await store.get(key)).toString('utf8'));
      return isLeaseRecord(value) ? value : undefined;
    } catch (error) {
      // Gone since it was listed (another run released or replaced it), or not JSON.
      if (error instanceof SyntaxError || (error as Error).name === 'ObjectNotFoundError') return undefined;
      throw error;
    }
  }
}
