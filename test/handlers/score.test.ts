import { ConfigError } from '../../lib/config/errors';
import { newRunId, RunLedger } from '../../lib/ledger/run-ledger';
import { systemClock } from '../../lib/ports/clock';
import type { ExportOutputs } from '../../lib/stages/export';
import type { ScoreOutputs } from '../../lib/stages/score';
import { startTestPlatform } from '../helpers/platform';
import { promoteModel, scoringParquet, scoringProfiles, trainingModel } from '../helpers/scoring-data';

type Platform = Awaited<ReturnType<typeof startTestPlatform>>;
let platform: Platform;
const savedEnv = { ...process.env };

beforeAll(async () => {
  platform = await startTestPlatform();
});
afterAll(async () => platform?.dispose());
afterEach(() => {
  process.env = { ...savedEnv };
});

/** The handler as a fresh Lambda container loads it: its context is built from this environment on first use. */
function freshHandler(env: Record<string, string>): () => Promise<unknown> {
  process.env = { ...savedEnv, ...env, POWERTOOLS_LOG_LEVEL: 'SILENT' };
  let handler: (() => Promise<unknown>) | undefined;
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- isolateModules loads synchronously: a fresh module that reads this environment.
    handler = (require('../../lib/handlers/score') as typeof import('../../lib/handlers/score')).handler;
  });
  return handler as () => Promise<unknown>;
}

it('refuses to run without the scores dataset, naming the variable', async () => {
  const failure = freshHandler(platform.env)();
  // The isolated module registry has its own ConfigError class: compare by name.
  await expect(failure).rejects.toMatchObject({ name: ConfigError.name });
  await expect(failure).rejects.toThrow(/PIPELINE_SCORES_DATASET_ID/);
});

it("refuses an event meant for another stage, naming both, before it touches anything", async () => {
  const score = freshHandler({ ...platform.env, PIPELINE_SCORES_DATASET_ID: 'scoresds1' }) as (event: unknown) => Promise<unknown>;
  await expect(score({ stage: 'train' })).rejects.toThrow('This function runs the score stage; the event asks for "train"');
  const recorded: string[] = [];
  for await (const object of platform.bucket.list('runs/score/')) recorded.push(object.key);
  expect(recorded).toEqual([]);
});

it('scores the newest export into ingress/<scores dataset>/ with the configured model', async () => {
  const folder = 'egress/scoringds/exportTime=20260301110000/';
  await platform.bucket.put(`${folder}part-00000-x.parquet`, await scoringParquet(scoringProfiles(0, 25)));
  await promoteModel(platform.bucket, 'handler_model', 'v7', trainingModel(300, { nTrees: 5, maxDepth: 2 }));
  const at = systemClock.now();
  const scoring = { datasetId: 'scoringds', folder, rows: 25, files: [`${folder}part-00000-x.parquet`] };
  const outputs: ExportOutputs = { featurizeRunId: 'f', flowId: 'flow', training: { ...scoring, files: [] }, scoring };
  await new RunLedger(platform.bucket, 'runs/', systemClock).record({
    stage: 'export',
    runId: newRunId(at),
    startedAt: at.toISOString(),
    finishedAt: at.toISOString(),
    status: 'succeeded',
    outputs,
  });

  const run = (await freshHandler({ ...platform.env, PIPELINE_SCORES_DATASET_ID: 'scoresds1', PIPELINE_MODEL_NAME: 'handler_model' })()) as { status: string; outputs: ScoreOutputs };

  expect(run.status).toBe('succeeded');
  expect(run.outputs).toMatchObject({ scoresDatasetId: 'scoresds1', modelName: 'handler_model', modelVersion: 'v7', rows: 25 });
  expect(run.outputs.folder).toMatch(/^ingress\/scoresds1\/exportTime=\d{14}\/$/);
  expect(await platform.bucket.head(run.outputs.manifest)).toBeDefined();
});
