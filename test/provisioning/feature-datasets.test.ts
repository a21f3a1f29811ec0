import { createAepServices, type AepServices } from '../../lib/aep';
import { isAepError } from '../../lib/aep/errors';
import { WEEK2_FEATURES } from '../../lib/features/spec';
import { RunLedger } from '../../lib/ledger/run-ledger';
import { systemClock } from '../../lib/ports/clock';
import { silentLog } from '../../lib/ports/logger';
import type { ProvisioningPlanInput } from '../../lib/provisioning/plan';
import { provision, type DeprovisionResult } from '../../lib/provisioning/provision';
import { dialectFor } from '../../lib/sql/dialect';
import { featureTableNames, featurize } from '../../lib/stages/featurize';
import { seedSyntheticData } from '../../lib/synthetic/seed';
import { outputsOf } from '../helpers/ledger';
import { startTestPlatform } from '../helpers/platform';

type Platform = Awaited<ReturnType<typeof startTestPlatform>>;
let platform: Platform;
let aep: AepServices;
let eventsDatasetId: string;

beforeAll(async () => {
  platform = await startTestPlatform();
  aep = createAepServices(platform.config);
  const seeded = await seedSyntheticData(
    aep,
    { clock: systemClock, log: silentLog },
    { users: 60, usersPerBatch: 60, seed: 8, now: new Date('2026-03-01T12:00:00Z'), namePrefix: 'events', batchPollIntervalMs: 20, tenantId: platform.tenantId },
  );
  eventsDatasetId = seeded.datasetId;
});
afterAll(async () => {
  await platform?.dispose();
});

/** Runs the featurize stage of a pipeline named `namePrefix` to the end of its queries; the ids of the datasets they made. */
async function featurizeFor(namePrefix: string): Promise<{ training: string; scoring: string }> {
  const ledger = new RunLedger(platform.bucket, `runs-${namePrefix}/`, systemClock);
  const run = await featurize(
    { aep, query: aep.queryConnections.runner(), dialect: dialectFor(platform.config.aep.queryService.dialect), ledger, log: silentLog },
    { eventsDatasetId, namePrefix, spec: WEEK2_FEATURES, tenantId: platform.tenantId },
  );
  const outputs = outputsOf(run);
  for (const id of [outputs.trainingQueryId, outputs.scoringQueryId]) {
    await aep.queryService.waitFor(id, { clock: systemClock, timeoutMs: 60_000, pollIntervalMs: 50 });
  }
  const tables = featureTableNames(namePrefix);
  const idOf = async (table: string) => {
    const dataset = await aep.catalog.findDataset(table);
    if (!dataset) throw new Error(`featurize made no dataset ${table}`);
    return dataset.id;
  };
  return { training: await idOf(tables.training), scoring: await idOf(tables.scoring) };
}

function event(action: 'create' | 'update' | 'delete', plan: ProvisioningPlanInput, previous: ProvisioningPlanInput | null = null): Record<string, unknown> {
  return { ...plan, tf: { action, prev_input: action === 'delete' ? plan : previous } };
}

async function destroy(plan: ProvisioningPlanInput): Promise<DeprovisionResult> {
  return (await provision(aep, event('delete', plan), { log: silentLog })) as DeprovisionResult;
}

/** Whether Catalog still has the dataset: its GET answers 404 once it is deleted. */
async function inCatalog(id: string): Promise<boolean> {
  try {
    await aep.catalog.getDataset(id);
    return true;
  } catch (error) {
    if (isAepError(error, 'not-found')) return false;
    throw error;
  }
}

describe('destroy and the feature datasets the featurize stage made', () => {
  it('deletes the pipeline\'s feature datasets, leaving those of other pipelines and the events dataset; can run again', async () => {
    const mine = await featurizeFor('alpha');
    const theirs = await featurizeFor('beta');
    const plan: ProvisioningPlanInput = { namePrefix: 'alpha', scores: { retainDatasetOnDestroy: false } };
    await provision(aep, event('create', plan), { log: silentLog });

    const removal = await destroy(plan);
    expect(removal.deleted).toMatchObject({ trainingFeaturesDataset: mine.training, scoringFeaturesDataset: mine.scoring });
    expect(await inCatalog(mine.training)).toBe(false);
    expect(await inCatalog(mine.scoring)).toBe(false);
    expect(await aep.catalog.findDataset(featureTableNames('alpha').training)).toBeUndefined();
    expect(await inCatalog(theirs.training)).toBe(true);
    expect(await inCatalog(theirs.scoring)).toBe(true);
    expect(await inCatalog(eventsDatasetId)).toBe(true);

    const again = await destroy(plan);
    expect(again.absent).toEqual(expect.arrayContaining(['trainingFeaturesDataset', 'scoringFeaturesDataset']));
  });

  it('keeps them when the plan retains them', async () => {
    const kept = await featurizeFor('gamma');
    const plan: ProvisioningPlanInput = { namePrefix: 'gamma', scores: { retainDatasetOnDestroy: false }, features: { retainDatasetsOnDestroy: true } };
    await provision(aep, event('create', plan), { log: silentLog });

    const removal = await destroy(plan);
    expect(removal.retained).toMatchObject({ trainingFeaturesDataset: kept.training, scoringFeaturesDataset: kept.scoring });
    expect(removal.deleted).not.toHaveProperty('trainingFeaturesDataset');
    expect(await inCatalog(kept.training)).toBe(true);
    expect(await inCatalog(kept.scoring)).toBe(true);
  });

  it('deletes the previous prefix\'s feature datasets when the names change', async () => {
    const old = await featurizeFor('delta');
    const before: ProvisioningPlanInput = { namePrefix: 'delta', scores: { retainDatasetOnDestroy: false } };
    await provision(aep, event('create', before), { log: silentLog });

    await provision(aep, event('update', { ...before, namePrefix: 'epsilon' }, before), { log: silentLog });
    expect(await inCatalog(old.training)).toBe(false);
    expect(await inCatalog(old.scoring)).toBe(false);
    await destroy({ ...before, namePrefix: 'epsilon' });
  });
});
