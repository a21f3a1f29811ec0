/**
 * The score ingestion end to end on the embedded platform: the provisioner's CloudStorageToAEP dataflow
 * picks score files up from the bucket on the stand-in's schedule, maps them onto the profile fields
 * and loads them into the scores dataset; the ingestion check confirms or fails each score run.
 */
import { createAepServices, type AepServices } from '../../lib/aep';
import type { FlowRun } from '../../lib/aep/services/flow-service';
import { newRunId, RunLedger, type RunRecord } from '../../lib/ledger/run-ledger';
import { systemClock } from '../../lib/ports/clock';
import { silentLog } from '../../lib/ports/logger';
import { checkIngestion, scoresIngested } from '../../lib/stages/ingestion-check';
import type { ScoreOutputs } from '../../lib/stages/score';
import { provision, type ProvisionResult } from '../../lib/provisioning/provision';
import { outputsOf } from '../helpers/ledger';
import { startTestPlatform } from '../helpers/platform';

type Platform = Awaited<ReturnType<typeof startTestPlatform>>;
let platform: Platform;
let aep: AepServices;
let ledger: RunLedger;
let provisioned: ProvisionResult;
let stamp = Date.UTC(2026, 0, 1, 0, 0, 0);

beforeAll(async () => {
  platform = await startTestPlatform({ aep: { ingestionIntervalMs: 100 } });
  aep = createAepServices(platform.config);
  provisioned = (await provision(
    aep,
    { namePrefix: 'ingest', scores: { retainDatasetOnDestroy: false }, ingestion: { bucket: platform.bucket.bucket, path: 'ingress' }, tf: { action: 'create', prev_input: null } },
    { log: silentLog },
  )) as ProvisionResult;
});
afterAll(async () => {
  await platform?.dispose();
});
beforeEach(() => {
  // Each test has its own ledger, so score runs of one test are not checked by another.
  ledger = new RunLedger(platform.bucket, `runs-${Math.random().toString(36).slice(2)}/`, systemClock);
});
afterEach(() => {
  platform.aep.faults.clear();
});

const deps = () => ({ aep, ledger, clock: systemClock, log: silentLog });

/** Writes a score folder as the score stage does (parts, then `_manifest.json`) and records the score run. */
async function writeScores(parts: string[][], extra: Record<string, string> = {}): Promise<RunRecord<'score'> & { outputs: ScoreOutputs }> {
  stamp += 1000;
  const ts = new Date(stamp).toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const folder = `ingress/${provisioned.scoresDatasetId}/exportTime=${ts}/`;
  const files: string[] = [];
  let rows = 0;
  for (const [i, lines] of parts.entries()) {
    const key = `${folder}part-${String(i).padStart(5, '0')}.csv`;
    await platform.bucket.put(key, ['userId,prediction', ...lines].join('\n') + '\n', 'text/csv');
    files.push(key);
    rows += lines.length;
  }
  for (const [name, body] of Object.entries(extra)) await platform.bucket.put(`${folder}${name}`, body);
  await platform.bucket.put(`${folder}_manifest.json`, JSON.stringify({ runId: 'score-run', modelName: 'propensity', modelVersion: '1', rows, files: files.map((key, i) => ({ key, rows: parts[i]!.length })) })); // a file per part
  return recordScoreRun(folder, files, rows);
}

/** Records a succeeded score run that wrote these files into `folder`. */
async function recordScoreRun(folder: string, files: string[], rows: number): Promise<RunRecord<'score'> & { outputs: ScoreOutputs }> {
  const now = new Date();
  const outputs: ScoreOutputs = {
    exportRunId: 'export-run',
    modelName: 'propensity',
    modelVersion: '1',
    scoresDatasetId: provisioned.scoresDatasetId,
    folder,
    files,
    rows,
    manifest: `${folder}_manifest.json`,
  };
  const record = { stage: 'score' as const, runId: newRunId(now), startedAt: now.toISOString(), finishedAt: now.toISOString(), status: 'succeeded' as const, outputs };
  await ledger.record(record);
  return record;
}

/** Waits until the flow's runs have taken every file of the folder and finished. */
async function ingested(scores: ScoreOutputs): Promise<FlowRun[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const runs = await aep.flowService.runsOf(provisioned.ingestionFlowId!);
    const covering = runs.filter((r) => JSON.stringify(r.metrics?.fileSummary ?? {}).includes(scores.folder));
    const taken = scores.files.every((key) => covering.some((r) => JSON.stringify(r.metrics?.fileSummary).includes(key)));
    if (taken && covering.every((r) => r.status?.value !== 'inProgress')) return covering;
    if (Date.now() > deadline) throw new Error(`No flow run took the files of ${scores.folder} within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The flow run that took the files of `scores`. */
async function ingestedRun(scores: ScoreOutputs): Promise<FlowRun> {
  const [run] = await ingested(scores);
  if (!run) throw new Error(`No flow run took the files of ${scores.folder}`);
  return run;
}

async function scoresInTable(folderUsers: string[]): Promise<Array<{ userid: string; propensity: number }>> {
  const tenant = `_${platform.tenantId}`;
  return aep.queryConnections.runner().query<{ userid: string; propensity: number }>(
    `SELECT "${tenant}"->>'userid' AS userid, ("${tenant}"->>'propensity')::float8 AS propensity FROM "${provisioned.scoresTable}"
      WHERE "${tenant}"->>'userid' = ANY($1) ORDER BY 1`,
    [folderUsers],
  );
}

const ecid = (n: number) => `${String(n).padStart(19, '1')}${String(n).padStart(19, '2')}`;

describe('the ingestion dataflow on the embedded platform', () => {
  it('loads a score folder into the scores dataset with the mapped values, as a Catalog batch, and the check confirms it', async () => {
    const users = [ecid(1), ecid(2), ecid(3), ecid(4), ecid(5)];
    const scores = await writeScores([[`${users[0]},0.25`, `${users[1]},0.9`, `${users[2]},1`], [`${users[3]},0`, `${users[4]},0.5`]], { 'notes.txt': 'not a score file' });
    const runs = await ingested(scores.outputs);

    expect(await scoresInTable(users)).toEqual([
      { userid: users[0], propensity: 0.25 },
      { userid: users[1], propensity: 0.9 },
      { userid: users[2], propensity: 1 },
      { userid: users[3], propensity: 0 },
      { userid: users[4], propensity: 0.5 },
    ]);
    // The manifest and the text file are not score files: the source path takes *.csv only.
    const listed = JSON.stringify(runs.map((r) => r.metrics?.fileSummary));
    expect(listed).not.toContain('_manifest.json');
    expect(listed).not.toContain('notes.txt');
    const recordSummary = runs.map((r) => r.metrics?.recordSummary as { inputRecordCount: number; outputRecordCount: number; failedRecordCount: number });
    expect(recordSummary.reduce((n, s) => n + s.outputRecordCount, 0)).toBe(5);
    expect(recordSummary.reduce((n, s) => n + s.failedRecordCount, 0)).toBe(0);

    // Each run is a batch of the dataset, as AEP's source runs are.
    const batchIds = runs.map((r) => (r as FlowRun & { batchId?: string }).batchId);
    for (const id of batchIds) {
      const batch = await aep.client.request<Record<string, { status: string; relatedObjects: Array<{ id: string }> }>>({ method: 'GET', path: `/data/foundation/catalog/batches/${id}` });
      expect(batch.data[id!]).toMatchObject({ status: 'success', relatedObjects: [{ type: 'dataSet', id: provisioned.scoresDatasetId }] });
    }
    const run = await aep.flowService.get<FlowRun>('runs', runs[0]!.id); // runs took the two files, so there is one
    expect(run).toMatchObject({ flowId: provisioned.ingestionFlowId, flowSpec: { id: '9753525b-82c7-4dce-8a9b-5ccfce2b9876' }, status: { value: 'success' } });

    const check = await checkIngestion(deps(), { flowId: provisioned.ingestionFlowId! });
    expect(check.status).toBe('succeeded');
    // Flow runs are listed in AEP's order, not by id.
    expect(check.outputs).toMatchObject({ confirmed: [{ scoreRunId: scores.runId, folder: scores.outputs.folder, rows: 5, flowRunIds: expect.arrayContaining(runs.map((r) => r.id)) }] });
    // A confirmed score run is not checked again.
    const again = await checkIngestion(deps(), { flowId: provisioned.ingestionFlowId! });
    expect(again).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/No score run awaits/) });
  });

  it('takes only files that arrived since its last run: a second folder is a new run, the first is not ingested twice', async () => {
    const first = await writeScores([[`${ecid(11)},0.1`]]);
    await ingested(first.outputs);
    const second = await writeScores([[`${ecid(12)},0.2`]]);
    const runs = await ingested(second.outputs);
    expect(JSON.stringify(runs.map((r) => r.metrics?.fileSummary))).not.toContain(first.outputs.folder);
    expect(await scoresInTable([ecid(11), ecid(12)])).toEqual([
      { userid: ecid(11), propensity: 0.1 },
      { userid: ecid(12), propensity: 0.2 },
    ]);
    expect((await checkIngestion(deps(), { flowId: provisioned.ingestionFlowId! })).outputs?.confirmed).toHaveLength(2);
  });

  it('fails the check, naming the flow run and the folder, when the ingestion run failed', async () => {
    platform.aep.faults.addRunFault({ kind: 'ingestion', message: 'The source files could not be copied' });
    const scores = await writeScores([[`${ecid(21)},0.3`, `${ecid(22)},0.4`]]);
    const run = await ingestedRun(scores.outputs);
    expect(run.status?.value).toBe('failed');
    expect(platform.aep.faults.pending).toBe(0);
    expect(await scoresInTable([ecid(21), ecid(22)])).toEqual([]);

    const error = await checkIngestion(deps(), { flowId: provisioned.ingestionFlowId! }).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain(`Ingestion flow run ${run.id}`);
    expect((error as Error).message).toContain(scores.outputs.folder);
    expect((error as Error).message).toContain('The source files could not be copied');
    const [recorded] = await ledger.recent('ingestion-check', 1);
    expect(recorded).toMatchObject({ status: 'failed', reason: expect.stringContaining(run.id) });
  });

  it('counts rows that fail the mapping as failed records, and the check fails naming both counts', async () => {
    const scores = await writeScores([[`${ecid(31)},0.7`, `${ecid(32)},not-a-number`, `,0.2`, `${ecid(34)},0.8`]]);
    const run = await ingestedRun(scores.outputs);
    expect(run.status?.value).toBe('success');
    expect(run.metrics?.recordSummary).toMatchObject({ inputRecordCount: 4, outputRecordCount: 2, failedRecordCount: 2 });
    expect(JSON.stringify(run.metrics?.recordSummary)).toMatch(/row 2: prediction -> _\w+\.propensity: 'not-a-number' is not a number/);
    expect(JSON.stringify(run.metrics?.recordSummary)).toMatch(/row 3: the primary identity _\w+\.userid is missing/);
    expect(await scoresInTable([ecid(31), ecid(32), ecid(34)])).toEqual([
      { userid: ecid(31), propensity: 0.7 },
      { userid: ecid(34), propensity: 0.8 },
    ]);

    await expect(checkIngestion(deps(), { flowId: provisioned.ingestionFlowId! })).rejects.toThrow(
      new RegExp(`Ingestion flow run ${run.id} of flow .* ingested 2 records from folder ${scores.outputs.folder.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}, but score run ${scores.runId} wrote 4 rows`),
    );
  });

  it('fails the run, naming the file, when no row can be mapped', async () => {
    const scores = await writeScores([[`${ecid(41)},high`, `${ecid(42)},low`]]);
    const run = await ingestedRun(scores.outputs);
    expect(run.status?.value).toBe('failed');
    expect(run.status?.errors?.[0]?.message).toContain(`${platform.bucket.bucket}/${scores.outputs.files[0]}`);
    await expect(checkIngestion(deps(), { flowId: provisioned.ingestionFlowId! })).rejects.toThrow(new RegExp(`Ingestion flow run ${run.id}`));
  });

  it('fails the run, naming the file, when a file lacks a column the mapping reads', async () => {
    stamp += 1000;
    const key = `ingress/${provisioned.scoresDatasetId}/exportTime=${new Date(stamp).toISOString().replace(/[-:T]/g, '').slice(0, 14)}/part-00000.csv`;
    await platform.bucket.put(key, `user,score\n${ecid(51)},0.5\n`);
    const deadline = Date.now() + 30_000;
    let run: FlowRun | undefined;
    while (!run && Date.now() < deadline) {
      run = (await aep.flowService.runsOf(provisioned.ingestionFlowId!)).find((r) => JSON.stringify(r.metrics?.fileSummary).includes(key) && r.status?.value !== 'inProgress');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(run?.status?.value).toBe('failed');
    expect(run?.status?.errors?.[0]?.message).toMatch(new RegExp(`File '${platform.bucket.bucket}/${key.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}' has no column 'prediction', 'userId'`));
  });

  it('runs as the deployed handler: finds the dataflow by the pipeline\'s name prefix and checks the bucket\'s ledger', async () => {
    ledger = new RunLedger(platform.bucket, 'runs/', systemClock);
    const scores = await writeScores([[`${ecid(61)},0.6`]]);
    await ingested(scores.outputs);
    const saved = { ...process.env };
    try {
      Object.assign(process.env, platform.env, { PIPELINE_NAME_PREFIX: 'ingest' });
      const { handler } = await import('../../lib/handlers/ingestion-check');
      const record = (await handler()) as RunRecord;
      expect(record).toMatchObject({ stage: 'ingestion-check', status: 'succeeded', outputs: { flowId: provisioned.ingestionFlowId, confirmed: [{ scoreRunId: scores.runId }] } });
      process.env.PIPELINE_NAME_PREFIX = 'absent';
      jest.resetModules();
      const fresh = await import('../../lib/handlers/ingestion-check');
      await expect(fresh.handler()).rejects.toThrow(/The scores ingestion dataflow "absent scores ingestion" does not exist/);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });

  it('is skipped while the files are not picked up yet, so the next scheduled check retries', async () => {
    const now = new Date();
    const folder = `ingress/${provisioned.scoresDatasetId}/exportTime=29990101000000/`;
    await ledger.record({
      stage: 'score',
      runId: newRunId(now),
      startedAt: now.toISOString(),
      finishedAt: now.toISOString(),
      status: 'succeeded',
      outputs: { exportRunId: 'e', modelName: 'm', modelVersion: '1', scoresDatasetId: provisioned.scoresDatasetId, folder, files: [`${folder}part-00000.csv`], rows: 3, manifest: `${folder}_manifest.json` },
    });
    const check = await checkIngestion(deps(), { flowId: provisioned.ingestionFlowId! });
    expect(check).toMatchObject({ status: 'skipped', reason: `${folder}: not picked up yet by flow ${provisioned.ingestionFlowId}` });
  });
});

describe('what the checks remember', () => {
  it('names a folder a score run left half-published as pending, until the next score run finishes it', async () => {
    const folder = `ingress/${provisioned.scoresDatasetId}/exportTime=20260301053000/`;
    await ledger.intend('score', '20260301T053000000Z-dead01', { startedAt: '2026-03-01T05:30:00.000Z', outputs: { folder }, parts: [] });
    const check = await checkIngestion(deps(), { flowId: provisioned.ingestionFlowId! });
    expect(check).toMatchObject({ status: 'skipped', reason: `No score run awaits confirmation of its ingestion; ${folder}: stopped while publishing; the next score run finishes it` });
    expect(outputsOf(check).pending).toEqual([{ scoreRunId: '20260301T053000000Z-dead01', folder, reason: 'stopped while publishing; the next score run finishes it' }]);
  });

  it('confirms each score run once, however many checks ran since, and keeps a later run confirmed while an earlier one waits', async () => {
    const first = await writeScores([[`${ecid(101)},0.1`]]);
    await ingested(first.outputs);
    expect((await checkIngestion(deps(), { flowId: provisioned.ingestionFlowId! })).outputs).toMatchObject({ confirmedThrough: first.runId, alsoConfirmed: [] });
    // More checks with nothing to do than any page of the ledger holds: they carry the watermark on.
    for (let i = 0; i < 60; i++) {
      const idle = await checkIngestion(deps(), { flowId: provisioned.ingestionFlowId! });
      expect(idle).toMatchObject({ status: 'skipped', reason: 'No score run awaits confirmation of its ingestion' });
    }
    expect(await scoresIngested(ledger, first.runId)).toBe(true);

    // An earlier score run whose files have not arrived, and a later one already ingested.
    const waiting = await recordScoreRunWithoutFiles();
    const later = await writeScores([[`${ecid(102)},0.2`]]);
    await ingested(later.outputs);
    const check = await checkIngestion(deps(), { flowId: provisioned.ingestionFlowId! });
    expect(check.outputs).toMatchObject({ confirmedThrough: first.runId, alsoConfirmed: [later.runId] });
    expect(outputsOf(check).pending.map((p) => p.scoreRunId)).toEqual([waiting.runId]);
    expect(await scoresIngested(ledger, later.runId)).toBe(true);
    expect(await scoresIngested(ledger, waiting.runId)).toBe(false);
  });
});

/** A score run whose folder AEP has not seen yet: its files are still to be written. */
async function recordScoreRunWithoutFiles(): Promise<RunRecord<'score'>> {
  stamp += 1000;
  const folder = `ingress/${provisioned.scoresDatasetId}/exportTime=${new Date(stamp).toISOString().replace(/[-:T]/g, '').slice(0, 14)}/`;
  return recordScoreRun(folder, [`${folder}part-00000.csv`], 1);
}
