import { Testing, TerraformStack } from 'cdktf';
import { ExamplePipelineStack } from '../../bin/main';
import { PropensityPipeline, type PipelineFunction } from '../../constructs';
import { ConfigError } from '../../lib/config/errors';
import type { PipelineConfig } from '../../lib/config/schema';
import { extendSpec, WEEK2_FEATURES } from '../../lib/features/spec';
import { loadFunctionConfig } from '../../lib/handlers/function-handler';
import { PROVISIONER, STAGE_NAMES, STAGES, type FunctionDefinition, type StageName } from '../../lib/stages/registry';
import { newStack, resolved, resourcesOf, synth } from './synth-helpers';

const ORG = '0123456789ABCDEF01234567@AdobeOrg';
const EVENTS = '65f0c0ffee0000000000abcd';

/** What Terraform fills in at deploy time, as valid values of each kind. */
const DEPLOYED = {
  bucket: 'deployed-bucket-123',
  region: 'eu-west-1',
  secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:aep-AbCdEf',
  roleArn: 'arn:aws:iam::123456789012:role/aep-access',
  scoresDatasetId: 'abc123scores',
  definitionId: 'segment-definition-1',
};

/**
 * Each function's environment exactly as the stack synthesizes it, with its Terraform references
 * replaced by deploy-time values: what the function reads in AWS.
 */
function deployedEnvironments(stack: TerraformStack, pipeline: PropensityPipeline): Array<{ name: string; definition: FunctionDefinition; env: Record<string, string> }> {
  const references: Array<[unknown, string]> = [
    [resolved(stack, pipeline.bucket.bucketName), DEPLOYED.bucket],
    [resolved(stack, pipeline.bucket.region), DEPLOYED.region],
    [resolved(stack, pipeline.credentials.secretArn), DEPLOYED.secretArn],
    [resolved(stack, pipeline.aepAccessRole.roleArn), DEPLOYED.roleArn],
    [resolved(stack, pipeline.provisioning.scoresDatasetId), DEPLOYED.scoresDatasetId],
    ...(pipeline.audience ? [[resolved(stack, pipeline.audience.definitionId), DEPLOYED.definitionId] as [unknown, string]] : []),
  ];
  const functions = resourcesOf(synth(stack), 'aws_lambda_function');
  const environmentOf = (fn: PipelineFunction) => {
    const variables = functions[stack.getLogicalId(fn.function)]?.environment.variables as Record<string, string>;
    return Object.fromEntries(
      Object.entries(variables).map(([key, value]) => {
        let deployed = value;
        for (const [reference, replacement] of references) deployed = deployed.split(String(reference)).join(replacement);
        expect(deployed).not.toContain('${');
        return [key, deployed];
      }),
    );
  };
  return [
    ...Object.entries(pipeline.stages).map(([name, stage]) => ({ name, definition: STAGES[name as StageName], env: environmentOf(stage.function) })),
    { name: 'provision', definition: PROVISIONER, env: environmentOf(pipeline.provisioning.function) },
  ];
}

describe('every function of the synthesized stack loads its configuration from the environment its construct gives it', () => {
  it('in the example stack that cdktf.json runs', () => {
    const app = Testing.app();
    const stack = new ExamplePipelineStack(app, 'aep-feature-pipeline', { region: 'eu-west-1', imsOrgId: ORG, sandbox: 'dev', eventsDatasetId: EVENTS });
    const environments = deployedEnvironments(stack, stack.pipeline);
    expect(environments.map((e) => e.name).sort()).toEqual([...STAGE_NAMES, 'provision'].sort());
    for (const { env, definition } of environments) {
      const { config } = loadFunctionConfig(definition, env);
      expect(config.aep).toMatchObject({ orgId: ORG, sandbox: 'dev', credentials: { secretArn: DEPLOYED.secretArn } });
      expect(config.storage).toMatchObject({ bucket: DEPLOYED.bucket, region: DEPLOYED.region });
    }
  });

  it('with the values every prop sets, from props to the stage, and nothing else', () => {
    const { stack } = newStack();
    const spec = extendSpec(WEEK2_FEATURES, { remove: ['webLinkClicks'] });
    const pipeline = new PropensityPipeline(stack, 'Pipeline', {
      aep: { imsOrgId: ORG, sandbox: 'dev', tenantId: 'acme', namePrefix: 'churn' },
      features: { eventsDatasetId: EVENTS, spec, exportIntervalHours: 6 },
      bucket: { prefixes: { egress: 'features-out/', ingress: 'scores-in/' } },
      model: { name: 'churn_model', promotionTolerance: 0.02 },
      audience: { low: 0.3, high: 0.7, onDemandPerDay: 1, onDemandPerYear: 20 },
    });
    const configs = Object.fromEntries(deployedEnvironments(stack, pipeline).map(({ name, definition, env }) => [name, loadFunctionConfig(definition, env).config])) as Record<
      StageName | 'provision',
      PipelineConfig
    >;

    for (const config of Object.values(configs)) expect(config.aep).toMatchObject({ sandbox: 'dev', tenantId: 'acme' });
    expect(configs.featurize).toMatchObject({ namePrefix: 'churn', datasets: { events: EVENTS }, featureSpec: JSON.parse(JSON.stringify(spec)) });
    expect(configs.export).toMatchObject({ namePrefix: 'churn', export: { roleArn: DEPLOYED.roleArn, intervalHours: 6 }, storage: { prefixes: { egress: 'features-out/' } } });
    expect(configs.train.model).toMatchObject({ name: 'churn_model', promotionTolerance: 0.02 });
    expect(configs.score).toMatchObject({ model: { name: 'churn_model' }, datasets: { scores: DEPLOYED.scoresDatasetId } });
    expect(configs.score.storage.prefixes).toMatchObject({ ingress: 'scores-in/', staging: 'scores-in_staging/' });
    expect(configs['ingestion-check'].namePrefix).toBe('churn');
    expect(configs.audience.audience).toEqual({ definitionId: DEPLOYED.definitionId, low: 0.3, high: 0.7, onDemandPerDay: 1, onDemandPerYear: 20 });
    // Each function is given only what its stage reads: the scorer knows nothing of the promotion rule.
    expect(configs.score.model.promotionTolerance).toBe(0);
    expect(configs.train.datasets.scores).toBeUndefined();
    expect(configs.provision.audience).toBeUndefined();
  });

  it('refuses at synth a value its function would refuse, with the same message', () => {
    const { stack } = newStack();
    expect(() => new PropensityPipeline(stack, 'Pipeline', { aep: { imsOrgId: ORG }, features: { eventsDatasetId: EVENTS }, model: { promotionTolerance: 0.9 } })).toThrow(
      /PropensityPipeline test\/Pipeline: Invalid settings:\n {2}- model\.promotionTolerance \(PIPELINE_MODEL_PROMOTION_TOLERANCE\): must be at most 0\.5/,
    );
    expect(
      () => new PropensityPipeline(newStack().stack, 'Pipeline', { aep: { imsOrgId: ORG }, features: { eventsDatasetId: EVENTS }, audience: { low: 0.8, high: 1, onDemandPerDay: 3 } }),
    ).toThrow(/audience\.onDemandPerDay \(PIPELINE_AUDIENCE_ON_DEMAND_PER_DAY\): must be at most 2/);
  });
});

describe("a function's loader", () => {
  const connection = { AEP_ORG_ID: ORG, AEP_CREDENTIALS_SECRET_ARN: DEPLOYED.secretArn, PIPELINE_BUCKET: DEPLOYED.bucket };

  it('reads only the settings its stage reads, as in AWS where nothing else is set', () => {
    const { config } = loadFunctionConfig(STAGES.train, { ...connection, PIPELINE_SCORES_DATASET_ID: 'notforme', PIPELINE_MODEL_NAME: 'm1' });
    expect(config.model.name).toBe('m1');
    expect(config.datasets.scores).toBeUndefined();
  });

  it('names every missing setting at once, with the variable that sets it', () => {
    const attempt = () => loadFunctionConfig(STAGES.score, { AEP_ORG_ID: ORG, AEP_CREDENTIALS_SECRET_ARN: DEPLOYED.secretArn });
    expect(attempt).toThrow(ConfigError);
    // The bucket and the scores dataset, both in one error.
    expect(attempt).toThrow(/storage \(PIPELINE_BUCKET or [^]*datasets\.scores \(PIPELINE_SCORES_DATASET_ID\): is required/);
    expect(() => loadFunctionConfig(STAGES.score, connection)).toThrow(/datasets\.scores \(PIPELINE_SCORES_DATASET_ID\): is required/);
    let issues: string[] = [];
    try {
      loadFunctionConfig(STAGES.audience, connection);
    } catch (error) {
      issues = (error as ConfigError).issues.map((issue) => issue.path);
    }
    expect(issues).toEqual(['audience.low', 'audience.high']);
  });
});
