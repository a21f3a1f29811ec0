import { AepProvisioning } from '../../constructs/aep-provisioning';
import { libraryHandler } from '../../constructs/pipeline-function';
import { PROVISIONER } from '../../lib/stages/registry';
import { expectLeastPrivilege, newStack, onlyResource, resolved, synth } from './synth-helpers';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:aep-credentials-AbCdEf';

function provisioning(props: Partial<ConstructorParameters<typeof AepProvisioning>[2]> = {}) {
  const { stack } = newStack();
  const construct = new AepProvisioning(stack, 'Provisioning', {
    imsOrgId: '0123456789ABCDEF01234567@AdobeOrg',
    sandbox: 'dev',
    credentialsSecretArn: SECRET_ARN,
    bucketName: 'pipeline-bucket',
    ...props,
  });
  return { stack, construct, json: synth(stack) };
}

describe('AepProvisioning', () => {
  it('drives the provisioner with a CRUD-scoped invocation carrying names only', () => {
    const { json } = provisioning({ namePrefix: 'acme churn', retainDatasetOnDestroy: false });
    const invocation = onlyResource(json, 'aws_lambda_invocation');
    expect(invocation.lifecycle_scope).toBe('CRUD');
    expect(invocation.terraform_key).toBe('tf');
    expect(JSON.parse(invocation.input)).toEqual({ namePrefix: 'acme churn', scores: { retainDatasetOnDestroy: false }, features: { retainDatasetsOnDestroy: false } });
    expect(invocation.function_name).toMatch(/^\$\{aws_lambda_function\.\w+\.function_name\}$/);
    // Deleted before the function, its policy and its log group on destroy.
    expect(invocation.depends_on).toEqual(
      expect.arrayContaining([expect.stringMatching(/^aws_lambda_function\./), expect.stringMatching(/^aws_iam_role_policy\./), expect.stringMatching(/^aws_cloudwatch_log_group\./)]),
    );
  });

  it('defaults to the cmle prefix, to keeping the scores dataset and to deleting the feature datasets', () => {
    const { json } = provisioning();
    expect(JSON.parse(onlyResource(json, 'aws_lambda_invocation').input)).toEqual({
      namePrefix: 'cmle',
      scores: { retainDatasetOnDestroy: true },
      features: { retainDatasetsOnDestroy: false },
    });
  });

  it('carries retainFeatureDatasets to the input', () => {
    const { json } = provisioning({ retainFeatureDatasets: true });
    expect(JSON.parse(onlyResource(json, 'aws_lambda_invocation').input).features).toEqual({ retainDatasetsOnDestroy: true });
  });

  it('carries the export destination in the input: role ARN, bucket and folder, never a secret', () => {
    const roleArn = 'arn:aws:iam::123456789012:role/aep-access';
    const { json } = provisioning({ exportDestination: { roleArn, bucket: 'pipeline-bucket', path: 'egress' } });
    const invocation = onlyResource(json, 'aws_lambda_invocation');
    expect(JSON.parse(invocation.input)).toEqual({
      namePrefix: 'cmle',
      scores: { retainDatasetOnDestroy: true },
      features: { retainDatasetsOnDestroy: false },
      export: { roleArn, bucket: 'pipeline-bucket', path: 'egress', format: 'parquet', compression: 'gzip' },
    });
    expect(invocation.input).not.toMatch(/secret|clientId|accessKey/i);
    expect(invocation.input).not.toContain(SECRET_ARN);
  });

  it('exposes the export connection ids as lookups into the invocation result', () => {
    const { stack, construct } = provisioning({ exportDestination: { roleArn: 'arn:aws:iam::123456789012:role/r', bucket: 'b', path: 'egress', format: 'json', compression: 'none' } });
    expect(JSON.parse(onlyResource(synth(stack), 'aws_lambda_invocation').input).export).toMatchObject({ format: 'json', compression: 'none' });
    expect(resolved(stack, construct.exportBaseConnectionId)).toMatch(/jsondecode\(aws_lambda_invocation\.\w+\.result\)\.exportBaseConnectionId/);
    expect(resolved(stack, construct.exportTargetConnectionId)).toMatch(/jsondecode\(aws_lambda_invocation\.\w+\.result\)\.exportTargetConnectionId/);
  });

  it('carries the ingestion source in the input, bucket and folder only, and exposes the flow id', () => {
    const { stack, construct, json } = provisioning({ ingestionSource: { bucket: 'pipeline-bucket', path: 'ingress' } });
    expect(JSON.parse(onlyResource(json, 'aws_lambda_invocation').input)).toEqual({
      namePrefix: 'cmle',
      scores: { retainDatasetOnDestroy: true },
      features: { retainDatasetsOnDestroy: false },
      ingestion: { bucket: 'pipeline-bucket', path: 'ingress' },
    });
    expect(resolved(stack, construct.ingestionFlowId)).toMatch(/jsondecode\(aws_lambda_invocation\.\w+\.result\)\.ingestionFlowId/);
    expect(resolved(stack, construct.ingestionMappingSetId)).toMatch(/jsondecode\(aws_lambda_invocation\.\w+\.result\)\.ingestionMappingSetId/);
  });

  it('gives the function the secret ARN, never a secret value, and read access to that secret only', () => {
    const { json } = provisioning({ tenantId: 'acme' });
    const fn = onlyResource(json, 'aws_lambda_function');
    expect(fn.environment.variables).toEqual({
      AEP_ORG_ID: '0123456789ABCDEF01234567@AdobeOrg',
      AEP_SANDBOX: 'dev',
      AEP_TENANT_ID: 'acme',
      AEP_CREDENTIALS_SECRET_ARN: SECRET_ARN,
      PIPELINE_BUCKET: 'pipeline-bucket',
      NODE_OPTIONS: expect.any(String),
    });
    expect(JSON.stringify(json)).not.toMatch(/clientSecret|AEP_CLIENT_SECRET/);
    const secretStatements = JSON.stringify(json).match(/secretsmanager:GetSecretValue/g) ?? [];
    expect(secretStatements.length).toBeGreaterThan(0);
    expectLeastPrivilege(json);
  });

  it('bundles the real provisioner handler, small enough for fast cold starts', () => {
    const { construct } = provisioning();
    // From a checkout of the sources there is no prebuilt bundle: the handler file is bundled at synth.
    expect(libraryHandler(PROVISIONER)).toEqual({ entry: expect.stringMatching(/lib[\\/]handlers[\\/]provision\.ts$/) });
    expect(construct.function.bundleSizeBytes).toBeGreaterThan(10_000);
    expect(construct.function.bundleSizeBytes).toBeLessThan(5 * 1024 * 1024);
  });

  it('exposes the provisioned ids as lookups into the invocation result', () => {
    const { stack, construct } = provisioning();
    expect(resolved(stack, construct.scoresDatasetId)).toBe(
      `\${jsondecode(aws_lambda_invocation.${Object.keys(synth(stack).resource?.aws_lambda_invocation ?? {})[0]}.result).scoresDatasetId}`,
    );
    expect(resolved(stack, construct.schemaId)).toMatch(/jsondecode\(aws_lambda_invocation\.\w+\.result\)\.schemaId/);
  });
});
