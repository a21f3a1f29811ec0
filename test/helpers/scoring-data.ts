/**
 * Scoring sets and production models for the score stage's tests and benchmark, without running
 * featurize, export or train: profiles shaped like the week-2 scoring export (the same columns, parquet
 * types and codec the embedded dataset export writes), and a GBT trained on labelled rows drawn the same
 * way, registered and promoted in the bucket's model registry.
 */
import { inputFeatures, scoringColumns, USER_ID_COLUMN, TIMESTAMP_COLUMN, WEEK2_FEATURES } from '../../lib/features/spec';
import { datasetFromRows } from '../../lib/model/dataset';
import { train, type GbtModel, type GbtParams } from '../../lib/model/gbt';
import { seededRng, type Rng } from '../../lib/model/random';
import { ModelRegistry } from '../../lib/model/registry';
import { parquetFile, type ParquetColumnType } from '../../lib/parquet/write';
import type { ObjectStore } from '../../lib/ports/object-store';
import { ecidForEmail, syntheticEmail } from '../../lib/synthetic/ecid';

/** The week-2 model's input columns, in spec order. */
export const WEEK2_MODEL_FEATURES: readonly string[] = inputFeatures(WEEK2_FEATURES).map((f) => f.name);
export const WEEK2_SCORING_COLUMNS: readonly string[] = scoringColumns(WEEK2_FEATURES);

/** One scoring row as the export writes it: counts are INT64 (BigInt), minutes DOUBLE or null. */
export type ScoringProfile = Record<string, string | Date | bigint | number | null>;

const WINDOW_MINUTES = 10 * 7 * 24 * 60;
const WINDOW_END = Date.UTC(2026, 1, 15);

function poisson(rng: Rng, mean: number): number {
  const limit = Math.exp(-mean);
  let k = 0;
  for (let p = rng(); p > limit; p *= rng()) k++;
  return k;
}

/** Minutes since the last event of a kind: null without one, often 0 when the user's last event is of that kind. */
function minutesSince(rng: Rng, count: number, zeroShare: number): number | null {
  if (count === 0) return null;
  if (rng() < zeroShare) return 0;
  return Math.round(rng() * WINDOW_MINUTES * 1e4) / 1e4;
}

/**
 * Profile `index` of a scoring set (deterministic in `seed` and `index`): event counts with the weekly
 * rates of the synthetic data over ten weeks, minutes-since columns null when the event never happened.
 */
export function scoringProfile(index: number, seed = 1): ScoringProfile {
  const rng = seededRng(seed * 1_000_003 + index);
  const emailsReceived = poisson(rng, 5);
  const emailsOpened = emailsReceived === 0 ? 0 : poisson(rng, 2);
  const emailsClicked = emailsOpened === 0 ? 0 : poisson(rng, 0.5);
  const productsViewed = poisson(rng, 0.5);
  const propositionInteracts = poisson(rng, 0.1);
  const propositionDismissed = poisson(rng, 0.1);
  const webLinkClicks = poisson(rng, 0.5);
  return {
    [USER_ID_COLUMN]: ecidForEmail(syntheticEmail(index)),
    [TIMESTAMP_COLUMN]: new Date(WINDOW_END - Math.floor(rng() * WINDOW_MINUTES * 60_000)),
    emailsReceived: BigInt(emailsReceived),
    emailsOpened: BigInt(emailsOpened),
    emailsClicked: BigInt(emailsClicked),
    productsViewed: BigInt(productsViewed),
    propositionInteracts: BigInt(propositionInteracts),
    propositionDismissed: BigInt(propositionDismissed),
    webLinkClicks: BigInt(webLinkClicks),
    minutes_since_emailSent: minutesSince(rng, emailsReceived, 0.4),
    minutes_since_emailOpened: minutesSince(rng, emailsOpened, 0.1),
    minutes_since_emailClick: minutesSince(rng, emailsClicked, 0.05),
    minutes_since_productView: minutesSince(rng, productsViewed, 0.05),
    minutes_since_propositionInteract: minutesSince(rng, propositionInteracts, 0.02),
    minutes_since_propositionDismiss: minutesSince(rng, propositionDismissed, 0.02),
    minutes_since_linkClick: minutesSince(rng, webLinkClicks, 0.05),
  };
}

/** A profile's model inputs in `features` order, null where the export has null. */
export function profileFeatures(profile: ScoringProfile, features: readonly string[]): Array<number | null> {
  return features.map((name) => {
    const value = profile[name];
    return value === null || value === undefined ? null : Number(value);
  });
}

/** The parquet type the week-2 export gives a column: the user id text, the timestamp a timestamp, minutes-since doubles, counts INT64. */
export function exportColumnType(name: string): ParquetColumnType {
  return name === USER_ID_COLUMN ? 'UTF8' : name === TIMESTAMP_COLUMN ? 'TIMESTAMP_MILLIS' : name.startsWith('minutes_since_') ? 'DOUBLE' : 'INT64';
}

/** Parquet as the embedded dataset export writes it: every column optional, GZIP, row groups of 10,000 rows. */
export function scoringParquet(
  profiles: Iterable<ScoringProfile>,
  options: { columns?: readonly string[]; rowGroupRows?: number; types?: Record<string, ParquetColumnType> } = {},
): Promise<Buffer> {
  const columns = (options.columns ?? WEEK2_SCORING_COLUMNS).map((name) => ({ name, type: options.types?.[name] ?? exportColumnType(name) }));
  return parquetFile(columns, profiles, { codec: 'GZIP', rowGroupRows: options.rowGroupRows ?? 10_000 });
}

/** Profiles `from` to `from + count - 1`. */
export function* scoringProfiles(from: number, count: number, seed = 1): Generator<ScoringProfile> {
  for (let i = from; i < from + count; i++) yield scoringProfile(i, seed);
}

/** Labelled rows like the scoring profiles, the label drawn from a propensity the features drive. */
export function trainingModel(rows: number, params: Partial<GbtParams> = {}, seed = 7): GbtModel {
  const rng = seededRng(seed);
  const labelled = Array.from({ length: rows }, (_, i) => {
    const values = profileFeatures(scoringProfile(i, seed + 1), WEEK2_MODEL_FEATURES);
    const x = Object.fromEntries(WEEK2_MODEL_FEATURES.map((name, f) => [name, values[f]]));
    const opened = x.minutes_since_emailOpened;
    const recentOpen = opened !== null && opened !== undefined && opened < 20_000 ? 0.8 : 0;
    const logit =
      -2.4 + 0.6 * (x.emailsClicked as number) + 0.9 * (x.propositionInteracts as number) - 1.2 * (x.propositionDismissed as number) + 0.3 * (x.productsViewed as number) + recentOpen;
    return { ...x, label: rng() < 1 / (1 + Math.exp(-logit)) ? 1 : 0 };
  });
  return train(datasetFromRows(labelled, { featureNames: [...WEEK2_MODEL_FEATURES] }), params);
}

/** Registers `model` as version `version` of `name` and promotes it to production. */
export async function promoteModel(store: ObjectStore, name: string, version: string, model: GbtModel, decidedAt = '2026-03-01T00:00:00.000Z'): Promise<void> {
  const registry = new ModelRegistry(store, 'models/', name);
  await registry.register({
    version,
    createdAt: decidedAt,
    model,
    metrics: {},
    trainedOn: { exportRunIds: [], folders: [], rows: model.trainingRows },
    codeVersion: 'test',
    heldOut: { auc: 0.8, logLoss: 0.4, threshold: 0.5, precision: 0.5, recall: 0.5, rows: 0, positives: 0 },
  });
  await registry.decide({ decidedAt, challenger: version, challengerAuc: 0.8, tolerance: 0, promoted: true, reason: 'test' });
}
