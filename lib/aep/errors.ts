/** What went wrong, in terms a caller can act on without parsing messages. */
export type AepErrorKind =
  | 'auth' // 401/403: credentials, token, org or sandbox refused
  | 'not-found' // 404
  | 'conflict' // 409
  | 'invalid-request' // other 4xx
  | 'throttled' // 429 after the retry budget
  | 'server' // 5xx after the retry budget
  | 'network' // no HTTP answer: refused, reset, DNS, timeout
  | 'failed-operation'; // an accepted asynchronous job (batch, query, run) ended in failure

export interface AepErrorDetails {
  kind: AepErrorKind;
  status?: number | undefined;
  /** AEP's own error code, e.g. `401013`, `CAT-2101-404`, `invalid_client`. */
  code?: string | undefined;
  title?: string | undefined;
  detail?: string | undefined;
  requestId?: string | undefined;
  method?: string | undefined;
  /** Path and query of the request, never the host's credentials or tokens. */
  path?: string | undefined;
  attempts?: number | undefined;
  cause?: unknown;
}

/** Any failure talking to AEP. Carries status, AEP error code and title, and the request id for Adobe support. */
export class AepError extends Error {
  readonly kind: AepErrorKind;
  readonly status?: number | undefined;
  readonly code?: string | undefined;
  readonly title?: string | undefined;
  readonly detail?: string | undefined;
  readonly requestId?: string | undefined;
  readonly method?: string | undefined;
  readonly path?: string | undefined;
  readonly attempts?: number | undefined;

  constructor(message: string, details: AepErrorDetails) {
    super(message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = 'AepError';
    this.kind = details.kind;
    this.status = details.status;
    this.code = details.code;
    this.title = details.title;
    this.detail = details.detail;
    this.requestId = details.requestId;
    this.method = details.method;
    this.path = details.path;
    this.attempts = details.attempts;
  }
}

export function isAepError(error: unknown, kind?: AepErrorKind): error is AepError {
  return error instanceof AepError && (kind === undefined || error.kind === kind);
}

export function kindForStatus(status: number): AepErrorKind {
  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'not-found';
  if (status === 409) return 'conflict';
  if (status === 429) return 'throttled';
  if (status >= 500) return 'server';
  return 'invalid-request';
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/**
 * AEP's services answer errors in several shapes: the gateway's `{error_code, message}`, IMS's
 * `{error, error_description}`, RFC 7807 `{type, title, status, detail, report}` (Catalog, Schema
 * Registry, Flow Service), Query Service's `{message, statusCode}` and lists of `{code, message}`.
 * This reads code, title and detail from any of them.
 */
export function describeErrorBody(body: unknown): { code?: string | undefined; title?: string | undefined; detail?: string | undefined } {
  if (typeof body === 'string') {
    return { detail: text(body.slice(0, 500)) };
  }
  if (typeof body !== 'object' || body === null) {
    return {};
  }
  const b = body as Record<string, unknown>;
  const report = (typeof b.report === 'object' && b.report !== null ? b.report : {}) as Record<string, unknown>;
  const firstError = Array.isArray(b.errors) && typeof b.errors[0] === 'object' ? (b.errors[0] as Record<string, unknown>) : {};
  const typeCode = text(b.type)?.match(/[A-Z]+-\d+-\d+/)?.[0];
  const code =
    text(b.error_code) ?? text(b.errorCode) ?? text(b.code) ?? typeCode ?? text(b.error) ?? text(firstError.code) ?? undefined;
  const title = text(b.title) ?? text(b.message) ?? text(b.error_description) ?? text(firstError.message);
  const detail =
    text(b.detail) ??
    text(report['detailed-message']) ??
    text(b.error_description) ??
    text(firstError.description) ??
    text(firstError.message) ??
    text(b.message);
  return { code, title, detail: detail !== title ? detail : undefined };
}
