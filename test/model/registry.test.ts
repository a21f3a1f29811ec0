import { train } from '../../lib/model/gbt';
import { decidePromotion, ModelRegistry, type HeldOutMetrics } from '../../lib/model/registry';
import { startTestPlatform } from '../helpers/platform';
import { bernoulli, gaussian, makeDataset } from './synthetic';

type Platform = Awaited<ReturnType<typeof startTestPlatform>>;
let platform: Platform;

beforeAll(async () => {
  platform = await startTestPlatform();
});
afterAll(async () => platform?.dispose());

const model = train(
  makeDataset(400, ['a', 'b'], 7, (rng) => {
    const a = gaussian(rng);
    return [[a, gaussian(rng)], bernoulli(rng, a > 0 ? 0.8 : 0.2)];
  }),
  { nTrees: 3 },
);
const heldOut = (auc: number): HeldOutMetrics => ({ auc, logLoss: 0.4, threshold: 0.5, precision: 0.7, recall: 0.6, rows: 80, positives: 40 });

function entry(version: string, auc: number) {
  return {
    version,
    createdAt: '2026-03-01T00:00:00.000Z',
    model,
    metrics: { auc },
    trainedOn: { exportRunIds: ['e1'], folders: ['egress/ds/exportTime=20260301000000/'], rows: 400 },
    codeVersion: '0.1.0',
    heldOut: heldOut(auc),
  };
}

describe('decidePromotion', () => {
  it('promotes the first model and a challenger at least as good, within the tolerance', () => {
    expect(decidePromotion(0.7, undefined, 0).promoted).toBe(true);
    expect(decidePromotion(0.9, 0.9, 0).promoted).toBe(true);
    expect(decidePromotion(0.895, 0.9, 0.01).promoted).toBe(true);
  });
  it('keeps the champion when the challenger is worse, saying so', () => {
    const decision = decidePromotion(0.85, 0.9, 0.01);
    expect(decision.promoted).toBe(false);
    expect(decision.reason).toBe('Challenger AUC 0.8500 < champion 0.9000 - tolerance 0.01; production is unchanged');
  });
  it('refuses a negative tolerance', () => {
    expect(() => decidePromotion(0.9, 0.9, -0.1)).toThrow('The promotion tolerance must be 0 or more, got -0.1');
  });
});

describe('ModelRegistry', () => {
  it('registers versions, promotes, keeps the champion and the history', async () => {
    const registry = new ModelRegistry(platform.bucket, 'models/', 'propensity');
    expect(await registry.production()).toBeUndefined();
    await registry.register(entry('v1', 0.9));
    await registry.decide({ decidedAt: '2026-03-01T00:00:01.000Z', challenger: 'v1', challengerAuc: 0.9, tolerance: 0, promoted: true, reason: 'first' });
    await registry.register(entry('v2', 0.8));
    await registry.decide({ decidedAt: '2026-03-02T00:00:01.000Z', challenger: 'v2', challengerAuc: 0.8, champion: 'v1', championAuc: 0.9, tolerance: 0, promoted: false, reason: 'worse' });

    expect(await registry.versions()).toEqual(['v1', 'v2']);
    const production = await registry.production();
    expect(production?.pointer).toMatchObject({ version: 'v1', auc: 0.9 });
    expect(production?.manifest).toMatchObject({ features: ['a', 'b'], trainedOn: { exportRunIds: ['e1'] }, codeVersion: '0.1.0', heldOut: { auc: 0.9 } });
    expect(production?.model.trees).toHaveLength(3);
    expect((await registry.history()).map((d) => [d.challenger, d.promoted])).toEqual([
      ['v1', true],
      ['v2', false],
    ]);
  });

  it('ignores a version whose manifest was never written, and will not promote it', async () => {
    const registry = new ModelRegistry(platform.bucket, 'models/', 'half-written');
    await platform.bucket.put('models/half-written/v1/model.json', JSON.stringify(model));
    expect(await registry.versions()).toEqual([]);
    await expect(registry.decide({ decidedAt: '2026-03-01T00:00:00.000Z', challenger: 'v1', challengerAuc: 0.9, tolerance: 0, promoted: true, reason: '' })).rejects.toThrow(
      'Model half-written: cannot promote v1, which is not a complete version',
    );
    expect(await registry.productionPointer()).toBeUndefined();
  });

  it('never overwrites a registered version', async () => {
    const registry = new ModelRegistry(platform.bucket, 'models/', 'immutable');
    await registry.register(entry('v1', 0.9));
    await expect(registry.register(entry('v1', 0.5))).rejects.toThrow('Model immutable version v1 is already registered');
    expect((await registry.manifest('v1'))?.heldOut.auc).toBe(0.9);
  });
});
