import { AepCredentialsSecret } from '../../constructs/aep-credentials-secret';
import { PipelineFunction } from '../../constructs/pipeline-function';
import {
  allStrings,
  documentReferencedBy,
  expectLeastPrivilege,
  newStack,
  onlyResource,
  onlyResourceId,
  resolved,
  resourcesOf,
  synth,
  type SynthesizedStack,
} from './synth-helpers';

const EXISTING = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:aep/credentials-AbCdEf';

/** Secret-shaped values: attribute names that hold secret material, and value shapes of real credentials. */
function secretLookingValues(json: SynthesizedStack): string[] {
  const found: string[] = [];
  for (const { path, value } of allStrings(json)) {
    if (/\.(secret_string|secret_binary|secret_string_wo|client_secret|clientSecret|password)$/i.test(path)) found.push(path);
    if (/"clientSecret"\s*:\s*"[^"]+"/.test(value)) found.push(`${path}: JSON with a clientSecret`);
    if (/\bp8e-[A-Za-z0-9_-]{8,}/.test(value)) found.push(`${path}: Adobe client secret`);
    if (/\b(AKIA|ASIA)[A-Z0-9]{16}\b/.test(value)) found.push(`${path}: AWS access key id`);
  }
  return found;
}

describe('AepCredentialsSecret', () => {
  describe('created', () => {
    const { stack } = newStack();
    const credentials = new AepCredentialsSecret(stack, 'aep-credentials');
    new PipelineFunction(stack, 'provision', {
      entry: 'test/constructs/fixtures/hello-handler.ts',
      environment: { AEP_CREDENTIALS_SECRET_ARN: credentials.secretArn },
      secretArns: [credentials.secretArn],
    });
    const json = synth(stack);
    const secretRef = `\${aws_secretsmanager_secret.${onlyResourceId(json, 'aws_secretsmanager_secret')}.arn}`;

    it('creates an empty secret: no secret version, so no value in Terraform state', () => {
      expect(Object.keys(resourcesOf(json, 'aws_secretsmanager_secret'))).toHaveLength(1);
      expect(resourcesOf(json, 'aws_secretsmanager_secret_version')).toEqual({});
      expect(JSON.stringify(json)).not.toMatch(/secret_string|secret_binary/);
    });

    it('keeps a deleted secret restorable for 7 days, under a unique name so a deploy after a destroy makes a new one', () => {
      expect(onlyResource(json, 'aws_secretsmanager_secret')).toMatchObject({ recovery_window_in_days: 7, name_prefix: 'test-aep-credentials-' });
      expect(onlyResource(json, 'aws_secretsmanager_secret')).not.toHaveProperty('name');
      expect(onlyResource(json, 'aws_secretsmanager_secret').kms_key_id).toBeUndefined();
    });

    it('hands functions the ARN, never a value', () => {
      expect(resolved(stack, credentials.secretArn)).toBe(secretRef);
      expect(onlyResource(json, 'aws_lambda_function').environment.variables.AEP_CREDENTIALS_SECRET_ARN).toBe(secretRef);
      const permissions = documentReferencedBy(json, onlyResource(json, 'aws_iam_role_policy').policy);
      const read = permissions.filter((s) => s.actions.includes('secretsmanager:GetSecretValue'));
      expect(read).toHaveLength(1);
      expect(read[0]?.resources).toEqual([secretRef]);
      expectLeastPrivilege(json);
    });

    it('puts nothing secret-looking anywhere in the synthesized configuration', () => {
      expect(secretLookingValues(json)).toEqual([]);
    });

    it('exposes the secret', () => {
      expect(credentials.secret).toBeDefined();
    });
  });

  it('the secret scan catches a secret value (so the check above can fail)', () => {
    const leaked = { resource: { aws_secretsmanager_secret_version: { v: { secret_string: '{"clientId":"a","clientSecret":"p8e-abcdefghijkl"}' } } } };
    expect(secretLookingValues(leaked)).toHaveLength(3);
  });

  it('encrypts with a given key and recovery window', () => {
    const { stack } = newStack();
    const keyArn = 'arn:aws:kms:us-east-1:111122223333:key/11111111-2222-4333-8444-555555555555';
    const credentials = new AepCredentialsSecret(stack, 'aep-credentials', { kmsKeyId: keyArn, recoveryWindowInDays: 30 });
    const json = synth(stack);
    expect(onlyResource(json, 'aws_secretsmanager_secret')).toMatchObject({ kms_key_id: keyArn, recovery_window_in_days: 30 });
    expect(credentials.kmsKeyId).toBe(keyArn);
  });

  it('takes a fixed name instead of the unique one', () => {
    const { stack } = newStack();
    new AepCredentialsSecret(stack, 'aep-credentials', { secretName: 'aep-pipeline/credentials' });
    const secret = onlyResource(synth(stack), 'aws_secretsmanager_secret');
    expect(secret.name).toBe('aep-pipeline/credentials');
    expect(secret).not.toHaveProperty('name_prefix');
  });

  it('uses an existing secret and creates nothing', () => {
    const { stack } = newStack();
    const credentials = new AepCredentialsSecret(stack, 'aep-credentials', { existingSecretArn: EXISTING });
    const json = synth(stack);
    expect(json.resource ?? {}).toEqual({});
    expect(credentials.secretArn).toBe(EXISTING);
    expect(credentials.secret).toBeUndefined();
  });

  describe('rejects bad props with a clear error', () => {
    it.each([
      [{ recoveryWindowInDays: 3 }, /recoveryWindowInDays must be 0 or a whole number from 7 to 30, got 3/],
      [{ existingSecretArn: 'aep-credentials' }, /existingSecretArn "aep-credentials" is not a Secrets Manager secret ARN/],
      [{ existingSecretArn: EXISTING, kmsKeyId: 'alias/x' }, /kmsKeyId cannot be set with existingSecretArn/],
      [{ secretName: 'has spaces' }, /secretName "has spaces" may hold only/],
    ])('%j', (props, message) => {
      const { stack } = newStack();
      expect(() => new AepCredentialsSecret(stack, 'aep-credentials', props)).toThrow(message);
    });
  });
});
