import { ParquetReader } from '@dsnp/parquetjs';

it('loads parquetjs under jest', () => {
  expect(typeof ParquetReader.openBuffer).toBe('function');
});
