/** What lib/sql/dialect.ts gained for the feature compiler: the two dialects' forms side by side. */
import { dataDistiller, postgres, SnapshotRangeError, UnsafeIdentifierError } from '../../lib/sql/dialect';

describe('snapshot-limited reads', () => {
  it.each([
    [undefined, 'events', [], '"events"', []],
    [{ to: 7 }, 'events SNAPSHOT AS OF 7', [], '"events"', ['"_acp_snapshot_id" <= 7']],
    [{ from: 3 }, 'events SNAPSHOT SINCE 3', [], '"events"', ['"_acp_snapshot_id" > 3']],
    [{ from: 3, to: 7 }, 'events SNAPSHOT BETWEEN 3 AND 7', [], '"events"', ['"_acp_snapshot_id" > 3', '"_acp_snapshot_id" <= 7']],
    [{ from: 0, to: 1 }, 'events SNAPSHOT BETWEEN 0 AND 1', [], '"events"', ['"_acp_snapshot_id" > 0', '"_acp_snapshot_id" <= 1']],
  ])('%j', (range, ddFrom, ddWhere, pgFrom, pgWhere) => {
    expect(dataDistiller.snapshotSource('events', range)).toEqual({ from: ddFrom, where: ddWhere });
    expect(postgres.snapshotSource('events', range)).toEqual({ from: pgFrom, where: pgWhere });
  });

  it('refuses unsafe tables and snapshot ids in both dialects', () => {
    for (const d of [dataDistiller, postgres]) {
      expect(() => d.snapshotSource('events SNAPSHOT AS OF 1; --', { to: 2 })).toThrow(UnsafeIdentifierError);
      expect(() => d.snapshotSource('events', { to: '2 OR 1=1' as unknown as number })).toThrow(SnapshotRangeError);
      expect(() => d.snapshotSource('events', { from: 2, to: 1 })).toThrow(/"from" must be less than "to"/);
      expect(() => d.snapshotSource('events', null as unknown as undefined)).toThrow(SnapshotRangeError);
    }
  });
});

describe('snapshot listing', () => {
  it('reads history_meta in each dialect and refuses unsafe tables', () => {
    expect(dataDistiller.snapshotIdsQuery('events')).toBe("SELECT snapshot_id FROM (SELECT history_meta('events')) AS history");
    expect(postgres.snapshotIdsQuery('events')).toBe("SELECT snapshot_id FROM history_meta('events') ORDER BY snapshot_id");
    for (const d of [dataDistiller, postgres]) expect(() => d.snapshotIdsQuery("events') --")).toThrow(UnsafeIdentifierError);
  });
});

describe('expressions', () => {
  it('md5, byte-wise order and minutes since the previous match', () => {
    expect(dataDistiller.md5('x')).toBe('md5(x)');
    expect(postgres.md5('x')).toBe('md5(x)');
    expect(dataDistiller.byteOrder('_id')).toBe('_id');
    expect(postgres.byteOrder('"_id"')).toBe('("_id") COLLATE "C"');
    expect(dataDistiller.minutesSincePreviousMatch('timestamp', "eventType = 'a'", 'W')).toBe("TIME_BETWEEN_PREVIOUS_MATCH(timestamp, eventType = 'a', 'minutes') OVER (W)");
    expect(postgres.minutesSincePreviousMatch('"timestamp"', "\"eventType\" = 'a'", 'W')).toBe(
      'CAST((EXTRACT(EPOCH FROM "timestamp") - EXTRACT(EPOCH FROM MAX(CASE WHEN "eventType" = \'a\' THEN "timestamp" END) OVER (W))) / 60 AS DOUBLE PRECISION)',
    );
  });
});
