import { firings, type ReadSchedule } from '../../lib/rehearsal/schedules';

const schedule = (name: string, expression: string, timezone = 'UTC'): ReadSchedule => ({ name, expression, timezone, targetArn: `arn:${name}`, input: '{}' });

describe('firings', () => {
  it('orders the schedules read back by when they fire, in their time zones, ties by name', () => {
    const from = new Date('2027-01-04T00:00:00Z'); // a Monday
    const to = new Date('2027-01-05T00:00:00Z');
    const order = firings(
      [
        schedule('audience', 'cron(0 6 * * ? *)'),
        schedule('featurize', 'cron(0 3 * * ? *)'),
        // 04:00 in New York is 09:00 UTC in January.
        schedule('train', 'cron(0 4 ? * MON *)', 'America/New_York'),
        schedule('check', 'rate(12 hours)'),
        schedule('backfill', 'cron(0 3 * * ? *)'),
      ],
      from,
      to,
    ).map(({ at, schedule: s }) => `${at.toISOString().slice(11, 16)} ${s.name}`);
    expect(order).toEqual(['00:00 check', '03:00 backfill', '03:00 featurize', '06:00 audience', '09:00 train', '12:00 check']);
  });

  it('leaves out what fires outside the window', () => {
    expect(firings([schedule('weekly', 'cron(0 3 ? * SUN *)')], new Date('2027-01-04T00:00:00Z'), new Date('2027-01-07T00:00:00Z'))).toEqual([]);
  });
});
