/**
 * Months of operation, simulated: `npm run bench -- --only simulation` lives 90 days at 20,000 users
 * (`--days`, `--users`, `--faults <seed>` to change them) in a fresh child process, so the peak memory
 * is the simulator's own (the platform: AEP stand-in, PGlite, the object store); each stage function runs
 * in execution environments of its own, whose peak is reported per function, as Lambda reports Max
 * Memory Used.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { InvocationCounts } from '../lib/embedded/lambda';

export interface SimulationFigures {
  days: number;
  users: number;
  faultSeed?: number | undefined;
  totalMs: number;
  /** Wall time per simulated day: median and slowest. */
  dayMs: { median: number; max: number };
  peakRssMb: number;
  functions: Record<string, InvocationCounts>;
  faults?: Record<string, number> | undefined;
  scoreRuns: { succeeded: number; total: number };
  modelsPromoted: number;
  finalAudience?: number | undefined;
}

export function simulationBenchmark(options: { days: number; users: number; faultSeed?: number | undefined }): SimulationFigures {
  const args = [...process.execArgv, __filename, '--simulation-child', JSON.stringify(options)];
  const output = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(output.trim().split('\n').pop() as string) as SimulationFigures;
}

async function child(options: { days: number; users: number; faultSeed?: number }): Promise<void> {
  const { simulatePipeline } = await import('../lib/simulation/simulate');
  const { synthesizeLocalDeployment } = await import('../constructs/local-deployment');
  const { silentLog } = await import('../lib/ports/logger');
  const runsRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'aep-bench-simulation-'));
  try {
    const result = await simulatePipeline({
      deploy: synthesizeLocalDeployment,
      days: options.days,
      users: options.users,
      usersPerBatch: 10_000,
      seed: 42,
      runsRoot,
      log: silentLog,
      ...(options.faultSeed !== undefined && { faults: { seed: options.faultSeed } }),
      onDay: (line) => process.stderr.write(`${line}\n`),
    });
    const dayMs = result.days.map((d) => d.wallMs ?? 0).sort((a, b) => a - b);
    const score = result.days.map((d) => d.stages.score ?? { runs: 0, succeeded: 0 });
    const figures: SimulationFigures = {
      days: options.days,
      users: options.users,
      faultSeed: options.faultSeed,
      totalMs: result.totalMs,
      dayMs: { median: dayMs[Math.floor(dayMs.length / 2)] ?? 0, max: dayMs[dayMs.length - 1] ?? 0 },
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      functions: result.functions,
      faults: result.faults?.byKind,
      scoreRuns: { succeeded: score.reduce((n, s) => n + s.succeeded, 0), total: score.reduce((n, s) => n + s.runs, 0) },
      modelsPromoted: result.days.reduce((n, d) => n + d.modelsPromoted, 0),
      finalAudience: result.days[result.days.length - 1]?.audience,
    };
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  } finally {
    fs.rmSync(runsRoot, { recursive: true, force: true });
  }
}

export function simulationTable(f: SimulationFigures): string {
  const s = (ms: number) => (ms / 1000).toFixed(1);
  const lines = [
    `${f.days} simulated days at ${f.users.toLocaleString('en-US')} users${f.faultSeed === undefined ? '' : `, faults from seed ${f.faultSeed}`}: ` +
      `${s(f.totalMs)} s of wall time (a day: median ${s(f.dayMs.median)} s, slowest ${s(f.dayMs.max)} s), peak RSS of the simulator ${f.peakRssMb} MB; ` +
      `score runs ${f.scoreRuns.succeeded} succeeded of ${f.scoreRuns.total}, models promoted ${f.modelsPromoted}, final audience ${f.finalAudience ?? '-'}`,
    '',
    '| function | invocations | cold starts | timeouts | killed | max memory used (MB) |',
    '|---|---:|---:|---:|---:|---:|',
    ...Object.entries(f.functions).map(([name, c]) => `| ${name} | ${c.invocations} | ${c.coldStarts} | ${c.timeouts} | ${c.killed} | ${c.maxMemoryUsedMb} |`),
  ];
  if (f.faults) lines.push('', `Faults injected: ${Object.entries(f.faults).map(([kind, n]) => `${kind} ${n}`).join(', ')}`);
  return `${lines.join('\n')}\n`;
}

const childIndex = process.argv.indexOf('--simulation-child');
if (childIndex >= 0) {
  child(JSON.parse(process.argv[childIndex + 1] ?? '{}') as { days: number; users: number; faultSeed?: number }).catch((error) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exit(1);
  });
}
