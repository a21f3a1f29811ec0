import { Testing } from 'cdktf';
import { ExamplePipelineStack } from '../../bin/main';
import { PropensityPipeline, type StageOptions } from '../../constructs';
import { extendSpec, WEEK2_FEATURES } from '../../lib/features/spec';
import { allStrings, dataOf, expectLeastPrivilege, newStack, onlyResource, resourcesOf, synth, type SynthesizedStack } from './synth-helpers';

const ORG = '0123456789ABCDEF01234567@AdobeOrg';
const EVENTS = '65f0c0ffee0000000000abcd';

function pipeline(props: Partial<ConstructorParameters<typeof PropensityPipeline>[2]> = {}) {
  const { stack } = newStack();
  const construct = new PropensityPipeline(stack, 'Pipeline', { aep: { imsOrgId: ORG }, features: { eventsDatasetId: EVENTS }, ...props });
  return { stack, construct, json: synth(stack) };
}

function provisionerFunction(json: SynthesizedStack) {
  return Object.entries(resourcesOf(json, 'aws_lambda_function')).find(([id]) => id.includes('AepProvisioning'))?.[1] as Record<string, any>;
}

/** Asset hashes and bundle paths change with every code change; the snapshot is about the infrastructure. */
function normalized(json: SynthesizedStack): SynthesizedStack {
  return JSON.parse(
    JSON.stringify(json)
      .replace(/[0-9a-f]{64}/g, '<hash>')
      .replace(/assets\/[^"]+?\/<hash>/g, 'assets/<asset>/<hash>'),
  );
}

describe('PropensityPipeline', () => {
  it('wires the bucket, the AEP role, the credentials secret, one alarm topic and the provisioner', () => {
    const { construct, json } = pipeline();
    expect(Object.keys(resourcesOf(json, 'aws_s3_bucket'))).toHaveLength(1);
    expect(Object.keys(resourcesOf(json, 'aws_sns_topic'))).toHaveLength(1);
    expect(Object.keys(resourcesOf(json, 'aws_secretsmanager_secret'))).toHaveLength(1);
    expect(resourcesOf(json, 'aws_secretsmanager_secret_version')).toEqual({});
    const invocation = onlyResource(json, 'aws_lambda_invocation');
    expect(invocation.lifecycle_scope).toBe('CRUD');
    const fn = provisionerFunction(json);
    expect(fn.environment.variables.AEP_CREDENTIALS_SECRET_ARN).toMatch(/aws_secretsmanager_secret\.\w+\.arn/);
    expect(fn.environment.variables.PIPELINE_BUCKET).toMatch(/aws_s3_bucket\.\w+\.bucket/);
    // Every inner construct is reachable for the user to extend.
    for (const part of [construct.bucket, construct.aepAccessRole, construct.credentials, construct.alarmTopic, construct.provisioning]) {
      expect(part).toBeDefined();
    }
    expect(construct.provisioning.function.alarmTopicArn).toBe(construct.alarmTopic.topicArn);
  });

  it('uses an existing secret and bucket when given, creating neither', () => {
    const secretArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:aep-AbCdEf';
    const { json } = pipeline({ aep: { imsOrgId: ORG, credentialsSecretArn: secretArn }, bucket: { existingBucket: { name: 'shared-bucket' } } });
    expect(resourcesOf(json, 'aws_secretsmanager_secret')).toEqual({});
    expect(resourcesOf(json, 'aws_s3_bucket')).toEqual({});
    for (const fn of Object.values(resourcesOf(json, 'aws_lambda_function'))) {
      expect(fn.environment.variables).toMatchObject({ AEP_CREDENTIALS_SECRET_ARN: secretArn, PIPELINE_BUCKET: 'shared-bucket' });
    }
  });

  it('schedules every stage: featurize daily, export an hour later, train daily (retraining weekly), score after export, the ingestion check hourly', () => {
    const { construct, json } = pipeline({ features: { eventsDatasetId: EVENTS, featurize: { timezone: 'Europe/Paris' }, exportIntervalHours: 6 } });
    const schedules = Object.values(resourcesOf(json, 'aws_scheduler_schedule'));
    expect(schedules.map((s) => [JSON.parse(s.target.input).stage, s.schedule_expression, s.schedule_expression_timezone]).sort()).toEqual([
      ['export', 'cron(0 4 * * ? *)', 'UTC'],
      ['featurize', 'cron(0 3 * * ? *)', 'Europe/Paris'],
      ['ingestion-check', 'cron(15 * * * ? *)', 'UTC'],
      ['score', 'cron(30 5 * * ? *)', 'UTC'],
      ['train', 'cron(0 5 * * ? *)', 'UTC'],
    ]);
    const functions = resourcesOf(json, 'aws_lambda_function');
    const byStage = (name: string) => Object.entries(functions).find(([id]) => id.includes(name))?.[1] as Record<string, any>;
    expect(byStage('Featurize').environment.variables).toMatchObject({ PIPELINE_EVENTS_DATASET_ID: EVENTS, PIPELINE_NAME_PREFIX: 'cmle' });
    expect(byStage('Export').environment.variables).toMatchObject({ PIPELINE_EXPORT_INTERVAL_HOURS: '6', PIPELINE_AEP_ROLE_ARN: expect.stringMatching(/aws_iam_role\.\w+\.arn/) });
    expect(byStage('Export').timeout).toBe(900);
    expect(construct.featurize.bundleSizeBytes).toBeLessThan(5 * 1024 * 1024);
    expect(construct.export.bundleSizeBytes).toBeLessThan(5 * 1024 * 1024);
  });

  it('passes a custom feature specification to the stages that read features by name, refusing an invalid one at synth', () => {
    const spec = extendSpec(WEEK2_FEATURES, { remove: ['webLinkClicks'] });
    const { json } = pipeline({ features: { eventsDatasetId: EVENTS, spec } });
    const withSpec = Object.entries(resourcesOf(json, 'aws_lambda_function'))
      .filter(([, fn]) => fn.environment.variables.PIPELINE_FEATURE_SPEC)
      .map(([id, fn]) => [id.replace(/^Pipeline_|_[0-9A-F]{8}$/g, ''), JSON.parse(fn.environment.variables.PIPELINE_FEATURE_SPEC)]);
    expect(withSpec.map(([id]) => id).sort()).toEqual(['Export_function', 'Featurize_function', 'Train_function'].sort());
    for (const [, passed] of withSpec) expect(passed).toEqual(spec);
    const bad = { ...WEEK2_FEATURES, features: [...WEEK2_FEATURES.features, { kind: 'runningCount', name: 'emailsOpened', eventType: 'x.y' }] };
    expect(() => pipeline({ features: { eventsDatasetId: EVENTS, spec: bad as typeof WEEK2_FEATURES } })).toThrow(/duplicate name/);
  });

  it('passes retainFeatureDatasets to the provisioning input, deleting the feature datasets on destroy by default', () => {
    const input = (json: SynthesizedStack) => JSON.parse(onlyResource(json, 'aws_lambda_invocation').input);
    expect(input(pipeline().json).features).toEqual({ retainDatasetsOnDestroy: false });
    expect(input(pipeline({ aep: { imsOrgId: ORG, retainFeatureDatasets: true } }).json).features).toEqual({ retainDatasetsOnDestroy: true });
  });

  it('provisions the scores ingestion from its own bucket and ingress folder, with bucket and folder only in the input', () => {
    const { construct, json } = pipeline();
    const input = JSON.parse(onlyResource(json, 'aws_lambda_invocation').input);
    expect(input.ingestion).toEqual({ bucket: expect.stringMatching(/^\$\{aws_s3_bucket\.\w+\.bucket\}$/), path: 'ingress' });
    expect(construct.provisioning.ingestionFlowId).toBeDefined();
    // Without Adobe's IAM role the bucket policy stays TLS-only: the pipeline cannot guess the role.
    expect(construct.ingestionReadPolicy).toBeUndefined();
    expect(JSON.stringify(resourcesOf(json, 'aws_s3_bucket_policy'))).not.toContain('AepIngestionRead');
  });

  it('lets AEP\'s S3 source role list the bucket and read the ingress folder when given, in the bucket policy', () => {
    const role = 'arn:aws:iam::123456789012:role/aep-sources-reader';
    const { json } = pipeline({ aep: { imsOrgId: ORG, ingestionSourceRoleArn: role }, bucket: { prefixes: { ingress: 'scores-in/' } } });
    expect(JSON.parse(onlyResource(json, 'aws_lambda_invocation').input).ingestion.path).toBe('scores-in');
    const documents = dataOf(json, 'aws_iam_policy_document');
    const [id, read] = Object.entries(documents).find(([key]) => key.includes('AepIngestionRead'))!;
    expect(read.statement).toEqual([
      expect.objectContaining({ actions: ['s3:GetObject'], principals: [{ type: 'AWS', identifiers: [role] }], resources: [expect.stringMatching(/\/scores-in\/\*$/)] }),
      expect.objectContaining({ actions: ['s3:ListBucket'], principals: [{ type: 'AWS', identifiers: [role] }] }),
    ]);
    const tlsOnly = Object.entries(documents).find(([key]) => key.includes('tls-only'))![1];
    expect(tlsOnly.source_policy_documents).toEqual([`\${data.aws_iam_policy_document.${id}.json}`]);
  });

  it('sizes train and score for their work and gives each stage only the bucket prefixes it uses', () => {
    const { construct, json } = pipeline({ model: { name: 'churn', promotionTolerance: 0.01 } });
    const functions = resourcesOf(json, 'aws_lambda_function');
    const byStage = (name: string) => Object.entries(functions).find(([id]) => id.includes(`_${name}_`))?.[1] as Record<string, any>;
    expect([byStage('Train').memory_size, byStage('Train').timeout]).toEqual([3008, 900]);
    expect([byStage('Score').memory_size, byStage('Score').timeout]).toEqual([1769, 900]);
    expect(byStage('Train').environment.variables).toMatchObject({ PIPELINE_MODEL_NAME: 'churn', PIPELINE_MODEL_PROMOTION_TOLERANCE: '0.01', PIPELINE_MODELS_PREFIX: 'models/' });
    expect(byStage('Score').environment.variables).toMatchObject({
      PIPELINE_MODEL_NAME: 'churn',
      PIPELINE_INGRESS_PREFIX: 'ingress/',
      PIPELINE_SCORES_DATASET_ID: expect.stringMatching(/aws_lambda_invocation\.\w+\.result/),
    });
    const statements = (fn: Record<string, any>) => {
      const role = Object.entries(resourcesOf(json, 'aws_iam_role')).find(([id]) => fn.role.includes(id))![0];
      const policy = Object.values(resourcesOf(json, 'aws_iam_role_policy')).find((p) => p.role.includes(role))!;
      const document = Object.entries(dataOf(json, 'aws_iam_policy_document')).find(([id]) => policy.policy.includes(id))![1];
      return document.statement as Array<{ actions: string[]; resources: string[] }>;
    };
    const resourcesFor = (fn: Record<string, any>, action: string) =>
      statements(fn)
        .filter((s) => s.actions.includes(action))
        .flatMap((s) => s.resources.map((r) => r.replace(/^\$\{aws_s3_bucket\.\w+\.arn\}\//, '')));
    // The scorer deletes its staged parts, and its own copies when publishing fails; nothing else may.
    expect(resourcesFor(byStage('Score'), 's3:DeleteObject').sort()).toEqual(['ingress_staging/*', 'runs/*']);
    expect(resourcesFor(byStage('Train'), 's3:DeleteObject')).toEqual([]);
    expect(resourcesFor(byStage('Score'), 's3:PutObject').sort()).toEqual(['ingress/*', 'ingress_staging/*', 'runs/*']);
    expect(resourcesFor(byStage('Train'), 's3:PutObject').sort()).toEqual(['models/*', 'runs/*']);
    expect(resourcesFor(byStage('IngestionCheck'), 's3:PutObject')).toEqual(['runs/*']);
    for (const part of [construct.train, construct.trainSchedule, construct.score, construct.scoreSchedule, construct.ingestionCheck, construct.ingestionCheckSchedule]) {
      expect(part).toBeDefined();
    }
    expect(() => pipeline({ model: { promotionTolerance: -0.1 } })).toThrow('model.promotionTolerance (PIPELINE_MODEL_PROMOTION_TOLERANCE): must be 0 or more');
  });

  it("gives the train stage its floor, its training window and the bucket's egress retention, and refuses a window the retention does not cover", () => {
    const trainEnvironment = (json: SynthesizedStack) =>
      (Object.entries(resourcesOf(json, 'aws_lambda_function')).find(([id]) => id.includes('_Train_'))?.[1] as Record<string, any>).environment.variables;
    const defaults = trainEnvironment(pipeline().json);
    expect(defaults).toMatchObject({ PIPELINE_EGRESS_RETENTION_DAYS: '30' });
    expect(defaults.PIPELINE_MODEL_TRAINING_WINDOW_DAYS).toBeUndefined();
    const tuned = trainEnvironment(pipeline({ bucket: { egressExpirationDays: 60 }, model: { trainingWindowDays: 45, minAuc: 0.7, baselineMargin: 0.02 } }).json);
    expect(tuned).toMatchObject({ PIPELINE_EGRESS_RETENTION_DAYS: '60', PIPELINE_MODEL_TRAINING_WINDOW_DAYS: '45', PIPELINE_MODEL_MIN_AUC: '0.7', PIPELINE_MODEL_BASELINE_MARGIN: '0.02' });

    expect(() => pipeline({ bucket: { egressExpirationDays: 20 } })).toThrow(
      "PropensityPipeline test/Pipeline: the training window of 28 days (model.trainingWindowDays) must be shorter than the egress retention of 20 days (the bucket's egressExpirationDays) by at least a day",
    );
    expect(() => pipeline({ model: { trainingWindowDays: 30 } })).toThrow('the training window of 30 days (model.trainingWindowDays) must be shorter than the egress retention of 30 days');
    expect(() => pipeline({ model: { minAuc: 0.4 } })).toThrow('model.minAuc (PIPELINE_MODEL_MIN_AUC): must be at least 0.5');
    // A bucket managed elsewhere keeps its own lifecycle: the window is not checked against it.
    const existing = trainEnvironment(pipeline({ bucket: { existingBucket: { name: 'features-bucket' } }, model: { trainingWindowDays: 90 } }).json);
    expect(existing.PIPELINE_EGRESS_RETENTION_DAYS).toBeUndefined();
  });

  it("keeps a stage's own memory and timeout when functionOptions gives them as undefined, as JavaScript callers can", () => {
    const unset = { memorySize: undefined, timeoutSeconds: undefined, logRetentionDays: 60 } as unknown as NonNullable<StageOptions['functionOptions']>;
    const { json } = pipeline({ model: { train: { functionOptions: unset } } });
    const train = Object.entries(resourcesOf(json, 'aws_lambda_function')).find(([id]) => id.includes('_Train_'))?.[1];
    expect([train?.memory_size, train?.timeout]).toEqual([3008, 900]);
    const logs = Object.entries(resourcesOf(json, 'aws_cloudwatch_log_group')).find(([id]) => id.includes('_Train_'))?.[1];
    expect(logs?.retention_in_days).toBe(60);
  });

  it('is least-privilege, has no IAM users or keys, and carries no secret values', () => {
    const { json } = pipeline({ alarmEmails: ['ops@example.com'] });
    expectLeastPrivilege(json);
    expect(resourcesOf(json, 'aws_iam_user')).toEqual({});
    expect(resourcesOf(json, 'aws_iam_access_key')).toEqual({});
    // Adobe client secrets start with p8e-; AWS access key ids with AKIA; and no JSON credential anywhere.
    const secretShaped = /p8e-[A-Za-z0-9_-]{10,}|"clientSecret"\s*:\s*"[^"]+"|AKIA[0-9A-Z]{16}|BEGIN (RSA )?PRIVATE KEY/;
    const suspicious = allStrings(json).filter(({ value }) => secretShaped.test(value));
    expect(suspicious).toEqual([]);
  });
});

describe('the example stack that cdktf.json runs', () => {
  it('synthesizes with no AWS credentials and matches its snapshot', () => {
    const app = Testing.app();
    const stack = new ExamplePipelineStack(app, 'aep-feature-pipeline', { region: 'us-east-1', imsOrgId: ORG, sandbox: 'prod', eventsDatasetId: EVENTS });
    const json = synth(stack);
    expect(Object.keys(json.output as object).sort()).toEqual(['aep_role_arn', 'alarm_topic_arn', 'audience_definition_id', 'bucket_name', 'credentials_secret_arn', 'scores_dataset_id']);
    expect(normalized(json)).toMatchSnapshot();
  });

  it('stores state remotely, encrypted, when given a state bucket', () => {
    const app = Testing.app();
    const stack = new ExamplePipelineStack(app, 'aep-feature-pipeline', { region: 'eu-west-1', imsOrgId: ORG, sandbox: 'dev', eventsDatasetId: EVENTS, stateBucket: 'tf-state' });
    const json = synth(stack) as SynthesizedStack & { terraform: { backend: { s3: Record<string, unknown> } } };
    expect(json.terraform.backend.s3).toMatchObject({ bucket: 'tf-state', key: 'aep-feature-pipeline/terraform.tfstate', encrypt: true, region: 'eu-west-1' });
  });
});
