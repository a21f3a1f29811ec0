/**
 * A small router and the request/response types the AEP stand-in's services share.
 */
import type { IncomingHttpHeaders } from 'http';

/** Which AEP service a route belongs to; decides the shape of its error bodies. */
export type ServiceName = 'ims' | 'gateway' | 'schemaregistry' | 'catalog' | 'import' | 'query' | 'flowservice' | 'activation' | 'segmentation' | 'dataprep';

export interface Reply {
  status: number;
  /** JSON body (serialised by the server); omit for an empty body. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface RequestContext {
  method: string;
  /** Path without the query string, still percent-encoded. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Raw request body. */
  rawBody: Buffer;
  /** Parsed JSON body when the request carried JSON, else undefined. */
  body: unknown;
  /** Path parameters, percent-decoded. */
  params: Record<string, string>;
  /** The path parameter `name`, percent-decoded; throws when the route's pattern declares none by that name. */
  param(name: string): string;
  requestId: string;
  /** The bearer token of the call (platform routes only). */
  token: string;
  /** Absolute base URL of the stand-in, for links. */
  baseUrl: string;
}

export type Handler = (ctx: RequestContext) => Promise<Reply> | Reply;

/** An error that becomes a response as it is; services build it in their own documented shape. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body === 'object' && body && 'detail' in body ? String(body.detail) : `HTTP ${status}`);
  }
}

/** Builds a service's error bodies. */
export type ErrorFactory = (status: number, message: string, code?: string) => ApiError;

export interface Route {
  method: string;
  service: ServiceName;
  segments: string[];
  handler: Handler;
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

/**
 * Path patterns: literal segments, `:name` for one segment, `*name` (last) for the rest of the path.
 * Segments are matched before percent-decoding, so an encoded `$id` (with `%2F`) stays one segment.
 */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, service: ServiceName, pattern: string, handler: Handler): void {
    this.routes.push({ method: method.toUpperCase(), service, segments: splitPath(pattern), handler });
  }

  /** The matching route, or the list of methods the path supports (for 405), or undefined (404). */
  match(method: string, path: string): RouteMatch | { allowed: string[]; service: ServiceName } | undefined {
    const segments = splitPath(path);
    const allowed: string[] = [];
    let service: ServiceName | undefined;
    for (const route of this.routes) {
      const params = matchSegments(route.segments, segments);
      if (!params) continue;
      if (route.method === method.toUpperCase()) return { route, params };
      allowed.push(route.method);
      service = route.service;
    }
    return allowed.length > 0 && service ? { allowed, service } : undefined;
  }
}

function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function matchSegments(pattern: string[], actual: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (const [i, p] of pattern.entries()) {
    if (p.startsWith('*')) {
      if (i >= actual.length) return undefined;
      params[p.slice(1)] = actual.slice(i).map(decodeSegment).join('/');
      return params;
    }
    const segment = actual[i];
    if (segment === undefined) return undefined;
    if (p.startsWith(':')) params[p.slice(1)] = decodeSegment(segment);
    else if (p !== segment) return undefined;
  }
  return pattern.length === actual.length ? params : undefined;
}

/** First value of a header. */
export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Media type of a Content-Type/Accept value, lower case, without parameters. */
export function mediaType(value: string | undefined): string {
  return (value ?? '').split(';')[0]!.trim().toLowerCase(); // split gives at least one part
}

export function isJsonMediaType(value: string | undefined): boolean {
  const m = mediaType(value);
  return m === 'application/json' || (m.startsWith('application/') && m.endsWith('+json'));
}

/** Query parameter as a non-negative integer, or the default; a malformed value is a 400. */
export function intParam(
  query: URLSearchParams,
  name: string,
  fallback: number,
  error: ErrorFactory,
  bounds: { min?: number; max?: number } = {},
): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw.trim())) throw error(400, `Query parameter '${name}' must be an integer, got '${raw}'`);
  const n = Number(raw);
  if (bounds.min !== undefined && n < bounds.min) throw error(400, `Query parameter '${name}' must be at least ${bounds.min}`);
  if (bounds.max !== undefined && n > bounds.max) throw error(400, `Query parameter '${name}' must be at most ${bounds.max}`);
  return n;
}

/** Requires a JSON object body. */
export function objectBody(ctx: RequestContext, error: ErrorFactory): Record<string, unknown> {
  const body = ctx.body;
  if (body === undefined) throw error(400, 'A JSON request body is required');
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw error(400, 'The request body must be a JSON object');
  return body as Record<string, unknown>;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A deep copy of JSON data. */
export function cloneJson<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
