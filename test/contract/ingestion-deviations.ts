/**
 * Where the Data Prep stand-in answers as AEP does but data-prep.yaml says otherwise; each entry says
 * why. Used by the tests that check the ingestion traffic against Adobe's files.
 */
import type { KnownDeviation } from './openapi-contract';

export const DATA_PREP_DEVIATIONS: KnownDeviation[] = (
  ['POST /mappingSets', 'GET /mappingSets', 'GET /mappingSets/{MAPPING_SET_ID}', 'PUT /mappingSets/{MAPPING_SET_ID}'] as const
).map((op) => ({
  operation: `data-prep ${op}`,
  part: 'response' as const,
  match: /(createdDate|modifiedDate): must be string \(got number\)/,
  reason:
    'data-prep.yaml types createdDate and modifiedDate as date-time strings, but its own examples (SimpleRepresentation, MapperSetPage, ' +
    'MappingOperation) and Data Prep answer with epoch milliseconds, which the stand-in returns.',
}));
