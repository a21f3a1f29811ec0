import { Construct } from 'constructs';
import { SchedulerSchedule } from '@cdktf/provider-aws/lib/scheduler-schedule';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue';
import { DeadLetterQueue } from './dead-letter-queue';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { isLiteral, nameFromPath } from './naming';
import { admitAwsProviderVersions } from './aws-provider-versions';

/** How EventBridge Scheduler retries a failed delivery. */
export interface ScheduleRetryPolicy {
  /**
   * Retries of a delivery Scheduler could not make (0 to 185).
   * @default 2
   */
  readonly maximumRetryAttempts?: number;
  /**
   * Seconds after which an undelivered event is given up and sent to the dead-letter queue (60 to 86400).
   * @default 3600
   */
  readonly maximumEventAgeSeconds?: number;
}

export interface StageScheduleProps {
  /** ARN of the function to invoke. */
  readonly functionArn: string;
  /** Stage name, sent as the event `{"stage":"<stage>"}`. */
  readonly stage: string;
  /**
   * More fields of the fixed event; `stage` cannot be among them.
   * @default none
   */
  readonly input?: Record<string, unknown>;
  /**
   * When to run: `cron(minutes hours day-of-month month day-of-week year)` or `rate(<n> <unit>)`.
   * Example: `cron(0 3 * * ? *)` runs daily at 03:00, `rate(6 hours)` every six hours.
   */
  readonly scheduleExpression: string;
  /**
   * IANA time zone the cron expression is read in.
   * @default 'UTC'
   */
  readonly timezone?: string | undefined;
  /**
   * Let Scheduler start the run up to this many minutes late (1 to 1440) to spread load.
   * @default off: runs start at the scheduled time
   */
  readonly flexibleWindowMinutes?: number;
  /** @default { maximumRetryAttempts: 2, maximumEventAgeSeconds: 3600 } */
  readonly retry?: ScheduleRetryPolicy;
  /**
   * Queue for events Scheduler could not deliver.
   * @default an SQS queue is created (SSE, 14 days retention)
   */
  readonly deadLetterQueueArn?: string;
  /**
   * Whether the schedule runs.
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Schedule name (1 to 64 letters, digits, `.`, `-`, `_`).
   * @default derived from the construct path
   */
  readonly scheduleName?: string;
  /**
   * Schedule group.
   * @default 'default'
   */
  readonly groupName?: string;
  /**
   * SNS topic notified when undelivered events wait in the created dead-letter queue.
   * @default no alarm
   */
  readonly alarmTopicArn?: string;
  /** @default none */
  readonly tags?: Record<string, string>;
}

const RATE_UNITS = ['minute', 'hour', 'day'];
/** Characters allowed in a cron field by EventBridge Scheduler. */
const CRON_FIELD = /^[0-9A-Za-z*?,\-/#]+$/;

/** Throws a clear error when `expression` is not a recurring EventBridge Scheduler expression. */
export function validateScheduleExpression(expression: string, what: string): void {
  if (!isLiteral(expression)) return;
  const fail = (reason: string): never => {
    throw new Error(
      `${what}: schedule expression "${expression}" is invalid: ${reason}. ` +
        'Use cron(minutes hours day-of-month month day-of-week year), e.g. "cron(0 3 * * ? *)", or rate(<n> minute[s]|hour[s]|day[s]), e.g. "rate(6 hours)"',
    );
  };
  // The patterns' groups are not optional: they take part in every match.
  const rate = /^rate\((.*)\)$/.exec(expression);
  if (rate) {
    const match = /^(\d+) (minute|minutes|hour|hours|day|days)$/.exec(rate[1]!);
    if (!match) return fail('a rate needs a whole number and a unit');
    const value = Number(match[1]);
    if (value < 1) return fail('the rate must be at least 1');
    const unit = match[2]!;
    const singular = RATE_UNITS.includes(unit);
    if (value === 1 && !singular) return fail(`write "1 ${unit.slice(0, -1)}", singular`);
    if (value > 1 && singular) return fail(`write "${value} ${unit}s", plural`);
    return;
  }
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (cron) {
    const fields = cron[1]!.trim().split(/\s+/);
    if (fields.length !== 6) return fail(`a cron expression has 6 fields, found ${fields.length}`);
    const bad = fields.find((field) => !CRON_FIELD.test(field));
    if (bad !== undefined) return fail(`cron field "${bad}" has characters cron does not allow`);
    const [, , dayOfMonth, , dayOfWeek] = fields;
    if ((dayOfMonth === '?') === (dayOfWeek === '?')) {
      return fail('exactly one of day-of-month (3rd field) and day-of-week (5th field) must be "?"');
    }
    return;
  }
  if (/^at\(/.test(expression)) return fail('at(...) runs once; a stage schedule must recur');
  fail('it must start with cron( or rate(');
}

function requireIntegerIn(value: number, min: number, max: number, name: string, what: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${what}: ${name} must be a whole number from ${min} to ${max}, got ${value}`);
  }
  return value;
}

/**
 * Runs one pipeline stage on a schedule: an EventBridge Scheduler schedule that invokes the stage's
 * function with the fixed event `{"stage":"<stage>"}`, retries failed deliveries, keeps events it
 * could not deliver in a dead-letter queue, and acts through a role that may invoke only that function.
 */
export class StageSchedule extends Construct {
  public readonly schedule: SchedulerSchedule;
  /** The role Scheduler assumes to invoke the function. */
  public readonly role: IamRole;
  public readonly policyDocument: DataAwsIamPolicyDocument;
  public readonly policy: IamRolePolicy;
  /** The created dead-letter queue; undefined when `deadLetterQueueArn` was given. */
  public readonly deadLetters?: DeadLetterQueue;
  public readonly deadLetterQueue?: SqsQueue;
  public readonly deadLetterQueueArn: string;
  /** Alarm on the created dead-letter queue, when `alarmTopicArn` was given. */
  public readonly deadLetterAlarm?: CloudwatchMetricAlarm | undefined;
  /** The event the function receives, as JSON. */
  public readonly input: string;

  constructor(scope: Construct, id: string, props: StageScheduleProps) {
    super(scope, id);
    admitAwsProviderVersions(this);
    const what = `StageSchedule ${this.node.path}`;
    if (isLiteral(props.stage) && !/^[A-Za-z][A-Za-z0-9_-]*$/.test(props.stage)) {
      throw new Error(`${what}: stage "${props.stage}" must start with a letter and hold only letters, digits, - and _`);
    }
    if (props.input && Object.prototype.hasOwnProperty.call(props.input, 'stage')) {
      throw new Error(`${what}: input must not contain "stage"; it is set from the stage prop`);
    }
    validateScheduleExpression(props.scheduleExpression, what);
    const timezone = props.timezone ?? 'UTC';
    if (isLiteral(timezone)) {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: timezone });
      } catch {
        throw new Error(`${what}: timezone "${timezone}" is not an IANA time zone name such as "UTC" or "Europe/Paris"`);
      }
    }
    const flexibleWindow =
      props.flexibleWindowMinutes === undefined
        ? undefined
        : requireIntegerIn(props.flexibleWindowMinutes, 1, 1440, 'flexibleWindowMinutes', what);
    const retryAttempts = requireIntegerIn(props.retry?.maximumRetryAttempts ?? 2, 0, 185, 'retry.maximumRetryAttempts', what);
    const eventAge = requireIntegerIn(props.retry?.maximumEventAgeSeconds ?? 3600, 60, 86400, 'retry.maximumEventAgeSeconds', what);
    const scheduleName = props.scheduleName ?? nameFromPath(this, { maxLength: 64, allowedCharacters: 'A-Za-z0-9._-' });
    if (isLiteral(scheduleName) && !/^[A-Za-z0-9._-]{1,64}$/.test(scheduleName)) {
      throw new Error(`${what}: scheduleName "${scheduleName}" must be 1 to 64 letters, digits, ".", "-" or "_"`);
    }
    if (props.deadLetterQueueArn !== undefined && props.alarmTopicArn !== undefined) {
      throw new Error(`${what}: alarmTopicArn watches the created dead-letter queue; alarm on your own queue yourself`);
    }

    this.input = JSON.stringify({ stage: props.stage, ...(props.input ?? {}) });

    if (props.deadLetterQueueArn !== undefined) {
      this.deadLetterQueueArn = props.deadLetterQueueArn;
    } else {
      this.deadLetters = new DeadLetterQueue(this, 'dead-letters', {
        queueName: nameFromPath(this, { maxLength: 80, allowedCharacters: 'A-Za-z0-9_-', suffix: '-dlq' }),
        meaning: `Scheduler could not invoke the ${props.stage} stage`,
        alarmName: `${scheduleName}-undelivered`,
        alarmTopicArn: props.alarmTopicArn,
        tags: props.tags,
      });
      this.deadLetterQueue = this.deadLetters.queue;
      this.deadLetterQueueArn = this.deadLetters.queueArn;
      this.deadLetterAlarm = this.deadLetters.alarm;
    }

    const account = new DataAwsCallerIdentity(this, 'account');
    const trust = new DataAwsIamPolicyDocument(this, 'trust', {
      statement: [
        {
          effect: 'Allow',
          actions: ['sts:AssumeRole'],
          principals: [{ type: 'Service', identifiers: ['scheduler.amazonaws.com'] }],
          // Only schedules of this account may use the role (confused-deputy protection).
          condition: [{ test: 'StringEquals', variable: 'aws:SourceAccount', values: [account.accountId] }],
        },
      ],
    });
    this.role = new IamRole(this, 'role', {
      name: nameFromPath(this, { maxLength: 64, allowedCharacters: 'A-Za-z0-9_+=,.@-', suffix: '-role' }),
      description: `Lets EventBridge Scheduler run the ${props.stage} stage`,
      assumeRolePolicy: trust.json,
      ...(props.tags && { tags: props.tags }),
    });
    this.policyDocument = new DataAwsIamPolicyDocument(this, 'permissions', {
      statement: [
        {
          sid: 'InvokeStageFunction',
          effect: 'Allow',
          actions: ['lambda:InvokeFunction'],
          resources: [props.functionArn, `${props.functionArn}:*`],
        },
        {
          sid: 'SendUndeliveredEvents',
          effect: 'Allow',
          actions: ['sqs:SendMessage'],
          resources: [this.deadLetterQueueArn],
        },
      ],
    });
    this.policy = new IamRolePolicy(this, 'policy', {
      name: 'invoke-stage',
      role: this.role.id,
      policy: this.policyDocument.json,
    });

    this.schedule = new SchedulerSchedule(this, 'schedule', {
      name: scheduleName,
      groupName: props.groupName ?? 'default',
      description: `Runs the ${props.stage} stage`,
      scheduleExpression: props.scheduleExpression,
      scheduleExpressionTimezone: timezone,
      state: props.enabled === false ? 'DISABLED' : 'ENABLED',
      flexibleTimeWindow:
        flexibleWindow === undefined ? { mode: 'OFF' } : { mode: 'FLEXIBLE', maximumWindowInMinutes: flexibleWindow },
      target: {
        arn: props.functionArn,
        roleArn: this.role.arn,
        input: this.input,
        retryPolicy: { maximumRetryAttempts: retryAttempts, maximumEventAgeInSeconds: eventAge },
        deadLetterConfig: { arn: this.deadLetterQueueArn },
      },
      // Scheduler checks it can assume the role when the schedule is saved.
      dependsOn: [this.policy],
    });
  }
}
