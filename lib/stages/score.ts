import { stringify } from 'csv-stringify/sync';
import { stagingPrefixFor } from '../config/schema';
import { USER_ID_COLUMN } from '../features/spec';
import type { RunLedger, RunRecord } from '../ledger/run-ledger';
import { GbtBatchScorer } from '../model/gbt-scorer';
import { ModelRegistry } from '../model/registry';
import { parquetColumnBatches } from '../parquet/rows';
import type { Clock } from '../ports/clock';
import type { Log } from '../ports/logger';
import type { ObjectStore } from '../ports/object-store';

/** Rows per CSV part file unless the options say otherwise: about 4.8 MB of CSV, stored with one PUT. */
export const DEFAULT_PART_ROWS = 100_000;
/** Two parts are held in memory, one stored while the next is written: about 96 MB at this size. */
export const MAX_PART_ROWS = 1_000_000;
/**
 * Predictions are written rounded to this many decimals: AEP's propensity field is a number, a millionth
 * is finer than any audience threshold, and the CSV is half the size of full doubles.
 */
export const PREDICTION_DECIMALS = 6;
export const SCORES_HEADER = [USER_ID_COLUMN, 'prediction'] as const;
export const MANIFEST_NAME = '_manifest.json';
/** How many of the newest exports after the last scored one are searched for the ones passed over. */
const PASSED_OVER_SEARCHED = 20;

export interface ScoreOptions {
  /** The bucket's ingress prefix, e.g. `ingress/`. AEP's ingestion dataflow watches `<ingress><scoresDatasetId>/`. */
  ingressPrefix: string;
  /**
   * Where a run stages its part files before publishing them, outside everything AEP watches.
   * @default stagingPrefixFor(ingressPrefix), `ingress_staging/` beside `ingress/`
   */
  stagingPrefix?: string;
  /** The model registry's prefix, e.g. `models/`. */
  modelsPrefix: string;
  modelName: string;
  /** The profile dataset the scores are ingested into; it names the folder the dataflow watches. */
  scoresDatasetId: string;
  /** Rows per CSV part file, at most MAX_PART_ROWS; DEFAULT_PART_ROWS when absent. */
  partRows?: number;
}

export interface ScoreDeps {
  store: ObjectStore;
  ledger: RunLedger;
  clock: Clock;
  log: Log;
}

/** What a score run records in the ledger. */
export interface ScoreOutputs {
  exportRunId: string;
  modelName: string;
  modelVersion: string;
  scoresDatasetId: string;
  /** `<ingress><scoresDatasetId>/exportTime=<UTC YYYYMMDDHHMMSS>/` */
  folder: string;
  /** The CSV part files in the folder, in order. */
  files: string[];
  rows: number;
  /** The manifest's key, written after every part file was in place. */
  manifest: string;
}

/** The `_manifest.json` written last into a scores folder. */
export interface ScoreManifest {
  runId: string;
  modelName: string;
  modelVersion: string;
  exportRunId: string;
  rows: number;
  files: Array<{ key: string; rows: number }>;
}

/**
 * What a score run records in the ledger (`RunLedger.intend`) before the first part goes where AEP
 * looks: everything the next run needs to finish the publishing should this one die.
 */
export interface PublishIntent {
  runId: string;
  startedAt: string;
  /** The outputs the run records once published. */
  outputs: ScoreOutputs;
  /** Each published part and the staged object it is copied from. */
  parts: Array<{ staged: string; key: string; rows: number }>;
  inputs: Record<string, unknown>;
}

/** A stored intent, checked: the message names the run when it is not one a score run writes. */
export function publishIntentOf(stored: { runId: string } & Record<string, unknown>): PublishIntent {
  const intent = stored as Partial<PublishIntent>;
  const outputs = intent.outputs;
  if (
    typeof intent.startedAt !== 'string' ||
    !Array.isArray(intent.parts) ||
    !intent.parts.every((p) => typeof p?.staged === 'string' && typeof p.key === 'string' && typeof p.rows === 'number') ||
    typeof outputs?.folder !== 'string' ||
    typeof outputs.manifest !== 'string' ||
    typeof outputs.rows !== 'number'
  ) {
    throw new ScoreInputError(`The publishing intent of score run ${stored.runId} is not one a score run writes; see the ledger's score/_intents/`);
  }
  return { ...(intent as PublishIntent), runId: stored.runId };
}

/** Input the stage cannot score: the message names the file and what is wrong. */
export class ScoreInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScoreInputError';
  }
}

const DATASET_ID = /^[A-Za-z0-9]+$/;

/** `<ingress><datasetId>/exportTime=<UTC YYYYMMDDHHMMSS>/`: where AEP's ingestion dataflow finds the scores. */
export function scoresFolder(ingressPrefix: string, scoresDatasetId: string, at: Date): string {
  return `${ingressPrefix}${scoresDatasetId}/exportTime=${at.toISOString().replace(/[-:T]/g, '').slice(0, 14)}/`;
}

/** Where one run writes its part files before they are published: its own folder under the staging prefix. */
export function scoresStagingFolder(stagingPrefix: string, scoresDatasetId: string, runId: string): string {
  return `${stagingPrefix}${scoresDatasetId}/${runId}/`;
}

function partName(index: number): string {
  return `part-${String(index).padStart(5, '0')}.csv`;
}

const SCALE = 10 ** PREDICTION_DECIMALS;
const CSV_HEADER = stringify([[...SCORES_HEADER]]);
/**
 * Lines made at a time before they go into the part: their text is garbage soon after it is made, so the
 * young-generation collector frees it instead of promoting it (see BENCHMARKS.md, scoring memory).
 */
const CSV_SLICE_ROWS = 1000;
/** A field RFC 4180 writes as it is: no delimiter, quote or line break (every ECID). */
const PLAIN_FIELD = /^[^",\r\n]*$/;

/**
 * One CSV line. csv-stringify writes any field that needs quoting; a plain user id (the prediction is
 * always plain) is joined directly: the writer's general path makes over a kilobyte of garbage a line,
 * which at a million profiles is most of the collector's work (BENCHMARKS.md, scoring).
 */
function csvLine(userId: string, prediction: string): string {
  return PLAIN_FIELD.test(userId) ? `${userId},${prediction}\n` : stringify([[userId, prediction]]);
}

/**
 * A probability as CSV text with PREDICTION_DECIMALS decimals (`0.042170`): made from the integer number
 * of millionths, which is much cheaper than formatting the double, and reads back as exactly
 * `Math.round(p * 1e6) / 1e6`.
 */
export function formatPrediction(probability: number): string {
  const units = Math.round(probability * SCALE);
  if (!(units >= 0 && units <= SCALE)) throw new Error(`A prediction must be a probability, got ${probability}`);
  return units === SCALE ? `1.${'0'.repeat(PREDICTION_DECIMALS)}` : `0.${String(units).padStart(PREDICTION_DECIMALS, '0')}`;
}

/**
 * The run's CSV part files. A part is written into a buffer and stored with one PUT once complete; that
 * PUT overlaps the writing of the next part, and the two buffers are reused from part to part. A part of
 * the default size fits one upload part, so streaming it through the upload would only gather the same
 * bytes in chunks and copy them again; held once, memory is two parts whatever the number of profiles.
 */
class CsvPartFiles {
  /** Every part opened, in order, with its rows. */
  readonly parts: Array<{ key: string; rows: number }> = [];
  private current?: { key: string; rows: number; bytes: Buffer; length: number } | undefined;
  private readonly spare: Buffer[] = [];
  private storing?: Promise<void>;

  constructor(
    private readonly store: ObjectStore,
    private readonly prefix: string,
  ) {}

  /** Rows in the part being written (0 when none is). */
  get rowsInPart(): number {
    return this.current?.rows ?? 0;
  }

  /** Appends CSV text holding `rows` rows to the part being written, opening one if needed. */
  write(text: string, rows: number): void {
    if (!this.current) {
      this.current = { key: `${this.prefix}${partName(this.parts.length)}`, rows: 0, bytes: this.spare.pop() ?? Buffer.alloc(0), length: 0 };
      this.parts.push({ key: this.current.key, rows: 0 });
    }
    const part = this.current;
    const needed = part.length + Buffer.byteLength(text);
    if (needed > part.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, 2 * part.bytes.length));
      part.bytes.copy(grown, 0, 0, part.length);
      part.bytes = grown;
    }
    part.length += part.bytes.write(text, part.length);
    part.rows += rows;
    this.parts[this.parts.length - 1]!.rows = part.rows; // the current part's entry, pushed when it was opened
  }

  /** Starts storing the part being written, once the previous part is stored. */
  async completePart(): Promise<void> {
    const part = this.current;
    if (!part) return;
    await this.storing;
    this.current = undefined;
    this.storing = this.store.put(part.key, part.bytes.subarray(0, part.length), 'text/csv').then(() => void this.spare.push(part.bytes));
    this.storing.catch(() => undefined);
  }

  /** Stores the last part and waits until every part is stored. */
  async finish(): Promise<Array<{ key: string; rows: number }>> {
    await this.completePart();
    await this.storing;
    return this.parts;
  }

  /** Waits for a PUT under way to settle, so that what it stored can be deleted. */
  async settle(): Promise<void> {
    await this.storing?.catch(() => undefined);
  }
}

async function deleteAll(store: ObjectStore, keys: readonly string[]): Promise<void> {
  await Promise.all(keys.map((key) => store.delete(key).catch(() => undefined)));
}

/**
 * Puts an intent's parts where AEP looks, then its manifest. Whatever is there already is kept as it is:
 * AEP's dataflow takes any new or changed CSV under the watched folder (ingestion-runs.ts in the
 * stand-in), so copying a part again would have it ingested twice.
 */
async function publish(store: ObjectStore, intent: PublishIntent): Promise<void> {
  const missing = (await Promise.all(intent.parts.map(async (part) => ((await store.head(part.key)) ? undefined : part)))).filter((p) => p !== undefined);
  // Every copy settles before a failure is handled, so none lands after it.
  const copies = await Promise.allSettled(
    missing.map(async (part) => {
      if (!(await store.head(part.staged))) {
        throw new ScoreInputError(
          `Score run ${intent.runId} cannot be finished: ${part.key} was never published and its staged copy ${part.staged} is gone (the staging lifecycle expired it?); ` +
            `the folder ${intent.outputs.folder} holds only part of the run's rows`,
        );
      }
      await store.copy(part.staged, part.key);
    }),
  );
  const failed = copies.find((c): c is PromiseRejectedResult => c.status === 'rejected');
  if (failed) throw failed.reason;
  const { outputs } = intent;
  const manifest: ScoreManifest = {
    runId: intent.runId,
    modelName: outputs.modelName,
    modelVersion: outputs.modelVersion,
    exportRunId: outputs.exportRunId,
    rows: outputs.rows,
    files: intent.parts.map((p) => ({ key: p.key, rows: p.rows })),
  };
  await store.putIfAbsent(outputs.manifest, `${JSON.stringify(manifest, null, 2)}\n`, 'application/json');
}

/**
 * Finishes what score runs that died while publishing left (their intents in the ledger), then deletes
 * the staged parts of runs that died before publishing. Runs holding the stage's lease, so those runs
 * are dead: their lease expired.
 *
 * Recovery rolls forward, never back: once the first part was copied into the watched folder, AEP may
 * have ingested it (its dataflow runs every 15 minutes and takes files as they appear, manifest or not),
 * and deleting it would not take those rows back out of the profile store; scoring the export again
 * would then ingest them twice. So the missing parts are copied from staging, the manifest written, and
 * the dead run recorded succeeded, as it would have been; the export counts as scored.
 */
async function finishInterruptedRuns(deps: ScoreDeps, options: ScoreOptions, stagingRoot: string, runId: string): Promise<string[]> {
  const finished: string[] = [];
  for (const stored of await deps.ledger.intents('score')) {
    if (stored.runId === runId) continue;
    const intent = publishIntentOf(stored);
    const [recorded] = await deps.ledger.runs('score', [intent.runId]);
    if (recorded?.status !== 'succeeded') {
      await publish(deps.store, intent);
      await deps.ledger.record({
        stage: 'score',
        runId: intent.runId,
        startedAt: intent.startedAt,
        finishedAt: deps.clock.now().toISOString(),
        status: 'succeeded',
        reason: `Stopped while publishing; run ${runId} finished publishing ${intent.outputs.folder}`,
        inputs: intent.inputs,
        outputs: intent.outputs,
      });
      deps.log.warn('Finished publishing the scores of a run that stopped mid-publish', { scoreRunId: intent.runId, folder: intent.outputs.folder });
      finished.push(intent.runId);
    }
    await deleteAll(deps.store, intent.parts.map((p) => p.staged));
    await deps.ledger.settle('score', intent.runId);
  }
  // Staged parts of runs that died before announcing a publish (the staging lifecycle is the backstop).
  const leftovers: string[] = [];
  const datasetStaging = `${stagingRoot}${options.scoresDatasetId}/`;
  for await (const object of deps.store.list(datasetStaging)) {
    if (!object.key.startsWith(`${datasetStaging}${runId}/`)) leftovers.push(object.key);
  }
  await deleteAll(deps.store, leftovers);
  return finished;
}

/**
 * Score (notebook week 4): every profile of the newest exported scoring set, scored with the production
 * model, written as CSV (`userId,prediction`) for AEP's ingestion dataflow.
 *
 * - Input: the newest succeeded export, unless a succeeded score run already scored it or a newer one
 *   (so an export is scored once, and older features never overwrite newer scores). Skipped, with the
 *   reason, when there is no such export, when it holds no profiles, or when no model is in production.
 * - Streaming: the export's parquet is read a row group at a time (the model's columns only, the next
 *   group's bytes fetched meanwhile); each group is scored in one batch and appended as CSV to the part
 *   file being written, which is stored when it holds `partRows` rows while the next one is written.
 *   Memory follows a row group and two part files, never the number of profiles.
 * - Publishing: AEP ingests any new CSV under `<ingress><scoresDatasetId>/`, so parts are written under a
 *   staging prefix outside it, then copied server-side into
 *   `<ingress><scoresDatasetId>/exportTime=<UTC YYYYMMDDHHMMSS>/part-NNNNN.csv`; `_manifest.json` is
 *   written last and the staging objects deleted. A run that fails before publishing deletes what it
 *   staged and is recorded failed; the next run scores the export again.
 * - Exactly once: the ledger's lease keeps a second runner out. Before the first copy the run records its
 *   intent (export, run id, staged parts, target folder) in the ledger; a run that dies after that is
 *   finished by the next one (finishInterruptedRuns), which copies only the parts missing.
 */
export async function scoreProfiles(deps: ScoreDeps, options: ScoreOptions): Promise<RunRecord<'score'>> {
  const partRows = options.partRows ?? DEFAULT_PART_ROWS;
  if (!Number.isSafeInteger(partRows) || partRows < 1 || partRows > MAX_PART_ROWS) {
    throw new Error(`partRows must be an integer from 1 to ${MAX_PART_ROWS}, got ${partRows}`);
  }
  if (!DATASET_ID.test(options.scoresDatasetId)) throw new Error(`The scores dataset id ${JSON.stringify(options.scoresDatasetId)} is not a dataset id`);

  const stagingRoot = options.stagingPrefix ?? stagingPrefixFor(options.ingressPrefix);
  return deps.ledger.run('score', async ({ runId, startedAt, lease }) => {
    const finished = await finishInterruptedRuns(deps, options, stagingRoot, runId);
    const newestExport = await deps.ledger.newest('export', (r) => r.status === 'succeeded');
    if (!newestExport) return { status: 'skipped', reason: 'No export to score yet' };
    const lastScored = await deps.ledger.newest('score', (r) => r.status === 'succeeded');
    const lastScoredExport = lastScored?.outputs?.exportRunId;
    if (lastScoredExport && newestExport.runId <= lastScoredExport) {
      const inputs = { exportRunId: newestExport.runId, ...(finished.length > 0 && { finishedScoreRunIds: finished }) };
      return { status: 'skipped', reason: `Export ${lastScoredExport} is already scored (score run ${lastScored?.runId}); nothing newer`, inputs };
    }
    const { scoring } = newestExport.outputs;
    const inputs: Record<string, unknown> = { exportRunId: newestExport.runId, scoringFolder: scoring.folder };
    // Exports between the last scored one and the newest are passed over: scoring them after the newest
    // would overwrite newer scores with older features. Said, so an operator can score them by hand.
    const passedOver = (await deps.ledger.after('export', lastScoredExport ?? '', PASSED_OVER_SEARCHED))
      .filter((r) => r.status === 'succeeded' && r.runId < newestExport.runId)
      .map((r) => r.runId);
    if (passedOver.length > 0) {
      inputs.passedOverExportRunIds = passedOver;
      deps.log.warn('Scoring the newest export only; older unscored exports are passed over', { exportRunId: newestExport.runId, passedOver });
    }
    if (scoring.rows === 0 || scoring.files.length === 0) {
      return { status: 'skipped', reason: `Export ${newestExport.runId} holds no profiles to score (${scoring.folder})`, inputs };
    }
    const production = await new ModelRegistry(deps.store, options.modelsPrefix, options.modelName).production();
    if (!production) return { status: 'skipped', reason: `No production version of model ${options.modelName} yet`, inputs };
    const modelVersion = production.manifest.version;
    inputs.modelVersion = modelVersion;

    const features = production.model.featureNames;
    const scorer = new GbtBatchScorer(production.model);
    const staging = scoresStagingFolder(stagingRoot, options.scoresDatasetId, runId);
    const parts = new CsvPartFiles(deps.store, staging);
    let announced = false;
    try {
      let predictions = new Float64Array(0);
      let rows = 0;
      let fileRow = 0;
      let file = '';
      // Features are read as numbers: null (minutes since an event that never happened) is NaN, a missing
      // value to the model; text in a feature column fails, naming the file and the column.
      for await (const batch of parquetColumnBatches(deps.store, scoring.files, { columns: [USER_ID_COLUMN], numbers: features })) {
        if (batch.key !== file) [file, fileRow] = [batch.key, 0];
        if (predictions.length < batch.rows) predictions = new Float64Array(batch.rows);
        scorer.predict(batch.numbers, batch.rows, predictions);

        const userIds = batch.values[0]!; // the one column asked for
        for (let start = 0; start < batch.rows; ) {
          const end = Math.min(batch.rows, start + partRows - parts.rowsInPart, start + CSV_SLICE_ROWS);
          let text = parts.rowsInPart === 0 ? CSV_HEADER : '';
          for (let r = start; r < end; r++) {
            const userId = userIds[r];
            if (typeof userId !== 'string' || userId === '') {
              throw new ScoreInputError(`Export file ${batch.key}: row ${fileRow + r} has no ${USER_ID_COLUMN}`);
            }
            text += csvLine(userId, formatPrediction(predictions[r]!)); // r < batch.rows <= predictions.length
          }
          parts.write(text, end - start);
          start = end;
          if (parts.rowsInPart === partRows) await parts.completePart();
        }
        rows += batch.rows;
        fileRow += batch.rows;
      }
      const staged = await parts.finish();
      if (rows !== scoring.rows) {
        throw new ScoreInputError(`Export ${newestExport.runId} recorded ${scoring.rows} scoring rows, but its files hold ${rows}`);
      }

      const folder = scoresFolder(options.ingressPrefix, options.scoresDatasetId, deps.clock.now());
      for await (const existing of deps.store.list(folder)) {
        throw new Error(`${folder} already holds ${existing.key}; a scores folder is written by one run only`);
      }
      const outputs: ScoreOutputs = {
        exportRunId: newestExport.runId,
        modelName: options.modelName,
        modelVersion,
        scoresDatasetId: options.scoresDatasetId,
        folder,
        files: staged.map((_, index) => `${folder}${partName(index)}`),
        rows,
        manifest: `${folder}${MANIFEST_NAME}`,
      };
      const intent: PublishIntent = { runId, startedAt, outputs, parts: staged.map((from, index) => ({ staged: from.key, key: outputs.files[index]!, rows: from.rows })), inputs };
      // A run that outlived its lease (it was taken over as dead) must publish nothing.
      if (lease && !(await lease.renew())) throw new Error(`Score run ${runId} no longer holds the score lease (another run took it over); it publishes nothing`);
      announced = true;
      await deps.ledger.intend('score', runId, intent);
      await publish(deps.store, intent);
      await deleteAll(deps.store, staged.map((s) => s.key));

      deps.log.info('Profiles scored', { rows, files: outputs.files.length, folder, modelVersion });
      return { inputs, outputs };
    } catch (error) {
      // Once announced, the publishing is finished by the next run, which needs the staged parts.
      if (!announced) {
        await parts.settle();
        await deleteAll(deps.store, parts.parts.map((p) => p.key));
      }
      throw error;
    }
  });
}
