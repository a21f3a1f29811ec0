/**
 * What a stage run reads must not grow with the number of past runs: the pipeline runs by itself for
 * months, and a ledger lookup that reads its whole history gets slower and dearer every day. Each stage
 * runs one day after 10 and after 60 days of history written into the ledger, and its object reads
 * (GET and HEAD) are counted.
 */
import type { AepRestServices, SegmentJob } from '../../lib/aep';
import { propensityBandPql, ScoreSummaryAccumulator } from '../../lib/audience';
import { WEEK2_FEATURES } from '../../lib/features/spec';
import { newRunId, RunLedger, type RunRecord } from '../../lib/ledger/run-ledger';
import type { Clock } from '../../lib/ports/clock';
import type { ObjectStore } from '../../lib/ports/object-store';
import { silentLog } from '../../lib/ports/logger';
import { dataDistiller } from '../../lib/sql/dialect';
import { evaluateAudience } from '../../lib/stages/audience';
import { exportFeatures } from '../../lib/stages/export';
import { featurize } from '../../lib/stages/featurize';
import { checkIngestion, type IngestionCheckOutputs } from '../../lib/stages/ingestion-check';
import { scoreProfiles } from '../../lib/stages/score';
import { outputsOf } from '../helpers/ledger';
import { interceptedStore, memoryStore } from '../helpers/object-store';

const DAY_MS = 24 * 60 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;
const MINUTE_MS = 60 * 1000;
const START = Date.parse('2026-01-05T00:00:00Z');
const BAND = { low: 0.3, high: 0.6 };
const DEFINITION = { id: 'definition-1', name: 'Middle propensity', expression: { type: 'PQL', format: 'pql/text', value: propensityBandPql('tenant', BAND) } };
/** An on-demand segment job every ON_DEMAND_EVERY days of history, fewer than the yearly budget allows. */
const ON_DEMAND_EVERY = 7;
/** The most GET and HEAD requests any of these stage runs may make, its lease included. */
const MAX_READS = 8;

const stamp = (at: number) => new Date(at).toISOString().replace(/[-:T]/g, '').slice(0, 14);

/** The ledger's records of one day, written as the stages write them, at the times of their default schedules. */
class History {
  through = '';
  lastExport: RunRecord<'export'> | undefined;
  lastScore: RunRecord<'score'> | undefined;
  featurizeRun: RunRecord<'featurize'> | undefined;
  private spentOnDemand: string[] = [];

  constructor(
    private readonly ledger: RunLedger,
    private readonly store: ObjectStore,
  ) {}

  private times(at: number, minutes = 5) {
    return { runId: newRunId(new Date(at)), startedAt: new Date(at).toISOString(), finishedAt: new Date(at + minutes * MINUTE_MS).toISOString() };
  }

  async featurize(day: number): Promise<void> {
    const at = START + day * DAY_MS + 3 * HOUR_MS;
    const outputs = {
      snapshotFrom: day === 0 ? null : day - 1,
      snapshotTo: day,
      trainingTable: 'reads_training_features',
      scoringTable: 'reads_scoring_features',
      trainingQueryId: `training-${day}`,
      scoringQueryId: `scoring-${day}`,
      modes: { training: 'insert', scoring: 'insert' },
    } as const;
    this.featurizeRun = { stage: 'featurize', ...this.times(at, 1), status: 'succeeded', outputs };
    await this.ledger.record(this.featurizeRun);
  }

  async export(day: number): Promise<void> {
    const at = START + day * DAY_MS + 4 * HOUR_MS + 10 * MINUTE_MS;
    const folder = (dataset: string) => `egress/${dataset}/exportTime=${stamp(at + MINUTE_MS)}/`;
    const outputs = {
      featurizeRunId: this.featurizeRun!.runId, // featurize runs first
      flowId: 'export-flow',
      training: { datasetId: 'training', folder: folder('training'), rows: 10, files: [`${folder('training')}part-00000.parquet`] },
      scoring: { datasetId: 'scoring', folder: folder('scoring'), rows: 10, files: [`${folder('scoring')}part-00000.parquet`] },
    };
    this.lastExport = { stage: 'export', ...this.times(at), status: 'succeeded', outputs };
    await this.ledger.record(this.lastExport);
  }

  async score(day: number): Promise<void> {
    const at = START + day * DAY_MS + 5 * HOUR_MS + 30 * MINUTE_MS;
    const folder = `ingress/scores/exportTime=${stamp(at + MINUTE_MS)}/`;
    await this.store.put(`${folder}part-00000.csv`, 'userId,prediction\nu1,0.1\nu2,0.4\nu3,0.7\n', 'text/csv');
    const outputs = {
      exportRunId: this.lastExport!.runId, // exports run first
      modelName: 'propensity',
      modelVersion: 'v1',
      scoresDatasetId: 'scores',
      folder,
      files: [`${folder}part-00000.csv`],
      rows: 3,
      manifest: `${folder}_manifest.json`,
    };
    this.lastScore = { stage: 'score', ...this.times(at), status: 'succeeded', outputs };
    await this.ledger.record(this.lastScore);
  }

  /** The hourly checks from `fromHour` to `toHour`; the one at 06:15 confirms the day's scores. */
  async checks(day: number, fromHour: number, toHour: number): Promise<void> {
    for (let hour = fromHour; hour <= toHour; hour++) {
      const at = START + day * DAY_MS + hour * HOUR_MS + 15 * MINUTE_MS;
      const confirming = hour === 6 && this.lastScore !== undefined && this.lastScore.runId > this.through;
      if (confirming) this.through = this.lastScore!.runId;
      const outputs: IngestionCheckOutputs = {
        flowId: 'ingestion-flow',
        confirmed: confirming ? [{ scoreRunId: this.through, folder: this.lastScore!.outputs!.folder, rows: 3, flowRunIds: ['flow-run'] }] : [],
        pending: [],
        confirmedThrough: this.through,
        alsoConfirmed: [],
      };
      await this.ledger.record({ stage: 'ingestion-check', ...this.times(at, 1), ...(confirming ? { status: 'succeeded' } : { status: 'skipped', reason: 'nothing new' }), outputs });
    }
  }

  async audience(day: number): Promise<void> {
    const at = START + day * DAY_MS + 7 * HOUR_MS;
    const score = this.lastScore!; // scores come first
    const outputs = {
      scoreRunId: score.runId,
      modelName: 'propensity',
      modelVersion: 'v1',
      scoresDatasetId: 'scores',
      definitionId: DEFINITION.id,
      summary: new ScoreSummaryAccumulator(BAND).summary(),
      segmentJobId: `job-${day}`,
      segmentJobSource: 'scheduled' as const,
      qualifiedProfiles: 1,
    };
    await this.ledger.record({ stage: 'audience', ...this.times(at), status: 'succeeded', outputs });
    if (day % ON_DEMAND_EVERY === 0) {
      const spent = this.times(at + MINUTE_MS, 0);
      await this.ledger.record({ stage: 'on-demand-segment-job', ...spent, status: 'succeeded', outputs: { definitionId: DEFINITION.id, scoreRunId: score.runId, spentBefore: [...this.spentOnDemand] } });
      this.spentOnDemand.push(spent.startedAt);
    }
  }

  async day(day: number): Promise<void> {
    await this.checks(day, 0, 2);
    await this.featurize(day);
    await this.export(day);
    await this.checks(day, 3, 5);
    await this.score(day);
    await this.checks(day, 6, 6);
    await this.audience(day);
    await this.checks(day, 7, 23);
  }
}

/** AEP as the stages of `day` see it: the queries succeeded, the export is not ready, no flow run took the scores yet. */
function aepOn(day: number, clock: Clock): AepRestServices {
  const scheduled: SegmentJob = {
    id: `job-${day}`,
    status: 'SUCCEEDED',
    source: 'scheduler',
    creationTime: START + day * DAY_MS + 6 * HOUR_MS + 30 * MINUTE_MS,
    segments: [{ segmentId: DEFINITION.id }],
    metrics: { segmentedProfileCounter: { [DEFINITION.id]: 1 }, totalProfiles: 3 },
  };
  const resource = { resource: { id: 'connection' }, created: false };
  const services = {
    catalog: { tableName: async () => 'events', findDataset: async (table: string) => ({ id: table.includes('training') ? 'training' : 'scoring' }) },
    queryService: {
      allDatabase: 'prod:all',
      get: async (id: string) => ({ id, state: 'SUCCESS', rowCount: 10 }),
      submit: async (request: { name: string }) => ({ id: `query ${request.name}` }),
    },
    flowService: {
      ensureBaseConnection: async () => resource,
      ensureTargetConnection: async () => resource,
      ensureSourceConnection: async () => resource,
      ensureFlow: async () => ({ resource: { id: 'export-flow' }, created: false }),
      runsOf: async () => [],
    },
    activation: { runDatasetExport: async () => ({ kind: 'not-ready', message: 'retry in 10 minutes' }) },
    segmentation: {
      findDefinition: async () => DEFINITION,
      recentJobs: async () => (clock.now().getTime() > (scheduled.creationTime ?? 0) ? [scheduled] : []),
      createJob: async () => ({ id: 'on-demand-job', status: 'PROCESSING' }),
      pollJob: async () => ({ ...scheduled, id: 'on-demand-job', source: 'user' }),
    },
  };
  // The services these stages call, as the stand-in answers them.
  return services as unknown as AepRestServices;
}

/**
 * Lives day `days` after `days` days of history, each stage at its scheduled time, and returns the GET
 * and HEAD requests each stage's run made. What a run did not finish (the export AEP was not ready
 * for, the score run with no model) is then recorded as its next run would have.
 */
async function readsAfter(days: number, options: { onDemand: boolean }): Promise<Record<string, number>> {
  const raw = memoryStore();
  let now = START;
  const clock: Clock = { now: () => new Date(now), sleep: async (ms) => void (now += ms) };
  const history = new History(new RunLedger(raw, 'runs/', clock), raw);
  for (let day = 0; day < days; day++) await history.day(day);

  let reads = 0;
  const store = interceptedStore(raw, { beforeCall: (call) => void (['get', 'getStream', 'getRange', 'head'].includes(call) && (reads += 1)) });
  const ledger = new RunLedger(store, 'runs/', clock);
  const aep = aepOn(days, clock);
  const counts: Record<string, number> = {};
  const counted = async <T>(stage: string, at: number, run: () => Promise<T>): Promise<T> => {
    now = START + days * DAY_MS + at;
    reads = 0;
    const result = await run();
    counts[stage] = reads;
    return result;
  };

  await history.checks(days, 0, 2);
  const featurized = await counted('featurize', 3 * HOUR_MS, () =>
    featurize({ aep, query: { query: async <Row>() => [{ snapshot_id: days }] as Row[] }, dialect: dataDistiller, ledger, log: silentLog }, { eventsDatasetId: 'events', namePrefix: 'reads', spec: WEEK2_FEATURES, tenantId: 'tenant' }),
  );
  expect(outputsOf(featurized)).toMatchObject({ snapshotFrom: days - 1, snapshotTo: days });
  history.featurizeRun = featurized;

  const exportOptions = {
    egressPrefix: 'egress/',
    spec: WEEK2_FEATURES,
    waitBudgetMs: 0,
    pollIntervalMs: 1000,
    namePrefix: 'reads',
    roleArn: 'arn:aws:iam::123456789012:role/aep',
    bucket: raw.bucket,
    format: 'parquet' as const,
    compression: 'gzip' as const,
    intervalHours: 24 as const,
  };
  const exported = await counted('export', 4 * HOUR_MS, () => exportFeatures({ aep, store, ledger, clock, log: silentLog }, exportOptions));
  expect(exported).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/not ready/) as string });
  await history.export(days);
  await history.checks(days, 3, 5);

  const scoreOptions = { ingressPrefix: 'ingress/', modelsPrefix: 'models/', modelName: 'propensity', scoresDatasetId: 'scores' };
  const scored = await counted('score', 5 * HOUR_MS + 25 * MINUTE_MS, () => scoreProfiles({ store, ledger, clock, log: silentLog }, scoreOptions));
  expect(scored).toMatchObject({ status: 'skipped', inputs: { exportRunId: history.lastExport?.runId }, reason: expect.stringMatching(/No production version/) as string });
  await history.score(days);

  const checked = await counted('ingestion-check', 6 * HOUR_MS + 10 * MINUTE_MS, () => checkIngestion({ aep, ledger, clock, log: silentLog }, { flowId: 'ingestion-flow' }));
  expect(outputsOf(checked).pending.map((p) => p.scoreRunId)).toEqual([history.lastScore?.runId]);
  await history.checks(days, 6, 6);

  const audienceOptions = { band: BAND, definition: { name: DEFINITION.name }, tenantId: 'tenant', jobWaitBudgetMs: 0, pollIntervalMs: 1000, onDemand: options.onDemand };
  // On demand, the audience runs before AEP's scheduled segmentation of the day.
  const audience = await counted('audience', (options.onDemand ? 6 * HOUR_MS + 20 * MINUTE_MS : 7 * HOUR_MS), () =>
    evaluateAudience({ aep, store, ledger, clock, log: silentLog }, audienceOptions),
  );
  expect(outputsOf(audience)).toMatchObject({ scoreRunId: history.lastScore?.runId, segmentJobSource: options.onDemand ? 'on-demand' : 'scheduled', qualifiedProfiles: 1 });
  if (options.onDemand) {
    const [spent] = await ledger.recent('on-demand-segment-job', 1);
    expect(spent?.outputs?.spentBefore).toHaveLength(Math.ceil(days / ON_DEMAND_EVERY));
  }
  return counts;
}

it.each([{ onDemand: false }, { onDemand: true }])('reads as many objects after 60 days of runs as after 10, and few (%o)', async (options) => {
  const after10 = await readsAfter(10, options);
  const after60 = await readsAfter(60, options);
  expect(after60).toEqual(after10);
  expect(Object.entries(after60).filter(([, reads]) => reads > MAX_READS)).toEqual([]);
});
