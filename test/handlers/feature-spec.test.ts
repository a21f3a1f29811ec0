import { loadConfig } from '../../lib/config';
import { extendSpec, WEEK2_FEATURES } from '../../lib/features/spec';
import { configuredFeatureSpec } from '../../lib/handlers/feature-spec';

const env = { AEP_ORG_ID: 'ABC123@AdobeOrg', AEP_CLIENT_ID: 'id', AEP_CLIENT_SECRET: 'secret', PIPELINE_BUCKET: 'pipeline-bucket' };

it('uses the week-2 features unless a specification is configured', () => {
  expect(configuredFeatureSpec(loadConfig({ env }).config)).toEqual(WEEK2_FEATURES);
  const custom = extendSpec(WEEK2_FEATURES, { remove: ['webLinkClicks'] });
  expect(configuredFeatureSpec(loadConfig({ env: { ...env, PIPELINE_FEATURE_SPEC: JSON.stringify(custom) } }).config)).toEqual(custom);
});

it('refuses an invalid configured specification, naming the entry', () => {
  const bad = { seed: 'x', features: [{ kind: 'label', name: 'bought', eventType: "commerce.purchases'; DROP TABLE x; --" }] };
  const { config } = loadConfig({ env: { ...env, PIPELINE_FEATURE_SPEC: JSON.stringify(bad) } });
  expect(() => configuredFeatureSpec(config)).toThrow(/features\[0\]/);
});
