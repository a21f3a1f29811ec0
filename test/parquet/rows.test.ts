import { parquetColumnBatches, parquetRows, ParquetReadError, type ParquetColumnBatch, type ParquetValue } from '../../lib/parquet/rows';
import { parquetFile, type ParquetCodec } from '../../lib/parquet/write';
import { startTestPlatform } from '../helpers/platform';

type Platform = Awaited<ReturnType<typeof startTestPlatform>>;
let platform: Platform;

beforeAll(async () => {
  platform = await startTestPlatform();
});
afterAll(async () => platform?.dispose());

type Codec = ParquetCodec;

function parquet(rows: Array<Record<string, unknown>>, codec: Codec, rowGroupRows = 4096): Promise<Buffer> {
  const columns = [
    { name: 'userId', type: 'UTF8', optional: false },
    { name: 'emailsReceived', type: 'INT64', optional: false },
    { name: 'minutes_since_emailOpened', type: 'DOUBLE' },
    { name: 'timestamp', type: 'TIMESTAMP_MILLIS' },
  ] as const;
  return parquetFile(columns, rows, { codec, rowGroupRows });
}

async function collect<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const row of rows) out.push(row);
  return out;
}

const sample = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    userId: `u${i}`,
    emailsReceived: BigInt(i * 3),
    minutes_since_emailOpened: i % 3 === 0 ? null : i * 1.5,
    timestamp: new Date(Date.UTC(2026, 2, 1, 0, i)),
  }));

it.each<Codec>(['GZIP', 'SNAPPY', 'UNCOMPRESSED'])('reads %s files across row groups and parts as plain values', async (codec) => {
  const prefix = `rows/${codec}/`;
  await platform.bucket.put(`${prefix}part-0.parquet`, await parquet(sample(250), codec, 64));
  await platform.bucket.put(`${prefix}part-1.parquet`, await parquet(sample(3), codec));
  const rows = await collect(parquetRows(platform.bucket, [`${prefix}part-0.parquet`, `${prefix}part-1.parquet`]));
  expect(rows).toHaveLength(253);
  expect(rows[0]).toEqual({ userId: 'u0', emailsReceived: 0, minutes_since_emailOpened: null, timestamp: '2026-03-01T00:00:00.000Z' });
  expect(rows[200]).toEqual({ userId: 'u200', emailsReceived: 600, minutes_since_emailOpened: 300, timestamp: '2026-03-01T03:20:00.000Z' });
  expect(typeof rows[249]?.emailsReceived).toBe('number');
  expect(rows[252]).toMatchObject({ userId: 'u2', emailsReceived: 6, minutes_since_emailOpened: 3 });
});

it('reads only the requested columns, in the requested order', async () => {
  await platform.bucket.put('rows/cols/part-0.parquet', await parquet(sample(5), 'GZIP'));
  const rows = await collect(parquetRows(platform.bucket, ['rows/cols/part-0.parquet'], { columns: ['minutes_since_emailOpened', 'userId'] }));
  expect(rows[1]).toEqual({ minutes_since_emailOpened: 1.5, userId: 'u1' });
  expect(Object.keys(rows[1] ?? {})).toEqual(['minutes_since_emailOpened', 'userId']);
});

it('names the file and the column a file lacks', async () => {
  await platform.bucket.put('rows/missing/part-0.parquet', await parquet(sample(2), 'GZIP'));
  await expect(collect(parquetRows(platform.bucket, ['rows/missing/part-0.parquet'], { columns: ['userId', 'emailsClicked'] }))).rejects.toThrow(
    'Export file rows/missing/part-0.parquet lacks the column emailsClicked (it has userId, emailsReceived, minutes_since_emailOpened, timestamp)',
  );
});

it('names a corrupt file, a truncated file and a missing one', async () => {
  await platform.bucket.put('rows/bad/garbage.parquet', Buffer.from('PAR1 this is not parquet at all PAR1'));
  const good = await parquet(sample(50), 'GZIP');
  await platform.bucket.put('rows/bad/truncated.parquet', good.subarray(0, good.length - 20));
  for (const key of ['rows/bad/garbage.parquet', 'rows/bad/truncated.parquet']) {
    const failure = collect(parquetRows(platform.bucket, [key]));
    await expect(failure).rejects.toBeInstanceOf(ParquetReadError);
    await expect(collect(parquetRows(platform.bucket, [key]))).rejects.toThrow(`Export file ${key} is not readable parquet`);
  }
  await expect(collect(parquetRows(platform.bucket, ['rows/bad/absent.parquet']))).rejects.toThrow('Parquet file rows/bad/absent.parquet does not exist');
});

it('hands over a row group at a time, column by column, as plain values', async () => {
  await platform.bucket.put('rows/batches/part-0.parquet', await parquet(sample(150), 'GZIP', 64));
  const batches: ParquetColumnBatch[] = [];
  for await (const batch of parquetColumnBatches(platform.bucket, ['rows/batches/part-0.parquet'], { columns: ['userId', 'emailsReceived', 'minutes_since_emailOpened'] })) {
    batches.push(batch);
  }
  expect(batches.map((b) => b.rows)).toEqual([64, 64, 22]);
  const [, second] = batches;
  expect(second?.key).toBe('rows/batches/part-0.parquet');
  expect(second?.columns).toEqual(['userId', 'emailsReceived', 'minutes_since_emailOpened']);
  expect(second?.values.map((column) => column.length)).toEqual([64, 64, 64]);
  expect(second?.values[0]?.[0]).toBe('u64');
  expect(second?.values[1]?.[1]).toBe(195);
  expect(second?.values[2]?.slice(0, 3)).toEqual([96, 97.5, null]);
});

it('reads number columns as numbers: NaN for null, into arrays reused from group to group', async () => {
  await platform.bucket.put('rows/numbers/part-0.parquet', await parquet(sample(150), 'GZIP', 64));
  const seen: Array<{ rows: number; userIds: ParquetValue[]; received: number[]; minutes: number[]; buffer: ArrayBufferLike }> = [];
  for await (const batch of parquetColumnBatches(platform.bucket, ['rows/numbers/part-0.parquet'], { columns: ['userId'], numbers: ['emailsReceived', 'minutes_since_emailOpened'] })) {
    expect(batch.numberColumns).toEqual(['emailsReceived', 'minutes_since_emailOpened']);
    expect(batch.numbers.every((column) => column instanceof Float64Array && column.length === batch.rows)).toBe(true);
    const [userIds] = batch.values;
    const [received, minutes] = batch.numbers;
    if (!userIds || !received || !minutes) throw new Error('expected one value column and two number columns');
    seen.push({ rows: batch.rows, userIds, received: [...received], minutes: [...minutes], buffer: received.buffer });
  }
  expect(seen.map((s) => s.rows)).toEqual([64, 64, 22]);
  expect(seen[1]?.userIds[0]).toBe('u64');
  expect(seen[1]?.received.slice(0, 2)).toEqual([192, 195]);
  expect(seen[1]?.minutes.slice(0, 3)).toEqual([96, 97.5, NaN]);
  expect(seen[2]?.buffer).toBe(seen[0]!.buffer); // three batches, as just checked
  await expect(collect(parquetColumnBatches(platform.bucket, ['rows/numbers/part-0.parquet'], { numbers: ['userId'] }))).rejects.toThrow(
    'Export file rows/numbers/part-0.parquet: column userId holds "u0", not a number',
  );
  await expect(collect(parquetColumnBatches(platform.bucket, ['rows/numbers/part-0.parquet'], { numbers: ['emailsClicked'] }))).rejects.toThrow(
    'lacks the column emailsClicked',
  );
});

it('names a file whose footer reads but whose data does not', async () => {
  const good = await parquet(sample(200), 'GZIP');
  const damaged = Buffer.from(good);
  // Overwrite the middle of the column data, well before the footer.
  damaged.fill(0x5a, 200, 1200);
  await platform.bucket.put('rows/damaged/part-0.parquet', damaged);
  await expect(collect(parquetRows(platform.bucket, ['rows/damaged/part-0.parquet']))).rejects.toThrow(
    'Export file rows/damaged/part-0.parquet is not readable parquet',
  );
});

it('the object store reads ranges and copies server-side', async () => {
  await platform.bucket.put('rows/range/a.txt', 'abcdefghij');
  expect((await platform.bucket.getRange('rows/range/a.txt', 2, 3)).toString()).toBe('cde');
  await platform.bucket.copy('rows/range/a.txt', 'rows/range/copy of a.txt');
  expect((await platform.bucket.get('rows/range/copy of a.txt')).toString()).toBe('abcdefghij');
});
