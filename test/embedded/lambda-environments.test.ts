import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { EmbeddedFunction, EmbeddedFunctionError } from '../../lib/embedded/lambda';
import { SimulatedClock } from '../../lib/embedded/time/simulated-clock';

// A bundle of the shape `cdktf synth` ships, small enough to start in milliseconds.
const HANDLER = `
let invocations = 0;
exports.handler = async (event) => {
  invocations++;
  if (event.waitMs) await new Promise((resolve) => setTimeout(resolve, event.waitMs));
  return { pid: process.pid, invocations, now: Date.now(), constructed: new Date().toISOString(), isDate: new Date() instanceof Date };
};
`;

let workDir: string;
beforeAll(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lambda-environments-'));
  fs.mkdirSync(path.join(workDir, 'bundle'));
  fs.writeFileSync(path.join(workDir, 'bundle', 'index.js'), HANDLER);
});
afterAll(() => fs.rmSync(workDir, { recursive: true, force: true }));

type Answer = { pid: number; invocations: number; now: number; constructed: string; isDate: boolean };
const MINUTE = 60_000;
const start = new Date('2030-06-01T03:00:00Z');

function deployed(name: string, options: Partial<Parameters<typeof EmbeddedFunction.deployed>[0]> = {}) {
  return EmbeddedFunction.deployed({ name, bundleDir: path.join(workDir, 'bundle'), handler: 'index.handler', environment: {}, workDir, ...options });
}

it('serves invocations from a warm environment until it has been idle longer than the limit', async () => {
  const clock = new SimulatedClock(start);
  const fn = deployed('warm', { clock, reuseEnvironments: { idleMs: 60 * MINUTE, lifetimeMs: 4 * 60 * MINUTE } });
  try {
    const first = (await fn.invoke({})) as Answer;
    clock.advanceTo(new Date(start.getTime() + 59 * MINUTE));
    const second = (await fn.invoke({})) as Answer;
    expect(second.pid).toBe(first.pid);
    expect(second.invocations).toBe(2);
    clock.advanceTo(new Date(start.getTime() + 59 * MINUTE + 61 * MINUTE));
    const third = (await fn.invoke({})) as Answer;
    expect(third.pid).not.toBe(first.pid);
    expect(third.invocations).toBe(1);
    expect(fn.counts).toMatchObject({ invocations: 3, coldStarts: 2 });
  } finally {
    fn.stop();
  }
});

it('starts cold once an environment has lived longer than its lifetime, however busy', async () => {
  const clock = new SimulatedClock(start);
  const fn = deployed('lifetime', { clock, reuseEnvironments: { idleMs: 60 * MINUTE, lifetimeMs: 2 * 60 * MINUTE } });
  try {
    const pids = [];
    for (let step = 0; step < 4; step++) {
      clock.advanceTo(new Date(start.getTime() + step * 50 * MINUTE));
      pids.push(((await fn.invoke({})) as Answer).pid);
    }
    // 0, 50 and 100 minutes are within 2 hours of the cold start; 150 is not.
    expect(new Set(pids.slice(0, 3)).size).toBe(1);
    expect(pids[3]).not.toBe(pids[0]);
  } finally {
    fn.stop();
  }
});

it('shows the function the simulated time, flowing from there, through Date.now and new Date()', async () => {
  const clock = new SimulatedClock(start);
  const fn = deployed('time', { clock, reuseEnvironments: true });
  try {
    const first = (await fn.invoke({})) as Answer;
    expect(first.now).toBeGreaterThanOrEqual(start.getTime());
    expect(first.now - start.getTime()).toBeLessThan(MINUTE);
    expect(first.isDate).toBe(true);
    const later = new Date('2030-06-01T03:45:00Z');
    clock.advanceTo(later);
    const second = (await fn.invoke({})) as Answer;
    expect(second.pid).toBe(first.pid);
    expect(new Date(second.constructed).getTime() - later.getTime()).toBeLessThan(MINUTE);
    expect(second.now).toBeGreaterThanOrEqual(later.getTime());
  } finally {
    fn.stop();
  }
});

it('without reuse every invocation is a new process', async () => {
  const fn = deployed('cold');
  const pids = [((await fn.invoke({})) as Answer).pid, ((await fn.invoke({})) as Answer).pid];
  expect(pids[0]).not.toBe(pids[1]);
  expect(fn.counts.coldStarts).toBe(2);
});

it("enforces Lambda's timeout with Lambda's message, and the next invocation starts cold", async () => {
  const fn = deployed('timeout', { timeoutSeconds: 0.3, reuseEnvironments: true });
  try {
    const warm = (await fn.invoke({})) as Answer;
    const failure = fn.invoke({ waitMs: 5000 });
    await expect(failure).rejects.toBeInstanceOf(EmbeddedFunctionError);
    await expect(failure).rejects.toMatchObject({ errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out after 0.30 seconds' });
    const after = (await fn.invoke({})) as Answer;
    expect(after.pid).not.toBe(warm.pid);
    expect(fn.counts).toMatchObject({ timeouts: 1, coldStarts: 2 });
  } finally {
    fn.stop();
  }
});

it('lets a fault injector kill the running invocation at an instant', async () => {
  const fn = deployed('killed', { reuseEnvironments: true });
  try {
    const running = fn.invoke({ waitMs: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(fn.kill()).toBe(1);
    await expect(running).rejects.toMatchObject({ errorType: 'Runtime.ExitError' });
    expect(fn.kill()).toBe(0);
    const next = (await fn.invoke({})) as Answer;
    expect(next.invocations).toBe(1);
    expect(fn.counts).toMatchObject({ killed: 1, coldStarts: 2 });
  } finally {
    fn.stop();
  }
});

it('refuses a timeout Lambda would refuse', () => {
  expect(() => deployed('bad', { timeoutSeconds: 901 })).toThrow(/timeoutSeconds must be above 0 and at most 900, got 901/);
});
