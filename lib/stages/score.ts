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
 *   written last and the staging objects deleted. A run that fails leaves no manifest, deletes what it
 *   wrote, and is recorded failed; the next run scores the export again.
 */
export async function scoreProfiles(deps: ScoreDeps, options: ScoreOptions): Promise<RunRecord<'score'>> {
  const partRows = options.partRows ?? DEFAULT_PART_ROWS;
  if (!Number.isSafeInteger(partRows) || partRows < 1 || partRows > MAX_PART_ROWS) {
    throw new Error(`partRows must be an integer from 1 to ${MAX_PART_ROWS}, got ${partRows}`);
  }
  if (!DATASET_ID.test(options.scoresDatasetId)) throw new Error(`The scores dataset id ${JSON.stringify(options.scoresDatasetId)} is not a dataset id`);

  return deps.ledger.run('score', async ({ runId }) => {
    const newestExport = await deps.ledger.newest('export', (r) => r.status === 'succeeded');
    if (!newestExport) return { status: 'skipped', reason: 'No export to score yet' };
    const lastScored = await deps.ledger.newest('score', (r) => r.status === 'succeeded');
    const lastScoredExport = lastScored?.outputs?.exportRunId;
    if (lastScoredExport && newestExport.runId <= lastScoredExport) {
      return { status: 'skipped', reason: `Export ${lastScoredExport} is already scored (score run ${lastScored?.runId}); nothing newer`, inputs: { exportRunId: newestExport.runId } };
    }
    const { scoring } = newestExport.outputs;
    const inputs: Record<string, unknown> = { exportRunId: newestExport.runId, scoringFolder: scoring.folder };
    // Exports between the last scored one and the newest are passed over: scoring them after the newest
    // would overwrite newer scores with older features. Said, so an operator can score them by hand.
    const passedOver = (await deps.ledger.recent('export', 20))
      .filter((r) => r.status === 'succeeded' && r.runId < newestExport.runId && (!lastScoredExport || r.runId > lastScoredExport))
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
    const staging = scoresStagingFolder(options.stagingPrefix ?? stagingPrefixFor(options.ingressPrefix), options.scoresDatasetId, runId);
    const parts = new CsvPartFiles(deps.store, staging);
    const published: string[] = [];
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
      const files: ScoreManifest['files'] = staged.map((from, index) => ({ key: `${folder}${partName(index)}`, rows: from.rows }));
      published.push(...files.map((f) => f.key));
      // Every copy settles before a failure is handled, so none lands after the clean-up.
      // files maps staged one to one.
      const copies = await Promise.allSettled(staged.map((from, index) => deps.store.copy(from.key, files[index]!.key)));
      const failed = copies.find((c): c is PromiseRejectedResult => c.status === 'rejected');
      if (failed) throw failed.reason;
      const manifestKey = `${folder}${MANIFEST_NAME}`;
      const manifest: ScoreManifest = { runId, modelName: options.modelName, modelVersion, exportRunId: newestExport.runId, rows, files };
      await deps.store.put(manifestKey, `${JSON.stringify(manifest, null, 2)}\n`, 'application/json');
      await deleteAll(deps.store, staged.map((s) => s.key));

      const outputs: ScoreOutputs = {
        exportRunId: newestExport.runId,
        modelName: options.modelName,
        modelVersion,
        scoresDatasetId: options.scoresDatasetId,
        folder,
        files: files.map((f) => f.key),
        rows,
        manifest: manifestKey,
      };
      deps.log.info('Profiles scored', { rows, files: files.length, folder, modelVersion });
      return { inputs, outputs };
    } catch (error) {
      await parts.settle();
      await deleteAll(deps.store, [...published, ...parts.parts.map((p) => p.key)]);
      throw error;
    }
  });
}
