/**
 * The whole loop on the embedded platform, as `npm start` runs it: synthetic events to features, a
 * model, scores ingested back onto the profiles, and an audience evaluated by a segment job. Every stage
 * runs as its bundled handler. The checks read the bucket's files directly, not the stages' summaries.
 */
import { synthesizeLocalDeployment } from '../../constructs/local-deployment';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse } from 'csv-parse/sync';
import { runLocalPipeline, type LocalRunResult } from '../../lib/cli/local-run';
import { silentLog } from '../../lib/ports/logger';

const BAND = { low: 0.5, high: 0.9 };

describe('the pipeline end to end, from synthetic events to the audience', () => {
  let runsRoot: string;
  let result: LocalRunResult;
  let bucketDir: string;
  const objectText = (key: string) => fs.readFileSync(path.join(bucketDir, key), 'utf8');

  beforeAll(async () => {
    runsRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-e2e-'));
    result = await runLocalPipeline({ deploy: synthesizeLocalDeployment, users: 2500, usersPerBatch: 1000, seed: 11, runsRoot, log: silentLog, now: new Date('2026-03-01T12:00:00Z'), audience: BAND });
    bucketDir = path.join(result.objectStoreDir, 'aep-pipeline-local');
  });
  afterAll(() => fs.rmSync(runsRoot, { recursive: true, force: true }));

  it('trains a model far better than chance, at least as good as the logistic baseline, and puts it in production', () => {
    expect(result.trained.heldOut.auc).toBeGreaterThan(0.85);
    expect(result.trained.heldOut.auc).toBeGreaterThanOrEqual(result.trained.baseline.auc);
    expect(result.trained.promoted).toBe(true);
    const pointer = JSON.parse(objectText('models/cmle_propensity_model/production.json'));
    expect(pointer.version).toBe(result.trained.version);
    expect(fs.existsSync(path.join(bucketDir, `models/cmle_propensity_model/${result.trained.version}/model.json`))).toBe(true);
  });

  it('scores every exported profile once, with the production model, and AEP ingests every row', () => {
    const rows = result.scored.files.flatMap((key) => parse<{ userId: string; prediction: string }>(objectText(key), { columns: true }));
    expect(rows).toHaveLength(result.exported.scoring.rows);
    expect(new Set(rows.map((r) => r.userId)).size).toBe(rows.length);
    expect(result.scored.modelVersion).toBe(result.trained.version);
    const manifest = JSON.parse(objectText(result.scored.manifest));
    expect(manifest.rows).toBe(rows.length);
    const confirmed = result.ingested.confirmed.find((c) => c.folder === result.scored.folder);
    expect(confirmed?.rows).toBe(rows.length);
  });

  it('evaluates the audience: the segment job qualifies exactly the scored profiles in the band', () => {
    const predictions = result.scored.files.flatMap((key) => parse<{ prediction: string }>(objectText(key), { columns: true }).map((r) => Number(r.prediction)));
    const inBand = predictions.filter((p) => p >= BAND.low && p <= BAND.high).length;
    expect(inBand).toBeGreaterThan(0);
    expect(result.audience.summary.band).toEqual({ ...BAND, count: inBand });
    expect(result.audience.qualifiedProfiles).toBe(inBand);
  });

  it('leaves the run report and each stage function\'s log in the run folder', () => {
    const report = fs.readFileSync(result.reportFile, 'utf8');
    expect(report).toContain(result.trained.version);
    expect(report).toContain(`<td>${result.audience.qualifiedProfiles?.toLocaleString('en-US')}</td>`);
    for (const stage of ['provision', 'featurize', 'export', 'train', 'score', 'ingestion-check', 'audience']) {
      const log = fs.readFileSync(path.join(result.runDir, 'logs', `${stage}.log`), 'utf8');
      expect(log).toContain('--- invoke');
      // Every JSON line carries the Lambda context; each invocation here is a fresh process, a cold start.
      const lines = log.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(line).toMatchObject({ function_name: stage, cold_start: true, function_request_id: expect.any(String) });
    }
    expect(result.timings.map((t) => t.stage)).toEqual(['platform', 'seed', 'explore', 'synth', 'provision', 'featurize', 'export', 'train', 'score', 'ingestion-check', 'audience']);
  });

  it('runs the bundles the synthesized stack ships: the provisioner and one per stage', () => {
    const bundles = fs.readdirSync(path.join(result.runDir, 'cdktf.out', 'bundles')).sort();
    expect(bundles).toEqual(['AepProvisioning-Function', 'AudienceStage', 'Export', 'Featurize', 'IngestionCheck', 'Score', 'Train'].map((id) => `embedded-Pipeline-${id}`).sort());
    for (const bundle of bundles) expect(fs.existsSync(path.join(result.runDir, 'cdktf.out', 'bundles', bundle, 'index.js'))).toBe(true);
  });
});
