/**
 * `npm run bench`: speed and memory of the pipeline on the embedded platform, reported in BENCHMARKS.md.
 * Each size runs in a fresh child process so peak memory is that run's own.
 *   npm run bench                    # seed + explore at 10,000 and 100,000 users
 *   npm run bench -- --users 20000   # other sizes, comma-separated
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { hideSdkNodeVersionWarning } from '../lib/cli/warnings';

hideSdkNodeVersionWarning();

interface SeedExploreFigures {
  users: number;
  events: number;
  eventsPerUser: number;
  subscriberShare: number;
  platformMs: number;
  seedMs: number;
  exploreMs: number;
  seedAndExploreMs: number;
  peakRssMb: number;
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function child(users: number): Promise<void> {
  const { runLocalPipeline } = await import('../lib/cli/local-run');
  const { silentLog } = await import('../lib/ports/logger');
  const runsRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'aep-bench-'));
  try {
    const result = await runLocalPipeline({ users, usersPerBatch: 10_000, seed: 42, runsRoot, log: silentLog, now: new Date('2026-01-01T00:00:00Z') });
    const figures: SeedExploreFigures = {
      users,
      events: result.seed.events,
      eventsPerUser: result.exploration.eventsPerUser,
      subscriberShare: result.exploration.subscriberShare,
      platformMs: result.timingsMs.platform,
      seedMs: result.timingsMs.seed,
      exploreMs: result.timingsMs.explore,
      seedAndExploreMs: result.timingsMs.seed + result.timingsMs.explore,
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    };
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  } finally {
    fs.rmSync(runsRoot, { recursive: true, force: true });
  }
}

function main(): void {
  const sizes = (argValue('--users') ?? '10000,100000').split(',').map(Number);
  const results: SeedExploreFigures[] = [];
  for (const users of sizes) {
    process.stderr.write(`seed + explore, ${users.toLocaleString('en-US')} users ...\n`);
    const output = execFileSync(process.execPath, [...process.execArgv, __filename, '--child', String(users)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 16 * 1024 * 1024,
    });
    results.push(JSON.parse(output.trim().split('\n').pop() as string));
  }
  const machine = { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30) };
  const lines = [
    '| users | events | events/user | subscribers | platform start (s) | seed (s) | explore (s) | seed + explore (s) | peak RSS (MB) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.users.toLocaleString('en-US')} | ${r.events.toLocaleString('en-US')} | ${r.eventsPerUser.toFixed(2)} | ${(r.subscriberShare * 100).toFixed(1)}% | ` +
        `${(r.platformMs / 1000).toFixed(1)} | ${(r.seedMs / 1000).toFixed(1)} | ${(r.exploreMs / 1000).toFixed(1)} | ${(r.seedAndExploreMs / 1000).toFixed(1)} | ${r.peakRssMb} |`,
    ),
  ];
  process.stdout.write(`\nMachine: ${JSON.stringify(machine)}\n\n${lines.join('\n')}\n`);
  const outDir = path.join(__dirname, 'results');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify({ machine, seedAndExplore: results }, null, 2)}\n`);
}

if (process.argv.includes('--child')) {
  child(Number(argValue('--child'))).catch((error) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exit(1);
  });
} else {
  main();
}
