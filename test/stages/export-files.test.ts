import { ExportVerificationError, exportFolders, inspectExportFolder, verifyExport } from '../../lib/stages/export-files';
import { parquetFile } from '../../lib/parquet/write';
import { startTestPlatform } from '../helpers/platform';

type Platform = Awaited<ReturnType<typeof startTestPlatform>>;
let platform: Platform;

beforeAll(async () => {
  platform = await startTestPlatform();
});
afterAll(async () => platform?.dispose());

function parquet(rows: Array<Record<string, unknown>>): Promise<Buffer> {
  return parquetFile(
    [
      { name: 'userId', type: 'UTF8', optional: false },
      { name: 'emailsOpened', type: 'DOUBLE' },
    ],
    rows,
  );
}

it('reads every part of an export folder: rows and columns', async () => {
  const folder = 'egress/ds1/exportTime=20260301120000/';
  await platform.bucket.put(`${folder}part-00000-a.parquet`, await parquet([{ userId: 'u1', emailsOpened: 1 }, { userId: 'u2', emailsOpened: null }]));
  await platform.bucket.put(`${folder}part-00001-a.parquet`, await parquet([{ userId: 'u3', emailsOpened: 4 }]));
  expect(await exportFolders(platform.bucket, 'egress/', 'ds1')).toEqual([folder]);
  const inspected = await inspectExportFolder(platform.bucket, folder);
  expect(inspected).toMatchObject({ exportTime: '20260301120000', rows: 3, columns: ['userId', 'emailsOpened'] });
  expect(inspected.files.map((f) => f.rows)).toEqual([2, 1]);
  expect(() => verifyExport([inspected], { rows: 3, columns: ['userId', 'emailsOpened'] })).not.toThrow();
});

it('names a corrupt part file', async () => {
  const folder = 'egress/ds2/exportTime=20260301120000/';
  await platform.bucket.put(`${folder}part-00000-b.parquet`, Buffer.from('PAR1 this is not parquet'));
  await expect(inspectExportFolder(platform.bucket, folder)).rejects.toThrow(`Export file ${folder}part-00000-b.parquet is not readable parquet`);
});

it('refuses a folder without parquet files', async () => {
  const folder = 'egress/ds3/exportTime=20260301120000/';
  await platform.bucket.put(`${folder}_SUCCESS`, '');
  await expect(inspectExportFolder(platform.bucket, folder)).rejects.toThrow(new ExportVerificationError(`No parquet files under ${folder}`));
  await expect(inspectExportFolder(platform.bucket, 'egress/ds3/')).rejects.toThrow(/is not an export folder/);
});

it('refuses an export missing a column or holding other than the query\'s rows', async () => {
  const folder = { prefix: 'egress/ds4/exportTime=20260301120000/', exportTime: '20260301120000', files: [], rows: 10, columns: ['userId'] };
  expect(() => verifyExport([folder], { columns: ['userId', 'emailsOpened'] })).toThrow(/lacks the columns emailsOpened/);
  expect(() => verifyExport([folder], { rows: 12, columns: ['userId'] })).toThrow(/holds 10 rows; the query produced 12/);
});

it('counts the rows of every folder an export takes, and names them all when they fall short', () => {
  const folder = (time: string, rows: number, columns = ['userId', 'emailsOpened']) => ({ prefix: `egress/ds5/exportTime=${time}/`, exportTime: time, files: [], rows, columns });
  const folders = [folder('20260301120000', 10), folder('20260302120000', 5)];
  expect(() => verifyExport(folders, { rows: 15, columns: ['userId', 'emailsOpened'] })).not.toThrow();
  expect(() => verifyExport(folders, { rows: 16, columns: ['userId'] })).toThrow(
    'The 2 export folders egress/ds5/exportTime=20260301120000/, egress/ds5/exportTime=20260302120000/ hold 15 rows; the query produced 16',
  );
  expect(() => verifyExport([folders[0]!, folder('20260303120000', 1, ['userId'])], { columns: ['userId', 'emailsOpened'] })).toThrow(
    'Export egress/ds5/exportTime=20260303120000/ lacks the columns emailsOpened',
  );
});
