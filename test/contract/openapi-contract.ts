/**
 * Contract checker for recorded HTTP exchanges against Adobe's published AEP API descriptions.
 *
 * The folder of API descriptions (OpenAPI 3.0.x and Swagger 2.0 YAML/JSON files) is located
 * relative to the repository (`../shared/aep-openapi`), or via the `AEP_OPENAPI_DIR` env variable.
 *
 * How it works
 * - Every file is parsed once (per folder, per process) and each document is converted into two
 *   JSON Schema "mirror" documents (one for requests, one for responses; they differ only in how
 *   `readOnly` / `writeOnly` properties affect `required`). The mirrors keep the original JSON
 *   pointers of `#/components/schemas/*` and `#/definitions/*`, so `$ref`s stay `$ref`s (recursive
 *   schemas are fine) and are registered with a single ajv instance under an id per spec+variant.
 *   Inline schemas of operations (parameters, bodies, responses) are stored in the mirror under
 *   `x-schemas/<key>`, and refs to any other location under `x-refs/<key>`. Validators are compiled
 *   lazily, on first use.
 * - OpenAPI 3.0 dialect is converted to JSON Schema draft-07: `nullable` → allows null, boolean
 *   `exclusiveMinimum/Maximum` → numeric form, annotations / `x-*` / `discriminator` / `example(s)` /
 *   `xml` / `externalDocs` / `deprecated` / `readOnly` / `writeOnly` dropped, formats unknown to
 *   ajv-formats dropped, `$ref` siblings ignored (except `nullable`).
 * - Problems found in the descriptions themselves (unresolvable refs, invalid keywords, ...) are
 *   collected in `OpenApiContract.quirks` instead of failing the load.
 *
 * Known deviations of the real API from its description are passed explicitly by the caller
 * (`KnownDeviation`), so each one is visible in the test that relies on it.
 *
 * Usage:
 *   const contract = OpenApiContract.load();
 *   const deviations: KnownDeviation[] = [{
 *     operation: 'data-prep POST /mappingSets', part: 'response',
 *     match: /at \/(createdDate|modifiedDate): must be string/,
 *     reason: 'Data Prep returns epoch milliseconds, as the example in data-prep.yaml shows',
 *   }];
 *   expect(contract.checkRequest(exchange, { deviations })).toEqual([]);
 *   expect(contract.checkResponse(exchange, { deviations })).toEqual([]);
 *   // or contract.checkExchange(exchange, { deviations }) → { operation, violations, suppressed }
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse as parseYaml } from 'yaml';
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

export type HeaderMap = Record<string, string | string[] | undefined>;

/** Marker a recorder may use as `requestBody` / `responseBody` for a non-JSON payload. */
export interface BinaryBodyMarker {
  $binary: true;
  /** Size of the payload in bytes, when known. */
  length?: number;
}

export interface RecordedExchange {
  method: string;
  /** Full URL or path+query, e.g. `http://127.0.0.1:5555/data/foundation/catalog/dataSets?limit=10`. */
  url: string;
  requestHeaders: HeaderMap;
  /** Parsed JSON when the request was JSON; otherwise undefined or a {@link BinaryBodyMarker}. */
  requestBody?: unknown;
  /** Defaults to the `Content-Type` request header. */
  requestContentType?: string | undefined;
  status: number;
  responseHeaders?: HeaderMap;
  /** Parsed JSON when the response was JSON; otherwise undefined or a {@link BinaryBodyMarker}. */
  responseBody?: unknown;
  /** Defaults to the `Content-Type` response header. */
  responseContentType?: string | undefined;
}

export type ContractPart = 'operation' | 'parameters' | 'requestBody' | 'response';

export interface ContractViolation {
  /** e.g. `catalog POST /dataSets`; `POST /unknown/path` when no operation matched. */
  operation: string;
  part: ContractPart;
  message: string;
}

/**
 * A documented, accepted difference between the real API (or our imitation of it) and Adobe's
 * description. Suppresses violations with the same `operation` and `part` whose message contains
 * `match` (string) or matches it (RegExp). Without `match`, every violation of that part of that
 * operation is suppressed, so prefer giving one.
 */
export interface KnownDeviation {
  operation: string;
  part: ContractPart;
  reason: string;
  match?: string | RegExp;
}

export interface SuppressedViolation extends ContractViolation {
  deviation: KnownDeviation;
}

export interface CheckOptions {
  deviations?: readonly KnownDeviation[];
}

export interface CheckResult {
  /** Label of the operation the exchange was checked against (the best candidate), if any. */
  operation?: string | undefined;
  violations: ContractViolation[];
  /** Violations that matched a known deviation (visible, but not failures). */
  suppressed: SuppressedViolation[];
}

export interface OperationMatch {
  /** Spec name: file name without extension, e.g. `catalog`. */
  spec: string;
  /** Path template as written in the spec, e.g. `/dataSets/{DATASET_ID}`. */
  path: string;
  /** Upper-case HTTP method. */
  method: string;
  operationId?: string | undefined;
  /** Percent-decoded values of the path template parameters. */
  pathParams: Record<string, string>;
  /** `<spec> <METHOD> <path>`, the operation name used in violations and deviations. */
  label: string;
}

export interface SpecQuirk {
  spec: string;
  /** JSON pointer into the spec document. */
  pointer: string;
  message: string;
}

/** An example in a description that does not validate against its own schema. */
export interface ExampleMismatch {
  operation: string;
  /** e.g. `request body (application/json)` or `response 200 body (application/json)`. */
  where: string;
  /** `example` or `examples.<name>`. */
  example: string;
  errors: string[];
}

export interface ExampleReport {
  /** Number of examples validated. */
  checked: number;
  mismatches: ExampleMismatch[];
}

export interface SpecSummary {
  name: string;
  file: string;
  format: 'openapi-3' | 'swagger-2';
  version: string;
  basePaths: string[];
  operationCount: number;
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

type Json = any;
type JsonSchema = Record<string, unknown> | boolean;
type Variant = 'request' | 'response';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const JSON_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null']);
const NUMERIC_KEYWORDS = ['multipleOf', 'maximum', 'minimum', 'maxLength', 'minLength', 'maxItems', 'minItems', 'maxProperties', 'minProperties'];
const MAX_MESSAGES_PER_PART = 15;

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function escapePointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function pointerOf(...tokens: string[]): string {
  return tokens.map((t) => '/' + escapePointerToken(t)).join('');
}

/** Parses the fragment of a local `$ref` (`#/a/b~1c`) into tokens; undefined when not local. */
function parseLocalRef(ref: string): string[] | undefined {
  if (!ref.startsWith('#')) return undefined;
  const frag = ref.slice(1);
  if (frag === '') return [];
  if (!frag.startsWith('/')) return undefined;
  return frag
    .slice(1)
    .split('/')
    .map((t) => {
      let s = t;
      try {
        s = decodeURIComponent(t);
      } catch {
        /* keep raw */
      }
      return s.replace(/~1/g, '/').replace(/~0/g, '~');
    });
}

function getAt(root: Json, tokens: string[]): Json {
  let cur: Json = root;
  for (const t of tokens) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObject(cur)) cur = Object.prototype.hasOwnProperty.call(cur, t) ? cur[t] : undefined;
    else return undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

/** Media type without parameters, lower-cased: `application/vnd.x+json; version=1` → `application/vnd.x+json`. */
export function mediaTypeOf(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const mt = contentType.split(';')[0]!.trim().toLowerCase(); // split gives at least one part
  return mt === '' ? undefined : mt;
}

/** `application/json`, or any `+json` structured-syntax suffix type. */
export function isJsonContentType(contentType: string | undefined): boolean {
  const mt = mediaTypeOf(contentType);
  if (!mt) return false;
  return mt === 'application/json' || mt.endsWith('+json') || mt === 'text/json';
}

function isBinaryMarker(v: unknown): v is BinaryBodyMarker {
  return isObject(v) && v.$binary === true;
}

function headerValue(headers: HeaderMap | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== lower || v === undefined) continue;
    return Array.isArray(v) ? v.join(', ') : String(v);
  }
  return undefined;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function trimTrailingSlashes(p: string): string {
  let s = p;
  while (s.length > 1 && s.endsWith('/')) s = s.slice(0, -1);
  return s === '/' ? '' : s;
}

function defaultSpecDir(): string {
  return process.env.AEP_OPENAPI_DIR
    ? path.resolve(process.env.AEP_OPENAPI_DIR)
    : path.resolve(__dirname, '../../../shared/aep-openapi');
}

// ---------------------------------------------------------------------------------------------
// Internal model
// ---------------------------------------------------------------------------------------------

interface ParamInfo {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie' | 'formData';
  required: boolean;
  /** Key of the converted schema in `x-schemas` (request variant), if any. */
  schemaKey?: string | undefined;
  /** Raw (unconverted) schema, used to coerce string values. */
  rawSchema?: Json;
  /** How array values are serialised. */
  arrayStyle: 'multi' | 'csv' | 'ssv' | 'tsv' | 'pipes';
  /** OpenAPI 3 `content` parameters carry JSON. */
  jsonContent: boolean;
}

interface MediaInfo {
  /** As written in the spec. */
  type: string;
  /** Normalised (no parameters, lower case). */
  normalized: string;
  schemaKey?: string | undefined;
  /** Examples documented for this media type (name → value). */
  examples: Array<{ name: string; value: unknown }>;
}

interface BodyInfo {
  required: boolean;
  media: MediaInfo[];
}

interface ResponseHeaderInfo {
  name: string;
  required: boolean;
}

interface ResponseInfo {
  code: string;
  media: MediaInfo[];
  headers: ResponseHeaderInfo[];
}

interface TemplateSegment {
  literal?: string;
  regex?: RegExp;
  names: string[];
}

interface OperationEntry {
  spec: SpecEntry;
  path: string;
  method: string; // lower-case
  operationId?: string | undefined;
  label: string;
  params: ParamInfo[];
  body?: BodyInfo | undefined;
  /** True when the spec implies a payload without describing one (a Content-Type header parameter). */
  impliedBody: boolean;
  responses: Map<string, ResponseInfo>;
  segments: TemplateSegment[];
  templateCount: number;
  literalLength: number;
}

interface SpecEntry {
  name: string;
  file: string;
  format: 'openapi-3' | 'swagger-2';
  version: string;
  basePaths: string[];
  docIds: Record<Variant, string>;
  operations: OperationEntry[];
  /** The parsed description (used to look up raw parameter schemas). */
  raw: Json;
}

interface Candidate {
  op: OperationEntry;
  pathParams: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// Spec building: conversion of OpenAPI schemas to JSON Schema mirrors
// ---------------------------------------------------------------------------------------------

class SpecBuilder {
  readonly isV2: boolean;
  readonly docIds: Record<Variant, string>;
  readonly mirrors: Record<Variant, Record<string, Json>>;
  private readonly refTargets = new Map<string, string>(); // raw pointer → mirror pointer
  private readonly pending: Record<Variant, string[]> = { request: [], response: [] };
  private readonly converted: Record<Variant, Set<string>> = { request: new Set(), response: new Set() };
  private schemaCounter = 0;
  private refCounter = 0;

  constructor(
    readonly name: string,
    readonly raw: Json,
    private readonly knownFormats: Set<string>,
    private readonly quirk: (spec: string, pointer: string, message: string) => void,
    /** Converted schema object → JSON pointer of its source in the description (for messages). */
    private readonly locations: WeakMap<object, string>,
  ) {
    this.isV2 = typeof raw.swagger === 'string';
    const base = `https://aep-openapi.invalid/${encodeURIComponent(name)}`;
    this.docIds = { request: `${base}/request.json`, response: `${base}/response.json` };
    this.mirrors = {
      request: { $id: this.docIds.request, 'x-schemas': {}, 'x-refs': {} },
      response: { $id: this.docIds.response, 'x-schemas': {}, 'x-refs': {} },
    };
  }

  /** Converts all named schemas (components/definitions) into both mirrors. */
  convertNamedSchemas(): void {
    const named: Record<string, Json> | undefined = this.isV2 ? this.raw.definitions : this.raw.components?.schemas;
    if (!isObject(named)) return;
    for (const variant of ['request', 'response'] as Variant[]) {
      const target: Record<string, Json> = {};
      for (const [key, schema] of Object.entries(named)) {
        const ptr = this.isV2 ? pointerOf('definitions', key) : pointerOf('components', 'schemas', key);
        target[key] = this.convert(schema, ptr, variant, 0);
      }
      if (this.isV2) this.mirrors[variant].definitions = target;
      else this.mirrors[variant].components = { schemas: target };
    }
  }

  /** Stores the converted form of an inline schema in `x-schemas` of the mirror(s); returns its key. */
  addInlineSchema(schema: Json, ptr: string, variants: Variant[]): string {
    const key = `s${++this.schemaCounter}`;
    for (const v of variants) this.mirrors[v]['x-schemas'][key] = this.convert(schema, ptr, v, 0);
    return key;
  }

  /** Swagger 2 non-body parameters carry their schema keywords on the parameter itself. */
  addParameterAsSchema(param: Json, ptr: string): string {
    const schema: Record<string, Json> = {};
    for (const [k, v] of Object.entries(param)) {
      if (['name', 'in', 'required', 'description', 'allowEmptyValue', 'collectionFormat'].includes(k)) continue;
      schema[k] = v;
    }
    return this.addInlineSchema(schema, ptr, ['request']);
  }

  /** Converts the targets of refs that point outside the named schemas (until none are left). */
  flushPending(): void {
    for (const variant of ['request', 'response'] as Variant[]) {
      const queue = this.pending[variant];
      while (queue.length > 0) {
        const rawPtr = queue.shift() as string;
        if (this.converted[variant].has(rawPtr)) continue;
        this.converted[variant].add(rawPtr);
        const target = getAt(this.raw, parseLocalRef('#' + rawPtr) ?? []);
        const mirrorKey = (this.refTargets.get(rawPtr) as string).split('/').pop() as string;
        this.mirrors[variant]['x-refs'][mirrorKey] = this.convert(target, rawPtr, variant, 0);
      }
    }
  }

  /** Follows structural `$ref`s (parameters, responses, request bodies) within the document. */
  resolve(obj: Json, ptr: string): { value: Json; pointer: string } {
    let cur = obj;
    let curPtr = ptr;
    for (let i = 0; i < 20 && isObject(cur) && typeof cur.$ref === 'string'; i++) {
      const tokens = parseLocalRef(cur.$ref);
      const target = tokens ? getAt(this.raw, tokens) : undefined;
      if (target === undefined) {
        this.quirk(this.name, curPtr, `$ref '${cur.$ref}' does not resolve${tokens ? '' : ' (external refs are not supported)'}`);
        return { value: undefined, pointer: curPtr };
      }
      cur = target;
      curPtr = (tokens as string[]).map((t) => '/' + escapePointerToken(t)).join('');
    }
    return { value: cur, pointer: curPtr };
  }

  private refFor(ref: string, ptr: string, variant: Variant): JsonSchema {
    const tokens = parseLocalRef(ref);
    if (!tokens) {
      this.quirk(this.name, ptr, `external $ref '${ref}' cannot be resolved; treated as an unconstrained schema`);
      return {};
    }
    const rawPtr = tokens.map((t) => '/' + escapePointerToken(t)).join('');
    if (getAt(this.raw, tokens) === undefined) {
      this.quirk(this.name, ptr, `$ref '${ref}' does not resolve; treated as an unconstrained schema`);
      return {};
    }
    const named =
      (this.isV2 && tokens.length === 2 && tokens[0] === 'definitions') ||
      (!this.isV2 && tokens.length === 3 && tokens[0] === 'components' && tokens[1] === 'schemas');
    let mirrorPtr: string;
    if (named) {
      mirrorPtr = rawPtr;
    } else {
      let known = this.refTargets.get(rawPtr);
      if (!known) {
        known = pointerOf('x-refs', `r${++this.refCounter}`);
        this.refTargets.set(rawPtr, known);
      }
      mirrorPtr = known;
      if (!this.converted[variant].has(rawPtr)) this.pending[variant].push(rawPtr);
    }
    const fragment = mirrorPtr
      .split('/')
      .map((t) => encodeURIComponent(t))
      .join('/');
    return { $ref: `${this.docIds[variant]}#${fragment}` };
  }

  /** Does the raw property schema (possibly a $ref) carry readOnly/writeOnly? */
  private hasFlag(schema: Json, flag: 'readOnly' | 'writeOnly'): boolean {
    let cur = schema;
    for (let i = 0; i < 10 && isObject(cur); i++) {
      if (cur[flag] === true) return true;
      if (typeof cur.$ref !== 'string') return false;
      const tokens = parseLocalRef(cur.$ref);
      cur = tokens ? getAt(this.raw, tokens) : undefined;
    }
    return false;
  }

  convert(schema: Json, ptr: string, variant: Variant, depth: number): JsonSchema {
    const out = this.convertObject(schema, ptr, variant, depth);
    if (typeof out === 'object') this.locations.set(out, ptr);
    return out;
  }

  private convertObject(schema: Json, ptr: string, variant: Variant, depth: number): JsonSchema {
    if (typeof schema === 'boolean') return schema;
    if (!isObject(schema)) {
      if (schema !== undefined && schema !== null) this.quirk(this.name, ptr, `schema is not an object (${describeValue(schema)}); ignored`);
      return {};
    }
    if (depth > 100) {
      this.quirk(this.name, ptr, 'schema nesting deeper than 100 levels; truncated');
      return {};
    }
    const nullable = schema.nullable === true || schema['x-nullable'] === true;
    if (typeof schema.$ref === 'string') {
      const ref = this.refFor(schema.$ref, ptr, variant);
      if (typeof ref === 'object') this.locations.set(ref, ptr);
      return nullable ? { anyOf: [{ type: 'null' }, ref] } : ref;
    }

    const out: Record<string, unknown> = {};
    const sub = (s: Json, ...tokens: string[]) => this.convert(s, ptr + pointerOf(...tokens), variant, depth + 1);

    // type
    if (schema.type !== undefined) {
      const types = (Array.isArray(schema.type) ? schema.type : [schema.type]).filter((t: unknown) => {
        if (typeof t === 'string' && JSON_TYPES.has(t)) return true;
        if (t !== 'file') this.quirk(this.name, ptr + '/type', `invalid type ${JSON.stringify(t)}; ignored`);
        return false;
      });
      if (types.length === 1) out.type = types[0];
      else if (types.length > 1) out.type = types;
    }
    // numeric/string/array/object constraints
    for (const k of NUMERIC_KEYWORDS) {
      if (schema[k] === undefined) continue;
      if (typeof schema[k] === 'number') out[k] = schema[k];
      else this.quirk(this.name, ptr + '/' + k, `${k} is not a number (${JSON.stringify(schema[k])}); ignored`);
    }
    for (const [bool, num] of [
      ['exclusiveMaximum', 'maximum'],
      ['exclusiveMinimum', 'minimum'],
    ] as const) {
      const v = schema[bool];
      if (v === true && typeof schema[num] === 'number') {
        out[bool] = schema[num];
        delete out[num];
      } else if (typeof v === 'number') {
        out[bool] = v;
      }
    }
    if (schema.uniqueItems === true) out.uniqueItems = true;
    if (schema.pattern !== undefined) {
      try {
        new RegExp(String(schema.pattern), 'u');
        out.pattern = String(schema.pattern);
      } catch (e) {
        this.quirk(this.name, ptr + '/pattern', `pattern ${JSON.stringify(schema.pattern)} is not a valid regular expression (${(e as Error).message}); ignored`);
      }
    }
    if (schema.format !== undefined) {
      if (typeof schema.format === 'string' && this.knownFormats.has(schema.format)) out.format = schema.format;
      // Formats unknown to ajv-formats (int32, int64, binary, password, ...) are ignored by design.
    }
    if (schema.enum !== undefined) {
      if (Array.isArray(schema.enum)) out.enum = [...schema.enum];
      else this.quirk(this.name, ptr + '/enum', 'enum is not an array; ignored');
    }
    if (schema.const !== undefined) out.const = schema.const;

    // object keywords
    if (schema.properties !== undefined) {
      if (isObject(schema.properties)) {
        const props: Record<string, JsonSchema> = {};
        for (const [name, ps] of Object.entries(schema.properties)) props[name] = sub(ps, 'properties', name);
        out.properties = props;
      } else {
        this.quirk(this.name, ptr + '/properties', 'properties is not an object; ignored');
      }
    }
    if (schema.patternProperties !== undefined && isObject(schema.patternProperties)) {
      const pp: Record<string, JsonSchema> = {};
      for (const [re, ps] of Object.entries(schema.patternProperties)) pp[re] = sub(ps, 'patternProperties', re);
      out.patternProperties = pp;
    }
    if (schema.additionalProperties !== undefined) {
      out.additionalProperties =
        typeof schema.additionalProperties === 'boolean' ? schema.additionalProperties : sub(schema.additionalProperties, 'additionalProperties');
    }
    if (schema.required !== undefined) {
      if (Array.isArray(schema.required)) {
        const skipFlag = variant === 'request' ? 'readOnly' : 'writeOnly';
        const props = isObject(schema.properties) ? schema.properties : {};
        out.required = schema.required.filter((n: unknown) => {
          if (typeof n !== 'string') {
            this.quirk(this.name, ptr + '/required', `required entry ${JSON.stringify(n)} is not a string; ignored`);
            return false;
          }
          return !(Object.prototype.hasOwnProperty.call(props, n) && this.hasFlag(props[n], skipFlag));
        });
      } else {
        this.quirk(this.name, ptr + '/required', `required must be an array of property names, found ${JSON.stringify(schema.required)}; ignored`);
      }
    }

    // array keywords
    if (schema.items !== undefined) {
      out.items = Array.isArray(schema.items) ? schema.items.map((s: Json, i: number) => sub(s, 'items', String(i))) : sub(schema.items, 'items');
    }

    // composition
    for (const k of ['allOf', 'anyOf', 'oneOf'] as const) {
      if (schema[k] === undefined) continue;
      if (Array.isArray(schema[k]) && schema[k].length > 0) out[k] = schema[k].map((s: Json, i: number) => sub(s, k, String(i)));
      else this.quirk(this.name, ptr + '/' + k, `${k} must be a non-empty array; ignored`);
    }
    if (schema.not !== undefined) out.not = sub(schema.not, 'not');

    if (nullable) {
      if (out.type !== undefined) {
        const types = Array.isArray(out.type) ? (out.type as string[]) : [out.type as string];
        if (!types.includes('null')) out.type = [...types, 'null'];
        if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
      } else if (Object.keys(out).length > 0) {
        this.locations.set(out, ptr);
        return { anyOf: [{ type: 'null' }, out] };
      }
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// The contract
// ---------------------------------------------------------------------------------------------

const cache = new Map<string, OpenApiContract>();

export class OpenApiContract {
  /** Problems found in the descriptions while loading (and while compiling schemas lazily). */
  readonly quirks: SpecQuirk[] = [];
  /** Wall-clock time the load took, in milliseconds. */
  loadTimeMs = 0;

  private readonly ajv: Ajv;
  private readonly specs: SpecEntry[] = [];
  private readonly quirkKeys = new Set<string>();
  private readonly validators = new Map<string, ValidateFunction | Error>();
  private readonly locations = new WeakMap<object, string>();

  /**
   * Loads (once per folder and process) every `*.yaml`, `*.yml` and `*.json` description in `dir`
   * (default: `$AEP_OPENAPI_DIR`, else `<repo>/../shared/aep-openapi`).
   */
  static load(dir?: string): OpenApiContract {
    const resolved = dir ? path.resolve(dir) : defaultSpecDir();
    const cached = cache.get(resolved);
    if (cached) return cached;
    const contract = new OpenApiContract(resolved);
    cache.set(resolved, contract);
    return contract;
  }

  private constructor(readonly dir: string) {
    const started = Date.now();
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      throw new Error(
        `AEP OpenAPI descriptions not found: '${dir}' is not a directory. ` +
          `Expected Adobe's API descriptions in ../shared/aep-openapi relative to the repository, ` +
          `or set AEP_OPENAPI_DIR to the folder that holds them.`,
      );
    }
    const files = fs
      .readdirSync(dir)
      .filter((f) => /\.(ya?ml|json)$/i.test(f))
      .sort();
    if (files.length === 0) throw new Error(`AEP OpenAPI descriptions not found: no *.yaml/*.yml/*.json files in '${dir}'.`);

    this.ajv = new Ajv({
      strict: false,
      allErrors: true,
      validateFormats: true,
      validateSchema: false,
      verbose: true, // errors carry parentSchema, mapped back to the spec location
      logger: {
        log: () => undefined,
        warn: (...args: unknown[]) => this.addQuirk('(ajv)', '', args.map(String).join(' ')),
        error: (...args: unknown[]) => this.addQuirk('(ajv)', '', args.map(String).join(' ')),
      },
    });
    addFormats(this.ajv);
    const knownFormats = new Set(Object.keys(this.ajv.formats));

    for (const file of files) {
      const full = path.join(dir, file);
      let raw: Json;
      try {
        const text = fs.readFileSync(full, 'utf8');
        raw = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
      } catch (e) {
        throw new Error(`Cannot parse API description '${full}': ${(e as Error).message}`);
      }
      if (!isObject(raw) || (typeof raw.openapi !== 'string' && typeof raw.swagger !== 'string') || !isObject(raw.paths)) {
        this.addQuirk(file, '', 'not an OpenAPI 3 / Swagger 2 document with paths; skipped');
        continue;
      }
      this.specs.push(this.buildSpec(file, raw, knownFormats));
    }
    this.loadTimeMs = Date.now() - started;
  }

  /** The loaded descriptions. */
  get specSummaries(): SpecSummary[] {
    return this.specs.map((s) => ({
      name: s.name,
      file: s.file,
      format: s.format,
      version: s.version,
      basePaths: [...s.basePaths],
      operationCount: s.operations.length,
    }));
  }

  private addQuirk(spec: string, pointer: string, message: string): void {
    const key = `${spec}\u0000${pointer}\u0000${message}`;
    if (this.quirkKeys.has(key)) return;
    this.quirkKeys.add(key);
    this.quirks.push({ spec, pointer, message });
  }

  // ------------------------------------------------------------------ building

  private buildSpec(file: string, raw: Json, knownFormats: Set<string>): SpecEntry {
    const name = file.replace(/\.(ya?ml|json)$/i, '');
    const b = new SpecBuilder(name, raw, knownFormats, (s, p, m) => this.addQuirk(s, p, m), this.locations);
    b.convertNamedSchemas();
    const spec: SpecEntry = {
      name,
      file,
      format: b.isV2 ? 'swagger-2' : 'openapi-3',
      version: String(b.isV2 ? raw.swagger : raw.openapi),
      basePaths: this.basePathsOf(raw, b.isV2),
      docIds: b.docIds,
      operations: [],
      raw,
    };

    const globalConsumes: string[] = Array.isArray(raw.consumes) ? raw.consumes : [];
    const globalProduces: string[] = Array.isArray(raw.produces) ? raw.produces : [];

    for (const [tpl, rawItem] of Object.entries(raw.paths as Record<string, Json>)) {
      const itemPtr = pointerOf('paths', tpl);
      const item = b.resolve(rawItem, itemPtr).value;
      if (!isObject(item)) continue;
      const { segments, templateCount, literalLength, names } = compileTemplate(tpl);
      for (const method of HTTP_METHODS) {
        const op = item[method];
        if (!isObject(op)) continue;
        const opPtr = itemPtr + pointerOf(method);
        const label = `${name} ${method.toUpperCase()} ${tpl}`;

        // parameters: path-level first, overridden by operation-level (same name+in)
        const merged = new Map<string, { param: Json; ptr: string }>();
        const addParams = (list: Json, listPtr: string) => {
          if (!Array.isArray(list)) return;
          list.forEach((p, i) => {
            const r = b.resolve(p, `${listPtr}/${i}`);
            if (!isObject(r.value) || typeof r.value.name !== 'string' || typeof r.value.in !== 'string') {
              this.addQuirk(name, `${listPtr}/${i}`, 'parameter without name/in; ignored');
              return;
            }
            const key = `${r.value.in}:${r.value.in === 'header' ? r.value.name.toLowerCase() : r.value.name}`;
            merged.set(key, { param: r.value, ptr: r.pointer });
          });
        };
        addParams(item.parameters, itemPtr + '/parameters');
        addParams(op.parameters, opPtr + '/parameters');

        const params: ParamInfo[] = [];
        let body: BodyInfo | undefined;
        let impliedBody = false;
        for (const { param, ptr } of merged.values()) {
          if (param.in === 'body') {
            const consumes: string[] = Array.isArray(op.consumes) ? op.consumes : globalConsumes;
            const key = param.schema !== undefined ? b.addInlineSchema(param.schema, ptr + '/schema', ['request']) : undefined;
            const types = consumes.length > 0 ? consumes : ['application/json'];
            body = { required: param.required === true, media: types.map((t) => ({ type: t, normalized: mediaTypeOf(t) ?? t, schemaKey: key, examples: [] })) };
            continue;
          }
          if (!['path', 'query', 'header', 'cookie', 'formData'].includes(param.in)) {
            this.addQuirk(name, ptr, `parameter '${param.name}' has unknown location '${param.in}'; ignored`);
            continue;
          }
          if (param.in === 'header' && String(param.name).toLowerCase() === 'content-type') impliedBody = true;
          if (param.in === 'formData') impliedBody = true;
          params.push(this.paramInfo(b, param, ptr));
        }
        for (const n of names) {
          if (!params.some((p) => p.in === 'path' && p.name === n)) {
            this.addQuirk(name, opPtr, `path template parameter '{${n}}' of ${label} is not declared as a parameter`);
          }
        }
        for (const p of params) {
          if (p.in === 'path' && !names.includes(p.name)) {
            this.addQuirk(name, opPtr, `path parameter '${p.name}' of ${label} does not appear in the path template`);
          }
        }

        // Swagger 2 operation that takes a payload without an `in: body` parameter (uploads, forms):
        // its `consumes` still lists the accepted media types.
        if (b.isV2 && !body && impliedBody) {
          const consumes: string[] = Array.isArray(op.consumes) ? op.consumes : globalConsumes;
          if (consumes.length > 0) body = { required: false, media: consumes.map((t) => ({ type: t, normalized: mediaTypeOf(t) ?? t, examples: [] })) };
        }

        // OpenAPI 3 request body
        if (!b.isV2 && op.requestBody !== undefined) {
          const r = b.resolve(op.requestBody, opPtr + '/requestBody');
          if (isObject(r.value)) {
            body = { required: r.value.required === true, media: this.mediaInfos(b, r.value.content, r.pointer + '/content', 'request') };
          }
        }

        // responses
        const responses = new Map<string, ResponseInfo>();
        if (isObject(op.responses)) {
          for (const [code, rawResp] of Object.entries(op.responses)) {
            const respPtr = opPtr + pointerOf('responses', code);
            const r = b.resolve(rawResp, respPtr);
            if (!isObject(r.value)) continue;
            const resp = r.value;
            let media: MediaInfo[];
            if (b.isV2) {
              const produces: string[] = Array.isArray(op.produces) ? op.produces : globalProduces;
              const key = resp.schema !== undefined ? b.addInlineSchema(resp.schema, r.pointer + '/schema', ['response']) : undefined;
              const examples: Record<string, unknown> = isObject(resp.examples) ? resp.examples : {};
              media = key
                ? (produces.length > 0 ? produces : ['application/json']).map((t) => ({
                    type: t,
                    normalized: mediaTypeOf(t) ?? t,
                    schemaKey: key,
                    examples: t in examples ? [{ name: `examples.${t}`, value: examples[t] }] : [],
                  }))
                : [];
            } else {
              media = this.mediaInfos(b, resp.content, r.pointer + '/content', 'response');
            }
            const headers: ResponseHeaderInfo[] = [];
            if (isObject(resp.headers)) {
              for (const [hn, hv] of Object.entries(resp.headers)) {
                const h = b.resolve(hv, r.pointer + pointerOf('headers', hn)).value;
                headers.push({ name: hn, required: isObject(h) && h.required === true });
              }
            }
            responses.set(code.toUpperCase(), { code, media, headers });
          }
        } else {
          this.addQuirk(name, opPtr, `${label} documents no responses`);
        }

        spec.operations.push({
          spec,
          path: tpl,
          method,
          operationId: typeof op.operationId === 'string' ? op.operationId : undefined,
          label,
          params,
          body,
          impliedBody,
          responses,
          segments,
          templateCount,
          literalLength,
        });
      }
    }

    b.flushPending();
    for (const v of ['request', 'response'] as Variant[]) this.ajv.addSchema(b.mirrors[v]);
    return spec;
  }

  private basePathsOf(raw: Json, isV2: boolean): string[] {
    const out = new Set<string>();
    if (isV2) {
      out.add(trimTrailingSlashes(typeof raw.basePath === 'string' ? raw.basePath : ''));
    } else if (Array.isArray(raw.servers) && raw.servers.length > 0) {
      for (const server of raw.servers) {
        if (!isObject(server) || typeof server.url !== 'string') continue;
        let url = server.url.replace(/\{([^}]+)\}/g, (m: string, v: string) => {
          const d = server.variables?.[v]?.default;
          return d !== undefined ? String(d) : m;
        });
        url = url.replace(/^[a-z][a-z0-9+.-]*:/i, '');
        if (url.startsWith('//')) {
          const slash = url.indexOf('/', 2);
          url = slash === -1 ? '' : url.slice(slash);
        }
        url = url.split(/[?#]/)[0]!; // split gives at least one part
        out.add(trimTrailingSlashes(url));
      }
    } else {
      out.add('');
    }
    return [...out];
  }

  private paramInfo(b: SpecBuilder, param: Json, ptr: string): ParamInfo {
    let schemaKey: string | undefined;
    let rawSchema: Json;
    let jsonContent = false;
    let arrayStyle: ParamInfo['arrayStyle'] = 'csv';
    if (b.isV2) {
      schemaKey = b.addParameterAsSchema(param, ptr);
      rawSchema = param;
      const cf = param.collectionFormat;
      arrayStyle = cf === 'multi' || cf === 'ssv' || cf === 'tsv' || cf === 'pipes' ? cf : 'csv';
    } else if (param.schema !== undefined) {
      schemaKey = b.addInlineSchema(param.schema, ptr + '/schema', ['request']);
      rawSchema = param.schema;
      const style = param.style ?? (param.in === 'query' || param.in === 'cookie' ? 'form' : 'simple');
      const explode = param.explode ?? style === 'form';
      if (style === 'form' && explode) arrayStyle = 'multi';
      else if (style === 'spaceDelimited') arrayStyle = 'ssv';
      else if (style === 'pipeDelimited') arrayStyle = 'pipes';
    } else if (isObject(param.content)) {
      const [mt, media] = Object.entries(param.content)[0] ?? [];
      if (mt && isObject(media) && media.schema !== undefined) {
        schemaKey = b.addInlineSchema(media.schema, ptr + pointerOf('content', mt, 'schema'), ['request']);
        jsonContent = isJsonContentType(mt);
      }
    }
    return {
      name: param.name,
      in: param.in,
      required: param.in === 'path' ? true : param.required === true,
      schemaKey,
      rawSchema,
      arrayStyle,
      jsonContent,
    };
  }

  private mediaInfos(b: SpecBuilder, content: Json, ptr: string, variant: Variant): MediaInfo[] {
    if (!isObject(content)) return [];
    return Object.entries(content).map(([type, media]) => {
      const examples: MediaInfo['examples'] = [];
      if (isObject(media) && media.example !== undefined) examples.push({ name: 'example', value: media.example });
      if (isObject(media) && isObject(media.examples)) {
        for (const [name, ex] of Object.entries(media.examples)) {
          const r = b.resolve(ex, ptr + pointerOf(type, 'examples', name));
          if (isObject(r.value) && 'value' in r.value) examples.push({ name: `examples.${name}`, value: r.value.value });
        }
      }
      return {
        type,
        normalized: mediaTypeOf(type) ?? type,
        schemaKey: isObject(media) && media.schema !== undefined ? b.addInlineSchema(media.schema, ptr + pointerOf(type, 'schema'), [variant]) : undefined,
        examples,
      };
    });
  }

  // ------------------------------------------------------------------ matching

  private parseUrl(url: string): { rawPath: string; query: URLSearchParams } {
    const u = new URL(url, 'http://contract.invalid');
    return { rawPath: u.pathname, query: u.searchParams };
  }

  /** All operations whose path template matches, best first (most specific per spec). */
  private candidates(method: string, url: string): { matched: Candidate[]; otherMethods: string[] } {
    const { rawPath } = this.parseUrl(url);
    const m = method.toLowerCase();
    const perSpec: Candidate[] = [];
    const otherMethods = new Set<string>();
    for (const spec of this.specs) {
      const found: Candidate[] = [];
      for (const base of spec.basePaths) {
        if (base !== '' && rawPath !== base && !rawPath.startsWith(base + '/')) continue;
        const rest = trimTrailingSlashes(rawPath.slice(base.length));
        const segs = rest === '' ? [] : rest.slice(1).split('/');
        for (const op of spec.operations) {
          const pathParams = matchSegments(op.segments, segs);
          if (!pathParams) continue;
          if (op.method === m) found.push({ op, pathParams });
          else otherMethods.add(`${op.label}`);
        }
      }
      found.sort(bySpecificity);
      const [best] = found;
      if (best) perSpec.push(best);
    }
    perSpec.sort(bySpecificity);
    return { matched: perSpec, otherMethods: [...otherMethods] };
  }

  /** The best matching operation for a method and a path (or full URL), or undefined. */
  findOperation(method: string, pathname: string): OperationMatch | undefined {
    const c = this.candidates(method, pathname).matched[0];
    return c ? toMatch(c) : undefined;
  }

  /** Every matching operation (one per spec), best first — e.g. both flow-service and destinations. */
  findOperations(method: string, pathname: string): OperationMatch[] {
    return this.candidates(method, pathname).matched.map(toMatch);
  }

  // ------------------------------------------------------------------ self-check

  /**
   * Validates every request/response example in the descriptions against the schema it
   * illustrates. Mismatches are spec defects (or hints that the schema is wrong for the real API).
   */
  checkSpecExamples(): ExampleReport {
    const report: ExampleReport = { checked: 0, mismatches: [] };
    for (const spec of this.specs) {
      for (const op of spec.operations) {
        const targets: Array<{ variant: Variant; where: string; media: MediaInfo }> = [];
        for (const m of op.body?.media ?? []) targets.push({ variant: 'request', where: `request body (${m.type})`, media: m });
        for (const r of op.responses.values()) for (const m of r.media) targets.push({ variant: 'response', where: `response ${r.code} body (${m.type})`, media: m });
        for (const { variant, where, media } of targets) {
          if (!media.schemaKey || media.examples.length === 0) continue;
          const validate = this.validator(spec, variant, media.schemaKey);
          for (const ex of media.examples) {
            report.checked++;
            if (validate instanceof Error) {
              report.mismatches.push({ operation: op.label, where, example: ex.name, errors: [`schema cannot be compiled: ${validate.message}`] });
            } else if (!validate(ex.value)) {
              report.mismatches.push({ operation: op.label, where, example: ex.name, errors: (validate.errors ?? []).map((e) => formatError(this.locations, where, e, ex.value, spec)) });
            }
          }
        }
      }
    }
    return report;
  }

  // ------------------------------------------------------------------ checking

  checkRequest(ex: RecordedExchange, options: CheckOptions = {}): ContractViolation[] {
    return this.run(ex, options, (c) => this.requestViolations(c, ex)).violations;
  }

  checkResponse(ex: RecordedExchange, options: CheckOptions = {}): ContractViolation[] {
    return this.run(ex, options, (c) => this.responseViolations(c, ex)).violations;
  }

  /** Request and response checks together, with the violations the deviations suppressed. */
  checkExchange(ex: RecordedExchange, options: CheckOptions = {}): CheckResult {
    return this.run(ex, options, (c) => [...this.requestViolations(c, ex), ...this.responseViolations(c, ex)]);
  }

  private run(ex: RecordedExchange, options: CheckOptions, check: (c: Candidate) => ContractViolation[]): CheckResult {
    const deviations = options.deviations ?? [];
    const { matched, otherMethods } = this.candidates(ex.method, ex.url);
    if (matched.length === 0) {
      const { rawPath } = this.parseUrl(ex.url);
      const hint = otherMethods.length > 0 ? `; the path matches ${otherMethods.join(', ')}` : '';
      const v: ContractViolation = {
        operation: `${ex.method.toUpperCase()} ${rawPath}`,
        part: 'operation',
        message: `no documented operation matches ${ex.method.toUpperCase()} ${rawPath}${hint}`,
      };
      return applyDeviations(undefined, [v], deviations);
    }
    let best: CheckResult | undefined;
    for (const c of matched) {
      const r = applyDeviations(c.op.label, check(c), deviations);
      if (r.violations.length === 0) return r;
      if (!best || r.violations.length < best.violations.length) best = r;
    }
    return best as CheckResult;
  }

  private requestViolations(c: Candidate, ex: RecordedExchange): ContractViolation[] {
    const op = c.op;
    const out: ContractViolation[] = [];
    const add = (part: ContractPart, message: string) => out.push({ operation: op.label, part, message });
    const { query } = this.parseUrl(ex.url);
    const contentType = ex.requestContentType ?? headerValue(ex.requestHeaders, 'content-type');

    for (const p of op.params) {
      if (p.in === 'formData' || p.in === 'cookie') continue; // not recorded / not checked
      let values: string[];
      if (p.in === 'path') {
        const value = c.pathParams[p.name];
        values = value !== undefined ? [value] : [];
      } else if (p.in === 'query') values = query.getAll(p.name);
      else {
        let v = headerValue(ex.requestHeaders, p.name);
        if (v === undefined && p.name.toLowerCase() === 'content-type' && ex.requestContentType) v = ex.requestContentType;
        values = v === undefined ? [] : [v];
      }
      const where = `${p.in} parameter '${p.name}'`;
      const [first] = values;
      if (first === undefined) {
        if (p.required) add('parameters', `required ${where} is missing`);
        continue;
      }
      if (!p.schemaKey) continue;
      const validate = this.validator(op.spec, 'request', p.schemaKey);
      if (validate instanceof Error) {
        add('parameters', `schema of ${where} cannot be compiled: ${validate.message}`);
        continue;
      }
      const value = this.paramValue(op.spec, p, [first, ...values.slice(1)]);
      if (validate(value)) continue;
      // Content-Type / Accept with an enum: compare media types, ignoring whitespace, case and q-values.
      if (p.in === 'header' && ['content-type', 'accept'].includes(p.name.toLowerCase()) && this.mediaHeaderAccepted(op.spec, p, first)) continue;
      const shown = JSON.stringify(values.length === 1 ? values[0] : values);
      for (const e of validate.errors ?? []) add('parameters', formatError(this.locations, `${where} (value ${shown})`, e, value, op.spec));
    }

    // body
    const hasBody = ex.requestBody !== undefined;
    if (!op.body) {
      if (hasBody && !op.impliedBody) add('requestBody', `a request body was sent (${contentType ?? 'no content type'}) but the operation documents none`);
      return out;
    }
    if (!hasBody && contentType === undefined) {
      if (op.body.required) add('requestBody', 'request body is required but none was sent');
      return out;
    }
    if (op.body.media.length === 0) return out;
    const media = pickMedia(op.body.media, contentType);
    if (!media) {
      add('requestBody', `content type ${JSON.stringify(contentType ?? '(none)')} is not documented (documented: ${op.body.media.map((m) => m.type).join(', ')})`);
      return out;
    }
    if (!isJsonContentType(contentType ?? media.type) || !media.schemaKey) return out;
    if (!hasBody) {
      if (op.body.required) add('requestBody', 'request body is required but none was sent');
      return out;
    }
    if (isBinaryMarker(ex.requestBody)) {
      add('requestBody', `request declares JSON content type ${JSON.stringify(contentType)} but the body was not JSON`);
      return out;
    }
    this.validateInto(out, op, 'request', media.schemaKey, ex.requestBody, `request body (${media.type})`, 'requestBody');
    return out;
  }

  private responseViolations(c: Candidate, ex: RecordedExchange): ContractViolation[] {
    const op = c.op;
    const out: ContractViolation[] = [];
    const add = (message: string) => out.push({ operation: op.label, part: 'response', message });
    const status = String(ex.status);
    const resp = op.responses.get(status) ?? op.responses.get(`${status[0]}XX`) ?? op.responses.get('DEFAULT');
    if (!resp) {
      add(`status ${status} is not documented (documented: ${[...op.responses.values()].map((r) => r.code).join(', ') || 'none'})`);
      return out;
    }
    for (const h of resp.headers) {
      if (h.required && headerValue(ex.responseHeaders, h.name) === undefined) add(`required response header '${h.name}' (status ${resp.code}) is missing`);
    }
    if (op.method === 'head' || resp.media.length === 0) return out;
    const contentType = ex.responseContentType ?? headerValue(ex.responseHeaders, 'content-type');
    if (ex.responseBody === undefined && contentType === undefined) return out;
    const media = pickMedia(resp.media, contentType);
    if (!media) {
      add(`response content type ${JSON.stringify(contentType ?? '(none)')} for status ${status} is not documented (documented: ${resp.media.map((m) => m.type).join(', ')})`);
      return out;
    }
    if (ex.responseBody === undefined || !media.schemaKey || !isJsonContentType(contentType ?? media.type)) return out;
    if (isBinaryMarker(ex.responseBody)) {
      add(`response declares JSON content type ${JSON.stringify(contentType)} but the body was not JSON`);
      return out;
    }
    this.validateInto(out, op, 'response', media.schemaKey, ex.responseBody, `response ${status} body (${media.type})`, 'response');
    return out;
  }

  private validateInto(out: ContractViolation[], op: OperationEntry, variant: Variant, key: string, data: unknown, where: string, part: ContractPart): void {
    const validate = this.validator(op.spec, variant, key);
    if (validate instanceof Error) {
      out.push({ operation: op.label, part, message: `schema of ${where} cannot be compiled: ${validate.message}` });
      return;
    }
    if (validate(data)) return;
    for (const e of validate.errors ?? []) out.push({ operation: op.label, part, message: formatError(this.locations, where, e, data, op.spec) });
  }

  private validator(spec: SpecEntry, variant: Variant, key: string): ValidateFunction | Error {
    const ref = `${spec.docIds[variant]}#/x-schemas/${key}`;
    let v = this.validators.get(ref);
    if (!v) {
      try {
        v = this.ajv.getSchema(ref) ?? new Error(`schema ${ref} not found`);
      } catch (e) {
        v = e as Error;
        this.addQuirk(spec.name, `x-schemas/${key}`, `schema cannot be compiled: ${(e as Error).message}`);
      }
      this.validators.set(ref, v);
    }
    return v;
  }

  /** Converts raw parameter strings to the JSON value their schema expects. */
  private paramValue(spec: SpecEntry, p: ParamInfo, values: [string, ...string[]]): unknown {
    if (p.jsonContent) {
      try {
        return JSON.parse(values[0]);
      } catch {
        return values[0];
      }
    }
    const raw = resolveRawSchema(spec, p.rawSchema);
    const type = typeOf(raw);
    if (type === 'array') {
      const itemType = typeOf(resolveRawSchema(spec, isObject(raw) ? raw.items : undefined));
      const sep = { csv: ',', ssv: ' ', tsv: '\t', pipes: '|', multi: undefined }[p.arrayStyle];
      const parts = sep === undefined || values.length > 1 ? values : values[0].split(sep);
      return parts.map((s) => coerce(s, itemType));
    }
    if (values.length > 1) return values.map((s) => coerce(s, type)); // repeated scalar: reported as a type error
    return coerce(values[0], type);
  }

  private mediaHeaderAccepted(spec: SpecEntry, p: ParamInfo, value: string): boolean {
    const raw = resolveRawSchema(spec, p.rawSchema);
    const allowed: unknown[] | undefined = isObject(raw) && Array.isArray(raw.enum) ? raw.enum : undefined;
    if (!allowed) return false;
    const wanted = value
      .split(',')
      .map((v) => normalizeMediaWithParams(v))
      .filter((v) => v !== '');
    const permitted = allowed.map((a) => normalizeMediaWithParams(String(a)));
    if (p.name.toLowerCase() === 'accept') return wanted.some((w) => permitted.includes(w));
    // Content-Type: extra parameters (e.g. charset) are fine when the documented value has none.
    return wanted.length === 1 && permitted.some((a) => a === wanted[0] || (!a.includes(';') && a === mediaTypeOf(wanted[0])));
  }
}



// ---------------------------------------------------------------------------------------------
// Free helpers used by the contract
// ---------------------------------------------------------------------------------------------

function compileTemplate(tpl: string): { segments: TemplateSegment[]; templateCount: number; literalLength: number; names: string[] } {
  const trimmed = trimTrailingSlashes(tpl.split('?')[0]!); // split gives at least one part
  const parts = trimmed === '' ? [] : trimmed.replace(/^\//, '').split('/');
  const names: string[] = [];
  let templateCount = 0;
  let literalLength = 0;
  const segments = parts.map((part): TemplateSegment => {
    if (!part.includes('{')) {
      literalLength += part.length;
      return { literal: part, names: [] };
    }
    const segNames: string[] = [];
    let re = '^';
    let last = 0;
    for (const m of part.matchAll(/\{([^}]+)\}/g)) {
      const lit = part.slice(last, m.index);
      literalLength += lit.length;
      re += lit.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '([^/]+?)';
      segNames.push(m[1]!); // the pattern's one group takes part in every match
      last = m.index + m[0].length;
    }
    const tail = part.slice(last);
    literalLength += tail.length;
    re += tail.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '$';
    templateCount += segNames.length;
    names.push(...segNames);
    return { regex: new RegExp(re), names: segNames };
  });
  return { segments, templateCount, literalLength, names };
}

function matchSegments(tpl: TemplateSegment[], segs: string[]): Record<string, string> | undefined {
  if (tpl.length !== segs.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, t] of tpl.entries()) {
    const seg = segs[i]!; // the lengths are equal
    if (t.literal !== undefined) {
      if (t.literal !== seg && t.literal !== safeDecode(seg)) return undefined;
      continue;
    }
    const m = (t.regex as RegExp).exec(seg);
    if (!m) return undefined;
    t.names.forEach((n, j) => (params[n] = safeDecode(m[j + 1]!))); // one group per name, none optional
  }
  return params;
}

function bySpecificity(a: Candidate, b: Candidate): number {
  return a.op.templateCount - b.op.templateCount || b.op.literalLength - a.op.literalLength;
}

function toMatch(c: Candidate): OperationMatch {
  return {
    spec: c.op.spec.name,
    path: c.op.path,
    method: c.op.method.toUpperCase(),
    operationId: c.op.operationId,
    pathParams: { ...c.pathParams },
    label: c.op.label,
  };
}

function pickMedia(media: MediaInfo[], contentType: string | undefined): MediaInfo | undefined {
  const mt = mediaTypeOf(contentType);
  if (mt) {
    const exact = media.find((m) => m.normalized === mt);
    if (exact) return exact;
    if (isJsonContentType(mt)) {
      const json = media.filter((m) => isJsonContentType(m.normalized));
      if (json.length === 1) return json[0];
    }
    const [mtType] = mt.split('/');
    return media.find((m) => m.normalized === '*/*' || m.normalized === `${mtType}/*`);
  }
  // No content type: only unambiguous when a single media type is documented.
  return media.length === 1 ? media[0] : undefined;
}

function normalizeMediaWithParams(v: string): string {
  return v
    .split(';')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '' && !s.startsWith('q='))
    .join(';');
}

function resolveRawSchema(spec: SpecEntry, schema: Json): Json {
  let cur = schema;
  for (let i = 0; i < 10 && isObject(cur) && typeof cur.$ref === 'string'; i++) {
    const tokens = parseLocalRef(cur.$ref);
    cur = tokens ? getAt(spec.raw, tokens) : undefined;
  }
  return cur;
}

function typeOf(schema: Json): string | undefined {
  if (!isObject(schema)) return undefined;
  if (typeof schema.type === 'string') return schema.type;
  if (Array.isArray(schema.type)) return schema.type.find((t: unknown) => t !== 'null');
  return undefined;
}

function coerce(value: string, type: string | undefined): unknown {
  switch (type) {
    case 'integer':
    case 'number':
      return value.trim() !== '' && !Number.isNaN(Number(value)) ? Number(value) : value;
    case 'boolean':
      return value === 'true' ? true : value === 'false' ? false : value;
    default:
      return value;
  }
}

function formatError(locations: WeakMap<object, string>, where: string, e: ErrorObject, data: unknown, spec: SpecEntry): string {
  const pointer = e.instancePath === '' ? '(root)' : e.instancePath;
  let msg = `${where} at ${pointer}: ${e.message ?? e.keyword}`;
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      msg += ` (missing ${e.instancePath}/${escapePointerToken(String(params.missingProperty))})`;
      break;
    case 'type': {
      const tokens = e.instancePath === '' ? [] : e.instancePath.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
      msg += ` (got ${describeValue('data' in e ? e.data : getAt(data, tokens))})`;
      break;
    }
    case 'enum':
      msg += ` (allowed: ${JSON.stringify(params.allowedValues)})`;
      break;
    case 'additionalProperties':
      msg += ` ('${String(params.additionalProperty)}')`;
      break;
    case 'oneOf':
      msg += ` (passingSchemas: ${JSON.stringify(params.passingSchemas)})`;
      break;
    default:
      break;
  }
  const parent = isObject(e.parentSchema) ? locations.get(e.parentSchema) : undefined;
  const schemaPath =
    parent !== undefined
      ? `${spec.file}#${parent}/${e.keyword}`
      : e.schemaPath.replace(spec.docIds.request, spec.file).replace(spec.docIds.response, spec.file);
  return `${msg} [keyword: ${e.keyword}, schema: ${schemaPath}]`;
}

/** Keeps at most MAX_MESSAGES_PER_PART messages per part, summarising the rest (applied after the deviations). */
function capParts(list: ContractViolation[]): ContractViolation[] {
  const counts = new Map<ContractPart, number>();
  const out: ContractViolation[] = [];
  for (const v of list) {
    const n = (counts.get(v.part) ?? 0) + 1;
    counts.set(v.part, n);
    if (n <= MAX_MESSAGES_PER_PART) out.push(v);
  }
  for (const [part, n] of counts) {
    if (n > MAX_MESSAGES_PER_PART) {
      const op = list.find((v) => v.part === part)?.operation ?? '';
      out.push({ operation: op, part, message: `... and ${n - MAX_MESSAGES_PER_PART} more ${part} violation(s)` });
    }
  }
  return out;
}

function applyDeviations(operation: string | undefined, found: ContractViolation[], deviations: readonly KnownDeviation[]): CheckResult {
  const violations: ContractViolation[] = [];
  const suppressed: SuppressedViolation[] = [];
  for (const v of found) {
    const d = deviations.find(
      (dev) =>
        dev.operation === v.operation &&
        dev.part === v.part &&
        (dev.match === undefined || (typeof dev.match === 'string' ? v.message.includes(dev.match) : dev.match.test(v.message))),
    );
    if (d) suppressed.push({ ...v, deviation: d });
    else violations.push(v);
  }
  // Capped after the deviations are taken out, so a documented deviation repeated many times in one body
  // does not surface as an unmatched "... and N more" summary.
  return { operation, violations: capParts(violations), suppressed };
}
