/**
 * Where the Flow Service and ad hoc activation stand-ins answer as AEP does but Adobe's files say
 * otherwise; each entry says why. Used by the tests that check the stand-in against the files.
 */
import type { KnownDeviation } from '../../contract/openapi-contract';

export const EXPORT_DEVIATIONS: KnownDeviation[] = [
  ...(['GET /flows', 'GET /flows/{FLOW_ID}'] as const).map((op) => ({
    operation: `flow-service ${op}`,
    part: 'response' as const,
    match: /scheduleParams\/interval: must be string \(got number\)/,
    reason:
      "flow-service.yaml's ScheduleSpecDTO types interval as a string; destinations.yaml (DatasetScheduleParams_V2, and every example) and AEP use " +
      'the integer we return. destinations.yaml cannot take any dataflow instead: its oneOf [Batch_Flow, Streaming_Flow] matches both for every batch ' +
      'dataflow, and it types inheritedAttributes.sourceConnections/targetConnections as objects where its own examples (and AEP) give arrays.',
  })),
  ...(['sourceConnections', 'targetConnections', 'flows'] as const).map((c) => ({
    operation: `destinations POST /${c}`,
    part: 'response' as const,
    match: 'status 400 is not documented',
    reason: `Flow Service answers an invalid ${c} request with 400 (as it does for /connections, where the file documents it); the file lists no 400 here.`,
  })),
  ...(['connections', 'sourceConnections', 'targetConnections', 'flows'] as const).map((c) => ({
    operation: `destinations DELETE /${c}/{id}`,
    part: 'response' as const,
    match: 'status 412 is not documented',
    reason: 'DELETE honours If-Match like PATCH, whose 412 the file documents; the DELETE operations list no 412.',
  })),
  {
    operation: 'flow-service GET /runs/{RUN_ID}',
    part: 'response',
    match: 'status 404 is not documented',
    reason: 'An unknown run id is 404, as for every other Flow Service resource; the run lookup documents only 200, 403 and 503.',
  },
];

