import { isNewerRow, NewestRowPerUser } from '../../lib/stages/training-set';

const at = (exportIndex: number, iso: string | null) => ({ exportIndex, time: iso === null ? -Infinity : Date.parse(iso) });

describe('isNewerRow', () => {
  it('prefers a later export whatever the timestamps', () => {
    expect(isNewerRow(at(1, '2026-01-01T00:00:00Z'), at(0, '2026-02-01T00:00:00Z'))).toBe(true);
    expect(isNewerRow(at(0, '2026-02-01T00:00:00Z'), at(1, '2026-01-01T00:00:00Z'))).toBe(false);
  });

  it('within an export prefers the later timestamp, then the row read later, and ranks a missing timestamp oldest', () => {
    expect(isNewerRow(at(2, '2026-01-02T00:00:00Z'), at(2, '2026-01-01T00:00:00Z'))).toBe(true);
    expect(isNewerRow(at(2, '2026-01-01T00:00:00Z'), at(2, '2026-01-02T00:00:00Z'))).toBe(false);
    expect(isNewerRow(at(2, '2026-01-01T00:00:00Z'), at(2, '2026-01-01T00:00:00Z'))).toBe(true);
    expect(isNewerRow(at(2, null), at(2, '2026-01-01T00:00:00Z'))).toBe(false);
    expect(isNewerRow(at(2, '2026-01-01T00:00:00Z'), at(2, null))).toBe(true);
  });
});

describe('NewestRowPerUser', () => {
  const values = (...v: number[]) => Float64Array.from(v);

  it('keeps one row per user, the newest, as a dataset ordered by user id', () => {
    const kept = new NewestRowPerUser(['a', 'b']);
    kept.offer('u2', at(0, '2026-01-01T00:00:00Z'), 0, values(1, NaN));
    kept.offer('u1', at(0, '2026-01-03T00:00:00Z'), 1, values(2, 20));
    kept.offer('u1', at(0, '2026-01-02T00:00:00Z'), 0, values(3, 30));
    kept.offer('u3', at(0, '2026-01-01T00:00:00Z'), 0, values(4, 40));
    kept.offer('u2', at(1, '2025-12-01T00:00:00Z'), 1, values(5, 50));
    expect(kept.size).toBe(3);
    const { dataset, userIds } = kept.dataset();
    expect(userIds).toEqual(['u1', 'u2', 'u3']);
    expect(Array.from(dataset.labels)).toEqual([1, 1, 0]);
    expect(dataset.featureNames).toEqual(['a', 'b']);
    expect(Array.from(dataset.columns[0] ?? [])).toEqual([2, 5, 4]);
    expect(Array.from(dataset.columns[1] ?? [])).toEqual([20, 50, 40]);
  });

  it('gives the same dataset whatever order the rows of one export arrive in', () => {
    const rows: Array<[string, string, number, number]> = [
      ['u1', '2026-01-01T00:00:00Z', 0, 1],
      ['u1', '2026-01-05T00:00:00Z', 1, 2],
      ['u2', '2026-01-02T00:00:00Z', 0, 3],
      ['u3', '2026-01-04T00:00:00Z', 1, 4],
      ['u2', '2026-01-03T00:00:00Z', 1, 5],
    ];
    const build = (order: typeof rows) => {
      const kept = new NewestRowPerUser(['x']);
      for (const [user, time, label, x] of order) kept.offer(user, at(0, time), label, values(x));
      const { dataset } = kept.dataset();
      return [Array.from(dataset.labels), Array.from(dataset.columns[0] ?? [])];
    };
    expect(build(rows)).toEqual([[1, 1, 1], [2, 5, 4]]);
    expect(build([...rows].reverse())).toEqual(build(rows));
  });

  it('keeps a null feature as NaN', () => {
    const kept = new NewestRowPerUser(['minutes_since_emailOpened']);
    kept.offer('u1', at(0, null), 0, values(NaN));
    expect(Number.isNaN(kept.dataset().dataset.columns[0]?.[0])).toBe(true);
  });
});
