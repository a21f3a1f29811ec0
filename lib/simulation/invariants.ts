import { parse } from 'csv-parse/sync';
import type { SynthesizedLifecycleRule } from '../cli/local-deployment';
import type { PromotionDecision } from '../model/registry';
import { MANIFEST_NAME, type ScoreManifest } from '../stages/score';

/** One stage invocation of a simulated day, as the simulator saw it. */
export interface StageInvocation {
  stage: string;
  at: Date;
  /** `succeeded`, `skipped` or `failed` from the ledger record; `error` when the function itself failed. */
  outcome: 'succeeded' | 'skipped' | 'failed' | 'error';
  /** The ledger's run id, when the function answered with its record. */
  runId?: string | undefined;
  /** When the function did not answer: its process was killed, or Lambda's timeout struck, as Lambda reports it. */
  fault?: 'killed' | 'timed out' | undefined;
  /** The run's reason or the function's error. */
  reason?: string | undefined;
  /** Object reads (GET and HEAD) the bucket served during the invocation. */
  objectReads: number;
  outputs?: unknown;
}

/** What the checks of a day may look at. */
export interface DayContext {
  day: number;
  /** The end of the day: the instant the checks run at. */
  now: Date;
  /** Every invocation so far, by day (index 0 is day 1). */
  invocations: StageInvocation[][];
  /** The bucket's objects: key and last-modified time. */
  listObjects: () => Promise<Array<{ key: string; lastModified: Date }>>;
  lifecycleRules: SynthesizedLifecycleRule[];
  /** An object's text, or undefined when it is not there. */
  readObject: (key: string) => Promise<string | undefined>;
  /** Where score runs publish and AEP's ingestion dataflow looks: `<ingress><scoresDatasetId>/`. */
  scoresPrefix: string;
  /** The runs of AEP's ingestion dataflows: each file taken and the records it loaded. */
  ingestionRuns: () => ReadonlyArray<{ id: string; state: string; files: ReadonlyArray<{ key: string; records: number; failed: number }> }>;
  /** Every segment job AEP was asked for: `api` for on-demand ones, `scheduler` for the daily segmentation. */
  segmentJobs: () => ReadonlyArray<{ id: string; source: string; creationTime: number }>;
  /** Each profile's propensity in AEP, by user id. */
  profileScores: () => Promise<Map<string, number>>;
  /** The production version, its held-out AUC and the decision that promoted it; undefined before the first. */
  production: () => Promise<{ version: string; heldOutAuc: number; decision?: PromotionDecision | undefined } | undefined>;
  settings: {
    /** The score schedule's period. */
    scorePeriodMs: number;
    /** When faults stopped; absent in a run without faults. */
    faultsEndAt?: Date | undefined;
    /** The promotion floor the train stage is configured with. */
    minAuc: number;
    baselineMargin: number;
    /** The audience stage's on-demand budget. */
    onDemandPerDay: number;
    onDemandPerYear: number;
    /**
     * Days of history a stage reads by design, by stage: the train stage's training window. Its reads
     * grow until the window is full, and are compared only from then on.
     */
    readWindowDays: Partial<Record<string, number>>;
    /** When the pipeline was deployed: where every stage's history starts. */
    deployedAt: Date;
  };
}

/** A named check run after every simulated day: what it finds wrong, empty when all holds. */
export interface Invariant {
  name: string;
  check(context: DayContext): Promise<string[]> | string[];
}

export class InvariantViolation extends Error {
  constructor(
    readonly day: number,
    readonly invariant: string,
    readonly violations: string[],
  ) {
    super(`Day ${day}: ${invariant}: ${violations.join('; ')}`);
    this.name = 'InvariantViolation';
  }
}

/** Runs every check of the day; the first that finds something fails the run, naming the day and the invariant. */
export async function checkDay(invariants: Invariant[], context: DayContext): Promise<void> {
  for (const invariant of invariants) {
    const violations = await invariant.check(context);
    if (violations.length > 0) throw new InvariantViolation(context.day, invariant.name, violations);
  }
}

const DAY_MS = 86_400_000;

/** The prefix and expiry days of each enabled rule that expires objects. */
export function expiryWindows(rules: SynthesizedLifecycleRule[]): Array<{ rule: string; prefix: string; days: number }> {
  return rules.flatMap((rule) => {
    const days = rule.expiration?.[0]?.days;
    if (rule.status !== 'Enabled' || days === undefined) return [];
    const filter = rule.filter?.[0];
    const prefix = filter?.prefix ?? filter?.and?.[0]?.prefix ?? '';
    return [{ rule: rule.id, prefix, days }];
  });
}

/**
 * S3 expires an object at the first midnight UTC at least `days` days after its creation, and acts on it
 * within a day or so after; an object older than that plus a day of grace has outlived its window.
 */
export const lifecycleWindowHeld: Invariant = {
  name: 'no staged object outlives its lifecycle window',
  async check({ now, listObjects, lifecycleRules }) {
    const windows = expiryWindows(lifecycleRules);
    if (windows.length === 0) return [];
    const objects = await listObjects();
    const out: string[] = [];
    for (const object of objects) {
      for (const window of windows) {
        if (!object.key.startsWith(window.prefix) || object.key === window.prefix) continue;
        const created = object.lastModified.getTime();
        const expiresBy = Math.ceil((created + window.days * DAY_MS) / DAY_MS) * DAY_MS + DAY_MS;
        if (now.getTime() > expiresBy) out.push(`${object.key} (written ${object.lastModified.toISOString()}) outlived rule ${window.rule} (${window.days} days)`);
      }
    }
    return out.slice(0, 5).concat(out.length > 5 ? [`and ${out.length - 5} more`] : []);
  },
};

const MISSING_INPUT = /NoSuchKey|does not exist|not found|missing/i;

/** A train run that failed on an object it could not find: retention deleted an input it still reads. */
export const trainInputsPresent: Invariant = {
  name: 'no train run failed because an input object was missing',
  check({ invocations, day }) {
    return (invocations[day - 1] ?? [])
      .filter((run) => run.stage === 'train' && (run.outcome === 'failed' || run.outcome === 'error') && MISSING_INPUT.test(run.reason ?? ''))
      .map((run) => `the train run at ${run.at.toISOString()} failed: ${run.reason ?? ''}`);
  },
};

/** Successful runs of a stage the bounded-reads check compares. */
export const READ_GROWTH_RUNS = 5;

/**
 * The objects a stage run reads must not grow with the number of past runs: a stage whose last
 * READ_GROWTH_RUNS successful runs each read more objects than the one before reads in proportion to its
 * history (a bounded design reads the same count once its window is full: runs before a stage's
 * `readWindowDays` have passed since the deployment are not compared).
 */
export const readsBounded: Invariant = {
  name: 'the objects a stage run reads do not grow with the number of past runs',
  check({ invocations, day, settings }) {
    const today = invocations[day - 1] ?? [];
    const out: string[] = [];
    for (const stage of new Set(today.map((run) => run.stage))) {
      const windowFull = settings.deployedAt.getTime() + (settings.readWindowDays[stage] ?? 0) * DAY_MS;
      const reads = invocations
        .flat()
        .filter((run) => run.stage === stage && run.outcome === 'succeeded' && run.at.getTime() >= windowFull)
        .slice(-READ_GROWTH_RUNS)
        .map((run) => run.objectReads);
      if (reads.length < READ_GROWTH_RUNS) continue;
      if (reads.every((count, i) => i === 0 || count > reads[i - 1]!)) out.push(`${stage} read ${reads.join(', ')} objects in its last ${reads.length} runs`);
    }
    return out;
  },
};

/** At most `limit` messages, then how many more. */
function firstFew(out: string[], limit = 5): string[] {
  return out.slice(0, limit).concat(out.length > limit ? [`and ${out.length - limit} more`] : []);
}

/** A published scores folder: its objects and, once written, its manifest. */
interface ScoresFolder {
  folder: string;
  objects: Array<{ key: string; lastModified: Date }>;
  manifest?: ScoreManifest | undefined;
  manifestWritten?: Date | undefined;
}

async function scoresFolders(context: Pick<DayContext, 'listObjects' | 'readObject' | 'scoresPrefix'>): Promise<ScoresFolder[]> {
  const folders = new Map<string, ScoresFolder>();
  for (const object of await context.listObjects()) {
    if (!object.key.startsWith(context.scoresPrefix)) continue;
    const folder = object.key.slice(0, object.key.lastIndexOf('/') + 1);
    if (folder === context.scoresPrefix) continue;
    const entry = folders.get(folder) ?? { folder, objects: [] };
    folders.set(folder, entry);
    if (object.key === `${folder}${MANIFEST_NAME}`) entry.manifestWritten = object.lastModified;
    else entry.objects.push(object);
  }
  for (const entry of folders.values()) {
    if (!entry.manifestWritten) continue;
    const text = await context.readObject(`${entry.folder}${MANIFEST_NAME}`);
    if (text !== undefined) entry.manifest = JSON.parse(text) as ScoreManifest;
  }
  return [...folders.values()].sort((a, b) => (a.folder < b.folder ? -1 : 1));
}

/** Each file AEP's ingestion loaded, with the successful runs that loaded it. */
function ingestedFiles(context: Pick<DayContext, 'ingestionRuns'>): Map<string, Array<{ run: string; records: number; failed: number }>> {
  const files = new Map<string, Array<{ run: string; records: number; failed: number }>>();
  for (const run of context.ingestionRuns()) {
    if (run.state !== 'success') continue;
    for (const file of run.files) {
      const loads = files.get(file.key) ?? [];
      loads.push({ run: run.id, records: file.records, failed: file.failed });
      files.set(file.key, loads);
    }
  }
  return files;
}

/** `userId` to `prediction` of a score file. */
function scoresOf(csv: string): Array<[string, number]> {
  return parse<{ userId: string; prediction: string }>(csv, { columns: true, skip_empty_lines: true, bom: true }).map((row) => [row.userId, Number(row.prediction)]);
}

/**
 * Every score run's rows reach AEP exactly once. Where AEP looks: each folder is one score run's, no
 * two folders hold the same run or the same export, a folder holds only the parts its manifest lists,
 * and a folder without its manifest (a run that died publishing) is finished by the next score run
 * that gets through, so none is left once one has. What AEP loaded: no file twice, each file's rows as
 * the manifest counts them, and no profile twice within one run's files.
 */
export function scoresIngestedOnce(): Invariant {
  /** Folders already read whole, so each day reads only what is new. */
  const checkedFolders = new Set<string>();
  return {
    name: "every score run's rows reach AEP exactly once",
    async check(context) {
      const out: string[] = [];
      const folders = await scoresFolders(context);
      const ingested = ingestedFiles(context);
      const scoreRuns = context.invocations.flat().filter((run) => run.stage === 'score');
      const byRun = new Map<string, string>();
      const byExport = new Map<string, string>();
      const expiry = expiryWindows(context.lifecycleRules).find((w) => context.scoresPrefix.startsWith(w.prefix));
      for (const entry of folders) {
        const { folder, manifest } = entry;
        if (!manifest) {
          const written = Math.max(...entry.objects.map((o) => o.lastModified.getTime()));
          const successor = scoreRuns.find((run) => run.at.getTime() > written && run.outcome !== 'error');
          if (successor) out.push(`${folder} holds ${entry.objects.length} files and no ${MANIFEST_NAME} after the score run at ${successor.at.toISOString()} finished`);
          continue;
        }
        for (const [seen, id, what] of [[byRun, manifest.runId, 'score run'], [byExport, manifest.exportRunId, 'export']] as const) {
          const other = seen.get(id);
          if (other) out.push(`${what} ${id} is published twice, in ${other} and ${folder}`);
          seen.set(id, folder);
        }
        const listed = new Set(manifest.files.map((f) => f.key));
        for (const object of entry.objects) if (!listed.has(object.key)) out.push(`${object.key} is in ${folder} but not in its manifest`);
        const young = !expiry || context.now.getTime() - (entry.manifestWritten?.getTime() ?? 0) < (expiry.days - 1) * DAY_MS;
        const present = new Set(entry.objects.map((o) => o.key));
        for (const file of manifest.files) {
          if (young && !present.has(file.key)) out.push(`${file.key} is listed in the manifest of ${folder} but missing`);
          const loads = ingested.get(file.key) ?? [];
          if (loads.length > 1) out.push(`${file.key} was ingested ${loads.length} times (ingestion runs ${loads.map((l) => l.run).join(', ')})`);
          if (loads.length === 1 && loads[0]!.records !== file.rows) out.push(`${file.key} loaded ${loads[0]!.records} rows, its manifest says ${file.rows}`);
        }
        const allIngested = manifest.files.every((file) => ingested.has(file.key));
        if (allIngested && young && !checkedFolders.has(folder)) {
          const users = new Set<string>();
          let repeated = 0;
          for (const file of manifest.files) {
            const text = await context.readObject(file.key);
            if (text === undefined) continue;
            for (const [user] of scoresOf(text)) {
              if (users.has(user)) repeated++;
              users.add(user);
            }
          }
          if (repeated > 0) out.push(`score run ${manifest.runId} (${folder}) publishes ${repeated} profile rows more than once`);
          else checkedFolders.add(folder);
        }
      }
      for (const [key, loads] of ingested) {
        if (key.startsWith(context.scoresPrefix) && loads.length > 1 && !folders.some((f) => f.manifest?.files.some((file) => file.key === key))) {
          out.push(`${key} was ingested ${loads.length} times (ingestion runs ${loads.map((l) => l.run).join(', ')})`);
        }
      }
      return firstFew(out);
    },
  };
}

/** When the freshness check starts: the score period plus a day after faults stop (or after day 1 began). */
export function freshnessCheckedFrom(context: Pick<DayContext, 'day' | 'now' | 'settings'>): Date {
  const firstDay = context.now.getTime() - context.day * DAY_MS;
  return new Date((context.settings.faultsEndAt?.getTime() ?? firstDay) + context.settings.scorePeriodMs + DAY_MS);
}

/**
 * Once faults have stopped (from their end plus the score schedule's period plus a day), every profile
 * in the scoring set holds a fresh score: the newest export at least a period plus a day old has been
 * scored (by its own score run or a newer one), those scores were ingested, and each of its profiles
 * holds in AEP the score of the newest published run that scored it. Scores need a model: before the
 * first promotion (a first training lost to a fault is retried by the next day's train run) there is none
 * to check.
 */
export const scoresFresh: Invariant = {
  name: 'once faults stop, every profile in the scoring set has a fresh score',
  async check(context) {
    if (context.now < freshnessCheckedFrom(context) || !(await context.production())) return [];
    const allowance = context.settings.scorePeriodMs + DAY_MS;
    const due = context.now.getTime() - allowance;
    const exported = context.invocations
      .flat()
      .filter((run) => run.stage === 'export' && run.outcome === 'succeeded' && run.runId !== undefined && run.at.getTime() <= due)
      .pop();
    if (!exported) return [];
    // Scores are only as fresh as the features they were computed from: an export stage failing day
    // after day leaves every profile with the score of an ever older export.
    if (exported.at.getTime() <= due - allowance) {
      return [`no export succeeded from ${new Date(due - allowance).toISOString()} to ${new Date(due).toISOString()}: the newest scores AEP can hold are of export ${exported.runId} of ${exported.at.toISOString()}`];
    }
    const ingested = ingestedFiles(context);
    const published = (await scoresFolders(context)).filter((f) => f.manifest && f.manifest.exportRunId >= exported.runId!);
    const first = published[0];
    const within = `${allowance / 3_600_000} hours`;
    if (!first?.manifest) return [`the export ${exported.runId} of ${exported.at.toISOString()} has no published scores within ${within}`];
    const unloaded = first.manifest.files.filter((file) => !ingested.has(file.key));
    if (unloaded.length > 0) return [`the scores of export ${exported.runId} (${first.folder}) were not ingested within ${within}: ${unloaded.map((f) => f.key).join(', ')}`];
    const expected = new Map<string, number>();
    const scoringSet = new Set<string>();
    for (const entry of published) {
      if (!entry.manifest!.files.every((file) => ingested.has(file.key))) continue;
      for (const file of entry.manifest!.files) {
        const text = await context.readObject(file.key);
        if (text === undefined) return [`${file.key}, scores of export ${exported.runId}, is gone before its freshness could be checked`];
        for (const [user, prediction] of scoresOf(text)) {
          expected.set(user, prediction);
          if (entry === first) scoringSet.add(user);
        }
      }
    }
    const scores = await context.profileScores();
    const out: string[] = [];
    for (const user of scoringSet) {
      const held = scores.get(user);
      const wanted = expected.get(user)!;
      if (held === undefined) out.push(`profile ${user} has no score in AEP ${within} after export ${exported.runId}`);
      else if (Math.abs(held - wanted) > 1e-9 * Math.max(1, Math.abs(wanted))) out.push(`profile ${user} holds the score ${held} in AEP, not ${wanted} of the newest published run`);
    }
    return firstFew(out);
  },
};

/**
 * Production never holds a model below the quality floor: the version it points at was promoted by a
 * recorded decision whose held-out AUC reaches the configured minimum and beats the logistic baseline
 * by the configured margin, and the version's own held-out AUC reaches the minimum.
 */
export const productionAboveFloor: Invariant = {
  name: 'production never holds a model below the quality floor',
  async check({ production, settings }) {
    const current = await production();
    if (!current) return [];
    const { version, heldOutAuc, decision } = current;
    const { minAuc, baselineMargin } = settings;
    const out: string[] = [];
    if (!(heldOutAuc >= minAuc)) out.push(`production version ${version} has held-out AUC ${heldOutAuc}, below the floor ${minAuc}`);
    if (!decision?.promoted) out.push(`production version ${version} has no recorded decision promoting it`);
    else if (decision.baselineAuc === undefined) out.push(`the decision promoting ${version} records no baseline AUC`);
    else if (!(decision.challengerAuc >= minAuc && decision.challengerAuc >= decision.baselineAuc + baselineMargin)) {
      out.push(`${version} was promoted with AUC ${decision.challengerAuc}, below the floor (${minAuc}, baseline ${decision.baselineAuc} + ${baselineMargin})`);
    }
    return out;
  },
};

const YEAR_MS = 365 * DAY_MS;

/** On-demand segment jobs (flexible audience evaluation) never exceed the budget: in any 24 hours, in any 365 days. */
export const onDemandWithinBudget: Invariant = {
  name: 'on-demand segment jobs never exceed the budget',
  check({ segmentJobs, settings }) {
    const times = segmentJobs()
      .filter((job) => job.source === 'api')
      .map((job) => job.creationTime)
      .sort((a, b) => a - b);
    const out: string[] = [];
    for (const [window, limit, what] of [[DAY_MS, settings.onDemandPerDay, '24 hours'], [YEAR_MS, settings.onDemandPerYear, '365 days']] as const) {
      let first = 0;
      for (let last = 0; last < times.length; last++) {
        while (times[last]! - times[first]! >= window) first++;
        if (last - first + 1 > limit) {
          out.push(`${last - first + 1} on-demand segment jobs in the ${what} to ${new Date(times[last]!).toISOString()}, the budget allows ${limit}`);
          break;
        }
      }
    }
    return out;
  },
};

/** Every invariant of a simulated run, each a fresh instance (some keep what they have read). */
export function defaultInvariants(): Invariant[] {
  return [lifecycleWindowHeld, trainInputsPresent, readsBounded, scoresIngestedOnce(), scoresFresh, productionAboveFloor, onDemandWithinBudget];
}
