import * as path from 'path';
import {
  ContractViolation,
  KnownDeviation,
  OpenApiContract,
  RecordedExchange,
  isJsonContentType,
  mediaTypeOf,
} from './openapi-contract';

/**
 * Tests of the contract checker itself, against Adobe's published descriptions
 * (../shared/aep-openapi) and two small fixture descriptions (fixtures/mini-specs).
 */

const FIXTURES = path.join(__dirname, 'fixtures', 'mini-specs');
const HOST = 'http://127.0.0.1:5555';

/** Headers the AEP gateway requires on every call. */
const AEP_HEADERS = {
  Authorization: 'Bearer test-token',
  'x-api-key': 'test-client',
  'x-gw-ims-org-id': 'TESTORG@AdobeOrg',
  'x-sandbox-name': 'prod',
};
const JSON_HEADERS = { ...AEP_HEADERS, 'Content-Type': 'application/json' };

function exchange(partial: Partial<RecordedExchange> & Pick<RecordedExchange, 'method' | 'url'>): RecordedExchange {
  return { requestHeaders: {}, status: 200, ...partial };
}

function messages(vs: ContractViolation[]): string[] {
  return vs.map((v) => `${v.operation} [${v.part}] ${v.message}`);
}

let contract: OpenApiContract;

beforeAll(() => {
  contract = OpenApiContract.load();
});

describe('loading Adobe API descriptions', () => {
  it('parses every description once per process', () => {
    // Wall-clock limits do not belong in tests: the same instance, not a second parse, is what matters.
    expect(OpenApiContract.load()).toBe(contract);
  });

  it('finds all thirteen descriptions with their base paths and formats', () => {
    const summary = Object.fromEntries(contract.specSummaries.map((s) => [s.name, `${s.format} ${s.basePaths.join(',')}`]));
    expect(summary).toEqual({
      'ad-hoc-activation': 'openapi-3 /data/core/activation/disflowprovider',
      'batch-ingestion': 'openapi-3 /data/foundation/import',
      catalog: 'openapi-3 /data/foundation/catalog',
      'data-prep': 'openapi-3 /data/foundation/conversion',
      'dataset-service': 'openapi-3 /data/foundation/dataset',
      destinations: 'openapi-3 /data/foundation/flowservice',
      'flow-service': 'openapi-3 /data/foundation/flowservice',
      'observability-insights': 'openapi-3 /data/infrastructure/observability/insights',
      'policy-service': 'openapi-3 /data/foundation/dulepolicy',
      profile: 'openapi-3 /data/core',
      'query-service': 'openapi-3 /data/foundation/query',
      'schema-registry': 'swagger-2 /data/foundation/schemaregistry',
      segmentation: 'openapi-3 /data/core/ups',
    });
    for (const s of contract.specSummaries) expect(s.operationCount).toBeGreaterThan(0);
  });

  it('reports the one unresolvable reference in the descriptions', () => {
    // destinations.yaml refers to an example that components/examples does not define.
    expect(contract.quirks).toEqual([
      {
        spec: 'destinations',
        pointer: '/paths/~1connections~1{id}/patch/responses/200/content/application~1json/examples/Patch_Connection_Response',
        message: "$ref '#/components/examples/Patch_Connection_Response' does not resolve",
      },
    ]);
  });

  it('fails with a clear message when the folder is missing', () => {
    const missing = path.join(FIXTURES, 'does-not-exist');
    expect(() => OpenApiContract.load(missing)).toThrow(/AEP OpenAPI descriptions not found: '.*does-not-exist' is not a directory.*AEP_OPENAPI_DIR/);
  });

  it('honours AEP_OPENAPI_DIR', () => {
    const saved = process.env.AEP_OPENAPI_DIR;
    process.env.AEP_OPENAPI_DIR = FIXTURES;
    try {
      const fromEnv = OpenApiContract.load();
      expect(fromEnv).not.toBe(contract);
      expect(fromEnv.specSummaries.map((s) => s.name)).toEqual(['legacy', 'widgets']);
    } finally {
      if (saved === undefined) delete process.env.AEP_OPENAPI_DIR;
      else process.env.AEP_OPENAPI_DIR = saved;
    }
  });
});

describe('findOperation', () => {
  it.each([
    ['GET', '/data/foundation/catalog/dataSets/5c8c3c555033b814b69f947f', 'catalog', '/dataSets/{DATASET_ID}', { DATASET_ID: '5c8c3c555033b814b69f947f' }],
    [
      'PUT',
      '/data/foundation/import/batches/01H0BATCH/datasets/5c8c3c555033b814b69f947f/files/part%2F0001%20a.parquet',
      'batch-ingestion',
      '/batches/{batchId}/datasets/{datasetId}/files/{filePath}',
      { batchId: '01H0BATCH', datasetId: '5c8c3c555033b814b69f947f', filePath: 'part/0001 a.parquet' },
    ],
    ['POST', '/data/foundation/schemaregistry/tenant/schemas', 'schema-registry', '/tenant/schemas', {}],
    [
      'GET',
      '/data/foundation/schemaregistry/tenant/schemas/https%3A%2F%2Fns.adobe.com%2Facme%2Fschemas%2Fabc',
      'schema-registry',
      '/{CONTAINER_ID}/schemas/{SCHEMA_ID}',
      { CONTAINER_ID: 'tenant', SCHEMA_ID: 'https://ns.adobe.com/acme/schemas/abc' },
    ],
    ['POST', '/data/foundation/query/queries', 'query-service', '/queries', {}],
    ['POST', '/data/core/activation/disflowprovider/adhocrun', 'ad-hoc-activation', '/adhocrun', {}],
    ['POST', '/data/foundation/conversion/mappingSets', 'data-prep', '/mappingSets', {}],
    ['POST', '/data/core/ups/segment/jobs', 'segmentation', '/segment/jobs', {}],
    ['GET', '/data/core/ups/segment/jobs/job-123', 'segmentation', '/segment/jobs/{SEGMENT_JOB_ID}', { SEGMENT_JOB_ID: 'job-123' }],
    ['GET', '/data/core/ups/segment/jobs/job-123/', 'segmentation', '/segment/jobs/{SEGMENT_JOB_ID}', { SEGMENT_JOB_ID: 'job-123' }],
    ['GET', '/data/foundation/catalog/batches/uniques/status', 'catalog', '/batches/uniques/{FIELD}', { FIELD: 'status' }],
    ['GET', '/data/foundation/catalog/batches/01H0BATCH', 'catalog', '/batches/{BATCH_ID}', { BATCH_ID: '01H0BATCH' }],
    ['GET', `${HOST}/data/foundation/catalog/dataSets?limit=10&properties=name`, 'catalog', '/dataSets', {}],
    // Declared after the less specific /alert-subscriptions/{assetId}/{alertType}.
    [
      'GET',
      '/data/foundation/query/alert-subscriptions/user-subscriptions/jane%40example.com',
      'query-service',
      '/alert-subscriptions/user-subscriptions/{emailID}',
      { emailID: 'jane@example.com' },
    ],
    ['GET', '/data/foundation/query/alert-subscriptions/q-1/start', 'query-service', '/alert-subscriptions/{assetId}/{alertType}', { assetId: 'q-1', alertType: 'start' }],
  ])('%s %s → %s %s', (method, url, spec, tpl, params) => {
    const op = contract.findOperation(method, url);
    expect(op).toMatchObject({ spec, path: tpl, method, pathParams: params });
    expect(op?.label).toBe(`${spec} ${method} ${tpl}`);
  });

  it('prefers the literal template over a templated one in Swagger 2 (tenant vs {CONTAINER_ID}), among templates with that method', () => {
    expect(contract.findOperation('POST', '/data/foundation/schemaregistry/tenant/fieldgroups')?.path).toBe('/tenant/fieldgroups');
    // Same number of template segments: the one with more literal text wins.
    expect(contract.findOperation('PUT', '/data/foundation/schemaregistry/tenant/fieldgroups/abc')?.path).toBe('/tenant/fieldgroups/{FIELD_GROUP_ID}');
    expect(contract.findOperation('GET', '/data/foundation/schemaregistry/tenant/fieldgroups/abc')?.path).toBe('/{CONTAINER_ID}/fieldgroups/{FIELD_GROUP_ID}');
    // /tenant/schemas documents only POST, so GET is served by the templated path.
    expect(contract.findOperation('GET', '/data/foundation/schemaregistry/tenant/schemas')?.path).toBe('/{CONTAINER_ID}/schemas');
  });

  it('finds POST /flows in both flow-service.yaml and destinations.yaml', () => {
    const ops = contract.findOperations('POST', '/data/foundation/flowservice/flows');
    expect(ops.map((o) => `${o.spec} ${o.operationId}`).sort()).toEqual(['destinations postFlow', 'flow-service createFlow']);
    expect(contract.findOperation('POST', '/data/foundation/flowservice/flows')).toBeDefined();
    // Only the sources spec documents POST /runs.
    expect(contract.findOperations('POST', '/data/foundation/flowservice/runs').map((o) => o.spec)).toEqual(['flow-service']);
  });

  it('returns undefined for unknown paths and undocumented methods', () => {
    expect(contract.findOperation('GET', '/data/foundation/catalog/nope/1/2/3')).toBeUndefined();
    expect(contract.findOperation('GET', '/data/foundation/nothing-here')).toBeUndefined();
    expect(contract.findOperation('DELETE', '/data/foundation/query/queries')).toBeUndefined();
  });
});

describe('checkRequest against Adobe descriptions', () => {
  describe('query service POST /queries', () => {
    const url = `${HOST}/data/foundation/query/queries`;
    const valid = {
      dbName: 'prod:all',
      sql: 'SELECT 1',
      name: 'features',
      queryParameters: { key: 'value' },
      ctasParameters: { datasetName: 'features_out', targetSchemaTitle: 'Features' },
    };

    it('accepts a valid body', () => {
      expect(messages(contract.checkRequest(exchange({ method: 'POST', url, requestHeaders: JSON_HEADERS, requestBody: valid })))).toEqual([]);
    });

    it('names the pointer and keyword of a wrongly typed property', () => {
      const vs = contract.checkRequest(exchange({ method: 'POST', url, requestHeaders: JSON_HEADERS, requestBody: { ...valid, sql: 42, ctasParameters: { datasetName: ['x'] } } }));
      expect(vs.map((v) => [v.operation, v.part])).toEqual([
        ['query-service POST /queries', 'requestBody'],
        ['query-service POST /queries', 'requestBody'],
      ]);
      expect(vs[0]?.message).toBe(
        'request body (application/json) at /sql: must be string (got number) [keyword: type, schema: query-service.yaml#/components/schemas/query_def/properties/sql/type]',
      );
      expect(vs[1]?.message).toContain('at /ctasParameters/datasetName: must be string (got array)');
    });

    it('requires the body and the documented headers (case-insensitively)', () => {
      const lowerCased = Object.fromEntries(Object.entries(JSON_HEADERS).map(([k, v]) => [k.toLowerCase(), v]));
      expect(contract.checkRequest(exchange({ method: 'POST', url, requestHeaders: lowerCased, requestBody: valid }))).toEqual([]);

      const { 'x-sandbox-name': _omit, ...noSandbox } = JSON_HEADERS;
      void _omit;
      expect(messages(contract.checkRequest(exchange({ method: 'POST', url, requestHeaders: noSandbox })))).toEqual([
        "query-service POST /queries [parameters] required header parameter 'x-sandbox-name' is missing",
        'query-service POST /queries [requestBody] request body is required but none was sent',
      ]);
    });

    it('checks query parameter types (limit must be an integer)', () => {
      const list = (q: string) => contract.checkRequest(exchange({ method: 'GET', url: `${HOST}/data/foundation/catalog/dataSets?${q}`, requestHeaders: AEP_HEADERS }));
      expect(list('limit=10&start=0&properties=name,schemaRef')).toEqual([]);
      expect(messages(list('limit=ten'))).toEqual([
        `catalog GET /dataSets [parameters] query parameter 'limit' (value "ten") at (root): must be integer (got string) [keyword: type, schema: catalog.yaml#/components/parameters/limit/schema/type]`,
      ]);
    });
  });

  describe('catalog POST /dataSets', () => {
    const url = '/data/foundation/catalog/dataSets';
    const valid = {
      name: 'feature-set',
      schemaRef: { id: 'https://ns.adobe.com/acme/schemas/abc', contentType: 'application/vnd.adobe.xed+json;version=1' },
      tags: { adobe_lakeHouse: ['enabled:true'] },
      fileDescription: { format: 'parquet', delimiters: [','] },
    };

    it('accepts a valid body, also with a charset on the enumerated content-type header', () => {
      expect(contract.checkRequest(exchange({ method: 'POST', url, requestHeaders: JSON_HEADERS, requestBody: valid }))).toEqual([]);
      const withCharset = { ...AEP_HEADERS, 'content-type': 'application/json; charset=utf-8' };
      expect(contract.checkRequest(exchange({ method: 'POST', url, requestHeaders: withCharset, requestBody: valid }))).toEqual([]);
    });

    it('reports enum and type violations with their pointers', () => {
      const broken = { ...valid, schemaRef: 'abc', fileDescription: { format: 'xlsx', delimiters: [';;'] } };
      const msgs = contract.checkRequest(exchange({ method: 'POST', url, requestHeaders: JSON_HEADERS, requestBody: broken })).map((v) => v.message);
      expect(msgs).toHaveLength(3);
      expect(msgs).toEqual(
        expect.arrayContaining([
          expect.stringContaining('at /schemaRef: must be object (got string) [keyword: type'),
          expect.stringMatching(/at \/fileDescription\/format: must be equal to one of the allowed values \(allowed: \[.*"parquet".*\]\) \[keyword: enum/),
          expect.stringContaining('at /fileDescription/delimiters/0: must NOT have more than 1 characters [keyword: maxLength'),
        ]),
      );
    });

    it('checks enumerated header values', () => {
      const vs = contract.checkRequest(exchange({ method: 'POST', url, requestHeaders: { ...AEP_HEADERS, 'Content-Type': 'text/plain' }, requestBody: valid }));
      expect(vs.map((v) => v.part)).toEqual(['parameters', 'requestBody']);
      expect(vs[0]?.message).toContain(`header parameter 'content-type' (value "text/plain") at (root): must be equal to one of the allowed values`);
      expect(vs[1]?.message).toBe('content type "text/plain" is not documented (documented: application/json)');
    });
  });

  describe('segmentation POST /segment/jobs', () => {
    const url = '/data/core/ups/segment/jobs';

    it('accepts an array of segment ids and names the pointer of a missing required property', () => {
      expect(contract.checkRequest(exchange({ method: 'POST', url, requestHeaders: JSON_HEADERS, requestBody: [{ segmentId: 'seg-1' }] }))).toEqual([]);
      const vs = contract.checkRequest(exchange({ method: 'POST', url, requestHeaders: JSON_HEADERS, requestBody: [{ segmentId: 'seg-1' }, { id: 'seg-2' }] }));
      expect(messages(vs)).toEqual([
        "segmentation POST /segment/jobs [requestBody] request body (application/json) at /1: must have required property 'segmentId' (missing /1/segmentId) [keyword: required, schema: segmentation.yaml#/components/schemas/SegmentJobRequest/required]",
      ]);
    });
  });

  describe('schema registry POST /tenant/schemas (Swagger 2 body parameter)', () => {
    const url = '/data/foundation/schemaregistry/tenant/schemas';
    const valid = {
      type: 'object',
      title: 'Feature schema',
      description: 'Features computed by the pipeline',
      allOf: [{ $ref: 'https://ns.adobe.com/xdm/context/profile' }],
    };

    it('accepts a valid schema and rejects one without a title', () => {
      expect(contract.checkRequest(exchange({ method: 'POST', url, requestHeaders: JSON_HEADERS, requestBody: valid }))).toEqual([]);
      const { title: _t, ...noTitle } = valid;
      void _t;
      const vs = contract.checkRequest(exchange({ method: 'POST', url, requestHeaders: JSON_HEADERS, requestBody: { ...noTitle, allOf: {} } }));
      expect(vs.map((v) => v.message)).toEqual([
        "request body (application/json) at (root): must have required property 'title' (missing /title) [keyword: required, schema: schema-registry.yaml#/definitions/createSchema/required]",
        'request body (application/json) at /allOf: must be array (got object) [keyword: type, schema: schema-registry.yaml#/definitions/createSchema/properties/allOf/type]',
      ]);
    });

    it('matches a versioned XDM content type to the single documented JSON media type', () => {
      const headers = { ...AEP_HEADERS, 'Content-Type': 'application/vnd.adobe.xed-full+json; version=1' };
      expect(contract.checkRequest(exchange({ method: 'POST', url, requestHeaders: headers, requestBody: valid }))).toEqual([]);
      expect(contract.checkRequest(exchange({ method: 'POST', url, requestHeaders: headers, requestBody: { ...valid, title: 7 } }))).toHaveLength(1);
    });
  });

  describe('data prep POST /mappingSets', () => {
    const url = '/data/foundation/conversion/mappingSets';
    it('validates nested mapping operations', () => {
      const body = {
        outputSchema: { schemaRef: { id: 'https://ns.adobe.com/acme/schemas/abc', contentType: 'application/vnd.adobe.xed-full+json;version=1' } },
        mappings: [{ sourceType: 'ATTRIBUTE', source: 'a', destination: 'b' }],
      };
      expect(contract.checkRequest(exchange({ method: 'POST', url, requestHeaders: JSON_HEADERS, requestBody: body }))).toEqual([]);
      const vs = contract.checkRequest(exchange({ method: 'POST', url, requestHeaders: JSON_HEADERS, requestBody: { ...body, mappings: [{ source: 5 }] } }));
      expect(vs.map((v) => v.message)).toEqual([expect.stringContaining('at /mappings/0/source: must be string (got number)')]);
    });
  });

  describe('batch ingestion PUT file (non-JSON body)', () => {
    const url = '/data/foundation/import/batches/01H0BATCH/datasets/ds1/files/features%2Fpart-0.parquet';
    it('checks only the operation and parameters of an octet-stream upload', () => {
      const headers = { ...AEP_HEADERS, 'Content-Type': 'application/octet-stream' };
      expect(contract.checkRequest(exchange({ method: 'PUT', url, requestHeaders: headers, requestBody: { $binary: true, length: 1024 } }))).toEqual([]);
      const wrongType = contract.checkRequest(exchange({ method: 'PUT', url, requestHeaders: { ...AEP_HEADERS, 'Content-Type': 'application/json' }, requestBody: { $binary: true } }));
      expect(wrongType.map((v) => v.message)).toEqual([expect.stringContaining(`header parameter 'Content-Type' (value "application/json")`)]);
    });
  });

  describe('flow service POST /flows (two descriptions share the base path)', () => {
    const url = '/data/foundation/flowservice/flows';
    it('accepts a body that is valid for either description', () => {
      // Valid for flow-service.yaml's CreateFlowRequest (sources), not for destinations.yaml (needs name, transformations, ...).
      const sourcesFlow = { flowSpec: { id: 'flow-spec-id', version: '1.0' }, sourceConnectionIds: ['s'], targetConnectionIds: ['t'] };
      expect(contract.checkRequest(exchange({ method: 'POST', url, requestHeaders: JSON_HEADERS, requestBody: sourcesFlow }))).toEqual([]);
    });

    it('reports the violations of the closest operation when neither accepts the body', () => {
      const vs = contract.checkRequest(exchange({ method: 'POST', url, requestHeaders: JSON_HEADERS, requestBody: { name: 'no flowSpec' } }));
      expect(vs.length).toBeGreaterThan(0);
      expect(vs[0]?.operation).toBe('flow-service POST /flows');
      expect(vs.map((v) => v.message)).toContain(
        "request body (application/json) at (root): must have required property 'flowSpec' (missing /flowSpec) [keyword: required, schema: flow-service.yaml#/components/schemas/CreateFlowRequest/required]",
      );
    });
  });

  describe('unknown operations', () => {
    it('reports an undocumented path or method', () => {
      expect(messages(contract.checkRequest(exchange({ method: 'POST', url: `${HOST}/data/foundation/catalog/nope`, requestHeaders: AEP_HEADERS })))).toEqual([
        'POST /data/foundation/catalog/nope [operation] no documented operation matches POST /data/foundation/catalog/nope',
      ]);
      const vs = contract.checkRequest(exchange({ method: 'DELETE', url: '/data/foundation/query/queries', requestHeaders: AEP_HEADERS }));
      expect(vs).toHaveLength(1);
      expect(vs[0]?.message).toContain('the path matches query-service GET /queries, query-service POST /queries');
    });
  });
});

describe('checkResponse against Adobe descriptions', () => {
  it('reports an undocumented status (query service answers 202, not 201)', () => {
    const base = exchange({ method: 'POST', url: '/data/foundation/query/queries', requestHeaders: JSON_HEADERS, responseContentType: 'application/json', responseBody: { id: 'q1', state: 'SUBMITTED' } });
    expect(contract.checkResponse({ ...base, status: 202 })).toEqual([]);
    expect(messages(contract.checkResponse({ ...base, status: 201 }))).toEqual([
      'query-service POST /queries [response] status 201 is not documented (documented: 202, 400, 401, 500)',
    ]);
  });

  it('accepts any status where a default response is documented (catalog)', () => {
    const base = exchange({ method: 'GET', url: '/data/foundation/catalog/dataSets/abc', requestHeaders: AEP_HEADERS });
    expect(contract.checkResponse({ ...base, status: 418 })).toEqual([]);
  });

  it('validates a documented JSON response body (segment job)', () => {
    const job = {
      id: 'job-1',
      status: 'SUCCEEDED',
      segments: [{ segmentId: 's1', segment: { id: 's1', expression: { type: 'PQL', format: 'pql/text', value: 'true' }, mergePolicy: { id: 'mp', version: 1 } } }],
      metrics: { totalTime: { startTimeInMs: 1, endTimeInMs: 2, totalTimeInMs: 1 }, profileSegmentationTime: { startTimeInMs: 1, endTimeInMs: 2, totalTimeInMs: 1 } },
    };
    const base = exchange({ method: 'GET', url: '/data/core/ups/segment/jobs/job-1', requestHeaders: AEP_HEADERS, responseHeaders: { 'content-type': 'application/json;charset=UTF-8' } });
    expect(contract.checkResponse({ ...base, responseBody: job })).toEqual([]);
    const vs = contract.checkResponse({ ...base, responseBody: { ...job, status: 'DONE', metrics: { ...job.metrics, totalTime: 5 } } });
    expect(vs.map((v) => v.message)).toEqual([
      expect.stringMatching(/^response 200 body \(application\/json\) at \/status: must be equal to one of the allowed values .*"SUCCEEDED".* \[keyword: enum, schema: segmentation.yaml#\/components\/schemas\/SegmentJob\/properties\/status\/enum\]$/),
      expect.stringContaining('at /metrics/totalTime: must be object (got number)'),
    ]);
  });

  it('reports an undocumented response content type', () => {
    const vs = contract.checkResponse(
      exchange({ method: 'GET', url: '/data/core/ups/segment/jobs/job-1', requestHeaders: AEP_HEADERS, status: 200, responseContentType: 'text/html', responseBody: { $binary: true } }),
    );
    expect(vs.map((v) => v.message)).toEqual(['response content type "text/html" for status 200 is not documented (documented: application/json)']);
  });
});

describe('known deviations (allowlist)', () => {
  // data-prep.yaml documents createdDate/modifiedDate as date-time strings, but its own example
  // (and the real API) returns epoch milliseconds.
  const epochDates: KnownDeviation = {
    operation: 'data-prep POST /mappingSets',
    part: 'response',
    match: /at \/(createdDate|modifiedDate): must be string \(got number\)/,
    reason: 'Data Prep returns createdDate/modifiedDate as epoch milliseconds (see the example in data-prep.yaml)',
  };
  const created = { id: 'ms1', version: 0, createdDate: 1614901254724, modifiedDate: 1614901254724, createdBy: 'me', modifiedBy: 'me' };
  const mappingSetResponse = (body: unknown) =>
    exchange({ method: 'POST', url: '/data/foundation/conversion/mappingSets', requestHeaders: JSON_HEADERS, status: 200, responseContentType: 'application/json', responseBody: body });

  it('without the deviation the documented schema rejects the real response', () => {
    expect(contract.checkResponse(mappingSetResponse(created)).map((v) => v.message)).toEqual([
      expect.stringContaining('at /createdDate: must be string (got number)'),
      expect.stringContaining('at /modifiedDate: must be string (got number)'),
    ]);
  });

  it('suppresses exactly the named deviation and keeps it visible', () => {
    expect(contract.checkResponse(mappingSetResponse(created), { deviations: [epochDates] })).toEqual([]);

    // Another violation in the same part of the same operation still fails.
    const alsoBroken = contract.checkResponse(mappingSetResponse({ ...created, version: 'v0' }), { deviations: [epochDates] });
    expect(alsoBroken.map((v) => v.message)).toEqual([expect.stringContaining('at /version: must be integer (got string)')]);

    // The same kind of violation in another operation is not covered.
    const other = contract.checkResponse(
      exchange({ method: 'GET', url: '/data/foundation/conversion/mappingSets/ms1', requestHeaders: AEP_HEADERS, status: 200, responseContentType: 'application/json', responseBody: created }),
      { deviations: [epochDates] },
    );
    expect(other.map((v) => v.operation)).toEqual(['data-prep GET /mappingSets/{MAPPING_SET_ID}', 'data-prep GET /mappingSets/{MAPPING_SET_ID}']);

    // checkExchange shows what was suppressed and why.
    const result = contract.checkExchange(mappingSetResponse(created), { deviations: [epochDates] });
    expect(result.operation).toBe('data-prep POST /mappingSets');
    expect(result.suppressed.map((s) => s.deviation.reason)).toEqual([epochDates.reason, epochDates.reason]);
  });

  it('can target an ambiguous oneOf without hiding bodies that match no alternative (ad hoc activation V1)', () => {
    // adhocActivationRequestV2 ⊂ V1 (no additionalProperties: false), so every V1 body matches both
    // alternatives of the oneOf and fails it — the spec's own v1_request example included.
    const v1Ambiguity: KnownDeviation = {
      operation: 'ad-hoc-activation POST /adhocrun',
      part: 'requestBody',
      match: 'must match exactly one schema in oneOf (passingSchemas: [0,1])',
      reason: 'adhoc V1 and V2 request schemas overlap, so oneOf rejects every V1 body',
    };
    const url = '/data/core/activation/disflowprovider/adhocrun';
    const v1 = { activationInfo: { 'dest-id': ['seg-id'] }, exportIds: ['exp-1'] };
    const v2 = { activationInfo: { 'dest-id': ['seg-id'] } };
    const check = (body: unknown, deviations: KnownDeviation[] = []) =>
      contract.checkRequest(exchange({ method: 'POST', url, requestHeaders: JSON_HEADERS, requestBody: body }), { deviations });

    expect(check(v2)).toEqual([]);
    expect(check(v1).map((v) => v.message)).toEqual([expect.stringContaining('must match exactly one schema in oneOf (passingSchemas: [0,1])')]);
    expect(check(v1, [v1Ambiguity])).toEqual([]);
    const neither = check({ exportIds: 'x' }, [v1Ambiguity]);
    expect(neither.map((v) => v.message)).toEqual(
      expect.arrayContaining([expect.stringContaining("must have required property 'activationInfo'"), expect.stringContaining('(passingSchemas: null)')]),
    );
  });
});

describe('self-check of the examples in Adobe descriptions', () => {
  it('finds the examples that contradict their own schemas', () => {
    const report = contract.checkSpecExamples();
    const byOp = new Set(report.mismatches.map((m) => `${m.operation} | ${m.where} | ${m.example}`));
    console.log(
      `checkSpecExamples: ${report.mismatches.length} of ${report.checked} examples contradict their schema:\n` +
        report.mismatches.map((m) => `  ${m.operation} ${m.where} ${m.example}: ${m.errors[0]}${m.errors.length > 1 ? ` (+${m.errors.length - 1})` : ''}`).join('\n'),
    );
    expect(report.checked).toBeGreaterThan(150);
    expect(report.mismatches.length).toBeLessThan(report.checked / 2);
    expect(byOp).toContain('data-prep POST /mappingSets | response 200 body (application/json) | example');
    expect(byOp).toContain('ad-hoc-activation POST /adhocrun | request body (application/json) | examples.v1_request');
    expect(byOp).toContain('destinations GET /connections | response 200 body (application/json) | examples.Connections');
    expect(byOp).not.toContain('ad-hoc-activation POST /adhocrun | request body (application/json) | examples.v2_request');
  });
});

describe('schema dialect conversion (fixture descriptions)', () => {
  let mini: OpenApiContract;
  beforeAll(() => {
    mini = OpenApiContract.load(FIXTURES);
  });
  const W = '/api/widgets';
  const createWidget = (body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    mini.checkRequest(exchange({ method: 'POST', url: `${W}/widgets`, requestHeaders: headers, requestBody: body }));
  const getWidget = (body: unknown, status = 200, contentType = 'application/json') =>
    mini.checkResponse(exchange({ method: 'GET', url: `${W}/widgets/w1`, requestHeaders: {}, status, responseContentType: contentType, responseBody: body }));

  it('records unresolvable refs as quirks', () => {
    expect(mini.quirks).toEqual([
      {
        spec: 'widgets',
        pointer: '/components/schemas/Broken/properties/ghost',
        message: "$ref '#/components/schemas/DoesNotExist' does not resolve; treated as an unconstrained schema",
      },
    ]);
    // The rest of the schema still applies.
    expect(mini.checkRequest(exchange({ method: 'POST', url: `${W}/broken`, requestHeaders: {}, requestContentType: 'application/json', requestBody: { ghost: 1, count: 'x' } })).map((v) => v.message)).toEqual([
      expect.stringContaining('at /count: must be integer (got string)'),
    ]);
  });

  it('ignores required readOnly properties in requests and required writeOnly properties in responses', () => {
    expect(createWidget({ name: 'n', secret: 's' })).toEqual([]);
    expect(createWidget({ id: 'w1', name: 'n' }).map((v) => v.message)).toEqual([expect.stringContaining("must have required property 'secret'")]);
    expect(getWidget({ id: 'w1', name: 'n' })).toEqual([]);
    expect(getWidget({ name: 'n' }).map((v) => v.message)).toEqual([expect.stringContaining("must have required property 'id'")]);
  });

  it('maps nullable, exclusiveMinimum, formats and ignores annotations', () => {
    const ok = { id: 'w1', name: 'n', color: null, owner: null, weight: 0.5, createdAt: '2024-01-01T00:00:00Z', serial: 12, code: 'anything', kind: 'x' };
    expect(getWidget(ok)).toEqual([]);
    const bad = { ...ok, color: 'green', weight: 0, createdAt: 'yesterday', owner: { email: 'not-an-email' } };
    const msgs = getWidget(bad).map((v) => v.message);
    expect(msgs).toEqual(
      expect.arrayContaining([
        expect.stringContaining('at /color: must be equal to one of the allowed values (allowed: ["red","blue",null])'),
        expect.stringContaining('at /weight: must be > 0 [keyword: exclusiveMinimum'),
        expect.stringContaining('at /createdAt: must match format "date-time"'),
        expect.stringContaining('at /owner/email: must match format "email"'),
      ]),
    );
    expect(msgs.some((m) => m.includes('/code') || m.includes('/serial'))).toBe(false);
  });

  it('validates recursive schemas to any depth', () => {
    const url = `${W}/widgets/w1/tree`;
    const tree = (leaf: unknown) => ({ name: 'root', children: [{ name: 'a', children: [{ name: 'b', children: [leaf] }] }] });
    const check = (body: unknown) => mini.checkResponse(exchange({ method: 'GET', url, requestHeaders: {}, responseContentType: 'application/json', responseBody: body }));
    expect(check(tree({ name: 'c', children: [] }))).toEqual([]);
    expect(check(tree({ children: [] })).map((v) => v.message)).toEqual([
      "response 200 body (application/json) at /children/0/children/0/children/0: must have required property 'name' (missing /children/0/children/0/children/0/name) [keyword: required, schema: widgets.yaml#/components/schemas/Node/required]",
    ]);
  });

  it('resolves components/requestBodies, components/responses and components/parameters and checks path parameters', () => {
    expect(createWidget(undefined, {}).map((v) => v.message)).toEqual(['request body is required but none was sent']);
    expect(mini.checkRequest(exchange({ method: 'GET', url: `${W}/widgets/x1`, requestHeaders: {} })).map((v) => v.message)).toEqual([
      expect.stringContaining(`path parameter 'widgetId' (value "x1") at (root): must match pattern "^w[0-9]+$"`),
    ]);
    expect(mini.checkRequest(exchange({ method: 'GET', url: `${W}/widgets?limit=500`, requestHeaders: { 'X-Api-Key': 'k' } })).map((v) => v.message)).toEqual([
      expect.stringContaining(`query parameter 'limit' (value "500") at (root): must be <= 100`),
    ]);
    // 4XX range with a +json media type from components/responses
    expect(getWidget({ message: 'gone' }, 404, 'application/problem+json')).toEqual([]);
    expect(getWidget({ msg: 'gone' }, 410, 'application/problem+json').map((v) => v.message)).toEqual([
      expect.stringContaining("response 410 body (application/problem+json) at (root): must have required property 'message'"),
    ]);
    expect(getWidget({}, 500).map((v) => v.message)).toEqual(['status 500 is not documented (documented: 200, 4XX)']);
  });

  it('reports a body sent to an operation that documents none', () => {
    const get = (body: unknown) => mini.checkRequest(exchange({ method: 'GET', url: `${W}/widgets/w1`, requestHeaders: { 'content-type': 'application/json' }, requestBody: body }));
    expect(get(undefined)).toEqual([]);
    expect(get({ q: 1 }).map((v) => `${v.part}: ${v.message}`)).toEqual(['requestBody: a request body was sent (application/json) but the operation documents none']);
  });

  it('uses the default response, checks required response headers and the single documented vendor JSON type', () => {
    const create = (status: number, body: unknown, headers: Record<string, string> = { location: '/widgets/w9' }) =>
      mini.checkResponse(
        exchange({ method: 'POST', url: `${W}/widgets`, requestHeaders: {}, status, responseHeaders: { ...headers, 'content-type': 'application/json' }, responseBody: body }),
      );
    expect(create(201, { id: 'w9', name: 'n' })).toEqual([]);
    expect(create(201, { id: 'w9', name: 'n' }, {}).map((v) => v.message)).toEqual(["required response header 'Location' (status 201) is missing"]);
    expect(create(409, { message: 'exists' })).toEqual([]);
    expect(create(409, { error: 'exists' }).map((v) => v.message)).toEqual([expect.stringContaining("response 409 body (application/json) at (root): must have required property 'message'")]);
  });

  it('matches templates with literal parts inside a segment and trailing-slash variants', () => {
    expect(mini.findOperation('GET', `${W}/exports/report%201.json`)).toMatchObject({ path: '/exports/{name}.json', pathParams: { name: 'report 1' } });
    // /exports/{file} is declared first; with equally many template parameters, more literal text wins.
    expect(mini.findOperation('GET', `${W}/exports/report.csv`)?.path).toBe('/exports/{file}');
    expect(mini.findOperation('GET', `${W}/exports/a/b.json`)).toBeUndefined();
    expect(mini.findOperation('GET', `${W}/widgets/w1`)?.path).toBe('/widgets/{widgetId}/');
    expect(mini.findOperation('POST', `${W}/widgets/search/`)?.path).toBe('/widgets/search');
    // /widgets/{widgetId}/ is declared first, but the literal template is more specific.
    expect(mini.findOperation('GET', `${W}/widgets/search`)?.path).toBe('/widgets/search');
  });

  describe('Swagger 2', () => {
    const L = '/api/legacy';
    it('validates in: body parameters with recursive definitions and x-nullable', () => {
      const headers = { Accept: 'application/vnd.legacy.thing+json;version=1', 'Content-Type': 'application/json' };
      const post = (body: unknown) => mini.checkRequest(exchange({ method: 'POST', url: `${L}/things`, requestHeaders: headers, requestBody: body }));
      expect(post({ title: 't', note: null, parent: { title: 'p', parent: { title: 'pp' } } })).toEqual([]);
      expect(post({ title: 't', parent: { parent: { title: 3 } } }).map((v) => v.message)).toEqual([
        "request body (application/json) at /parent: must have required property 'title' (missing /parent/title) [keyword: required, schema: legacy.yaml#/definitions/Thing/required]",
        'request body (application/json) at /parent/parent/title: must be string (got number) [keyword: type, schema: legacy.yaml#/definitions/Thing/properties/title/type]',
      ]);
    });

    it('checks #/parameters refs, csv arrays and enumerated Accept headers', () => {
      const list = (q: string) => mini.checkRequest(exchange({ method: 'GET', url: `${L}/things?${q}`, requestHeaders: {} }));
      expect(list('tags=red,blue&limit=5')).toEqual([]);
      expect(list('tags=red,pink').map((v) => v.message)).toEqual([expect.stringContaining(`query parameter 'tags' (value "red,pink") at /1: must be equal to one of the allowed values`)]);
      expect(list('limit=51').map((v) => v.message)).toEqual([expect.stringContaining('must be <= 50')]);
      const post = mini.checkRequest(exchange({ method: 'POST', url: `${L}/things`, requestHeaders: { Accept: 'application/json', 'Content-Type': 'application/json' }, requestBody: { title: 't' } }));
      expect(post.map((v) => v.message)).toEqual([expect.stringContaining(`header parameter 'Accept' (value "application/json") at (root): must be equal to one of the allowed values`)]);
    });

    it('resolves #/responses refs', () => {
      const get = (status: number, body: unknown) => mini.checkResponse(exchange({ method: 'GET', url: `${L}/things/t1`, requestHeaders: {}, status, responseContentType: 'application/json', responseBody: body }));
      expect(get(404, { message: 'no' })).toEqual([]);
      expect(get(404, {}).map((v) => v.message)).toEqual([expect.stringContaining("must have required property 'message' (missing /message) [keyword: required, schema: legacy.yaml#/definitions/Error/required]")]);
    });

    it('treats a documented Content-Type header parameter as an implied, unchecked binary body', () => {
      const put = (ct: string) => mini.checkRequest(exchange({ method: 'PUT', url: `${L}/things/t1/upload`, requestHeaders: { 'Content-Type': ct }, requestBody: { $binary: true } }));
      expect(put('application/octet-stream')).toEqual([]);
      expect(put('application/json').map((v) => v.message)).toEqual([
        expect.stringContaining(`header parameter 'Content-Type' (value "application/json")`),
        'content type "application/json" is not documented (documented: application/octet-stream)',
      ]);
    });
  });
});

describe('content type helpers', () => {
  it.each([
    ['application/json', true],
    ['application/json; charset=utf-8', true],
    ['application/vnd.adobe.xed-full+json; version=1', true],
    ['application/vnd.adobe.adhoc.dataset.activation+json; version=1', true],
    ['application/octet-stream', false],
    ['application/x-www-form-urlencoded', false],
    [undefined, false],
  ])('isJsonContentType(%s) = %s', (ct, expected) => {
    expect(isJsonContentType(ct)).toBe(expected);
  });

  it('strips parameters and lower-cases media types', () => {
    expect(mediaTypeOf('Application/VND.Adobe.XED+json; version=1')).toBe('application/vnd.adobe.xed+json');
  });
});
