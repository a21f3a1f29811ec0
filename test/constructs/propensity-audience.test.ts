import { AepProvisioning } from '../../constructs/aep-provisioning';
import { PropensityAudience, type PropensityAudienceProps } from '../../constructs/propensity-audience';
import { PropensityPipeline } from '../../constructs/propensity-pipeline';
import { parseAudienceDefinitionEvent } from '../../lib/provisioning/audience-definition';
import { newStack, onlyResource, resolved, resourcesOf, synth } from './synth-helpers';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:aep-credentials-AbCdEf';
const ORG = '0123456789ABCDEF01234567@AdobeOrg';

function withProvisioning(props: Partial<PropensityAudienceProps> = {}) {
  const { stack } = newStack();
  const provisioning = new AepProvisioning(stack, 'Provisioning', { imsOrgId: ORG, credentialsSecretArn: SECRET_ARN, bucketName: 'pipeline-bucket' });
  const audience = new PropensityAudience(stack, 'Audience', {
    provisioner: provisioning.function,
    name: 'High propensity',
    low: 0.8,
    high: 1,
    waitFor: [provisioning.invocation],
    ...props,
  });
  return { stack, provisioning, audience };
}

function audienceInvocation(json: ReturnType<typeof synth>) {
  return Object.entries(resourcesOf(json, 'aws_lambda_invocation')).find(([id]) => id.includes('Audience')) as [string, Record<string, any>];
}

describe('PropensityAudience', () => {
  it('drives the provisioner with a CRUD-scoped invocation carrying the name and band, never a secret', () => {
    const { stack } = withProvisioning({ description: 'Likely subscribers', tenantId: 'acme' });
    const json = synth(stack);
    const [, invocation] = audienceInvocation(json);
    expect(invocation.lifecycle_scope).toBe('CRUD');
    expect(invocation.terraform_key).toBe('tf');
    expect(invocation.function_name).toMatch(/^\$\{aws_lambda_function\.\w+\.function_name\}$/);
    const input = JSON.parse(invocation.input);
    expect(input).toEqual({ resource: 'audience', name: 'High propensity', band: { low: 0.8, high: 1 }, description: 'Likely subscribers', tenantId: 'acme' });
    expect(invocation.input).not.toMatch(/secret|clientId|accessKey/i);
    expect(invocation.input).not.toContain(SECRET_ARN);
    // What Terraform sends on create is an event the provisioner accepts as it is.
    expect(parseAudienceDefinitionEvent({ ...input, tf: { action: 'create', prev_input: null } }).input.band).toEqual({ low: 0.8, high: 1 });
  });

  it('is created after the provisioned schema and deleted before the provisioner function, its policy and its log group', () => {
    const { stack } = withProvisioning();
    const json = synth(stack);
    const [, invocation] = audienceInvocation(json);
    const provisioningId = Object.keys(resourcesOf(json, 'aws_lambda_invocation')).find((id) => id.includes('Provisioning'));
    expect(invocation.depends_on).toEqual(
      expect.arrayContaining([
        `aws_lambda_invocation.${provisioningId}`,
        expect.stringMatching(/^aws_lambda_function\./),
        expect.stringMatching(/^aws_iam_role_policy\./),
        expect.stringMatching(/^aws_cloudwatch_log_group\./),
      ]),
    );
  });

  it('leaves the description and tenant to the provisioner when not given', () => {
    const { stack } = withProvisioning();
    expect(JSON.parse(audienceInvocation(synth(stack))[1].input)).toEqual({ resource: 'audience', name: 'High propensity', band: { low: 0.8, high: 1 } });
  });

  it('exposes the definition id as a lookup into the invocation result', () => {
    const { stack, audience } = withProvisioning();
    const [id] = audienceInvocation(synth(stack));
    expect(resolved(stack, audience.definitionId)).toBe(`\${jsondecode(aws_lambda_invocation.${id}.result).definitionId}`);
    expect(resolved(stack, audience.tenantId)).toBe(`\${jsondecode(aws_lambda_invocation.${id}.result).tenantId}`);
    expect(audience.invocation).toBeDefined();
  });

  it('takes any provisioner function by name', () => {
    const { stack } = newStack();
    new PropensityAudience(stack, 'Audience', { provisioner: { functionName: 'shared-aep-provisioner' }, name: 'Low', low: 0, high: 0.1 });
    const invocation = onlyResource(synth(stack), 'aws_lambda_invocation');
    expect(invocation.function_name).toBe('shared-aep-provisioner');
    expect(invocation.depends_on).toBeUndefined();
  });

  it.each([
    [{ low: 0.9, high: 0.2 }, /PropensityAudience test\/Audience: Invalid propensity band: low \(0\.9\) must not be above high \(0\.2\)/],
    [{ low: -0.1 }, /low must be within \[0, 1\].*got -0\.1/],
    [{ high: 1.01 }, /high must be within \[0, 1\].*got 1\.01/],
    [{ low: Number.NaN }, /low must be a finite number from 0 to 1, got NaN/],
    [{ name: '  ' }, /name must be 1 to 256 characters, got " {2}"/],
    [{ tenantId: '_acme' }, /Invalid tenant id "_acme".*without the leading underscore/],
  ])('refuses %p at synth, naming the prop', (props, message) => {
    const { stack } = newStack();
    const build = () => new PropensityAudience(stack, 'Audience', { provisioner: { functionName: 'p' }, name: 'A', low: 0.5, high: 0.6, ...props });
    expect(build).toThrow(message);
  });
});

describe('PropensityPipeline with an audience', () => {
  it('provisions the audience after the scores schema, named after the prefix and band by default', () => {
    const { stack } = newStack();
    const pipeline = new PropensityPipeline(stack, 'Pipeline', {
      aep: { imsOrgId: ORG, namePrefix: 'acme', tenantId: 'acme' },
      features: { eventsDatasetId: '65f0c0ffee0000000000abcd' },
      audience: { low: 0.75, high: 1 },
    });
    const json = synth(stack);
    const invocations = resourcesOf(json, 'aws_lambda_invocation');
    expect(Object.keys(invocations)).toHaveLength(2);
    const [, audience] = audienceInvocation(json);
    expect(JSON.parse(audience.input)).toEqual({ resource: 'audience', name: 'acme propensity 0.75 to 1', band: { low: 0.75, high: 1 }, tenantId: 'acme' });
    const provisioning = Object.values(invocations).find((i) => i !== audience)!;
    expect(audience.function_name).toBe(provisioning.function_name);
    expect(audience.depends_on).toEqual(expect.arrayContaining([expect.stringMatching(/^aws_lambda_invocation\.\w*AepProvisioning/)]));
    expect(pipeline.audience?.low).toBe(0.75);
    // The audience stage evaluates that definition, by the id the invocation returns, daily at 07:00.
    const stage = Object.entries(resourcesOf(json, 'aws_lambda_function')).find(([id]) => id.includes('AudienceStage'))![1];
    expect(stage.environment.variables).toMatchObject({
      PIPELINE_AUDIENCE_DEFINITION_ID: expect.stringMatching(/aws_lambda_invocation\.\w*Audience\w*\.result/),
      PIPELINE_AUDIENCE_LOW: '0.75',
      PIPELINE_AUDIENCE_HIGH: '1',
    });
    const schedule = Object.values(resourcesOf(json, 'aws_scheduler_schedule')).find((s) => JSON.parse(s.target.input).stage === 'audience')!;
    expect(schedule.schedule_expression).toBe('cron(0 7 * * ? *)');
    expect(pipeline.audienceStage).toBeDefined();
  });

  it('has no audience unless asked, and refuses a bad band at synth', () => {
    const { stack } = newStack();
    const pipeline = new PropensityPipeline(stack, 'Pipeline', { aep: { imsOrgId: ORG }, features: { eventsDatasetId: 'x' } });
    expect(pipeline.audience).toBeUndefined();
    expect(pipeline.audienceStage).toBeUndefined();
    const other = newStack();
    expect(
      () => new PropensityPipeline(other.stack, 'Pipeline', { aep: { imsOrgId: ORG }, features: { eventsDatasetId: 'x' }, audience: { name: 'Top', low: 1, high: 0.5 } }),
    ).toThrow(/PropensityAudience test\/Pipeline\/Audience: Invalid propensity band: low \(1\) must not be above high \(0\.5\)/);
  });
});
