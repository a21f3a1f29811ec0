/**
 * Where Adobe's published OpenAPI files disagree with what AEP does, in one place: every test that checks
 * traffic against the files takes its allowances from here. Each entry says why; anything not listed
 * fails the test that recorded it.
 */
import type { KnownDeviation } from './openapi-contract';

const DATA_PREP_DEVIATIONS: KnownDeviation[] = (
  ['POST /mappingSets', 'GET /mappingSets', 'GET /mappingSets/{MAPPING_SET_ID}', 'PUT /mappingSets/{MAPPING_SET_ID}'] as const
).map((op) => ({
  operation: `data-prep ${op}`,
  part: 'response' as const,
  match: /(createdDate|modifiedDate): must be string \(got number\)/,
  reason:
    'data-prep.yaml types createdDate and modifiedDate as date-time strings, but its own examples (SimpleRepresentation, MapperSetPage, ' +
    'MappingOperation) and Data Prep answer with epoch milliseconds, which the stand-in returns.',
}));

export const KNOWN_DEVIATIONS: readonly KnownDeviation[] = [
  {
    operation: 'schema-registry POST /tenant/descriptors',
    part: 'requestBody',
    match: /xdm:sourceVersion: must be string/,
    reason: "The file types xdm:sourceVersion as a string; Adobe's descriptor guide and AEP use the number 1, which we send.",
  },
  {
    operation: 'schema-registry PATCH /tenant/schemas/{SCHEMA_ID}',
    part: 'requestBody',
    match: /at \/0\/value: must be string \(got array\)/,
    reason: 'The file types every JSON Patch value as a string; enabling a schema for Profile adds the array ["union"] at /meta:immutableTags, as Adobe\'s Profile guide shows.',
  },
  {
    operation: 'catalog PATCH /dataSets/{DATASET_ID}',
    part: 'parameters',
    match: /header parameter 'content-type' \(value "application\/json-patch\+json"\)/,
    reason: 'The file\'s own example "Update a dataset to be Profile-enabled" is sent as application/json-patch+json, which its Content-Type enum omits.',
  },
  {
    operation: 'catalog PATCH /dataSets/{DATASET_ID}',
    part: 'requestBody',
    match: /request body \(application\/json-patch\+json\) at \(root\): must be object \(got array\)/,
    reason: 'The same example is a JSON Patch array, but the file reuses the dataset object schema for application/json-patch+json.',
  },
  {
    operation: 'batch-ingestion POST /batches',
    part: 'requestBody',
    match: /inputFormat\/format: must be equal to one of the allowed values/,
    reason: 'The file lists upper-case formats (JSON, Parquet, CSV); Adobe\'s batch ingestion guide and AEP use lower-case "json", which we send.',
  },
  {
    operation: 'ad-hoc-activation POST /adhocrun',
    part: 'requestBody',
    reason:
      'Dataset exports use the dataset variant of ad hoc activation (Accept application/vnd.adobe.adhoc.dataset.activation+json; version=1), ' +
      'whose body { activationInfo: { destinations: [{ flowId, datasets: [{ id }] }] } } the file does not describe: it models only audience activation.',
  },
  {
    operation: 'ad-hoc-activation POST /adhocrun',
    part: 'parameters',
    match: /header parameter 'Accept' \(value "application\/vnd\.adobe\.adhoc\.dataset\.activation\+json; version=1"\)/,
    reason: 'The same dataset variant: its Accept value is the one Adobe documents for dataset exports, absent from the file\'s enum.',
  },
  ...DATA_PREP_DEVIATIONS,
  {
    operation: 'segmentation GET /segment/definitions',
    part: 'response',
    match: /must have required property/,
    reason:
      'The file gives the list the single-definition schema; AEP answers { segments: [...], page: { totalCount, totalPages, ... }, link }, ' +
      "as Adobe's segment definitions guide shows.",
  },
  {
    operation: 'segmentation DELETE /segment/definitions/{SEGMENT_ID}',
    part: 'response',
    match: 'status 404 is not documented',
    reason: 'Deleting an unknown (or already deleted) definition is 404, as reading one is; the file lists only 200, 403 and 503.',
  },
];
