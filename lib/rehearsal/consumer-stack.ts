/**
 * The rehearsal's consumer project: the README's composition as a user deploying to one region would
 * write it. What differs between runs (the AEP org, the secret, the band, the featurize schedule) comes
 * from the environment, so the update step only changes variables. The provider block asks for
 * path-style S3 URLs, which an emulator on a loopback address needs; the endpoints themselves come from
 * `AWS_ENDPOINT_URL`, outside the code.
 */
export const REHEARSAL_STACK = 'marketing-data';

export const REHEARSAL_MAIN = `import { App, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { PropensityPipeline } from 'aep-feature-pipelines';

const setting = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(\`\${name} is not set\`);
  return value;
};

class MarketingDataStack extends TerraformStack {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    new AwsProvider(this, 'aws', { region: setting('AWS_REGION'), s3UsePathStyle: true });
    new PropensityPipeline(this, 'Propensity', {
      aep: {
        imsOrgId: setting('REHEARSAL_AEP_ORG_ID'),
        sandbox: setting('REHEARSAL_AEP_SANDBOX'),
        credentialsSecretArn: setting('REHEARSAL_SECRET_ARN'),
        namePrefix: 'rehearsal',
      },
      features: {
        eventsDatasetId: setting('REHEARSAL_EVENTS_DATASET_ID'),
        featurize: { schedule: setting('REHEARSAL_FEATURIZE_SCHEDULE') },
      },
      bucket: { forceDestroy: true },
      audience: { name: 'Likely subscribers', low: Number(setting('REHEARSAL_AUDIENCE_LOW')), high: 1 },
    });
  }
}

const app = new App();
new MarketingDataStack(app, '${REHEARSAL_STACK}');
app.synth();
`;
