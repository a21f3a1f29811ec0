import { parse } from 'csv-parse/sync';
import { createAepServices } from '../../lib/aep';
import { inputFeatures, labelFeature, WEEK2_FEATURES } from '../../lib/features/spec';
import { RunLedger } from '../../lib/ledger/run-ledger';
import { datasetFromRows } from '../../lib/model/dataset';
import { predictRow, train } from '../../lib/model/gbt';
import { parquetRows, type ParquetRow } from '../../lib/parquet/rows';
import { systemClock } from '../../lib/ports/clock';
import { silentLog } from '../../lib/ports/logger';
import { scoreProfiles } from '../../lib/stages/score';
import { seedSyntheticData } from '../../lib/synthetic/seed';
import { outputsOf } from '../helpers/ledger';
import { startTestPlatform } from '../helpers/platform';
import { featurizeAndExport } from '../helpers/week2';
import { promoteModel } from '../helpers/scoring-data';

type Platform = Awaited<ReturnType<typeof startTestPlatform>>;
let platform: Platform;

beforeAll(async () => {
  platform = await startTestPlatform();
});
afterAll(async () => platform?.dispose());

async function collect(rows: AsyncIterable<ParquetRow>): Promise<ParquetRow[]> {
  const out: ParquetRow[] = [];
  for await (const row of rows) out.push(row);
  return out;
}

it('scores every exported profile of a real featurize and export with a model trained on the exported training set', async () => {
  const aep = createAepServices(platform.config);
  const ledger = new RunLedger(platform.bucket, 'runs/', systemClock);
  const seeded = await seedSyntheticData(
    aep,
    { clock: systemClock, log: silentLog },
    { users: 500, usersPerBatch: 500, seed: 5, now: new Date('2026-03-01T12:00:00Z'), namePrefix: 'score', batchPollIntervalMs: 20, tenantId: platform.tenantId },
  );
  const exported = await featurizeAndExport({ aep, store: platform.bucket, ledger }, { eventsDatasetId: seeded.datasetId, namePrefix: 'score', tenantId: platform.tenantId });
  const files = outputsOf(exported);

  // The model learns from the exported training rows, as the train stage does.
  const features = inputFeatures(WEEK2_FEATURES).map((f) => f.name);
  const training = await collect(parquetRows(platform.bucket, files.training.files));
  const model = train(datasetFromRows(training, { featureNames: features, labelName: labelFeature(WEEK2_FEATURES).name }), { nTrees: 20, maxDepth: 3 });
  await promoteModel(platform.bucket, 'week2_model', 'v1', model);

  const run = await scoreProfiles(
    { store: platform.bucket, ledger, clock: systemClock, log: silentLog },
    { ingressPrefix: 'ingress/', modelsPrefix: 'models/', modelName: 'week2_model', scoresDatasetId: 'scoresdataset' },
  );

  const outputs = outputsOf(run);
  expect(outputs).toMatchObject({ exportRunId: exported.runId, rows: files.scoring.rows });
  const csv = (await Promise.all(outputs.files.map((key) => platform.bucket.get(key)))).flatMap(
    (body) => parse<{ userId: string; prediction: string }>(body.toString('utf8'), { columns: true }),
  );
  const profiles = await collect(parquetRows(platform.bucket, files.scoring.files));
  expect(profiles.length).toBeGreaterThan(400);
  expect(csv).toHaveLength(profiles.length);
  const predictions = new Map(csv.map((row) => [row.userId, Number(row.prediction)]));
  expect(predictions.size).toBe(profiles.length);
  for (const profile of profiles) {
    const expected = predictRow(model, features.map((f) => profile[f] as number | null));
    expect(predictions.get(profile.userId as string)).toBe(Math.round(expected * 1e6) / 1e6);
  }
});
