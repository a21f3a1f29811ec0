import { StageSchedule, type StageScheduleProps } from '../../constructs/stage-schedule';
import {
  dataOf,
  documentReferencedBy,
  expectLeastPrivilege,
  newStack,
  onlyResource,
  onlyResourceId,
  resourcesOf,
  synth,
  type SynthesizedStack,
} from './synth-helpers';

const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:111122223333:function:acme-featurize';

function build(props: Partial<StageScheduleProps> = {}) {
  const { stack } = newStack();
  const schedule = new StageSchedule(stack, 'featurize-daily', {
    functionArn: FUNCTION_ARN,
    stage: 'featurize',
    scheduleExpression: 'cron(0 3 * * ? *)',
    ...props,
  });
  return { stack, schedule, json: synth(stack) };
}

const scheduleOf = (json: SynthesizedStack) => onlyResource(json, 'aws_scheduler_schedule');

describe('StageSchedule', () => {
  describe('by default', () => {
    const { schedule, json } = build();
    const resource = scheduleOf(json);
    const queueArn = `\${aws_sqs_queue.${onlyResourceId(json, 'aws_sqs_queue')}.arn}`;

    it('runs on the expression, in UTC, enabled, at the exact time', () => {
      expect(resource).toMatchObject({
        schedule_expression: 'cron(0 3 * * ? *)',
        schedule_expression_timezone: 'UTC',
        state: 'ENABLED',
        flexible_time_window: { mode: 'OFF' },
      });
      expect(resource.flexible_time_window.maximum_window_in_minutes).toBeUndefined();
    });

    it('invokes the function with {"stage":"featurize"}', () => {
      expect(resource.target.arn).toBe(FUNCTION_ARN);
      expect(resource.target.input).toBe('{"stage":"featurize"}');
      expect(schedule.input).toBe('{"stage":"featurize"}');
    });

    it('retries twice within an hour, then dead-letters to an encrypted queue', () => {
      expect(resource.target.retry_policy).toEqual({ maximum_retry_attempts: 2, maximum_event_age_in_seconds: 3600 });
      expect(resource.target.dead_letter_config).toEqual({ arn: queueArn });
      expect(onlyResource(json, 'aws_sqs_queue')).toMatchObject({
        sqs_managed_sse_enabled: true,
        message_retention_seconds: 1209600,
      });
    });

    it("uses a role only EventBridge Scheduler of this account can assume", () => {
      const role = onlyResource(json, 'aws_iam_role');
      expect(resource.target.role_arn).toBe(`\${aws_iam_role.${onlyResourceId(json, 'aws_iam_role')}.arn}`);
      const trust = documentReferencedBy(json, role.assume_role_policy);
      expect(trust).toHaveLength(1);
      const accountId = Object.keys(dataOf(json, 'aws_caller_identity'))[0];
      expect(trust[0]).toMatchObject({
        actions: ['sts:AssumeRole'],
        principals: [{ type: 'Service', identifiers: ['scheduler.amazonaws.com'] }],
        conditions: [
          { test: 'StringEquals', variable: 'aws:SourceAccount', values: [`\${data.aws_caller_identity.${accountId}.account_id}`] },
        ],
      });
    });

    it('may invoke exactly that function (and its versions) and send to its queue', () => {
      const permissions = documentReferencedBy(json, onlyResource(json, 'aws_iam_role_policy').policy);
      expect(permissions.map((s) => [s.actions, s.resources])).toEqual([
        [['lambda:InvokeFunction'], [FUNCTION_ARN, `${FUNCTION_ARN}:*`]],
        [['sqs:SendMessage'], [queueArn]],
      ]);
      expectLeastPrivilege(json);
    });

    it('exposes schedule, role and queue', () => {
      expect(schedule.schedule).toBeDefined();
      expect(schedule.role).toBeDefined();
      expect(schedule.deadLetterQueue).toBeDefined();
    });
  });

  it('takes a rate, a time zone, a flexible window, a retry policy, extra input and a disabled state', () => {
    const { json } = build({
      scheduleExpression: 'rate(6 hours)',
      timezone: 'Europe/Paris',
      flexibleWindowMinutes: 15,
      retry: { maximumRetryAttempts: 0, maximumEventAgeSeconds: 600 },
      input: { dryRun: true, limit: 10 },
      enabled: false,
    });
    expect(scheduleOf(json)).toMatchObject({
      schedule_expression: 'rate(6 hours)',
      schedule_expression_timezone: 'Europe/Paris',
      flexible_time_window: { mode: 'FLEXIBLE', maximum_window_in_minutes: 15 },
      state: 'DISABLED',
    });
    expect(scheduleOf(json).target.retry_policy).toEqual({ maximum_retry_attempts: 0, maximum_event_age_in_seconds: 600 });
    expect(JSON.parse(scheduleOf(json).target.input)).toEqual({ stage: 'featurize', dryRun: true, limit: 10 });
  });

  it('uses a given dead-letter queue and creates none', () => {
    const queueArn = 'arn:aws:sqs:us-east-1:111122223333:shared-dlq';
    const { json, schedule } = build({ deadLetterQueueArn: queueArn });
    expect(resourcesOf(json, 'aws_sqs_queue')).toEqual({});
    expect(scheduleOf(json).target.dead_letter_config).toEqual({ arn: queueArn });
    const permissions = documentReferencedBy(json, onlyResource(json, 'aws_iam_role_policy').policy);
    expect(permissions.find((s) => s.actions.includes('sqs:SendMessage'))?.resources).toEqual([queueArn]);
    expect(schedule.deadLetterQueue).toBeUndefined();
  });

  it('alarms on undelivered events when given a topic', () => {
    const topicArn = 'arn:aws:sns:us-east-1:111122223333:alarms';
    const { json } = build({ alarmTopicArn: topicArn });
    expect(onlyResource(json, 'aws_cloudwatch_metric_alarm')).toMatchObject({
      namespace: 'AWS/SQS',
      metric_name: 'ApproximateNumberOfMessagesVisible',
      dimensions: { QueueName: `\${aws_sqs_queue.${onlyResourceId(json, 'aws_sqs_queue')}.name}` },
      alarm_actions: [topicArn],
    });
  });

  it.each(['cron(0/15 * * * ? *)', 'cron(0 8 ? * MON-FRI *)', 'cron(0 0 L * ? *)', 'rate(1 day)', 'rate(15 minutes)'])(
    'accepts %s',
    (expression) => {
      expect(scheduleOf(build({ scheduleExpression: expression }).json).schedule_expression).toBe(expression);
    },
  );

  describe('rejects bad props with a clear error', () => {
    it.each([
      ['cron(0 3 * * *)', /a cron expression has 6 fields, found 5/],
      ['cron(0 3 * * 1 *)', /exactly one of day-of-month \(3rd field\) and day-of-week \(5th field\) must be "\?"/],
      ['cron(0 3 ? * ? *)', /exactly one of day-of-month/],
      ['cron(0 3 * * ? $)', /cron field "\$" has characters cron does not allow/],
      ['rate(5 minute)', /write "5 minutes", plural/],
      ['rate(1 hours)', /write "1 hour", singular/],
      ['rate(0 minutes)', /the rate must be at least 1/],
      ['rate(2 weeks)', /a rate needs a whole number and a unit/],
      ['at(2030-01-01T00:00:00)', /at\(\.\.\.\) runs once; a stage schedule must recur/],
      ['every 5 minutes', /it must start with cron\( or rate\(/],
    ])('schedule expression %s', (scheduleExpression, message) => {
      expect(() => build({ scheduleExpression })).toThrow(message);
      expect(() => build({ scheduleExpression })).toThrow(/Use cron\(minutes hours day-of-month month day-of-week year\)/);
    });

    it.each([
      [{ timezone: 'Mars/Olympus' }, /timezone "Mars\/Olympus" is not an IANA time zone name/],
      [{ flexibleWindowMinutes: 0 }, /flexibleWindowMinutes must be a whole number from 1 to 1440, got 0/],
      [{ retry: { maximumRetryAttempts: 186 } }, /retry.maximumRetryAttempts must be a whole number from 0 to 185/],
      [{ retry: { maximumEventAgeSeconds: 30 } }, /retry.maximumEventAgeSeconds must be a whole number from 60 to 86400/],
      [{ input: { stage: 'score' } }, /input must not contain "stage"/],
      [{ stage: 'feat urize' }, /stage "feat urize" must start with a letter/],
      [{ scheduleName: 'bad name' }, /scheduleName "bad name" must be 1 to 64/],
    ])('%j', (props, message) => {
      expect(() => build(props as Partial<StageScheduleProps>)).toThrow(message);
    });
  });
});
