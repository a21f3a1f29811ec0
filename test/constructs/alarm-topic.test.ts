import { AlarmTopic } from '../../constructs/alarm-topic';
import {
  documentReferencedBy,
  expectLeastPrivilege,
  newStack,
  onlyResource,
  onlyResourceId,
  resolved,
  resourcesOf,
  synth,
} from './synth-helpers';

describe('AlarmTopic', () => {
  describe('by default', () => {
    const { stack } = newStack();
    const topic = new AlarmTopic(stack, 'alarms', { emailSubscriptions: ['ops@example.com'] });
    const json = synth(stack);
    const keyArn = `\${aws_kms_key.${onlyResourceId(json, 'aws_kms_key')}.arn}`;
    const policy = documentReferencedBy(json, onlyResource(json, 'aws_kms_key').policy);

    it('encrypts the topic with its own rotating key, not the AWS managed alias/aws/sns', () => {
      expect(onlyResource(json, 'aws_sns_topic')).toMatchObject({ name: 'test-alarms', kms_master_key_id: keyArn });
      expect(onlyResource(json, 'aws_kms_key')).toMatchObject({ enable_key_rotation: true, deletion_window_in_days: 30 });
      expect(JSON.stringify(json)).not.toContain('alias/aws/sns');
    });

    it('lets the CloudWatch service encrypt notifications with the key, and nothing more', () => {
      const cloudwatch = policy.filter((s) => s.principals.some((p) => p.identifiers.includes('cloudwatch.amazonaws.com')));
      expect(cloudwatch).toHaveLength(1);
      expect(cloudwatch[0]?.actions.sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
    });

    it("delegates everything else to the account's IAM policies, without kms:*", () => {
      const account = policy.filter((s) => s.principals.some((p) => p.type === 'AWS'));
      expect(account).toHaveLength(1);
      expect(account[0]?.principals[0]?.identifiers[0]).toMatch(/^arn:\$\{data\.aws_partition\..+\}:iam::\$\{data\.aws_caller_identity\..+\.account_id\}:root$/);
      // kms:Put* keeps PutKeyPolicy, so the key stays manageable (KMS refuses a policy that locks it out).
      expect(account[0]?.actions).toContain('kms:Put*');
      expect(account[0]?.actions).not.toContain('kms:*');
      expectLeastPrivilege(json);
    });

    it('subscribes the given addresses by email', () => {
      expect(onlyResource(json, 'aws_sns_topic_subscription')).toMatchObject({ protocol: 'email', endpoint: 'ops@example.com' });
    });

    it('exposes the topic ARN', () => {
      expect(resolved(stack, topic.topicArn)).toBe(`\${aws_sns_topic.${onlyResourceId(json, 'aws_sns_topic')}.arn}`);
    });
  });

  it('uses a given key and creates none', () => {
    const { stack } = newStack();
    const keyArn = 'arn:aws:kms:us-east-1:111122223333:key/11111111-2222-4333-8444-555555555555';
    const topic = new AlarmTopic(stack, 'alarms', { kmsKeyArn: keyArn });
    const json = synth(stack);
    expect(resourcesOf(json, 'aws_kms_key')).toEqual({});
    expect(onlyResource(json, 'aws_sns_topic').kms_master_key_id).toBe(keyArn);
    expect(topic.key).toBeUndefined();
  });

  it.each([
    [{ keyDeletionWindowDays: 5 }, /keyDeletionWindowDays must be a whole number from 7 to 30, got 5/],
    [{ topicName: 'no spaces allowed' }, /topicName "no spaces allowed" must be 1 to 256/],
  ])('rejects %j', (props, message) => {
    const { stack } = newStack();
    expect(() => new AlarmTopic(stack, 'alarms', props)).toThrow(message);
  });
});
