import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { AWS_PROVIDER_VERSIONS } from '../../constructs/aws-provider-versions';
import { PipelineBucket } from '../../constructs/pipeline-bucket';
import { newStack, synth } from './synth-helpers';

const awsVersion = (json: ReturnType<typeof synth>) =>
  (json as { terraform?: { required_providers?: { aws?: { version?: string; source?: string } } } }).terraform?.required_providers?.aws;

describe('the hashicorp/aws version constraint', () => {
  it('admits 5.100 and every 6.x instead of the exact version the bindings were generated from', () => {
    const { stack } = newStack();
    new AwsProvider(stack, 'aws', { region: 'eu-west-1' });
    new PipelineBucket(stack, 'storage');
    expect(awsVersion(synth(stack))).toMatchObject({ version: '>= 5.100.0, < 7.0.0', source: 'aws' });
    expect(AWS_PROVIDER_VERSIONS).toBe('>= 5.100.0, < 7.0.0');
  });

  it('yields to an override the stack makes after the constructs', () => {
    const { stack } = newStack();
    new PipelineBucket(stack, 'storage');
    stack.addOverride('terraform.required_providers.aws.version', '6.25.0');
    expect(awsVersion(synth(stack))?.version).toBe('6.25.0');
  });
});
