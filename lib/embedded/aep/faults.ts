/**
 * Fault injection for tests: make the next N matching requests fail the way AEP's gateway or a
 * service does under load or on an outage (429 with Retry-After, 5xx), before the request reaches
 * authentication or the service; or make the next runs the stand-in starts on its own (scheduled
 * ingestion) fail. A policy decides per request for a fault injector that runs longer than a test
 * (a simulator drawing faults from a seed); faults added with `add` come before it.
 */
export interface FaultSpec {
  /** HTTP method to match (any when absent). */
  method?: string;
  /** Tested against the request path (without the query string). */
  path: RegExp;
  status: number;
  /** How many matching requests fail (at least 1). */
  times: number;
  /** Sent as the Retry-After header (seconds) when given. */
  retryAfterSeconds?: number;
  /** Response body; an AEP gateway-shaped body for the status when absent. */
  body?: unknown;
}

export interface InjectedFault {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

/**
 * The request is served as usual but its response is held this long before it is sent, as a gateway
 * that stalls: longer than the client's timeout, the client gives up on a request whose work was done.
 */
export interface HeldResponse {
  holdMs: number;
}

export type RequestFault = InjectedFault | HeldResponse;

/** Decides, per request, whether it fails or is held; undefined serves it as usual. */
export type FaultPolicy = (method: string, path: string) => RequestFault | undefined;

export function isHeldResponse(fault: RequestFault): fault is HeldResponse {
  return 'holdMs' in fault;
}

/** AEP's gateway answer for `status`, with Retry-After when given. */
export function gatewayFault(status: number, retryAfterSeconds?: number): InjectedFault {
  const headers: Record<string, string> = {};
  if (retryAfterSeconds !== undefined) headers['retry-after'] = String(retryAfterSeconds);
  return { status, body: defaultBody(status), headers };
}

interface ActiveFault extends FaultSpec {
  remaining: number;
}

/** The gateway's answer for a status, as Adobe I/O returns it. */
function defaultBody(status: number): unknown {
  switch (status) {
    case 429:
      return { error_code: '429050', message: 'Too many requests' };
    case 500:
      return { error_code: '500000', message: 'Internal Server Error' };
    case 502:
      return { error_code: '502000', message: 'Bad Gateway' };
    case 503:
      return { error_code: '503000', message: 'Service Unavailable' };
    case 504:
      return { error_code: '504000', message: 'Gateway Timeout' };
    default:
      return { error_code: `${status}000`, message: `Injected fault (HTTP ${status})` };
  }
}

/** Work the stand-in does on its own, outside a request, that a test can make fail. */
export type RunKind = 'ingestion';

export interface RunFaultSpec {
  kind: RunKind;
  /** The run's error message. @default a message saying the failure was injected */
  message?: string;
  /** How many runs fail (at least 1). @default 1 */
  times?: number;
}

export class FaultInjector {
  private faults: ActiveFault[] = [];
  private runFaults: Array<{ kind: RunKind; message: string; remaining: number }> = [];
  private policy: FaultPolicy | undefined;

  /** Consulted for every request no added fault matches; undefined (or `clear`) removes it. */
  setPolicy(policy: FaultPolicy | undefined): void {
    this.policy = policy;
  }

  /** Adds a fault; faults are consulted in the order they were added. */
  add(spec: FaultSpec): void {
    if (!(spec.path instanceof RegExp)) throw new TypeError('fault path must be a RegExp');
    if (!Number.isInteger(spec.status) || spec.status < 100 || spec.status > 599) {
      throw new RangeError(`fault status must be an HTTP status code, got ${spec.status}`);
    }
    const times = Math.max(1, Math.floor(spec.times));
    this.faults.push({ ...spec, remaining: times });
  }

  /** Makes the next run(s) of a kind fail, e.g. the next ingestion run of any dataflow. */
  addRunFault(spec: RunFaultSpec): void {
    const times = Math.max(1, Math.floor(spec.times ?? 1));
    this.runFaults.push({ kind: spec.kind, message: spec.message ?? `Injected failure of the ${spec.kind} run`, remaining: times });
  }

  /** Consumes the failure for the run about to start, if one is pending: its error message. */
  takeRunFault(kind: RunKind): string | undefined {
    const fault = this.runFaults.find((f) => f.kind === kind && f.remaining > 0);
    if (!fault) return undefined;
    fault.remaining -= 1;
    this.runFaults = this.runFaults.filter((f) => f.remaining > 0);
    return fault.message;
  }

  clear(): void {
    this.faults = [];
    this.runFaults = [];
    this.policy = undefined;
  }

  /** Number of injected failures still to be served. */
  get pending(): number {
    return this.faults.reduce((n, f) => n + f.remaining, 0) + this.runFaults.reduce((n, f) => n + f.remaining, 0);
  }

  /** Consumes and returns the fault for this request, if one matches, else asks the policy. */
  take(method: string, path: string): RequestFault | undefined {
    for (const fault of this.faults) {
      if (fault.remaining <= 0) continue;
      if (fault.method && fault.method.toUpperCase() !== method.toUpperCase()) continue;
      fault.path.lastIndex = 0;
      if (!fault.path.test(path)) continue;
      fault.remaining -= 1;
      this.faults = this.faults.filter((f) => f.remaining > 0);
      const headers: Record<string, string> = {};
      if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
      return { status: fault.status, body: fault.body ?? defaultBody(fault.status), headers };
    }
    return this.policy?.(method, path);
  }
}
