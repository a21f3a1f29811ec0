import { stringify } from 'csv-stringify/sync';
import { once } from 'events';
import { PassThrough } from 'stream';
import { USER_ID_COLUMN } from '../features/spec';
import type { RunLedger, RunRecord } from '../ledger/run-ledger';
import { GbtBatchScorer } from '../model/gbt-scorer';
import { ModelRegistry } from '../model/registry';
import { parquetColumnBatches, type ParquetValue } from '../parquet/rows';
import type { Clock } from '../ports/clock';
import type { Log } from '../ports/logger';
import type { ObjectStore } from '../ports/object-store';
import type { ExportOutputs } from './export';

/** Rows per CSV part file unless the options say otherwise: about 24 MB of CSV. */
export const DEFAULT_PART_ROWS = 500_000;
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
  /** The model registry's prefix, e.g. `models/`. */
  modelsPrefix: string;
  modelName: string;
  /** The profile dataset the scores are ingested into; it names the folder the dataflow watches. */
  scoresDatasetId: string;
  /** Rows per CSV part file; DEFAULT_PART_ROWS when absent. */
  partRows?: number;
}

export interface ScoreDeps {
  store: ObjectStore;
  ledger: RunLedger;
  clock: Clock;
  log: Log;
}

/** What a score run records in the ledger. */
export interface ScoreOutputs extends Record<string, unknown> {
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

/**
 * Where a run writes its part files before they are published: a sibling of the ingress prefix
 * (`ingress/` -> `ingress_staging/`), outside everything the ingestion dataflow watches.
 */
export function scoresStagingPrefix(ingressPrefix: string, scoresDatasetId: string, runId: string): string {
  return `${ingressPrefix.replace(/\/$/, '')}_staging/${scoresDatasetId}/${runId}/`;
}

function partName(index: number): string {
  return `part-${String(index).padStart(5, '0')}.csv`;
}

const SCALE = 10 ** PREDICTION_DECIMALS;

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

/** One CSV object, uploaded while it is written: a multipart upload fed through a stream that holds little. */
class CsvPart {
  rows = 0;
  private readonly body = new PassThrough();
  private readonly uploaded: Promise<void>;

  constructor(
    store: ObjectStore,
    readonly key: string,
  ) {
    this.uploaded = store.put(key, this.body, 'text/csv');
    this.uploaded.catch(() => undefined);
  }

  async write(text: string): Promise<void> {
    // Wait while the upload has enough in hand; fail at once if it fails (it would never drain).
    if (!this.body.write(text)) await Promise.race([once(this.body, 'drain'), this.uploaded.then(() => Promise.reject(new Error(`The upload of ${this.key} ended early`)))]);
  }

  async finish(): Promise<void> {
    this.body.end();
    await this.uploaded;
  }

  /** Ends the upload with an error, so no object is completed from what was written. */
  async abort(): Promise<void> {
    this.body.destroy(new Error(`Scoring stopped; ${this.key} is abandoned`));
    await this.uploaded.catch(() => undefined);
  }
}

/** A feature column as the model reads it: numbers, NaN for null (minutes-since with no event), booleans as 0/1. */
function featureColumn(key: string, column: string, values: ParquetValue[], rows: number, out: Float64Array): void {
  for (let r = 0; r < rows; r++) {
    const value = values[r];
    if (typeof value === 'number') out[r] = value;
    else if (value === null) out[r] = NaN;
    else if (typeof value === 'boolean') out[r] = value ? 1 : 0;
    else throw new ScoreInputError(`Export file ${key}: feature column ${column} holds ${JSON.stringify(value)}, not a number`);
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
 * - Streaming: the export's parquet is read a row group at a time (the model's columns only); each group
 *   is scored in one batch and written as CSV into a part file that is uploaded while it is written.
 *   Memory follows a row group and the upload's buffers, never the number of profiles.
 * - Publishing: AEP ingests any new CSV under `<ingress><scoresDatasetId>/`, so parts are written under a
 *   staging prefix outside it, then copied server-side into
 *   `<ingress><scoresDatasetId>/exportTime=<UTC YYYYMMDDHHMMSS>/part-NNNNN.csv`; `_manifest.json` is
 *   written last and the staging objects deleted. A run that fails leaves no manifest, deletes what it
 *   wrote, and is recorded failed; the next run scores the export again.
 */
export async function scoreProfiles(deps: ScoreDeps, options: ScoreOptions): Promise<RunRecord> {
  const partRows = options.partRows ?? DEFAULT_PART_ROWS;
  if (!Number.isSafeInteger(partRows) || partRows < 1) throw new Error(`partRows must be a positive integer, got ${partRows}`);
  if (!DATASET_ID.test(options.scoresDatasetId)) throw new Error(`The scores dataset id ${JSON.stringify(options.scoresDatasetId)} is not a dataset id`);

  return deps.ledger.run('score', async ({ runId }) => {
    const newestExport = await deps.ledger.newest('export', (r) => r.status === 'succeeded');
    if (!newestExport) return { status: 'skipped', reason: 'No export to score yet' };
    const lastScored = await deps.ledger.newest('score', (r) => r.status === 'succeeded');
    const lastScoredExport = (lastScored?.outputs as ScoreOutputs | undefined)?.exportRunId;
    if (lastScoredExport && newestExport.runId <= lastScoredExport) {
      return { status: 'skipped', reason: `Export ${lastScoredExport} is already scored (score run ${lastScored?.runId}); nothing newer`, inputs: { exportRunId: newestExport.runId } };
    }
    const scoring = (newestExport.outputs as ExportOutputs).scoring;
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
    const staging = scoresStagingPrefix(options.ingressPrefix, options.scoresDatasetId, runId);
    const staged: Array<{ key: string; rows: number }> = [];
    const published: string[] = [];
    let part: CsvPart | undefined;
    try {
      const columns = features.map(() => new Float64Array(0));
      let predictions = new Float64Array(0);
      const records: Array<[string, string]> = [];
      let rows = 0;
      let fileRow = 0;
      let file = '';
      for await (const batch of parquetColumnBatches(deps.store, scoring.files, { columns: [USER_ID_COLUMN, ...features] })) {
        if (batch.key !== file) [file, fileRow] = [batch.key, 0];
        if (predictions.length < batch.rows) {
          predictions = new Float64Array(batch.rows);
          columns.forEach((_, f) => (columns[f] = new Float64Array(batch.rows)));
        }
        features.forEach((name, f) => featureColumn(batch.key, name, batch.values[f + 1], batch.rows, columns[f]));
        scorer.predict(columns, batch.rows, predictions);

        const userIds = batch.values[0];
        for (let start = 0; start < batch.rows; ) {
          part ??= new CsvPart(deps.store, `${staging}${partName(staged.length)}`);
          const end = Math.min(batch.rows, start + partRows - part.rows);
          // The records are reused from group to group: a fresh pair per profile is garbage for nothing.
          while (records.length < end - start) records.push(['', '']);
          for (let r = start; r < end; r++) {
            const userId = userIds[r];
            if (typeof userId !== 'string' || userId === '') {
              throw new ScoreInputError(`Export file ${batch.key}: row ${fileRow + r} has no ${USER_ID_COLUMN}`);
            }
            const record = records[r - start];
            record[0] = userId;
            record[1] = formatPrediction(predictions[r]);
          }
          const slice = end - start === records.length ? records : records.slice(0, end - start);
          await part.write(stringify(slice, { header: part.rows === 0, columns: [...SCORES_HEADER] }));
          part.rows += end - start;
          start = end;
          if (part.rows === partRows) {
            await part.finish();
            staged.push({ key: part.key, rows: part.rows });
            part = undefined;
          }
        }
        rows += batch.rows;
        fileRow += batch.rows;
      }
      if (part) {
        await part.finish();
        staged.push({ key: part.key, rows: part.rows });
        part = undefined;
      }
      if (rows !== scoring.rows) {
        throw new ScoreInputError(`Export ${newestExport.runId} recorded ${scoring.rows} scoring rows, but its files hold ${rows}`);
      }

      const folder = scoresFolder(options.ingressPrefix, options.scoresDatasetId, deps.clock.now());
      for await (const existing of deps.store.list(folder)) {
        throw new Error(`${folder} already holds ${existing.key}; a scores folder is written by one run only`);
      }
      const files: ScoreManifest['files'] = [];
      for (const [index, from] of staged.entries()) {
        const key = `${folder}${partName(index)}`;
        published.push(key);
        await deps.store.copy(from.key, key);
        files.push({ key, rows: from.rows });
      }
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
      const abandoned = part ? [part.key] : [];
      await part?.abort();
      await deleteAll(deps.store, [...published, ...staged.map((s) => s.key), ...abandoned]);
      throw error;
    }
  });
}
