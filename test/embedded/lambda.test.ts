import * as fs from 'fs';
import * as path from 'path';
import { createAepServices } from '../../lib/aep';
import { EmbeddedFunction, EmbeddedFunctionError } from '../../lib/embedded/lambda';
import { startTestPlatform } from '../helpers/platform';

type Platform = Awaited<ReturnType<typeof startTestPlatform>>;
let platform: Platform;

beforeAll(async () => {
  platform = await startTestPlatform();
});
afterAll(async () => platform?.dispose());

it('runs the bundled provisioner with the environment a deployed function gets', async () => {
  const provisioner = EmbeddedFunction.bundle({ name: 'provisioner', entry: 'lib/handlers/provision.ts', environment: platform.env, workDir: platform.dataDir });
  const event = { namePrefix: 'lambda', scores: { retainDatasetOnDestroy: true }, tf: { action: 'create', prev_input: null } };
  const result = (await provisioner.invoke(event)) as { scoresDatasetId: string; tenantId: string };
  expect(result.tenantId).toBe(platform.tenantId);
  const dataset = await createAepServices(platform.config).catalog.getDataset(result.scoresDatasetId);
  expect(dataset.name).toMatch(/^lambda/);
  expect(fs.readFileSync(provisioner.logFile, 'utf8')).toContain('--- invoke');
});

it('reports the handler\'s error as Lambda does, naming what is wrong', async () => {
  const environment = { ...platform.env };
  const featurize = EmbeddedFunction.bundle({ name: 'featurize', entry: 'lib/handlers/featurize.ts', environment, workDir: platform.dataDir });
  const failure = featurize.invoke({ stage: 'featurize' });
  await expect(failure).rejects.toBeInstanceOf(EmbeddedFunctionError);
  await expect(featurize.invoke({ stage: 'featurize' })).rejects.toThrow(/Function featurize failed: ConfigError: .*PIPELINE_EVENTS_DATASET_ID/s);
  expect(fs.existsSync(path.join(platform.dataDir, 'bundles', 'featurize', 'index.js'))).toBe(true);
});
