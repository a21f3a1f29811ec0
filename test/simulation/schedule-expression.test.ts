import { awsCronToCroner, fireTimes, ScheduleExpressionError } from '../../lib/simulation/schedule-expression';

const runs = (expression: string, from: string, count: number, timezone?: string) => {
  const times = fireTimes(expression, { timezone, startsAt: new Date(from) });
  const out: string[] = [];
  let after = new Date(from);
  for (let i = 0; i < count; i++) {
    const next = times.next(after);
    if (!next) break;
    out.push(next.toISOString());
    after = next;
  }
  return out;
};

describe('the translation of AWS cron to croner', () => {
  it('adds the seconds, reads ? as any, and moves day-of-week numbers from 1-7 (SUN-SAT) to 0-6', () => {
    expect(awsCronToCroner('0 3 * * ? *')).toBe('0 0 3 * * * *');
    expect(awsCronToCroner('0 5 ? * 2 *')).toBe('0 0 5 * * 1 *');
    expect(awsCronToCroner('0 5 ? * 1,7 *')).toBe('0 0 5 * * 0,6 *');
    expect(awsCronToCroner('0 5 ? * 2-6 *')).toBe('0 0 5 * * 1-5 *');
    expect(awsCronToCroner('0 5 ? * MON-FRI *')).toBe('0 0 5 * * MON-FRI *');
    expect(awsCronToCroner('0 5 ? * 6L *')).toBe('0 0 5 * * 5L *');
    expect(awsCronToCroner('0 5 ? * 2#1 2027')).toBe('0 0 5 * * 1#1 2027');
    expect(awsCronToCroner('0 5 ? * L *')).toBe('0 0 5 * * 6 *');
    expect(awsCronToCroner('0/15 * 15W * ? *')).toBe('0 0/15 * 15W * * *');
  });

  it('names what is wrong in an expression it cannot read', () => {
    expect(() => awsCronToCroner('0 3 * * *')).toThrow(/has 6 fields .* found 5/);
    expect(() => awsCronToCroner('0 3 * * 2 *')).toThrow(/exactly one of day-of-month and day-of-week must be "\?"/);
    expect(() => awsCronToCroner('0 3 ? * 8 *')).toThrow(/day-of-week 8 is outside 1-7/);
    expect(() => fireTimes('every day', { startsAt: new Date() })).toThrow(ScheduleExpressionError);
  });
});

describe('fire times', () => {
  it('runs daily, hourly at :15 and weekly expressions at their UTC times', () => {
    expect(runs('cron(0 3 * * ? *)', '2026-01-01T03:00:00Z', 2)).toEqual(['2026-01-02T03:00:00.000Z', '2026-01-03T03:00:00.000Z']);
    expect(runs('cron(15 * * * ? *)', '2026-01-01T00:20:00Z', 2)).toEqual(['2026-01-01T01:15:00.000Z', '2026-01-01T02:15:00.000Z']);
    // 2026-01-05 is a Monday: day 2 in AWS's numbering, as MON.
    expect(runs('cron(0 5 ? * 2 *)', '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-05T05:00:00.000Z', '2026-01-12T05:00:00.000Z']);
    expect(runs('cron(0 5 ? * MON *)', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-05T05:00:00.000Z']);
    // 1 is Sunday: 2026-01-04.
    expect(runs('cron(0 5 ? * 1 *)', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-04T05:00:00.000Z']);
  });

  it('reads L, W, # and the year as AWS does', () => {
    // Last Thursday (5L) of January 2026 is the 29th; the second Sunday (1#2) is the 11th.
    expect(runs('cron(0 9 ? * 5L *)', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-29T09:00:00.000Z']);
    expect(runs('cron(0 9 ? * 1#2 *)', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-11T09:00:00.000Z']);
    // 2026-02-15 is a Sunday: the nearest weekday is Monday the 16th.
    expect(runs('cron(0 9 15W * ? *)', '2026-02-01T00:00:00Z', 1)).toEqual(['2026-02-16T09:00:00.000Z']);
    expect(runs('cron(0 9 L * ? *)', '2026-02-01T00:00:00Z', 1)).toEqual(['2026-02-28T09:00:00.000Z']);
    expect(runs('cron(0 9 1 1 ? 2027)', '2026-01-01T00:00:00Z', 2)).toEqual(['2027-01-01T09:00:00.000Z']);
  });

  it('reads a cron in its time zone, skipping the run daylight saving time skips and running a repeated time once', () => {
    // New York springs forward on 2026-03-08 (02:00 -> 03:00) and falls back on 2026-11-01 (02:00 -> 01:00).
    expect(runs('cron(30 2 * * ? *)', '2026-03-07T00:00:00Z', 3, 'America/New_York')).toEqual([
      '2026-03-07T07:30:00.000Z',
      '2026-03-09T06:30:00.000Z',
      '2026-03-10T06:30:00.000Z',
    ]);
    expect(runs('cron(30 1 * * ? *)', '2026-10-31T00:00:00Z', 3, 'America/New_York')).toEqual([
      '2026-10-31T05:30:00.000Z',
      '2026-11-01T05:30:00.000Z',
      '2026-11-02T06:30:00.000Z',
    ]);
    expect(runs('cron(0 3 * * ? *)', '2026-03-28T12:00:00Z', 2, 'Europe/Paris')).toEqual(['2026-03-29T01:00:00.000Z', '2026-03-30T01:00:00.000Z']);
  });

  it('runs a rate as elapsed time from the start, daylight saving time or not', () => {
    expect(runs('rate(6 hours)', '2026-03-07T22:00:00Z', 3, 'America/New_York')).toEqual(['2026-03-08T04:00:00.000Z', '2026-03-08T10:00:00.000Z', '2026-03-08T16:00:00.000Z']);
    expect(runs('rate(1 day)', '2026-01-01T10:00:00Z', 1)).toEqual(['2026-01-02T10:00:00.000Z']);
    expect(fireTimes('rate(15 minutes)', { startsAt: new Date('2026-01-01T00:00:00Z') }).next(new Date('2025-12-31T00:00:00Z'))?.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('runs at() once, at its wall-clock time in the time zone', () => {
    expect(runs('at(2026-07-01T09:00:00)', '2026-06-01T00:00:00Z', 3, 'Europe/Paris')).toEqual(['2026-07-01T07:00:00.000Z']);
  });
});
