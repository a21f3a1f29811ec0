/**
 * Faults over time for a simulated run (`--faults <seed>`): what a deployed pipeline meets in months of
 * operation (AEP throttling, 5xx and stalls, tokens that stop working, S3 errors, a Lambda timing out or
 * crashing mid-work), drawn from a seed.
 *
 * Every decision depends on the seed, the invocation's ordinal and the order of the requests within the
 * invocation, never on wall time. Each invocation draws from its own streams (one for AEP requests, one
 * for object store requests, one for the kill), so a change in one invocation's traffic does not shift the
 * faults of every later one.
 *
 * `FaultPlan` decides; `attachFaults` applies its decisions to a running embedded platform through the
 * servers' hooks and keeps the tally.
 */
import type { Clock } from '../ports/clock';
import { gatewayFault, type RequestFault } from '../embedded/aep/faults';
import { internalError, slowDown, type S3Error } from '../embedded/object-store/errors';
import type { ObjectStoreRequest } from '../embedded/object-store/server';
import type { EmbeddedPlatform } from '../embedded/platform';
import { EMBEDDED_AEP_S3_CREDENTIALS } from '../embedded/platform';
import { streamRng, uniform, type RandomGenerator } from '../random/rng';

export const FAULT_KINDS = ['aep-throttle', 'aep-server-error', 'aep-timeout', 'token-revocation', 'object-store-error', 'process-kill'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Probabilities: the AEP kinds per request a function makes to AEP (at most one fault per request), the
 * object store errors per request a function makes to the store, kills per invocation.
 */
export interface FaultRates {
  /** 429 with Retry-After. */
  aepThrottle: number;
  /** 500, 502, 503 or 504 with the gateway's body. */
  aepServerError: number;
  /** The response held longer than the client waits (`holdMs`). */
  aepTimeout: number;
  /** Every token IMS issued is revoked as the request arrives, so it gets 401 and the client signs in again. */
  tokenRevocation: number;
  /** S3 500 InternalError or 503 SlowDown. */
  objectStoreError: number;
  /** The invocation's process killed as one of its requests arrives. */
  processKill: number;
}

/**
 * Sized on an estimate of a few hundred AEP and object store requests per simulated day from the
 * functions of a pipeline at a few thousand users (featurize, score and audience daily, training
 * weekly, with their polling and uploads), about 200 invocations in 60 days: each kind lands about 5 to 20 times
 * in such a run, few enough that retries and held responses don't make it crawl. The run's tally shows
 * what was drawn; tune from there.
 */
export const DEFAULT_FAULT_RATES: FaultRates = {
  aepThrottle: 0.001,
  aepServerError: 0.001,
  aepTimeout: 0.0005,
  tokenRevocation: 0.0005,
  objectStoreError: 0.002,
  processKill: 0.05,
};

/** Retry-After of an injected 429, in whole seconds: AEP asks for a few. */
export const RETRY_AFTER_SECONDS = { min: 1, max: 5 } as const;
/** How long a timed-out response is held unless told: above the functions' AEP_HTTP_TIMEOUT_MS a simulator sets. */
export const DEFAULT_HOLD_MS = 5_000;
/** Requests a stage's invocation is assumed to make before one of its runs has been seen. */
export const DEFAULT_EXPECTED_REQUESTS = 20;

export interface FaultPlanOptions {
  seed: number;
  /** Defaults for the rates left out: `DEFAULT_FAULT_RATES`. */
  rates?: Partial<FaultRates>;
  /** Faults only for invocations that begin at or after `start` and before `end`; always when absent. */
  window?: { start?: Date; end?: Date };
  /** How long an AEP timeout holds the response; must exceed the client's HTTP timeout. @default DEFAULT_HOLD_MS */
  holdMs?: number;
}

export type AepFaultDecision =
  | { kind: 'aep-throttle'; status: 429; retryAfterSeconds: number }
  | { kind: 'aep-server-error'; status: 500 | 502 | 503 | 504 }
  | { kind: 'aep-timeout'; holdMs: number }
  | { kind: 'token-revocation' };

export interface ObjectStoreFaultDecision {
  kind: 'object-store-error';
  status: 500 | 503;
  code: 'InternalError' | 'SlowDown';
}

/** One invocation's faults: decided request by request, in the order the requests arrive. */
export interface InvocationFaults {
  /** The invocation is killed when its request number `killAtRequest` (from 1, AEP and store together) arrives. */
  readonly killAtRequest: number | undefined;
  aepRequest(method: string, path: string): AepFaultDecision | undefined;
  objectStoreRequest(method: string, bucket: string, key: string): ObjectStoreFaultDecision | undefined;
}

const NO_FAULTS: InvocationFaults = {
  killAtRequest: undefined,
  aepRequest: () => undefined,
  objectStoreRequest: () => undefined,
};

const SERVER_ERRORS = [500, 502, 503, 504] as const;
const STREAMS_PER_INVOCATION = 3;

function pick<T>(rng: RandomGenerator, items: readonly T[]): T {
  return items[Math.floor(uniform(rng) * items.length)]!; // uniform < 1
}

export class FaultPlan {
  readonly seed: number;
  readonly rates: Readonly<FaultRates>;
  readonly holdMs: number;
  private readonly start: number;
  private readonly end: number;

  constructor(options: FaultPlanOptions) {
    this.seed = options.seed;
    this.rates = { ...DEFAULT_FAULT_RATES, ...options.rates };
    for (const kind of Object.keys(this.rates) as Array<keyof FaultRates>) {
      const rate = this.rates[kind];
      if (!(rate >= 0 && rate <= 1)) throw new RangeError(`FaultPlan: rate ${kind} must be between 0 and 1, got ${rate}`);
    }
    const aepTotal = this.rates.aepThrottle + this.rates.aepServerError + this.rates.aepTimeout + this.rates.tokenRevocation;
    if (aepTotal > 1) throw new RangeError(`FaultPlan: the AEP rates add up to ${aepTotal}, more than 1`);
    this.holdMs = options.holdMs ?? DEFAULT_HOLD_MS;
    if (!(this.holdMs > 0)) throw new RangeError(`FaultPlan: holdMs must be positive, got ${this.holdMs}`);
    this.start = options.window?.start?.getTime() ?? -Infinity;
    this.end = options.window?.end?.getTime() ?? Infinity;
    if (this.start >= this.end) throw new RangeError('FaultPlan: the window must start before it ends');
    // Validates the seed the way every draw will use it.
    streamRng(this.seed, 0);
  }

  /** Whether an invocation beginning at `at` gets faults. */
  activeAt(at: Date): boolean {
    const t = at.getTime();
    return t >= this.start && t < this.end;
  }

  /**
   * The faults of the invocation numbered `ordinal` (from 0, in the order invocations begin), beginning at
   * `at`. `expectedRequests` (how many requests the stage's last run made) spreads the kill over the whole
   * run, its last requests (the publish) included.
   */
  invocation(ordinal: number, at: Date, expectedRequests = DEFAULT_EXPECTED_REQUESTS): InvocationFaults {
    if (!Number.isSafeInteger(ordinal) || ordinal < 0) throw new RangeError(`FaultPlan: invocation ordinal must be an integer >= 0, got ${ordinal}`);
    if (!this.activeAt(at)) return NO_FAULTS;
    const base = ordinal * STREAMS_PER_INVOCATION;
    const killRng = streamRng(this.seed, base);
    const aepRng = streamRng(this.seed, base + 1);
    const storeRng = streamRng(this.seed, base + 2);
    const rates = this.rates;
    const holdMs = this.holdMs;

    let killAtRequest: number | undefined;
    if (uniform(killRng) < rates.processKill) {
      killAtRequest = 1 + Math.floor(uniform(killRng) * Math.max(1, Math.floor(expectedRequests)));
    }

    return {
      killAtRequest,
      aepRequest(_method, path) {
        let u = uniform(aepRng);
        if ((u -= rates.aepThrottle) < 0) {
          const span = RETRY_AFTER_SECONDS.max - RETRY_AFTER_SECONDS.min + 1;
          return { kind: 'aep-throttle', status: 429, retryAfterSeconds: RETRY_AFTER_SECONDS.min + Math.floor(uniform(aepRng) * span) };
        }
        if ((u -= rates.aepServerError) < 0) return { kind: 'aep-server-error', status: pick(aepRng, SERVER_ERRORS) };
        if ((u -= rates.aepTimeout) < 0) return { kind: 'aep-timeout', holdMs };
        // Revoking while a token is being issued would only revoke tokens nobody holds.
        if ((u -= rates.tokenRevocation) < 0 && !path.startsWith('/ims/')) return { kind: 'token-revocation' };
        return undefined;
      },
      objectStoreRequest() {
        if (uniform(storeRng) >= rates.objectStoreError) return undefined;
        return uniform(storeRng) < 0.5
          ? { kind: 'object-store-error', status: 500, code: 'InternalError' }
          : { kind: 'object-store-error', status: 503, code: 'SlowDown' };
      },
    };
  }
}

/** Faults injected so far, by kind. */
export class FaultTally {
  private readonly counts = new Map<FaultKind, number>(FAULT_KINDS.map((kind) => [kind, 0]));

  record(kind: FaultKind): void {
    this.counts.set(kind, this.count(kind) + 1);
  }

  count(kind: FaultKind): number {
    return this.counts.get(kind) ?? 0;
  }

  get total(): number {
    let total = 0;
    for (const n of this.counts.values()) total += n;
    return total;
  }

  /** Every kind with its count, zeros included, in `FAULT_KINDS` order. */
  byKind(): Record<FaultKind, number> {
    return Object.fromEntries(FAULT_KINDS.map((kind) => [kind, this.count(kind)])) as Record<FaultKind, number>;
  }
}

/** What one invocation did, as the hooks saw it (AEP's own requests to the store left out). */
export interface InvocationTraffic {
  stage: string;
  aepRequests: number;
  objectStoreRequests: number;
  /** GET and HEAD of objects and buckets, and listings: what the run read. */
  objectStoreReads: number;
  faults: number;
  killed: boolean;
}

export interface FaultInjection {
  tally: FaultTally;
  /**
   * Call as the function's invocation starts: its requests from now on are counted and may fail, and
   * `kill` is called (once) when the plan says so. One invocation at a time: requests cannot be told
   * apart by invocation.
   */
  beginInvocation(stage: string, kill: () => void): void;
  /** Call when the invocation has ended (or its process died); says what it did. */
  endInvocation(): InvocationTraffic;
  /** Removes the hooks from the servers. */
  detach(): void;
}

interface OpenInvocation {
  faults: InvocationFaults;
  kill: () => void;
  traffic: InvocationTraffic;
}

function isRead(request: ObjectStoreRequest): boolean {
  return request.method === 'GET' || request.method === 'HEAD';
}

function s3Error(decision: ObjectStoreFaultDecision): S3Error {
  return decision.code === 'SlowDown' ? slowDown() : internalError();
}

function aepFault(decision: AepFaultDecision): RequestFault | undefined {
  switch (decision.kind) {
    case 'aep-throttle':
      return gatewayFault(429, decision.retryAfterSeconds);
    case 'aep-server-error':
      return gatewayFault(decision.status);
    case 'aep-timeout':
      return { holdMs: decision.holdMs };
    case 'token-revocation':
      return undefined;
  }
}

/**
 * Wires `plan` to a started platform: only requests made between `beginInvocation` and `endInvocation`
 * are counted and may fail, so the simulator's own traffic (seeding, daily events, checks) never does;
 * nor do AEP's own requests to the store (export and ingestion runs, told apart by their access key),
 * which AEP makes from its side of the wire. `clock` dates each invocation against the plan's window.
 */
export function attachFaults(
  platform: Pick<EmbeddedPlatform, 'aep' | 'objectStore'>,
  plan: Pick<FaultPlan, 'invocation'>,
  clock: Clock,
): FaultInjection {
  const tally = new FaultTally();
  const lastRequests = new Map<string, number>();
  let ordinal = 0;
  let open: OpenInvocation | undefined;

  /** Counts a request of the open invocation as it arrives, and kills the invocation at its request. */
  const arrive = (invocation: OpenInvocation, count: (traffic: InvocationTraffic) => void): void => {
    const { traffic, faults } = invocation;
    if (traffic.killed) return;
    count(traffic);
    if (traffic.aepRequests + traffic.objectStoreRequests === faults.killAtRequest) {
      traffic.killed = true;
      tally.record('process-kill');
      invocation.kill();
    }
  };
  const decide = <D extends { kind: FaultKind }>(invocation: OpenInvocation | undefined, draw: (faults: InvocationFaults) => D | undefined) => {
    // A dead process sends nothing more; what it sent before dying is served as usual.
    if (!invocation || invocation.traffic.killed) return undefined;
    const decision = draw(invocation.faults);
    if (decision) {
      tally.record(decision.kind);
      invocation.traffic.faults += 1;
    }
    return decision;
  };
  const fromAep = (request: ObjectStoreRequest) => request.accessKeyId === EMBEDDED_AEP_S3_CREDENTIALS.accessKeyId;

  const stopAep = platform.aep.onRequest(() => {
    if (open) arrive(open, (traffic) => (traffic.aepRequests += 1));
  });
  platform.aep.faults.setPolicy((method, path) => {
    const decision = decide(open, (faults) => faults.aepRequest(method, path));
    if (!decision) return undefined;
    if (decision.kind === 'token-revocation') platform.aep.revokeTokens();
    return aepFault(decision);
  });

  const stopStore = platform.objectStore.onRequest((request) => {
    if (!open || fromAep(request)) return;
    arrive(open, (traffic) => {
      traffic.objectStoreRequests += 1;
      if (isRead(request)) traffic.objectStoreReads += 1;
    });
  });
  platform.objectStore.setFaultPolicy((request) => {
    if (fromAep(request)) return undefined;
    const decision = decide(open, (faults) => faults.objectStoreRequest(request.method, request.bucket, request.key));
    return decision && s3Error(decision);
  });

  return {
    tally,
    beginInvocation(stage, kill) {
      if (open) throw new Error(`Fault injection: invocation of ${stage} begun while one of ${open.traffic.stage} is open; end it first`);
      const faults = plan.invocation(ordinal, clock.now(), lastRequests.get(stage));
      ordinal += 1;
      open = { faults, kill, traffic: { stage, aepRequests: 0, objectStoreRequests: 0, objectStoreReads: 0, faults: 0, killed: false } };
    },
    endInvocation() {
      if (!open) throw new Error('Fault injection: endInvocation without beginInvocation');
      const { traffic } = open;
      open = undefined;
      if (!traffic.killed) lastRequests.set(traffic.stage, traffic.aepRequests + traffic.objectStoreRequests);
      return { ...traffic };
    },
    detach() {
      stopAep();
      stopStore();
      platform.aep.faults.setPolicy(undefined);
      platform.objectStore.setFaultPolicy(undefined);
      open = undefined;
    },
  };
}
