#!/usr/bin/env node
/**
 * The CDKTF app that `cdktf.json` runs: an example stack for `cdktf synth` / `cdktf deploy`. The
 * pipeline's constructs are composed into it as they land (issue "constructs"); today it configures
 * the AWS provider only.
 */
import { App, TerraformStack } from 'cdktf';
import type { Construct } from 'constructs';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';

export class ExamplePipelineStack extends TerraformStack {
  constructor(scope: Construct, id: string, props: { region: string }) {
    super(scope, id);
    new AwsProvider(this, 'aws', { region: props.region });
  }
}

if (require.main === module) {
  const app = new App();
  new ExamplePipelineStack(app, 'aep-feature-pipeline', { region: process.env.AWS_REGION ?? 'us-east-1' });
  app.synth();
}
