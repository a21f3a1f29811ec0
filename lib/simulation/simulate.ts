import * as fs from 'fs';
import * as path from 'path';
import { deployLocalPipeline, prepareRunFolder, waitForFeatureQueries, type LocalRunOptions } from '../cli/local-run';
import { EmbeddedFunctionError, DEFAULT_ENVIRONMENT_LIMITS } from '../embedded/lambda';
import { PutBucketLifecycleConfigurationCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../aws/s3-object-store';
import { EMBEDDED_S3_CREDENTIALS, startEmbeddedPlatform } from '../embedded/platform';
import { lifecycleRulesFromTerraform } from '../embedded/object-store/terraform-lifecycle';
import { SimulatedClock } from '../embedded/time/simulated-clock';
import type { RunRecord } from '../ledger/run-ledger';
import { collectRunReport } from '../report/collect';
import { renderRunReport } from '../report/run-report';
import type { StageName } from '../stages/registry';
import { SyntheticPopulation } from '../synthetic/daily';
import { ingestSyntheticUsers } from '../synthetic/seed';
import { checkDay, DEFAULT_INVARIANTS, type Invariant, type StageInvocation } from './invariants';
import { fireTimes } from './schedule-expression';
import { formatDayLine, summarizeDay, type DayFigures } from './day';

export interface SimulationOptions extends Omit<LocalRunOptions, 'now'> {
  /** Days to live after the seed. */
  days: number;
  /**
   * The instant the pipeline is deployed and seeded; day 1 starts then.
   * @default the most recent Monday 00:00 UTC, so the weekly train runs on day 1
   */
  start?: Date;
  /** Told the line of each simulated day. */
  onDay?: (line: string, figures: DayFigures) => void;
  /** @default DEFAULT_INVARIANTS */
  invariants?: Invariant[];
}

export interface SimulationResult {
  runDir: string;
  days: DayFigures[];
  reportFile: string;
  totalMs: number;
}

const DAY_MS = 86_400_000;

/** The most recent Monday 00:00 UTC at or before `now`. */
export function previousMonday(now: Date): Date {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const sinceMonday = (new Date(midnight).getUTCDay() + 6) % 7;
  return new Date(midnight - sinceMonday * DAY_MS);
}

/** Something due at a time: a stage schedule firing, the platform's own timed work, or the day's events arriving. */
interface Due {
  at: Date;
  name: string;
  run(at: Date): Promise<void>;
}

/**
 * `npm start -- --days N`: the pipeline deployed on the embedded platform, then N days of its life on a
 * simulated clock. The clock jumps to whatever is due next (a stage's schedule as its expression and
 * time zone say, the platform's timed work, the day's new events) and that runs; each stage runs as its
 * bundle in warm execution environments. After each day the invariants are checked and one line printed.
 */
export async function simulatePipeline(options: SimulationOptions): Promise<SimulationResult> {
  if (!Number.isInteger(options.days) || options.days < 1) throw new Error(`The number of days to simulate must be a whole number of at least 1, got ${options.days}`);
  const started = Date.now();
  const start = options.start ?? previousMonday(new Date());
  const { band, runDir } = prepareRunFolder(options, start);
  const clock = new SimulatedClock(start);
  const platform = await startEmbeddedPlatform({ dataDir: runDir, clock });
  const timings = [{ stage: 'platform', ms: Date.now() - started }];
  const population = new SyntheticPopulation({ seed: options.seed, tenantId: `_${platform.tenantId}`, start });
  const stopFunctions: Array<() => void> = [];
  try {
    const pipeline = await deployLocalPipeline(
      platform,
      { ...options, runDir, band, now: start, clock, runtime: { clock, reuseEnvironments: DEFAULT_ENVIRONMENT_LIMITS }, onUser: (user) => population.admit(user) },
      timings,
    );
    const { stage, aep, deployment } = pipeline;
    stopFunctions.push(...Object.values(stage).map((fn) => () => fn.stop()), () => pipeline.provisioner.stop());
    // Terraform puts the rules PipelineBucket synthesizes on the bucket; so does the simulator, through the S3 API.
    if (deployment.lifecycleRules.length > 0) {
      await createS3Client(platform.config.storage, EMBEDDED_S3_CREDENTIALS).send(
        new PutBucketLifecycleConfigurationCommand({ Bucket: platform.config.storage.bucket, LifecycleConfiguration: { Rules: lifecycleRulesFromTerraform(deployment.lifecycleRules) } }),
      );
    }
    const deployedAt = clock.now();

    const invocations: StageInvocation[][] = [];
    const today = () => invocations[invocations.length - 1]!;
    const invoke = async (name: StageName, event: unknown, at: Date): Promise<void> => {
      const reads = () => platform.objectStore.reads.GET + platform.objectStore.reads.HEAD;
      const before = reads();
      let record: StageInvocation;
      try {
        const run = (await stage[name].invoke(event)) as RunRecord;
        record = { stage: name, at, outcome: run.status, reason: run.reason, objectReads: reads() - before, outputs: run.outputs };
        // Query Service runs the featurize queries before the export schedule comes round.
        if (run.stage === 'featurize' && run.status === 'succeeded') await waitForFeatureQueries(aep, run.outputs, clock);
      } catch (error) {
        const reason = error instanceof EmbeddedFunctionError ? `${error.errorType}: ${error.errorMessage}` : error instanceof Error ? error.message : String(error);
        record = { stage: name, at, outcome: 'error', reason, objectReads: reads() - before };
      }
      today().push(record);
    };

    const agenda: Due[] = [];
    for (const schedule of deployment.schedules.filter((s) => s.enabled)) {
      const times = fireTimes(schedule.expression, { timezone: schedule.timezone, startsAt: deployedAt });
      const event: unknown = JSON.parse(schedule.input);
      let at = times.next(deployedAt);
      if (!at) continue;
      const due: Due = {
        at,
        name: `schedule ${schedule.name}`,
        run: async (now) => {
          await invoke(schedule.stage, event, now);
          at = times.next(now);
          due.at = at ?? new Date(8.64e15);
        },
      };
      agenda.push(due);
    }
    for (const work of platform.timedWork) {
      const next = work.nextAt(deployedAt);
      if (!next) continue;
      const due: Due = {
        at: next,
        name: work.name,
        run: async (now) => {
          await work.run(now);
          due.at = work.nextAt(now) ?? new Date(8.64e15);
        },
      };
      agenda.push(due);
    }

    const days: DayFigures[] = [];
    for (let day = 1; day <= options.days; day++) {
      invocations.push([]);
      const dayEnd = new Date(start.getTime() + day * DAY_MS);
      for (;;) {
        const next = agenda.reduce<Due | undefined>((earliest, due) => (!earliest || due.at < earliest.at ? due : earliest), undefined);
        if (!next || next.at >= dayEnd) break;
        clock.advanceTo(next.at);
        await next.run(next.at);
      }
      // The day's events arrive as it ends, through Batch Ingestion into the seed's dataset.
      clock.advanceTo(dayEnd);
      const lived = population.live(day);
      const ingested = await ingestSyntheticUsers(aep, { clock }, { datasetId: pipeline.seed.datasetId, users: lived.users, usersPerBatch: options.usersPerBatch, fileLabel: `day-${day}`, batchPollIntervalMs: 100 });
      await checkDay(options.invariants ?? DEFAULT_INVARIANTS, {
        day,
        now: clock.now(),
        invocations,
        lifecycleRules: deployment.lifecycleRules,
        listObjects: async () => {
          const objects: Array<{ key: string; lastModified: Date }> = [];
          for await (const o of platform.bucket.list('')) objects.push({ key: o.key, lastModified: o.lastModified ?? clock.now() });
          return objects;
        },
      });
      const figures = summarizeDay(day, new Date(dayEnd.getTime() - DAY_MS), today(), { events: ingested.events, joined: lived.joined, subscribed: lived.subscribed, users: population.size }, days[days.length - 1]);
      days.push(figures);
      options.onDay?.(formatDayLine(figures), figures);
    }

    const report = await collectRunReport(
      { store: platform.bucket, ledger: pipeline.ledger },
      {
        title: `Propensity pipeline, ${options.days} simulated days from ${start.toISOString().slice(0, 10)}`,
        generatedAt: new Date().toISOString(),
        exploration: pipeline.exploration,
        models: { prefix: platform.config.storage.prefixes.models, name: platform.config.model.name },
        audienceName: pipeline.audienceName,
        timings,
        period: days,
      },
    );
    const reportFile = path.join(runDir, 'report.html');
    fs.writeFileSync(reportFile, renderRunReport(report));
    fs.writeFileSync(path.join(runDir, 'days.json'), `${JSON.stringify(days, null, 2)}\n`);
    return { runDir, days, reportFile, totalMs: Date.now() - started };
  } finally {
    stopFunctions.forEach((stop) => stop());
    await platform.stop();
  }
}
