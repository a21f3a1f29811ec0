import type { AepRestServices } from '../aep';
import type { SubmitQuery } from '../aep/services/query-service';
import { compileFeatureStatement } from '../features/compile';
import type { FeatureSpec } from '../features/spec';
import type { RunLedger, RunRecord } from '../ledger/run-ledger';
import type { Log } from '../ports/logger';
import type { QueryRunner } from '../ports/query-runner';
import { assertIdentifier, type SqlDialect } from '../sql/dialect';

export interface FeaturizeOptions {
  eventsDatasetId: string;
  /** Prefix of the feature tables: `<prefix>_training_features` and `<prefix>_scoring_features`. */
  namePrefix: string;
  spec: FeatureSpec;
  /** Tenant id without underscore; read from the Schema Registry when absent. */
  tenantId?: string | undefined;
}

export interface FeaturizeDeps {
  aep: AepRestServices;
  /** Interactive Query Service, for the short snapshot look-up; the featurization itself is a batch query. */
  query: QueryRunner;
  dialect: SqlDialect;
  ledger: RunLedger;
  log: Log;
}

/** What a featurize run hands the export stage through the ledger. */
export interface FeaturizeOutputs {
  snapshotFrom: number | null;
  snapshotTo: number;
  trainingTable: string;
  scoringTable: string;
  trainingQueryId: string;
  scoringQueryId: string;
  /** First run: CREATE TABLE AS; after: INSERT INTO. Per table, in case one of them failed before. */
  modes: { training: 'create' | 'insert'; scoring: 'create' | 'insert' };
}

export function featureTableNames(namePrefix: string): { training: string; scoring: string } {
  const base = namePrefix.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  return {
    training: assertIdentifier('training table', `${base}_training_features`),
    scoring: assertIdentifier('scoring table', `${base}_scoring_features`),
  };
}

type Kind = 'training' | 'scoring';

/**
 * What a featurize run records in the ledger (`RunLedger.intend`) before it submits its first query:
 * enough for the next run to find the queries by the marker in their SQL, submit one that was never
 * submitted, and record the run.
 */
interface FeaturizeIntent {
  runId: string;
  startedAt: string;
  inputs: Record<string, unknown>;
  plan: Omit<FeaturizeOutputs, 'trainingQueryId' | 'scoringQueryId'>;
  queries: Record<Kind, SubmitQuery>;
}

/** A comment that names the run and kind in the query's SQL, for Query Service's `sql~` look-up. */
function submissionMarker(runId: string, kind: Kind): string {
  return `featurize run ${runId} ${kind} features`;
}

function featurizeIntentOf(stored: { runId: string } & Record<string, unknown>): FeaturizeIntent {
  const intent = stored as Partial<FeaturizeIntent>;
  const query = (kind: Kind) => intent.queries?.[kind];
  if (typeof intent.startedAt !== 'string' || typeof intent.plan?.snapshotTo !== 'number' || !(['training', 'scoring'] as const).every((k) => typeof query(k)?.sql === 'string')) {
    throw new Error(`The intent of featurize run ${stored.runId} is not one a featurize run writes; see the ledger's featurize/_intents/`);
  }
  return intent as FeaturizeIntent;
}

/**
 * Records the featurize runs that died (or failed) after announcing their queries: each of their
 * queries Query Service holds is taken as submitted, one never submitted is submitted now, and the run is
 * recorded succeeded as it would have been, so its rows, already on their way into the feature datasets,
 * are exported once and never featurized again. A run that died before submitting anything is dropped.
 * Runs holding the stage's lease, so those runs are over.
 */
async function finishInterruptedRuns(deps: FeaturizeDeps, runId: string, now: string): Promise<void> {
  for (const stored of await deps.ledger.intents('featurize')) {
    if (stored.runId === runId) continue;
    const intent = featurizeIntentOf(stored);
    const [recorded] = await deps.ledger.runs('featurize', [intent.runId]);
    if (recorded?.status !== 'succeeded') {
      const found = async (kind: Kind) => (await deps.aep.queryService.findBySql(submissionMarker(intent.runId, kind)))[0]?.id;
      const ids = { training: await found('training'), scoring: await found('scoring') };
      if (ids.training !== undefined || ids.scoring !== undefined) {
        const trainingQueryId = ids.training ?? (await deps.aep.queryService.submit(intent.queries.training)).id;
        const scoringQueryId = ids.scoring ?? (await deps.aep.queryService.submit(intent.queries.scoring)).id;
        await deps.ledger.record({
          stage: 'featurize',
          runId: intent.runId,
          startedAt: intent.startedAt,
          finishedAt: now,
          status: 'succeeded',
          reason: `Stopped after submitting its queries; run ${runId} recorded them`,
          inputs: intent.inputs,
          outputs: { ...intent.plan, trainingQueryId, scoringQueryId },
        });
        deps.log.warn('Recorded the featurization of a run that stopped after submitting it', { featurizeRunId: intent.runId, trainingQueryId, scoringQueryId });
      }
    }
    await deps.ledger.settle('featurize', intent.runId);
  }
}

const FINISHED_OK = 'SUCCESS';
const FINISHED_BAD = new Set(['FAILED', 'KILLED', 'CANCELLED', 'CANCELED', 'DELETED']);

/**
 * Featurize (notebook week 2), once per new range of event snapshots: submits the training and the
 * scoring feature queries as batch queries and records them, without waiting (a Lambda's 15 minutes
 * must never bound a query). The export stage picks them up when they have finished. A run whose
 * queries failed is redone from the same snapshot; a run still in progress makes this run skip.
 */
export async function featurize(deps: FeaturizeDeps, options: FeaturizeOptions): Promise<RunRecord<'featurize'>> {
  return deps.ledger.run('featurize', async ({ runId, startedAt }) => {
    await finishInterruptedRuns(deps, runId, startedAt);
    const tenantId = options.tenantId ?? (await deps.aep.schemaRegistry.tenantId());
    const eventsTable = await deps.aep.catalog.tableName(options.eventsDatasetId);
    const snapshots = await deps.query.query<{ snapshot_id: string | number }>(deps.dialect.snapshotIdsQuery(eventsTable));
    const latest = snapshots.map((s) => Number(s.snapshot_id)).reduce((max, id) => Math.max(max, id), -1);
    if (latest < 0) {
      return { status: 'skipped', reason: `The events table ${eventsTable} holds no data yet`, inputs: { eventsTable } };
    }

    const previous = await deps.ledger.newest('featurize', (r) => r.status === 'succeeded');
    let from: number | null = null;
    if (previous) {
      const { outputs } = previous;
      const states = await Promise.all([outputs.trainingQueryId, outputs.scoringQueryId].map((id) => deps.aep.queryService.get(id)));
      if (states.some((q) => q.state !== FINISHED_OK && !FINISHED_BAD.has(q.state))) {
        return { status: 'skipped', reason: `The featurization of run ${previous.runId} is still running`, inputs: { previousRunId: previous.runId } };
      }
      // A failed featurization is redone from where it started; a successful one is continued.
      from = states.every((q) => q.state === FINISHED_OK) ? outputs.snapshotTo : outputs.snapshotFrom;
    }
    if (from !== null && latest <= from) {
      return { status: 'skipped', reason: `No event snapshot after ${from}`, inputs: { eventsTable, snapshotFrom: from } };
    }

    const tables = featureTableNames(options.namePrefix);
    const modeOf = async (table: string): Promise<'create' | 'insert'> => ((await deps.aep.catalog.findDataset(table)) ? 'insert' : 'create');
    const modes = { training: await modeOf(tables.training), scoring: await modeOf(tables.scoring) };
    // Training rows come from the users with new events; the scoring set is every profile as of now.
    const ranges = { training: { ...(from !== null ? { from } : {}), to: latest }, scoring: { to: latest } };
    const statement = (kind: Kind): SubmitQuery => ({
      dbName: deps.aep.queryService.allDatabase,
      name: `${options.namePrefix} ${kind} features ${kind === 'training' && from !== null ? from : 'start'}-${latest}`,
      sql: `${compileFeatureStatement(options.spec, deps.dialect, {
        kind,
        eventsTable,
        tenantId,
        snapshots: ranges[kind],
        outputTable: tables[kind],
        mode: modes[kind],
      })}\n-- ${submissionMarker(runId, kind)}`,
    });
    const inputs = { eventsDatasetId: options.eventsDatasetId, eventsTable, tenantId };
    const plan = { snapshotFrom: from, snapshotTo: latest, trainingTable: tables.training, scoringTable: tables.scoring, modes };
    const queries = { training: statement('training'), scoring: statement('scoring') };
    // A query once submitted inserts its rows whatever becomes of this run: announce them first.
    await deps.ledger.intend('featurize', runId, { startedAt, inputs, plan, queries } satisfies Omit<FeaturizeIntent, 'runId'>);
    const training = await deps.aep.queryService.submit(queries.training);
    const scoring = await deps.aep.queryService.submit(queries.scoring);
    deps.log.info('Featurization submitted', { trainingQueryId: training.id, scoringQueryId: scoring.id, from, to: latest });

    const outputs: FeaturizeOutputs = { ...plan, trainingQueryId: training.id, scoringQueryId: scoring.id };
    return { inputs, outputs };
  });
}
