import { Construct } from 'constructs';
import { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic';
import { SnsTopicSubscription } from '@cdktf/provider-aws/lib/sns-topic-subscription';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { isLiteral, nameFromPath } from './naming';
import { admitAwsProviderVersions } from './aws-provider-versions';

export interface AlarmTopicProps {
  /**
   * Topic name.
   * @default derived from the construct path
   */
  readonly topicName?: string;
  /**
   * Encrypt with this customer managed KMS key instead of creating one. Its key policy must let the
   * `cloudwatch.amazonaws.com` service principal call kms:Decrypt and kms:GenerateDataKey*, or alarm
   * notifications are silently dropped.
   * @default a dedicated key is created, with rotation on
   */
  readonly kmsKeyArn?: string;
  /**
   * Email addresses to subscribe; each must confirm the subscription from the mail AWS sends.
   * @default none (subscribe however you like: the topic ARN is exposed)
   */
  readonly emailSubscriptions?: string[] | undefined;
  /**
   * Days a deleted key waits before it is gone for good (7 to 30).
   * @default 30
   */
  readonly keyDeletionWindowDays?: number;
  /** @default none */
  readonly tags?: Record<string, string> | undefined;
}

/** Actions through which the account's IAM policies administer and use the key (the delegation to IAM). */
const ACCOUNT_KEY_ACTIONS = [
  'kms:Create*',
  'kms:Describe*',
  'kms:Enable*',
  'kms:List*',
  'kms:Put*',
  'kms:Update*',
  'kms:Revoke*',
  'kms:Disable*',
  'kms:Get*',
  'kms:Delete*',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
  'kms:RotateKeyOnDemand',
  'kms:Encrypt',
  'kms:Decrypt',
  'kms:ReEncrypt*',
  'kms:GenerateDataKey*',
];

/**
 * An SNS topic for CloudWatch alarm notifications, encrypted at rest.
 *
 * Why a customer managed key rather than the AWS managed `alias/aws/sns`: CloudWatch publishes alarm
 * notifications as the `cloudwatch.amazonaws.com` service, which must be allowed to use the topic's
 * key. The AWS managed key's policy cannot be changed to allow that, so a topic encrypted with it
 * drops every alarm notification without an error anywhere. The key created here allows exactly that
 * service to encrypt messages, and the account's own IAM policies everything else.
 *
 * One topic can serve many functions: create it once and pass `topicArn` to each.
 */
export class AlarmTopic extends Construct {
  public readonly topic: SnsTopic;
  public readonly topicArn: string;
  /** The key created for the topic; undefined when `kmsKeyArn` was given. */
  public readonly key?: KmsKey;
  /** Key policy of the created key; undefined when `kmsKeyArn` was given. */
  public readonly keyPolicyDocument?: DataAwsIamPolicyDocument;
  /** ARN of the key the topic encrypts with. */
  public readonly kmsKeyArn: string;
  public readonly emailSubscriptions: SnsTopicSubscription[];

  constructor(scope: Construct, id: string, props: AlarmTopicProps = {}) {
    super(scope, id);
    admitAwsProviderVersions(this);
    const what = `AlarmTopic ${this.node.path}`;
    const deletionWindow = props.keyDeletionWindowDays ?? 30;
    if (!Number.isInteger(deletionWindow) || deletionWindow < 7 || deletionWindow > 30) {
      throw new Error(`${what}: keyDeletionWindowDays must be a whole number from 7 to 30, got ${deletionWindow}`);
    }
    if (props.topicName !== undefined && isLiteral(props.topicName) && !/^[A-Za-z0-9_-]{1,256}$/.test(props.topicName)) {
      throw new Error(`${what}: topicName "${props.topicName}" must be 1 to 256 letters, digits, hyphens or underscores`);
    }

    if (props.kmsKeyArn !== undefined) {
      this.kmsKeyArn = props.kmsKeyArn;
    } else {
      const account = new DataAwsCallerIdentity(this, 'account');
      const partition = new DataAwsPartition(this, 'partition');
      // In a key policy, Resource "*" means "this key"; a key policy cannot name other resources.
      this.keyPolicyDocument = new DataAwsIamPolicyDocument(this, 'key-policy', {
        statement: [
          {
            sid: 'AccountIamPoliciesGovernTheKey',
            effect: 'Allow',
            principals: [{ type: 'AWS', identifiers: [`arn:${partition.partition}:iam::${account.accountId}:root`] }],
            actions: ACCOUNT_KEY_ACTIONS,
            resources: ['*'],
          },
          {
            sid: 'CloudWatchAlarmsEncryptNotifications',
            effect: 'Allow',
            principals: [{ type: 'Service', identifiers: ['cloudwatch.amazonaws.com'] }],
            actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            resources: ['*'],
          },
        ],
      });
      this.key = new KmsKey(this, 'key', {
        description: `Encrypts alarm notifications of ${this.node.path}`,
        enableKeyRotation: true,
        deletionWindowInDays: deletionWindow,
        policy: this.keyPolicyDocument.json,
        ...(props.tags && { tags: props.tags }),
      });
      this.kmsKeyArn = this.key.arn;
    }

    this.topic = new SnsTopic(this, 'topic', {
      name: props.topicName ?? nameFromPath(this, { maxLength: 256, allowedCharacters: 'A-Za-z0-9_-' }),
      kmsMasterKeyId: this.kmsKeyArn,
      ...(props.tags && { tags: props.tags }),
    });
    this.topicArn = this.topic.arn;
    this.emailSubscriptions = (props.emailSubscriptions ?? []).map(
      (email, index) =>
        new SnsTopicSubscription(this, `email-${index}`, { topicArn: this.topic.arn, protocol: 'email', endpoint: email }),
    );
  }
}
