import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '../..');

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', 'bin/aep-pipeline.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    timeout: 120_000,
  });
}

describe('aep-pipeline command line', () => {
  it('runs the pipeline on the embedded platform and prints the exploration', () => {
    const runs = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-run-'));
    try {
      const result = cli(['run', '--users', '300', '--runs-dir', runs]);
      expect(result.stderr).not.toMatch(/Error/);
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(/Email funnel/);
      expect(result.stdout).toMatch(/Corr\. with subscribing/);
      expect(result.stdout).toMatch(/directMarketing\.emailSent/);
      const [runDir] = fs.readdirSync(runs);
      expect(fs.existsSync(path.join(runs, runDir, 'exploration.json'))).toBe(true);

      const ledger = cli(['runs', '--run-dir', path.join(runs, runDir)]);
      expect(ledger.status).toBe(0);
      expect(ledger.stdout).toMatch(/seed\s+│ \S+\s+│ succeeded/);
      expect(ledger.stdout).toMatch(/explore\s+│ \S+\s+│ succeeded/);
    } finally {
      fs.rmSync(runs, { recursive: true, force: true });
    }
  });

  it.each([['0'], ['-3'], ['many'], ['1.5']])('refuses --users %s with a clear message', (value) => {
    const result = cli(['run', '--users', value]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/user count must be a whole number of at least 1/);
  });

  it('says clearly when a folder is not a run folder', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'not-a-run-'));
    const result = cli(['runs', '--run-dir', empty]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/is not a run folder of npm start/);
    fs.rmSync(empty, { recursive: true, force: true });
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
