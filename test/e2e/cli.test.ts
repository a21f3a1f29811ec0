import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startTestPlatform } from '../helpers/platform';

const root = path.resolve(__dirname, '../..');

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', 'bin/aep-pipeline.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    timeout: 120_000,
  });
}

/** The command line in a child process while this process keeps serving a test platform. */
function cliAsync(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', 'bin/aep-pipeline.ts', ...args], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('aep-pipeline command line', () => {
  it('runs the whole pipeline on the embedded platform and prints what each stage produced', () => {
    const runs = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-run-'));
    try {
      const result = cli(['run', '--users', '300', '--runs-dir', runs]);
      expect(result.stderr).not.toMatch(/Error/);
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(/Email funnel/);
      expect(result.stdout).toMatch(/Corr\. with subscribing/);
      expect(result.stdout).toMatch(/directMarketing\.emailSent/);
      expect(result.stdout).toMatch(/gradient-boosted trees │ 0\.\d{4}/);
      expect(result.stdout).toMatch(/logistic baseline\s+│ 0\.\d{4}/);
      expect(result.stdout).toMatch(/Scored [\d,]+ profiles with model version \S+: 1 CSV part\(s\) and ingress\/\w+\/exportTime=\d{14}\/_manifest\.json/);
      expect(result.stdout).toMatch(/Ingested by AEP's dataflow into dataset \w+: [\d,]+ rows/);
      expect(result.stdout).toMatch(/Audience \[0\.8, 1\]: [\d,]+ profiles by the scores, [\d,]+ qualified by segment job/);
      const [runDir] = fs.readdirSync(runs);
      if (runDir === undefined) throw new Error(`the run left no folder in ${runs}`);
      expect(fs.existsSync(path.join(runs, runDir, 'exploration.json'))).toBe(true);
      expect(result.stdout).toContain(`Report: ${path.join(runs, runDir, 'report.html')}`);
      expect(fs.existsSync(path.join(runs, runDir, 'report.html'))).toBe(true);

      const ledger = cli(['runs', '--run-dir', path.join(runs, runDir)]);
      expect(ledger.status).toBe(0);
      expect(ledger.stdout).toMatch(/seed\s+│ \S+\s+│ succeeded/);
      expect(ledger.stdout).toMatch(/explore\s+│ \S+\s+│ succeeded/);
      for (const stage of ['featurize', 'export', 'train', 'score', 'ingestion-check', 'audience']) {
        expect(ledger.stdout).toMatch(new RegExp(`${stage}\\s+│ \\S+\\s+│ succeeded`));
      }
    } finally {
      fs.rmSync(runs, { recursive: true, force: true });
    }
  });

  it.each([['0'], ['-3'], ['many'], ['1.5']])('refuses --users %s with a clear message', (value) => {
    const result = cli(['run', '--users', value]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/user count must be a whole number of at least 1/);
  });

  it('refuses an audience band outside [0, 1] or upside down, leaving no run folder', () => {
    const runs = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-band-'));
    try {
      const outside = cli(['run', '--audience-high', '1.5', '--runs-dir', runs]);
      expect(outside.status).not.toBe(0);
      expect(outside.stderr).toMatch(/--audience-high <p>' argument '1\.5' is invalid\. must be within \[0, 1\] \(a propensity is a probability\), got 1\.5/);
      const upsideDown = cli(['run', '--audience-low', '0.9', '--audience-high', '0.2', '--runs-dir', runs]);
      expect(upsideDown.status).not.toBe(0);
      expect(upsideDown.stderr).toMatch(/the audience's low end \(0\.9\) must not be above the audience's high end \(0\.2\)/);
      expect(fs.readdirSync(runs)).toEqual([]);
    } finally {
      fs.rmSync(runs, { recursive: true, force: true });
    }
  });

  it('says clearly when a folder is not a run folder', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'not-a-run-'));
    const result = cli(['runs', '--run-dir', empty]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/is not a run folder of npm start/);
    fs.rmSync(empty, { recursive: true, force: true });
  });

  it('seeds and explores any sandbox given its configuration, as against real AEP', async () => {
    const platform = await startTestPlatform();
    try {
      const out = path.join(platform.dataDir, 'seed-result.json');
      // The platform's environment plays the part of a real sandbox's: endpoints, org, credentials.
      const seeded = await cliAsync(['seed', '--users', '120', '--name-prefix', 'cli', '--out', out], platform.env);
      expect(seeded.stderr).not.toMatch(/Error/);
      expect(seeded.status).toBe(0);
      expect(seeded.stdout).toMatch(/Email funnel/);
      const { seed } = JSON.parse(fs.readFileSync(out, 'utf8'));
      const explored = await cliAsync(['explore', '--dataset', seed.datasetId], platform.env);
      expect(explored.status).toBe(0);
      expect(explored.stdout).toContain(`Events table ${seed.tableName}`);
      const missing = await cliAsync(['explore', '--dataset', '000000000000000000000000'], platform.env);
      expect(missing.status).toBe(1);
      expect(missing.stderr).toMatch(/answered 404/);
    } finally {
      await platform.dispose();
    }
  });

  it('lists every configuration problem before touching AEP', () => {
    const result = cli(['seed'], { AEP_ORG_ID: 'nope', PIPELINE_BUCKET: 'UPPER' });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/Invalid configuration/);
    expect(result.stderr).toMatch(/aep\.orgId \(AEP_ORG_ID\)/);
    expect(result.stderr).toMatch(/aep\.credentials/);
    expect(result.stderr).toMatch(/storage\.bucket \(PIPELINE_BUCKET\)/);
  });
});
