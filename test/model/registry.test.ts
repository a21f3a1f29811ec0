import { train } from '../../lib/model/gbt';
import { decidePromotion, ModelRegistry, ModelRegistryError, type HeldOutMetrics, type PromotionPolicy } from '../../lib/model/registry';
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

const policy = (overrides: Partial<PromotionPolicy> = {}): PromotionPolicy => ({ minAuc: 0.6, baselineMargin: 0.01, tolerance: 0, ...overrides });

describe('decidePromotion', () => {
  it('promotes a first model above the floor, and a challenger at least as good as the champion, within the tolerance', () => {
    expect(decidePromotion({ challenger: 0.7, baseline: 0.65 }, policy())).toEqual({
      promoted: true,
      reason: 'No production model yet; Challenger AUC 0.7000 >= floor 0.6, >= baseline 0.6500 + margin 0.01',
    });
    expect(decidePromotion({ challenger: 0.9, baseline: 0.8, champion: 0.9 }, policy()).promoted).toBe(true);
    expect(decidePromotion({ challenger: 0.895, baseline: 0.8, champion: 0.9 }, policy({ tolerance: 0.01 })).promoted).toBe(true);
  });
  it('keeps the champion when the challenger is worse, saying so', () => {
    const decision = decidePromotion({ challenger: 0.85, baseline: 0.8, champion: 0.9 }, policy({ tolerance: 0.01 }));
    expect(decision).toEqual({ promoted: false, reason: 'Challenger AUC 0.8500 < champion 0.9000 - tolerance 0.01; production is unchanged' });
  });
  it('does not promote a first model below the floor, or one that does not beat the baseline by the margin', () => {
    expect(decidePromotion({ challenger: 0.58, baseline: 0.5 }, policy())).toEqual({ promoted: false, reason: 'Challenger AUC 0.5800 < floor 0.6; production is unchanged' });
    expect(decidePromotion({ challenger: 0.905, baseline: 0.9 }, policy())).toEqual({
      promoted: false,
      reason: 'Challenger AUC 0.9050 < baseline 0.9000 + margin 0.01; production is unchanged',
    });
  });
  it('does not promote a no-skill challenger over a champion that is no better on the same rows', () => {
    // Scrambled labels: the champion re-scored on them is at chance too, so only the floor tells.
    const decision = decidePromotion({ challenger: 0.56, baseline: 0.5, champion: 0.51 }, policy());
    expect(decision).toEqual({ promoted: false, reason: 'Challenger AUC 0.5600 < floor 0.6; production is unchanged' });
  });
  it('names every check that fails', () => {
    expect(decidePromotion({ challenger: 0.55, baseline: 0.6, champion: 0.9 }, policy()).reason).toBe(
      'Challenger AUC 0.5500 < floor 0.6; Challenger AUC 0.5500 < baseline 0.6000 + margin 0.01; Challenger AUC 0.5500 < champion 0.9000 - tolerance 0; production is unchanged',
    );
  });
  it('refuses a policy out of range', () => {
    expect(() => decidePromotion({ challenger: 0.9, baseline: 0.8, champion: 0.9 }, policy({ tolerance: -0.1 }))).toThrow('The promotion tolerance must be 0 or more, got -0.1');
    expect(() => decidePromotion({ challenger: 0.9, baseline: 0.8 }, policy({ baselineMargin: -1 }))).toThrow('The baseline margin must be 0 or more, got -1');
    expect(() => decidePromotion({ challenger: 0.9, baseline: 0.8 }, policy({ minAuc: 0.4 }))).toThrow('The minimum AUC must be from 0.5 to below 1, got 0.4');
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

  describe('validates a model before it can become production, naming the object', () => {
    const features = ['a', 'b'];
    async function registered(name: string): Promise<ModelRegistry> {
      const registry = new ModelRegistry(platform.bucket, 'models/', name);
      await registry.register(entry('v1', 0.9));
      return registry;
    }
    const promote = (registry: ModelRegistry, expected?: string[]) =>
      registry.decide({ decidedAt: '2026-03-01T00:00:01.000Z', challenger: 'v1', challengerAuc: 0.9, tolerance: 0, promoted: true, reason: 'first' }, expected);

    it('a truncated model.json: its key, not "Unexpected end of JSON input" alone', async () => {
      const registry = await registered('truncated');
      await promote(registry);
      const key = 'models/truncated/v1/model.json';
      const bytes = await platform.bucket.get(key);
      await platform.bucket.put(key, bytes.subarray(0, Math.floor(bytes.length / 2)));
      const failure = registry.production();
      await expect(failure).rejects.toThrow(ModelRegistryError);
      await expect(registry.production()).rejects.toThrow(`Model truncated: model file ${key} is not valid JSON (${Math.floor(bytes.length / 2)} bytes, truncated or corrupt)`);
      await expect(registry.model('v1')).rejects.toMatchObject({ key });
    });

    it('a missing model.json', async () => {
      const registry = await registered('missing');
      await promote(registry);
      await platform.bucket.delete('models/missing/v1/model.json');
      await expect(registry.production()).rejects.toThrow('Model missing: model file models/missing/v1/model.json cannot be read');
    });

    it('a corrupt production pointer', async () => {
      const registry = await registered('pointer');
      await platform.bucket.put('models/pointer/production.json', '{"version":');
      await expect(registry.production()).rejects.toThrow('Model pointer: production pointer models/pointer/production.json is not valid JSON');
    });

    it('a model with zero trees is refused at registration, and one stored so is refused at promotion and scoring', async () => {
      const registry = new ModelRegistry(platform.bucket, 'models/', 'treeless');
      await expect(registry.register({ ...entry('v0', 0.9), model: { ...model, trees: [] } })).rejects.toThrow(
        'Model file models/treeless/v0/model.json has no trees: it would give every profile the same score',
      );
      expect(await registry.versions()).toEqual([]);
      await registry.register(entry('v1', 0.9));
      await platform.bucket.put('models/treeless/v1/model.json', JSON.stringify({ ...model, trees: [] }));
      await expect(promote(registry)).rejects.toThrow('Model file models/treeless/v1/model.json has no trees');
      expect(await registry.productionPointer()).toBeUndefined();
    });

    it('a model of constant trees, or with a leaf that is not finite', async () => {
      const registry = new ModelRegistry(platform.bucket, 'models/', 'constant');
      const leaf = { feature: -1, threshold: 0, defaultLeft: true, left: -1, right: -1, value: 0.1 };
      await expect(registry.register({ ...entry('v1', 0.9), model: { ...model, trees: [{ nodes: [leaf] }] } })).rejects.toThrow(
        'Model file models/constant/v1/model.json has 1 trees but no split: it would give every profile the same score',
      );
      const [first, ...rest] = model.trees;
      const poisoned = { nodes: first!.nodes.map((node) => (node.feature < 0 ? { ...node, value: NaN } : node)) };
      await expect(registry.register({ ...entry('v1', 0.9), model: { ...model, trees: [poisoned, ...rest] } })).rejects.toThrow(
        /^Model file models\/constant\/v1\/model.json has leaf \d+ of tree 0 valued NaN: its predictions would not be finite$/,
      );
    });

    it('a model whose features are not those the feature specification exports', async () => {
      const registry = await registered('mismatch');
      await expect(promote(registry, ['a', 'c'])).rejects.toThrow('Model file models/mismatch/v1/model.json reads the features [a, b], not the [a, c] expected');
      expect(await registry.productionPointer()).toBeUndefined();
      await promote(registry, features);
      expect((await registry.production(features))?.pointer.version).toBe('v1');
      await expect(registry.production(['b', 'a'])).rejects.toThrow('reads the features [a, b], not the [b, a] expected');
    });

    it('a model file that disagrees with its manifest', async () => {
      const registry = await registered('disagrees');
      await platform.bucket.put('models/disagrees/v1/model.json', JSON.stringify({ ...model, featureNames: ['b', 'a'] }));
      await expect(promote(registry)).rejects.toThrow('Model file models/disagrees/v1/model.json reads the features [b, a], not the [a, b] expected');
    });
  });
});
