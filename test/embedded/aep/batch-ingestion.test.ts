import { withExclusiveSession } from '../../../lib/embedded/postgres';
import {
  CATALOG,
  createBatch,
  createDataset,
  createEventsDataset,
  createFieldGroup,
  createSchema,
  expectStatus,
  IMPORT,
  ingest,
  jsonLines,
  makeEvents,
  PROFILE_CLASS,
  StandInFixture,
  startStandIn,
  TENANT,
  uploadFile,
  waitForBatch,
} from './stand-in-helpers';

async function scalar(f: StandInFixture, sql: string): Promise<unknown> {
  const res = await withExclusiveSession(f.pg.db, () => f.pg.db.query<{ v: unknown }>(sql));
  return res.rows[0]?.v;
}

describe('Batch Ingestion stand-in', () => {
  let f: StandInFixture;
  let events: { id: string; table: string };
  beforeAll(async () => {
    f = await startStandIn();
    events = await createEventsDataset(f, 'Experience events');
  });
  afterAll(async () => {
    await f?.stop();
  });

  it('loads a batch of JSON Lines into the dataset table', async () => {
    const batchId = await createBatch(f, events.id);
    expect(batchId).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    const catalogView = (await f.api.get(`${CATALOG}/batches/${batchId}`)).data[batchId];
    expect(catalogView.status).toBe('loading');
    expect(catalogView.relatedObjects).toEqual([{ type: 'dataSet', id: events.id }]);

    const records = makeEvents(500, 50);
    expect((await uploadFile(f, batchId, events.id, 'part-0.json', jsonLines(records.slice(0, 300)))).status).toBe(201);
    expect((await uploadFile(f, batchId, events.id, 'nested/part-1.json', jsonLines(records.slice(300)))).status).toBe(201);
    const complete = await f.api.post(`${IMPORT}/batches/${batchId}`, undefined, { params: { action: 'COMPLETE' } });
    expectStatus(complete, 200);
    expect(complete.data.id).toBe(batchId);
    expect(complete.data.status).toBe('processing');

    const batch = await waitForBatch(f, batchId);
    expect(batch.status).toBe('success');
    expect(batch.metrics).toEqual(expect.objectContaining({ inputRecordCount: 500, outputRecordCount: 500, failedRecordCount: 0 }));
    expect(batch.errors).toBeUndefined();

    const t = `"${events.table}"`;
    expect(Number(await scalar(f, `SELECT count(*) AS v FROM ${t}`))).toBe(500);
    expect(Number(await scalar(f, `SELECT count(DISTINCT "_${TENANT}"->>'userid') AS v FROM ${t}`))).toBe(50);
    expect(await scalar(f, `SELECT "eventType" AS v FROM ${t} WHERE "_id" = 'event-1'`)).toBe('web.webpagedetails.pageViews');
    expect(await scalar(f, `SELECT web->'webPageDetails'->>'name' AS v FROM ${t} WHERE "_id" = 'event-1'`)).toBe('home "page" \\ \u00e9');
    const ts = (await scalar(f, `SELECT "timestamp" AS v FROM ${t} WHERE "_id" = 'event-2'`)) as Date;
    expect(new Date(ts).toISOString()).toBe(records[2]?.timestamp);

    const dataset = (await f.api.get(`${CATALOG}/dataSets/${events.id}`)).data[events.id];
    expect(dataset.lastBatchId).toBe(batchId);
    expect(dataset.lastSuccessfulBatch).toBe(batchId);

    const listed = await f.api.get(`${CATALOG}/batches`, { params: { dataSet: events.id } });
    expect(Object.keys(listed.data)).toContain(batchId);
    const elsewhere = await f.api.get(`${CATALOG}/batches`, { params: { dataSet: '000000000000000000000000' } });
    expect(elsewhere.data).toEqual({});

    // completing again is harmless
    expectStatus(await f.api.post(`${IMPORT}/batches/${batchId}`, undefined, { params: { action: 'COMPLETE' } }), 200);
    expect(Number(await scalar(f, `SELECT count(*) AS v FROM ${t}`))).toBe(500);
  });

  it('fails the whole batch on a bad line and leaves the table unchanged', async () => {
    const t = `"${events.table}"`;
    const before = Number(await scalar(f, `SELECT count(*) AS v FROM ${t}`));
    const good = makeEvents(20, 5, 10_000).map((e) => JSON.stringify(e));
    const lines = [...good.slice(0, 10), '{"_id": "broken", "timestamp": ', ...good.slice(10)];
    const batch = await ingest(f, events.id, { 'bad.json': Buffer.from(lines.join('\n')) });
    expect(batch.status).toBe('failed');
    expect(batch.errors).toEqual([
      expect.objectContaining({ code: 'INGEST-INVALID-JSON', rows: ['11'], description: expect.stringMatching(/row 11/) }),
    ]);
    expect(batch.metrics).toEqual(expect.objectContaining({ inputRecordCount: 21, failedRecordCount: 1, outputRecordCount: 0 }));
    expect(Number(await scalar(f, `SELECT count(*) AS v FROM ${t}`))).toBe(before);
    const dataset = (await f.api.get(`${CATALOG}/dataSets/${events.id}`)).data[events.id];
    expect(dataset.lastFailedBatch).toBe(batch.id);
  });

  it('rejects unknown fields, missing required fields and bad timestamps, naming the rows', async () => {
    const t = `"${events.table}"`;
    const before = Number(await scalar(f, `SELECT count(*) AS v FROM ${t}`));
    const recs: Record<string, unknown>[] = makeEvents(8, 4, 20_000);
    recs[1] = { ...recs[1], favouriteColour: 'blue' };
    delete recs[3]!.timestamp; // makeEvents made 8 records
    recs[4] = { ...recs[4], timestamp: 'yesterday-ish' };
    recs[5] = { ...recs[5], extra: 1, other: 2 };
    const batch = await ingest(f, events.id, { 'mixed.json': jsonLines(recs) });
    expect(batch.status).toBe('failed');
    const byCode = Object.fromEntries((batch.errors as { code: string; rows: string[]; description: string }[]).map((e) => [e.code, e]));
    expect(byCode['INGEST-UNKNOWN-FIELD']?.rows).toEqual(['2', '6']);
    expect(byCode['INGEST-UNKNOWN-FIELD']?.description).toContain('favouriteColour');
    expect(byCode['INGEST-MISSING-REQUIRED-FIELD']?.rows).toEqual(['4']);
    expect(byCode['INGEST-MISSING-REQUIRED-FIELD']?.description).toContain("'timestamp'");
    expect(byCode['INGEST-INVALID-VALUE']?.rows).toEqual(['5']);
    expect(byCode['INGEST-INVALID-VALUE']?.description).toContain('yesterday-ish');
    expect(batch.failedRecordCount).toBe(4);
    expect(Number(await scalar(f, `SELECT count(*) AS v FROM ${t}`))).toBe(before);
  });

  it('accepts multi-line JSON (an array or concatenated objects)', async () => {
    const fg = await createFieldGroup(f, 'Multi fields', [PROFILE_CLASS]);
    const schema = await createSchema(f, 'Multi schema', PROFILE_CLASS, [String(fg.$id)]);
    const ds = await createDataset(f, 'Multi profiles', String(schema.$id));
    const people = [0, 1, 2].map((i) => ({ _id: `p${i}`, [`_${TENANT}`]: { userid: `u${i}`, propensity: i / 10 } }));
    const asArray = Buffer.from(JSON.stringify(people, null, 2));
    const concatenated = Buffer.from(people.map((p) => JSON.stringify(p, null, 2).replace('{', '{ ')).join('\n\n'));
    const a = await ingest(f, ds.id, { 'array.json': asArray }, { format: 'json', isMultiLineJson: true });
    expect(a.status).toBe('success');
    const b = await ingest(f, ds.id, { 'objects.json': concatenated }, { format: 'json', isMultiLineJson: true });
    expect(b.status).toBe('success');
    expect(Number(await scalar(f, `SELECT count(*) AS v FROM "${ds.table}"`))).toBe(6);
    expect(Number(await scalar(f, `SELECT sum(("_${TENANT}"->>'propensity')::float) * 10 AS v FROM "${ds.table}"`))).toBeCloseTo(6);
    const broken = await ingest(f, ds.id, { 'broken.json': Buffer.from('[{"_id": 1},') }, { format: 'json', isMultiLineJson: true });
    expect(broken.status).toBe('failed');
    expect(broken.errors[0].code).toBe('INGEST-INVALID-JSON');
  });

  it('loads CSV with a header naming top-level or dotted field paths', async () => {
    const fg = await createFieldGroup(f, 'Score fields', [PROFILE_CLASS]);
    const schema = await createSchema(f, 'Score schema', PROFILE_CLASS, [String(fg.$id)]);
    const ds = await createDataset(f, 'Scores csv', String(schema.$id));
    const csv = `_id,_${TENANT}.userid,_${TENANT}.propensity\na,"user, one",0.25\nb,user2,\n`;
    const ok = await ingest(f, ds.id, { 'scores.csv': Buffer.from(csv) }, { format: 'csv' });
    expect(ok.status).toBe('success');
    expect(ok.metrics.inputRecordCount).toBe(2);
    const rows = await withExclusiveSession(f.pg.db, () => f.pg.db.query<{ _id: string; t: unknown }>(`SELECT "_id", "_${TENANT}" AS t FROM "${ds.table}" ORDER BY 1`));
    expect(rows.rows).toEqual([
      { _id: 'a', t: { userid: 'user, one', propensity: 0.25 } },
      { _id: 'b', t: { userid: 'user2' } },
    ]);
    const badNumber = await ingest(f, ds.id, { 'bad.csv': Buffer.from(`_id,_${TENANT}.propensity\nc,0.5\nd,high\n`) }, { format: 'csv' });
    expect(badNumber.status).toBe('failed');
    expect(badNumber.errors[0]).toEqual(expect.objectContaining({ code: 'INGEST-INVALID-VALUE', rows: ['3'] }));
    const unknownColumn = await ingest(f, ds.id, { 'unknown.csv': Buffer.from('_id,shoeSize\ne,42\n') }, { format: 'csv' });
    expect(unknownColumn.status).toBe('failed');
    expect(unknownColumn.errors[0].description).toContain('shoeSize');
    expect(Number(await scalar(f, `SELECT count(*) AS v FROM "${ds.table}"`))).toBe(2);
  });

  it('enforces the batch life cycle and answers unknown ids with 404', async () => {
    const unknownComplete = await f.api.post(`${IMPORT}/batches/01AAAAAAAAAAAAAAAAAAAAAAAA`, undefined, { params: { action: 'COMPLETE' } });
    expect(unknownComplete.status).toBe(404);
    expect(unknownComplete.data).toEqual(expect.objectContaining({ status: 404, title: 'Not Found', detail: expect.stringContaining('01AAAAAAAAAAAAAAAAAAAAAAAA') }));

    const unknownDataset = await f.api.post(`${IMPORT}/batches`, { datasetId: '000000000000000000000000', inputFormat: { format: 'json' } });
    expect(unknownDataset.status).toBe(400);
    expect(unknownDataset.data.detail).toContain('000000000000000000000000');
    const parquet = await f.api.post(`${IMPORT}/batches`, { datasetId: events.id, inputFormat: { format: 'parquet' } });
    expect(parquet.status).toBe(400);
    expect(parquet.data.detail).toMatch(/not supported by the embedded platform/);
    const noFormat = await f.api.post(`${IMPORT}/batches`, { datasetId: events.id });
    expect(noFormat.status).toBe(400);

    const batchId = await createBatch(f, events.id, { format: 'JSON' });
    const other = await createEventsDataset(f, 'Other events');
    const wrongDataset = await uploadFile(f, batchId, other.id, 'x.json', jsonLines(makeEvents(1, 1)));
    expect(wrongDataset.status).toBe(400);
    const wrongType = await f.api.put(`${IMPORT}/batches/${batchId}/datasets/${events.id}/files/x.json`, '{}', { headers: { 'Content-Type': 'application/json' } });
    expect(wrongType.status).toBe(415);
    expect((await uploadFile(f, batchId, events.id, 'x.json', jsonLines(makeEvents(1, 1)))).status).toBe(201);
    expect((await uploadFile(f, batchId, events.id, 'x.json', jsonLines(makeEvents(2, 1)))).status).toBe(200);

    const abort = await f.api.post(`${IMPORT}/batches/${batchId}`, undefined, { params: { action: 'ABORT' } });
    expectStatus(abort, 200);
    expect((await f.api.get(`${CATALOG}/batches/${batchId}`)).data[batchId].status).toBe('aborted');
    expect((await uploadFile(f, batchId, events.id, 'y.json', jsonLines(makeEvents(1, 1)))).status).toBe(400);
    expect((await f.api.post(`${IMPORT}/batches/${batchId}`, undefined, { params: { action: 'COMPLETE' } })).status).toBe(400);
    expect((await f.api.post(`${IMPORT}/batches/${batchId}`, undefined, { params: { action: 'JUMP' } })).status).toBe(400);

    const empty = await ingest(f, events.id, {});
    expect(empty.status).toBe('failed');
    expect(empty.errors[0].code).toBe('INGEST-NO-FILES');
  });
});
