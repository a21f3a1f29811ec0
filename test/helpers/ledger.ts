import type { StageRunRecord } from '../../lib/ledger/run-ledger';

/** What a run recorded as outputs, typed by its stage; the test fails here, with the run's status and reason, when there are none. */
export function outputsOf<S extends string, O>(run: StageRunRecord<S, O>): O {
  if (run.outputs === undefined) throw new Error(`The ${run.stage} run ${run.runId} (${run.status}) recorded no outputs${run.reason ? `: ${run.reason}` : ''}`);
  return run.outputs;
}
