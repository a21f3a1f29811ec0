#!/usr/bin/env node
/**
 * The CDKTF app that `cdktf.json` runs: an example stack composing the propensity pipeline. Settings
 * come from the environment so `cdktf synth` works on a fresh clone with no AWS credentials.
 */
import { App, S3Backend, TerraformOutput, TerraformStack } from 'cdktf';
import type { Construct } from 'constructs';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { PropensityPipeline } from '../constructs';

export interface ExamplePipelineStackProps {
  region: string;
  imsOrgId: string;
  sandbox: string;
  credentialsSecretArn?: string | undefined;
  /** The AEP dataset of experience events to featurize. */
  eventsDatasetId: string;
  /** Remote state, as any shared deployment should have; local state when absent. */
  stateBucket?: string | undefined;
  /** The propensity band of the audience built from the scores; the top fifth (0.8 to 1) when absent. */
  audience?: { low: number; high: number };
}

export class ExamplePipelineStack extends TerraformStack {
  readonly pipeline: PropensityPipeline;

  constructor(scope: Construct, id: string, props: ExamplePipelineStackProps) {
    super(scope, id);
    new AwsProvider(this, 'aws', { region: props.region });
    if (props.stateBucket) {
      new S3Backend(this, { bucket: props.stateBucket, key: `${id}/terraform.tfstate`, region: props.region, encrypt: true });
    }
    this.pipeline = new PropensityPipeline(this, 'Pipeline', {
      aep: { imsOrgId: props.imsOrgId, sandbox: props.sandbox, credentialsSecretArn: props.credentialsSecretArn },
      features: { eventsDatasetId: props.eventsDatasetId },
      audience: props.audience ?? { low: 0.8, high: 1 },
    });
    new TerraformOutput(this, 'bucket_name', { value: this.pipeline.bucket.bucketName });
    new TerraformOutput(this, 'aep_role_arn', { value: this.pipeline.aepAccessRole.roleArn, description: 'Role AEP assumes for the S3 destination and source' });
    new TerraformOutput(this, 'credentials_secret_arn', { value: this.pipeline.credentials.secretArn, description: 'Put {"clientId","clientSecret"} here' });
    new TerraformOutput(this, 'alarm_topic_arn', { value: this.pipeline.alarmTopic.topicArn });
    new TerraformOutput(this, 'scores_dataset_id', { value: this.pipeline.provisioning.scoresDatasetId });
    new TerraformOutput(this, 'audience_definition_id', { value: this.pipeline.audience!.definitionId, description: 'Segment definition of the propensity audience' });
  }
}

if (require.main === module) {
  const app = new App();
  new ExamplePipelineStack(app, 'aep-feature-pipeline', {
    region: process.env.AWS_REGION ?? 'us-east-1',
    imsOrgId: process.env.AEP_ORG_ID ?? '0123456789ABCDEF01234567@AdobeOrg',
    sandbox: process.env.AEP_SANDBOX ?? 'prod',
    credentialsSecretArn: process.env.AEP_CREDENTIALS_SECRET_ARN,
    // A stand-in id lets `cdktf synth` run anywhere; deploy with your events dataset's id.
    eventsDatasetId: process.env.PIPELINE_EVENTS_DATASET_ID ?? '000000000000000000000000',
    stateBucket: process.env.TF_STATE_BUCKET,
  });
  app.synth();
}
