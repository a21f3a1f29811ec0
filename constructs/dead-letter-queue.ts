import { Construct } from 'constructs';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue';
import { admitAwsProviderVersions } from './aws-provider-versions';

export interface DeadLetterQueueProps {
  /** Queue name (up to 80 letters, digits, `-` and `_`). */
  readonly queueName: string;
  /** What a message in the queue means, for the alarm's description. */
  readonly meaning: string;
  /**
   * SNS topic notified while the queue holds messages.
   * @default no alarm
   */
  readonly alarmTopicArn?: string | undefined;
  /**
   * Alarm name.
   * @default `<queueName>-messages`
   */
  readonly alarmName?: string;
  /** @default none */
  readonly tags?: Record<string, string> | undefined;
}

/**
 * An SQS queue keeping what could not be delivered or processed for 14 days (SSE on), with an alarm
 * while it holds any message. Functions and schedules use it alike.
 */
export class DeadLetterQueue extends Construct {
  public readonly queue: SqsQueue;
  public readonly queueArn: string;
  public readonly alarm?: CloudwatchMetricAlarm;

  constructor(scope: Construct, id: string, props: DeadLetterQueueProps) {
    super(scope, id);
    admitAwsProviderVersions(this);
    this.queue = new SqsQueue(this, 'queue', {
      name: props.queueName,
      sqsManagedSseEnabled: true,
      messageRetentionSeconds: 14 * 24 * 3600,
      ...(props.tags && { tags: props.tags }),
    });
    this.queueArn = this.queue.arn;
    if (props.alarmTopicArn !== undefined) {
      this.alarm = new CloudwatchMetricAlarm(this, 'alarm', {
        alarmName: props.alarmName ?? `${props.queueName}-messages`,
        alarmDescription: props.meaning,
        namespace: 'AWS/SQS',
        metricName: 'ApproximateNumberOfMessagesVisible',
        dimensions: { QueueName: this.queue.name },
        statistic: 'Maximum',
        period: 300,
        evaluationPeriods: 1,
        threshold: 1,
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
        treatMissingData: 'notBreaching',
        alarmActions: [props.alarmTopicArn],
        ...(props.tags && { tags: props.tags }),
      });
    }
  }
}
