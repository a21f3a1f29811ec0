import { createAepServices, type AepServices } from '../../lib/aep';
import { scoringColumns, trainingColumns, WEEK2_FEATURES } from '../../lib/features/spec';
import { RunLedger } from '../../lib/ledger/run-ledger';
import { systemClock } from '../../lib/ports/clock';
import { silentLog } from '../../lib/ports/logger';
import { withExclusiveSession } from '../../lib/embedded/postgres';
import { dialectFor } from '../../lib/sql/dialect';
import { exportFeatures } from '../../lib/stages/export';
import { featurize, type FeaturizeOutputs } from '../../lib/stages/featurize';
import { generateUsers } from '../../lib/synthetic/generator';
import { seedSyntheticData } from '../../lib/synthetic/seed';
import { outputsOf } from '../helpers/ledger';
import { readParquet } from '../helpers/parquet';
import { interceptedStore } from '../helpers/object-store';
import { startTestPlatform } from '../helpers/platform';
import { exportOptions } from '../helpers/week2';

const NOW = new Date('2026-03-01T12:00:00Z');

type Platform = Awaited<ReturnType<typeof startTestPlatform>>;

describe('week 2 on the embedded platform: featurize and export', () => {
  let platform: Platform;
  let aep: AepServices;
  let ledger: RunLedger;
  let eventsDatasetId: string;
  let tenantId: string;

  const featurizeNow = () =>
    featurize(
      { aep, query: aep.queryConnections.runner(), dialect: dialectFor(platform.config.aep.queryService.dialect), ledger, log: silentLog },
      { eventsDatasetId, namePrefix: 'e2e', spec: WEEK2_FEATURES, tenantId },
    );
  const waitForQueries = async (outputs: FeaturizeOutputs) => {
    for (const id of [outputs.trainingQueryId, outputs.scoringQueryId]) {
      await aep.queryService.waitFor(id, { clock: systemClock, timeoutMs: 60_000, pollIntervalMs: 50 }).catch(() => undefined);
    }
  };
  const exportNow = () =>
    exportFeatures(
      { aep, store: platform.bucket, ledger, clock: systemClock, log: silentLog },
      exportOptions('e2e', platform.config.storage.bucket),
    );

  /** The ledger of a process that dies as it records a run of `stage`: what the run did stays, its record is never written. */
  const ledgerKilledWhileRecording = (stage: string) =>
    new RunLedger(
      interceptedStore(platform.bucket, {
        beforeMutation: ({ op, key }) => {
          if (op === 'put' && key.startsWith(`runs/${stage}/`) && !key.slice(`runs/${stage}/`.length).startsWith('_')) throw new Error('Runtime exited: killed while recording');
        },
      }),
      'runs/',
      systemClock,
    );

  /** New users arrive in a new batch (a new snapshot) of the events dataset. */
  const ingestUsers = async (start: number, count: number) => {
    const batchId = await aep.ingestion.createBatch(eventsDatasetId, { format: 'json' });
    const lines = [...generateUsers(start, count, { seed: 11, now: NOW, tenantId: `_${tenantId}` })].flatMap((u) => u.events.map((e) => JSON.stringify(e)));
    await aep.ingestion.uploadFile(batchId, eventsDatasetId, `more-${start}.json`, Buffer.from(lines.join('\n')));
    await aep.ingestion.completeBatch(batchId);
    await aep.ingestion.waitForBatch(batchId, { clock: systemClock, timeoutMs: 60_000, pollIntervalMs: 20 });
  };

  beforeAll(async () => {
    platform = await startTestPlatform();
    aep = createAepServices(platform.config);
    ledger = new RunLedger(platform.bucket, 'runs/', systemClock);
    tenantId = platform.tenantId;
    const seeded = await seedSyntheticData(
      aep,
      { clock: systemClock, log: silentLog },
      { users: 600, usersPerBatch: 600, seed: 11, now: NOW, namePrefix: 'e2e', batchPollIntervalMs: 20, tenantId },
    );
    eventsDatasetId = seeded.datasetId;
  });
  afterAll(async () => platform?.dispose());

  async function parquetRows(key: string): Promise<Record<string, unknown>[]> {
    return (await readParquet(await platform.bucket.get(key))).rows;
  }

  it('featurizes the events and exports one verified parquet row per user to egress/', async () => {
    const run = await featurizeNow();
    expect(run.status).toBe('succeeded');
    const outputs = outputsOf(run);
    expect(outputs).toMatchObject({ snapshotFrom: null, modes: { training: 'create', scoring: 'create' } });
    await waitForQueries(outputs);

    const exported = await exportNow();
    expect(exported.status).toBe('succeeded');
    const files = outputsOf(exported);
    const users = await aep.queryConnections.runner().query<{ n: string }>(
      `SELECT COUNT(DISTINCT ("_${tenantId}"->>'userid')) AS n FROM "${await aep.catalog.tableName(eventsDatasetId)}"`,
    );
    expect(files.training.rows).toBe(Number(users[0]?.n));
    expect(files.scoring.rows).toBe(Number(users[0]?.n));
    expect(files.training.folder).toMatch(new RegExp(`^egress/${files.training.datasetId}/exportTime=\\d{14}/$`));
    const [trainingFile] = files.training.files;
    const [scoringFile] = files.scoring.files;
    if (trainingFile === undefined || scoringFile === undefined) throw new Error('the export recorded no training or no scoring file');
    const rows = await parquetRows(trainingFile);
    expect(Object.keys(rows[0] ?? {}).sort()).toEqual([...trainingColumns(WEEK2_FEATURES)].sort());
    expect(Object.keys((await parquetRows(scoringFile))[0] ?? {}).sort()).toEqual([...scoringColumns(WEEK2_FEATURES)].sort());
    expect(new Set(rows.map((r) => r.userId)).size).toBe(rows.length);
  });

  it('does nothing new when run again', async () => {
    expect(await featurizeNow()).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/No event snapshot after/) });
    expect(await exportNow()).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/already exported/) });
  });

  it('still knows what it exported after more skipped runs than the ledger reads at once', async () => {
    for (let i = 0; i < 60; i++) {
      await ledger.run('export', async () => ({ status: 'skipped', reason: 'nothing new (filler)' }));
    }
    expect(await exportNow()).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/already exported/) });
  });

  it('featurizes only the new snapshot next time, and exports only its rows', async () => {
    await ingestUsers(600, 150);

    const run = await featurizeNow();
    const outputs = outputsOf(run);
    expect(outputs.snapshotFrom).not.toBeNull();
    expect(outputs.modes).toEqual({ training: 'insert', scoring: 'insert' });
    await waitForQueries(outputs);
    const training = await aep.queryService.get(outputs.trainingQueryId);
    expect(training.rowCount).toBeGreaterThan(0);
    expect(training.rowCount).toBeLessThanOrEqual(150);

    const exported = await exportNow();
    expect(exported.status).toBe('succeeded');
    expect(outputsOf(exported).training.rows).toBe(training.rowCount);
  });

  it('exports two featurizations at once when an export was missed between them', async () => {
    const counts: number[] = [];
    for (const [start, count] of [[750, 40], [790, 60]] as const) {
      await ingestUsers(start, count);
      const run = await featurizeNow();
      await waitForQueries(outputsOf(run));
      counts.push((await aep.queryService.get(outputsOf(run).trainingQueryId)).rowCount ?? 0);
    }
    const exported = await exportNow();
    expect(exported.status).toBe('succeeded');
    expect(exported.inputs?.featurizeRunIds).toHaveLength(2);
    expect(outputsOf(exported).training.rows).toBe(counts.reduce((sum, n) => sum + n, 0));
  });

  it('takes over the files of an export whose run died before recording them, with those of the featurizations since', async () => {
    const featurizeNewUsers = async (start: number, count: number) => {
      await ingestUsers(start, count);
      const run = await featurizeNow();
      await waitForQueries(outputsOf(run));
      return { training: (await aep.queryService.get(outputsOf(run).trainingQueryId)).rowCount ?? 0, scoring: (await aep.queryService.get(outputsOf(run).scoringQueryId)).rowCount ?? 0 };
    };
    const first = await featurizeNewUsers(850, 30);
    // The process dies as it records the run: AEP has written the export's folders, the ledger has no record.
    const dying = ledgerKilledWhileRecording('export');
    await expect(
      exportFeatures({ aep, store: platform.bucket, ledger: dying, clock: systemClock, log: silentLog }, exportOptions('e2e', platform.config.storage.bucket)),
    ).rejects.toThrow(/killed while recording/);
    const second = await featurizeNewUsers(880, 45);

    const exported = await exportNow();
    expect(exported).toMatchObject({ status: 'succeeded' });
    const outputs = outputsOf(exported);
    expect(exported.inputs?.featurizeRunIds).toHaveLength(2);
    expect(outputs.training.rows).toBe(first.training + second.training);
    expect(outputs.scoring.rows).toBe(first.scoring + second.scoring);
    // The dead run's folder and the new one, oldest first; the newest is the one the next export starts after.
    expect(outputs.training.folders).toHaveLength(2);
    expect(outputs.training.folder).toBe(outputs.training.folders![1]);
    expect((await exportNow()).status).toBe('skipped');
  });

  it('records a featurization whose run died after submitting its queries, and never submits them twice', async () => {
    const featurizeWith = (services: AepServices, runLedger: RunLedger) =>
      featurize(
        { aep: services, query: services.queryConnections.runner(), dialect: dialectFor(platform.config.aep.queryService.dialect), ledger: runLedger, log: silentLog },
        { eventsDatasetId, namePrefix: 'e2e', spec: WEEK2_FEATURES, tenantId },
      );
    const newestFeaturization = async () => outputsOf((await ledger.newest('featurize', (r) => r.status === 'succeeded'))!);

    // Killed as it records the run, both queries submitted.
    await ingestUsers(930, 25);
    const dyingAtRecord = ledgerKilledWhileRecording('featurize');
    await expect(featurizeWith(aep, dyingAtRecord)).rejects.toThrow(/killed while recording/);
    const next = await featurizeWith(aep, ledger);
    expect(next.status).toBe('skipped');
    const recovered = await ledger.newest('featurize', (r) => r.status === 'succeeded');
    expect(recovered?.reason).toMatch(new RegExp(`^Stopped after submitting its queries; run ${next.runId} recorded them`));
    await waitForQueries(outputsOf(recovered!));
    const once = await exportNow();
    expect(once.status).toBe('succeeded');
    expect(outputsOf(once).training.rows).toBe((await aep.queryService.get(outputsOf(recovered!).trainingQueryId)).rowCount);
    expect(outputsOf(once).training.rows).toBeGreaterThan(0);

    // Killed between its two queries: the next run submits the one never submitted.
    await ingestUsers(955, 25);
    let submits = 0;
    const dyingQueryService = Object.create(aep.queryService) as AepServices['queryService'];
    dyingQueryService.submit = async (query) => {
      submits += 1;
      if (submits === 2) throw new Error('Runtime exited: killed between the queries');
      return aep.queryService.submit(query);
    };
    await expect(featurizeWith({ ...aep, queryService: dyingQueryService }, ledger)).rejects.toThrow(/killed between the queries/);
    const before = await newestFeaturization();
    expect((await featurizeWith(aep, ledger)).status).toBe('skipped');
    const finishedRun = (await ledger.newest('featurize', (r) => r.status === 'succeeded'))!;
    const finished = outputsOf(finishedRun);
    expect(finished.snapshotTo).toBeGreaterThan(before.snapshotTo);
    // Both queries carry the dead run's marker: the scoring one was submitted for it.
    expect((await aep.queryService.get(finished.trainingQueryId)).sql).toContain(`featurize run ${finishedRun.runId} training`);
    expect((await aep.queryService.get(finished.scoringQueryId)).sql).toContain(`featurize run ${finishedRun.runId} scoring`);
    await waitForQueries(finished);
    const twice = await exportNow();
    expect(twice.status).toBe('succeeded');
    expect(outputsOf(twice).training.rows).toBe((await aep.queryService.get(finished.trainingQueryId)).rowCount);
    expect(outputsOf(twice).scoring.rows).toBe((await aep.queryService.get(finished.scoringQueryId)).rowCount);

    const unreadable = 'runs/featurize/_intents/20200101T000000000Z-unreadable.json';
    await platform.bucket.put(unreadable, JSON.stringify({ runId: '20200101T000000000Z-unreadable' }));
    await expect(featurizeWith(aep, ledger)).rejects.toThrow(
      "The intent of featurize run 20200101T000000000Z-unreadable is not one a featurize run writes; see the ledger's featurize/_intents/",
    );
    await platform.bucket.delete(unreadable);
  });

  it('counts the rows of a feature query that succeeded while its sibling failed, once a newer run redid the range', async () => {
    await ingestUsers(980, 20);
    // Query Service waits while the database is held, so the scoring query is cancelled before it starts.
    let release!: () => void;
    let holding: Promise<void> | undefined;
    const holdingQueryService = Object.create(aep.queryService) as AepServices['queryService'];
    holdingQueryService.submit = async (query) => {
      holding ??= withExclusiveSession(platform.postgres.db, () => new Promise<void>((resolve) => (release = resolve)));
      return aep.queryService.submit(query);
    };
    const run = await featurize(
      { aep: { ...aep, queryService: holdingQueryService }, query: aep.queryConnections.runner(), dialect: dialectFor('postgres'), ledger, log: silentLog },
      { eventsDatasetId, namePrefix: 'e2e', spec: WEEK2_FEATURES, tenantId },
    );
    const halfFailed = outputsOf(run);
    await aep.queryService.cancel(halfFailed.scoringQueryId);
    release();
    await holding;
    await waitForQueries(halfFailed);
    const trainingRows = (await aep.queryService.get(halfFailed.trainingQueryId)).rowCount ?? 0;
    expect(trainingRows).toBeGreaterThan(0);
    await expect(exportNow()).rejects.toThrow(new RegExp(`Featurization query ${halfFailed.scoringQueryId} ended KILLED`));

    const redone = outputsOf(await featurizeNow());
    expect(redone.snapshotFrom).toBe(halfFailed.snapshotFrom);
    await waitForQueries(redone);
    const exported = await exportNow();
    expect(exported.status).toBe('succeeded');
    // The cancelled run's training rows went into the dataset, and out with the export, as the redone ones did.
    expect(outputsOf(exported).training.rows).toBe(trainingRows + ((await aep.queryService.get(redone.trainingQueryId)).rowCount ?? 0));
  });

  it('surfaces a failed featurization query and exports nothing', async () => {
    // A dataset whose table is not an events table: the feature query fails in Query Service.
    const q = await aep.queryService.submit({ dbName: aep.queryService.allDatabase, sql: 'CREATE TABLE not_events AS SELECT 1 AS x' });
    const done = await aep.queryService.waitFor(q.id, { clock: systemClock, timeoutMs: 30_000, pollIntervalMs: 20 });
    const badDataset = (done._links as { created_dataset: { id: string } }).created_dataset.id;
    const badLedger = new RunLedger(platform.bucket, 'runs-bad/', systemClock);
    const run = await featurize(
      { aep, query: aep.queryConnections.runner(), dialect: dialectFor('postgres'), ledger: badLedger, log: silentLog },
      { eventsDatasetId: badDataset, namePrefix: 'bad', spec: WEEK2_FEATURES, tenantId },
    );
    await waitForQueries(outputsOf(run));
    const egressBefore: string[] = [];
    for await (const o of platform.bucket.list('egress/')) egressBefore.push(o.key);

    await expect(
      exportFeatures(
        { aep, store: platform.bucket, ledger: badLedger, clock: systemClock, log: silentLog },
        exportOptions('bad', platform.config.storage.bucket, 5000),
      ),
    ).rejects.toThrow(/ended FAILED: .*nothing is exported/);
    const [failed] = await badLedger.recent('export', 1);
    expect(failed?.status).toBe('failed');
    const egressAfter: string[] = [];
    for await (const o of platform.bucket.list('egress/')) egressAfter.push(o.key);
    expect(egressAfter).toEqual(egressBefore);
  });

  it('skips an events dataset that holds no data yet', async () => {
    const empty = await seedEmptyDataset();
    const run = await featurize(
      { aep, query: aep.queryConnections.runner(), dialect: dialectFor('postgres'), ledger: new RunLedger(platform.bucket, 'runs-empty/', systemClock), log: silentLog },
      { eventsDatasetId: empty, namePrefix: 'empty', spec: WEEK2_FEATURES, tenantId },
    );
    expect(run).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/holds no data yet/) });
  });

  it('removes the export dataflow the stage made, then the destination the provisioner made', async () => {
    const { removeExportDestination, exportDestinationNames } = await import('../../lib/dataflows/export-dataflow');
    const names = exportDestinationNames('e2e');
    expect(await aep.flowService.findByName('flows', names.flow)).toBeDefined();
    const removal = await removeExportDestination(aep, 'e2e');
    expect(Object.keys(removal.deleted).sort()).toEqual(['baseConnection', 'flow', 'sourceConnection', 'targetConnection']);
    for (const [collection, name] of [['flows', names.flow], ['sourceConnections', names.sourceConnection], ['targetConnections', names.targetConnection], ['connections', names.baseConnection]] as const) {
      expect(await aep.flowService.findByName(collection, name)).toBeUndefined();
    }
    expect((await removeExportDestination(aep, 'e2e')).absent).toHaveLength(4);
  });

  async function seedEmptyDataset(): Promise<string> {
    const existing = await aep.catalog.getDataset(eventsDatasetId);
    const id = await aep.catalog.createDataset({ name: 'e2e empty events', schemaRef: existing.schemaRef as { id: string; contentType: string } });
    return id;
  }
});

describe('week 2 under AEP throttling and outages', () => {
  it('retries 429 and 503 while submitting and polling, and still exports', async () => {
    const platform = await startTestPlatform();
    try {
      const aep = createAepServices(platform.config);
      const ledger = new RunLedger(platform.bucket, 'runs/', systemClock);
      const seeded = await seedSyntheticData(
        aep,
        { clock: systemClock, log: silentLog },
        { users: 200, usersPerBatch: 200, seed: 5, now: NOW, namePrefix: 'faults', batchPollIntervalMs: 20, tenantId: platform.tenantId },
      );
      const statuses: string[] = [];
      platform.aep.onExchange((ex) => {
        if (/\/query\/queries|\/adhocrun/.test(ex.url)) statuses.push(`${ex.method} ${ex.status}`);
      });
      platform.aep.faults.add({ method: 'POST', path: /\/data\/foundation\/query\/queries$/, status: 429, times: 2, retryAfterSeconds: 0 });
      platform.aep.faults.add({ method: 'GET', path: /\/data\/foundation\/query\/queries\/[^/]+$/, status: 503, times: 2 });
      platform.aep.faults.add({ method: 'POST', path: /\/adhocrun$/, status: 503, times: 1 });

      const run = await featurize(
        { aep, query: aep.queryConnections.runner(), dialect: dialectFor('postgres'), ledger, log: silentLog },
        { eventsDatasetId: seeded.datasetId, namePrefix: 'faults', spec: WEEK2_FEATURES, tenantId: platform.tenantId },
      );
      expect(run.status).toBe('succeeded');
      const outputs = outputsOf(run);
      for (const id of [outputs.trainingQueryId, outputs.scoringQueryId]) {
        await aep.queryService.waitFor(id, { clock: systemClock, timeoutMs: 60_000, pollIntervalMs: 50 });
      }
      const exported = await exportFeatures(
        { aep, store: platform.bucket, ledger, clock: systemClock, log: silentLog },
        exportOptions('faults', platform.config.storage.bucket),
      );
      expect(exported.status).toBe('succeeded');
      expect(statuses.filter((s) => s === 'POST 429')).toHaveLength(2);
      expect(statuses.filter((s) => s === 'GET 503')).toHaveLength(2);
      expect(statuses.filter((s) => s === 'POST 503')).toHaveLength(1);
      // Throttled submissions were refused before any work: exactly two queries exist.
      expect(statuses.filter((s) => s === 'POST 202')).toHaveLength(2);
    } finally {
      await platform.dispose();
    }
  });
});

describe('week 2 when AEP is not ready to export', () => {
  it('records the export as skipped with AEP\'s reason, and exports on a later run', async () => {
    const platform = await startTestPlatform({ aep: { exportReadyAfterMs: 1500 } });
    try {
      const aep = createAepServices(platform.config);
      const ledger = new RunLedger(platform.bucket, 'runs/', systemClock);
      const seeded = await seedSyntheticData(
        aep,
        { clock: systemClock, log: silentLog },
        { users: 100, usersPerBatch: 100, seed: 9, now: NOW, namePrefix: 'ready', batchPollIntervalMs: 20, tenantId: platform.tenantId },
      );
      const run = await featurize(
        { aep, query: aep.queryConnections.runner(), dialect: dialectFor('postgres'), ledger, log: silentLog },
        { eventsDatasetId: seeded.datasetId, namePrefix: 'ready', spec: WEEK2_FEATURES, tenantId: platform.tenantId },
      );
      for (const id of [outputsOf(run).trainingQueryId, outputsOf(run).scoringQueryId]) {
        await aep.queryService.waitFor(id, { clock: systemClock, timeoutMs: 60_000, pollIntervalMs: 50 });
      }
      const options = exportOptions('ready', platform.config.storage.bucket, 30_000);
      const first = await exportFeatures({ aep, store: platform.bucket, ledger, clock: systemClock, log: silentLog }, options);
      expect(first).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/not ready for dataset export.*wait for 10 minutes/) });
      await new Promise((resolve) => setTimeout(resolve, 1600));
      const second = await exportFeatures({ aep, store: platform.bucket, ledger, clock: systemClock, log: silentLog }, options);
      expect(second.status).toBe('succeeded');
    } finally {
      await platform.dispose();
    }
  });
});
