#!/usr/bin/env node
import { Argument, Command, InvalidArgumentError } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { createAepServices } from '../lib/aep';
import { consoleLog } from '../lib/cli/console-log';
import { DEFAULT_AUDIENCE_BAND, runLocalPipeline, seedAndExplore } from '../lib/cli/local-run';
import { seedProgressReporter } from '../lib/cli/progress';
import { renderExploration, renderExport, renderScoresAndAudience, renderTraining } from '../lib/cli/render';
import { invokeDeployedStage, runEmbeddedStage } from '../lib/cli/stage-command';
import { configuredLedger, localRunLedger, recentRuns, renderRuns } from '../lib/cli/runs';
import { hideSdkNodeVersionWarning } from '../lib/cli/warnings';
import { loadConfig, type PipelineConfig } from '../lib/config';
import type { Log } from '../lib/ports/logger';
import { explore } from '../lib/explore/explore';
import { systemClock } from '../lib/ports/clock';
import { dialectFor } from '../lib/sql/dialect';
import { validateUserCount } from '../lib/synthetic/seed';
import { STAGE_NAMES } from '../lib/stages/registry';
import { propensityFromText } from '../lib/audience/band';

hideSdkNodeVersionWarning();

const count = (what: string) => (value: string) => {
  try {
    return validateUserCount(value, what);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
};
const probability = (value: string) => {
  const parsed = propensityFromText.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]?.message ?? parsed.error.message);
  return parsed.data;
};
const integer = (value: string) => {
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`must be an integer, got ${JSON.stringify(value)}`);
  return Number(value);
};

/** The synthetic-data options `run` and `seed` share. */
const syntheticDataOptions = (command: Command, defaultUsers: number) =>
  command
    .option('--users <n>', 'synthetic users to generate', count('user count'), defaultUsers)
    .option('--batch-users <n>', 'users per ingestion batch', count('users per batch'), 10_000)
    .option('--seed <n>', 'random seed of the synthetic data', integer, 42);

const configOptions = (command: Command) =>
  command
    .option('--config <file>', 'JSON configuration file (else PIPELINE_CONFIG_FILE)')
    .option('--config-ini <file>', 'a CMLE notebook config.ini (else AEP_CONFIG_INI)');

/** Validated configuration for commands that talk to a real sandbox; settings it ignores are reported. */
function configured(opts: { config?: string; configIni?: string }, log: Log): PipelineConfig {
  const { config, warnings } = loadConfig({ file: opts.config, configIni: opts.configIni });
  warnings.forEach((w) => log.warn(w));
  return config;
}

const program = new Command()
  .name('aep-pipeline')
  .description('Adobe Experience Platform AI/ML feature pipeline: run it on the embedded platform, or against a real sandbox.')
  .option('--verbose', 'log every AEP call and step', false);
/** The global --verbose flag (commander types options as `any` unless told). */
const verbose = (): boolean => program.opts<{ verbose: boolean }>().verbose;

syntheticDataOptions(program.command('run'), 20_000)
  .description('Run the pipeline end to end on the embedded platform (no cloud account needed)')
  .option('--runs-dir <dir>', 'folder that receives one run folder per run', '.run')
  .option('--audience-low <p>', 'lowest propensity in the audience, included', probability, DEFAULT_AUDIENCE_BAND.low)
  .option('--audience-high <p>', 'highest propensity in the audience, included', probability, DEFAULT_AUDIENCE_BAND.high)
  .option('--days <n>', 'deploy, then live this many simulated days: every schedule fires, new events arrive daily, invariants checked each day', count('number of days'))
  .option('--faults <seed>', 'with --days: inject faults drawn from this seed (AEP 429/5xx/timeouts, token revocations, object store errors, killed invocations) until 3 days before the end', integer)
  .action(async (opts: { users: number; batchUsers: number; seed: number; runsDir: string; audienceLow: number; audienceHigh: number; days?: number; faults?: number }) => {
    if (opts.faults !== undefined && opts.days === undefined) throw new InvalidArgumentError('--faults needs --days: faults are injected over simulated days');
    const out = process.stdout;
    if (opts.days !== undefined) {
      const { synthesizeLocalDeployment } = await import('../constructs/local-deployment');
      const { simulatePipeline } = await import('../lib/simulation/simulate');
      const { formatPeriodSummary } = await import('../lib/simulation/day');
      out.write(`Embedded platform: seeding ${opts.users.toLocaleString('en-US')} synthetic users (seed ${opts.seed}), then ${opts.days} simulated days${opts.faults === undefined ? '' : ` with faults (seed ${opts.faults})`}\n`);
      const progress = seedProgressReporter(out);
      const simulated = await simulatePipeline({
        deploy: synthesizeLocalDeployment,
        days: opts.days,
        users: opts.users,
        usersPerBatch: opts.batchUsers,
        seed: opts.seed,
        runsRoot: opts.runsDir,
        log: consoleLog(verbose()),
        onProgress: (p) => progress.update(p),
        onStage: (stage) => {
          progress.stop();
          out.write(`  ${stage} ...\n`);
        },
        onDay: (line) => {
          progress.stop();
          out.write(`${line}\n`);
        },
        audience: { low: opts.audienceLow, high: opts.audienceHigh },
        ...(opts.faults !== undefined && { faults: { seed: opts.faults } }),
      });
      if (simulated.faults) out.write(`Faults stopped at ${simulated.faults.endAt.toISOString()}\n`);
      out.write(`${formatPeriodSummary(simulated.days, simulated.faults?.byKind).join('\n')}\n`);
      const perDay = simulated.days.reduce((total, day) => total + (day.wallMs ?? 0), 0) / simulated.days.length;
      out.write(`\n${opts.days} days in ${(simulated.totalMs / 1000).toFixed(1)} s (${(perDay / 1000).toFixed(1)} s a simulated day); every invariant held\nReport: ${path.relative(process.cwd(), simulated.reportFile)}\n`);
      return;
    }
    const progress = seedProgressReporter(out);
    out.write(`Embedded platform: seeding ${opts.users.toLocaleString('en-US')} synthetic users (seed ${opts.seed})\n`);
    // Loaded here: only `run` builds the stack, and CDKTF with the provider bindings is slow to load.
    const { synthesizeLocalDeployment } = await import('../constructs/local-deployment');
    const result = await runLocalPipeline({
      deploy: synthesizeLocalDeployment,
      users: opts.users,
      usersPerBatch: opts.batchUsers,
      seed: opts.seed,
      runsRoot: opts.runsDir,
      log: consoleLog(verbose()),
      onProgress: (p) => progress.update(p),
      onStage: (stage) => {
        progress.stop();
        out.write(`  ${stage} ...\n`);
      },
      audience: { low: opts.audienceLow, high: opts.audienceHigh },
    });
    progress.stop();
    out.write(
      `Seeded ${result.seed.events.toLocaleString('en-US')} events in ${result.seed.batches.length} batches ` +
        `into dataset ${result.seed.datasetId} (table ${result.seed.tableName})\n\n`,
    );
    out.write(`${renderExploration(result.exploration)}\n\n`);
    out.write(`${renderExport(result.exported)}\n\n`);
    out.write(`${renderTraining(result.trained, result.scored.modelName)}\n\n`);
    out.write(`${renderScoresAndAudience(result.scored, result.ingested, result.audience)}\n\n`);
    out.write(`Timings: ${result.timings.map((t) => `${t.stage} ${(t.ms / 1000).toFixed(1)} s`).join(', ')}; total ${(result.totalMs / 1000).toFixed(1)} s\n`);
    const shown = (file: string) => {
      const relative = path.relative(process.cwd(), file);
      return relative.startsWith('..') ? file : relative;
    };
    out.write(`Report: ${shown(result.reportFile)}\n`);
    out.write(`Run folder: ${shown(result.runDir)} (objects/ = the bucket: egress/ features, models/ registry, ingress/ scores, runs/ ledger; logs/ of the stage functions)\n`);
  });

configOptions(
  syntheticDataOptions(program.command('seed'), 100_000)
    .description('Create the synthetic events dataset in a real AEP sandbox and explore it (week 1), using the configured credentials')
    .option('--name-prefix <prefix>', 'prefix of the field group, schema and dataset names', 'CMLE')
    .option('--out <file>', 'also write the results as JSON to this file'),
).action(async (opts: { users: number; batchUsers: number; seed: number; namePrefix: string; config?: string; configIni?: string; out?: string }) => {
  const log = consoleLog(verbose());
  const config = configured(opts, log);
  const progress = seedProgressReporter(process.stdout);
  const result = await seedAndExplore(
    createAepServices(config, { log }),
    config,
    { clock: systemClock, log, onProgress: (p) => progress.update(p) },
    { users: opts.users, usersPerBatch: opts.batchUsers, seed: opts.seed, now: new Date(), namePrefix: opts.namePrefix },
  );
  progress.stop();
  process.stdout.write(`Events dataset ${result.seed.datasetId} (table ${result.seed.tableName})\n${renderExploration(result.exploration)}\n`);
  if (opts.out) fs.writeFileSync(opts.out, `${JSON.stringify(result, null, 2)}\n`);
});

configOptions(
  program
    .command('explore')
    .description('Explore an existing events dataset in AEP through Query Service (week 1)')
    .option('--dataset <id>', 'events dataset id (else datasets.events / PIPELINE_EVENTS_DATASET_ID)')
    .option('--out <file>', 'also write the results as JSON to this file'),
).action(async (opts: { dataset?: string; config?: string; configIni?: string; out?: string }) => {
  const log = consoleLog(verbose());
  const config = configured(opts, log);
  const datasetId = opts.dataset ?? config.datasets.events;
  if (!datasetId) throw new InvalidArgumentError('Give --dataset or configure datasets.events (PIPELINE_EVENTS_DATASET_ID)');
  const aep = createAepServices(config, { log });
  const tenantId = config.aep.tenantId ?? (await aep.schemaRegistry.tenantId());
  const result = await explore(aep.queryConnections.runner(), dialectFor(config.aep.queryService.dialect), {
    table: await aep.catalog.tableName(datasetId),
    tenantId,
  });
  process.stdout.write(`${renderExploration(result)}\n`);
  if (opts.out) fs.writeFileSync(opts.out, `${JSON.stringify(result, null, 2)}\n`);
});

program
  .command('stage')
  .addArgument(new Argument('<name>', 'the stage').choices([...STAGE_NAMES, 'provision']))
  .description('Run one stage now: on a fresh embedded platform, or by invoking its deployed function (--function)')
  .option('--function <name>', 'the deployed stage function to invoke (AWS credentials from the usual chain)')
  .option('--runs-dir <dir>', 'folder that receives the embedded run folder', '.run')
  .action(async (stage: string, opts: { function?: string; runsDir: string }) => {
    const result = opts.function
      ? await invokeDeployedStage(stage, opts.function)
      : await runEmbeddedStage(stage, path.join(opts.runsDir, `${stage}-${new Date().toISOString().replace(/[-:.]/g, '')}`), consoleLog(verbose()));
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  });

configOptions(
  program
    .command('runs')
    .description("Show each stage's recent runs from the runs/ ledger, of a local run folder or of the configured bucket")
    .option('--run-dir <dir>', 'a run folder of npm start (else the configured bucket)')
    .option('--stage <name>', 'only this stage')
    .option('--limit <n>', 'runs per stage', count('limit'), 10),
).action(async (opts: { runDir?: string; stage?: string; limit: number; config?: string; configIni?: string }) => {
  if (opts.runDir) {
    const local = await localRunLedger(opts.runDir);
    try {
      process.stdout.write(`${renderRuns(await recentRuns(local.ledger, opts))}\n`);
    } finally {
      await local.close();
    }
    return;
  }
  const ledger = configuredLedger(configured(opts, consoleLog(verbose())));
  process.stdout.write(`${renderRuns(await recentRuns(ledger, opts))}\n`);
});

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`\nError: ${error instanceof Error ? error.message : String(error)}\n`);
  if (verbose() && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
});
