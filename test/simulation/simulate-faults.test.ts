import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { synthesizeLocalDeployment } from '../../constructs/local-deployment';
import { silentLog } from '../../lib/ports/logger';
import { periodTotals } from '../../lib/simulation/day';
import { simulatePipeline } from '../../lib/simulation/simulate';

const DAY = 86_400_000;
const start = new Date('2026-01-05T00:00:00Z');

/** Rates well above the defaults, so one simulated day of faults meets every kind. */
const HEAVY = { aepThrottle: 0.02, aepServerError: 0.02, aepTimeout: 0.004, tokenRevocation: 0.02, objectStoreError: 0.03, processKill: 0.25 };

let runsRoot: string;
beforeAll(() => {
  runsRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'simulate-faults-'));
});
afterAll(() => fs.rmSync(runsRoot, { recursive: true, force: true }));

it('lives through a day of faults: every invariant holds, and afterwards the scores are fresh and the audience counted', async () => {
  // Day 1 trains the first model undisturbed (the train schedule is weekly); day 2 has the faults;
  // days 3 and 4 have none, so the freshness of day 2's scores is checked at the end of day 4.
  const result = await simulatePipeline({
    deploy: synthesizeLocalDeployment,
    days: 4,
    start,
    users: 300,
    usersPerBatch: 10_000,
    seed: 11,
    runsRoot,
    log: silentLog,
    faults: { seed: 8, rates: HEAVY, window: { start: new Date(start.getTime() + DAY), end: new Date(start.getTime() + 2 * DAY) } },
  });

  const injected = Object.entries(result.faults!.byKind).filter(([, n]) => n > 0);
  expect(injected.length).toBeGreaterThanOrEqual(3);
  expect(result.faults!.byKind['process-kill']).toBeGreaterThanOrEqual(1);
  const totals = periodTotals(result.days);
  expect(totals.killed).toBeGreaterThanOrEqual(1);
  expect(result.days[1]!.faults).toEqual(Object.fromEntries(injected));
  expect(result.days[2]!.faults).toEqual({});
  // After the faults: the day's scores reached AEP and the daily segmentation counted the audience.
  const last = result.days[3]!;
  expect(last.stages.score?.succeeded).toBe(1);
  expect(last.rowsScored).toBeGreaterThan(0);
  expect(last.audience).toBeGreaterThan(0);
  expect(fs.readFileSync(result.reportFile, 'utf8')).toContain('Faults injected: ');
}, 600_000);
