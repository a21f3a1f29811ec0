import { Construct } from 'constructs';
import { SecretsmanagerSecret } from '@cdktf/provider-aws/lib/secretsmanager-secret';
import { isLiteral, nameFromPath } from './naming';
import { admitAwsProviderVersions } from './aws-provider-versions';

export interface AepCredentialsSecretProps {
  /**
   * Use this secret instead of creating one; nothing is created then.
   * @default a new, empty secret is created
   */
  readonly existingSecretArn?: string | undefined;
  /**
   * Secret name. A fixed name stays reserved for the recovery window after `cdktf destroy`, so a deploy
   * within those days fails until the deleted secret is restored or deleted for good
   * (`aws secretsmanager delete-secret --force-delete-without-recovery`).
   * @default a unique name starting with one derived from the construct path (Terraform's `name_prefix`),
   *   so a deploy right after a destroy creates a fresh secret while the old one stays recoverable
   */
  readonly secretName?: string;
  /**
   * KMS key that encrypts the secret. Whoever reads the secret then needs kms:Decrypt on it too.
   * @default the AWS managed key `aws/secretsmanager`
   */
  readonly kmsKeyId?: string;
  /**
   * Days a deleted secret can still be restored: 0 deletes at once, otherwise 7 to 30.
   * @default 7
   */
  readonly recoveryWindowInDays?: number;
  /** @default none */
  readonly tags?: Record<string, string>;
}

/**
 * Holds the OAuth server-to-server credentials the pipeline uses to call Adobe Experience Platform.
 *
 * The secret is created EMPTY, on purpose: no secret version is managed here, so the credentials never
 * pass through Terraform state, plan output or the synthesized configuration. After `cdktf deploy`,
 * store them once with the AWS CLI:
 *
 * ```sh
 * aws secretsmanager put-secret-value --secret-id <secretArn> \
 *   --secret-string '{"clientId":"<client id>","clientSecret":"<client secret>"}'
 * ```
 *
 * The value is a JSON object with exactly two string fields, `clientId` and `clientSecret`, the
 * credentials of the Adobe Developer Console project. Rotate them the same way; readers pick up the
 * new value when their cache expires.
 */
export class AepCredentialsSecret extends Construct {
  /** ARN to grant read access to and to hand to the functions. */
  public readonly secretArn: string;
  /** The created secret; undefined for an existing one. */
  public readonly secret?: SecretsmanagerSecret;
  /** Key that encrypts the created secret, when one was given. */
  public readonly kmsKeyId?: string | undefined;

  constructor(scope: Construct, id: string, props: AepCredentialsSecretProps = {}) {
    super(scope, id);
    admitAwsProviderVersions(this);
    const what = `AepCredentialsSecret ${this.node.path}`;
    if (props.existingSecretArn !== undefined) {
      const ignored = (['secretName', 'kmsKeyId', 'recoveryWindowInDays'] as const).filter((key) => props[key] !== undefined);
      if (ignored.length > 0) throw new Error(`${what}: ${ignored.join(', ')} cannot be set with existingSecretArn (nothing is created)`);
      if (isLiteral(props.existingSecretArn) && !/^arn:[\w-]+:secretsmanager:[\w-]+:\d{12}:secret:.+$/.test(props.existingSecretArn)) {
        throw new Error(`${what}: existingSecretArn "${props.existingSecretArn}" is not a Secrets Manager secret ARN`);
      }
      this.secretArn = props.existingSecretArn;
      return;
    }
    const recoveryWindow = props.recoveryWindowInDays ?? 7;
    if (!Number.isInteger(recoveryWindow) || (recoveryWindow !== 0 && (recoveryWindow < 7 || recoveryWindow > 30))) {
      throw new Error(`${what}: recoveryWindowInDays must be 0 or a whole number from 7 to 30, got ${recoveryWindow}`);
    }
    const name = props.secretName;
    if (name !== undefined && isLiteral(name) && !/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(name)) {
      throw new Error(`${what}: secretName "${name}" may hold only letters, digits and /_+=.@-`);
    }
    this.kmsKeyId = props.kmsKeyId;
    this.secret = new SecretsmanagerSecret(this, 'secret', {
      ...(name !== undefined ? { name } : { namePrefix: `${nameFromPath(this, { maxLength: 256, allowedCharacters: 'A-Za-z0-9/_+=.@-' })}-` }),
      description: 'Adobe Experience Platform OAuth client credentials, a JSON object with clientId and clientSecret',
      ...(props.kmsKeyId !== undefined && { kmsKeyId: props.kmsKeyId }),
      recoveryWindowInDays: recoveryWindow,
      ...(props.tags && { tags: props.tags }),
    });
    this.secretArn = this.secret.arn;
  }
}
