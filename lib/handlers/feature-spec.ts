import type { PipelineConfig } from '../config/schema';
import { validateSpec, WEEK2_FEATURES, type FeatureSpec } from '../features/spec';

/** The configured feature specification, validated; the notebook's week-2 set when none is configured. */
export function configuredFeatureSpec(config: PipelineConfig): FeatureSpec {
  return config.featureSpec === undefined ? WEEK2_FEATURES : validateSpec(config.featureSpec);
}
