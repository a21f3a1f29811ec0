import type { ObjectStore } from '../ports/object-store';
import { parseGbtModel, type GbtModel } from './gbt';

/** Held-out quality of one model, as the registry keeps it. */
export interface HeldOutMetrics {
  auc: number;
  logLoss: number;
  threshold: number;
  precision: number;
  recall: number;
  rows: number;
  positives: number;
}

/** What a registered version says about itself; written last, so a version without it is incomplete. */
export interface ModelManifest {
  name: string;
  version: string;
  createdAt: string;
  /** The model's feature columns, in the order it reads them. */
  features: string[];
  /** The export it learned from: the ledger's export run and the folders read. */
  trainedOn: { exportRunIds: string[]; folders: string[]; rows: number };
  /** The library version that trained it. */
  codeVersion: string;
  heldOut: HeldOutMetrics;
  /** The object keys of the version's files, relative to the bucket. */
  files: { model: string; metrics: string };
}

/** Which version scores the profiles. Moved by a single PUT, so readers see the old or the new one. */
export interface ProductionPointer {
  version: string;
  auc: number;
  promotedAt: string;
  previousVersion?: string | undefined;
}

/** One champion/challenger decision, kept for ever under `history/`. */
export interface PromotionDecision {
  decidedAt: string;
  challenger: string;
  challengerAuc: number;
  champion?: string;
  /** The champion's AUC on the challenger's held-out rows, or its recorded AUC when it could not be re-scored. */
  championAuc?: number;
  tolerance: number;
  promoted: boolean;
  reason: string;
}

const VERSION = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * Champion and challenger: the challenger replaces production only when its held-out AUC is at least
 * the champion's, less the tolerance. With no champion, the first trained model is promoted.
 */
export function decidePromotion(challengerAuc: number, championAuc: number | undefined, tolerance: number): { promoted: boolean; reason: string } {
  if (!(tolerance >= 0)) throw new Error(`The promotion tolerance must be 0 or more, got ${tolerance}`);
  if (championAuc === undefined) return { promoted: true, reason: 'No production model yet' };
  const bar = championAuc - tolerance;
  return challengerAuc >= bar
    ? { promoted: true, reason: `Challenger AUC ${challengerAuc.toFixed(4)} >= champion ${championAuc.toFixed(4)} - tolerance ${tolerance}` }
    : { promoted: false, reason: `Challenger AUC ${challengerAuc.toFixed(4)} < champion ${championAuc.toFixed(4)} - tolerance ${tolerance}; production is unchanged` };
}

/**
 * The model registry in the bucket: `models/<name>/<version>/` holds `model.json`, `metrics.json` and,
 * written last, `manifest.json`; `models/<name>/production.json` points at the production version;
 * `models/<name>/history/` keeps every promotion decision.
 */
export class ModelRegistry {
  private readonly root: string;

  constructor(
    private readonly store: ObjectStore,
    modelsPrefix: string,
    readonly name: string,
  ) {
    if (!VERSION.test(name)) throw new Error(`Invalid model name ${JSON.stringify(name)}`);
    this.root = `${modelsPrefix}${name}/`;
  }

  private versionPrefix(version: string): string {
    if (!VERSION.test(version)) throw new Error(`Invalid model version ${JSON.stringify(version)}`);
    return `${this.root}${version}/`;
  }

  /** Writes a version's files, the manifest last. Registering does not promote. */
  async register(entry: {
    version: string;
    createdAt: string;
    model: GbtModel;
    metrics: Record<string, unknown>;
    trainedOn: ModelManifest['trainedOn'];
    codeVersion: string;
    heldOut: HeldOutMetrics;
  }): Promise<ModelManifest> {
    const prefix = this.versionPrefix(entry.version);
    if (await this.store.head(`${prefix}manifest.json`)) {
      throw new Error(`Model ${this.name} version ${entry.version} is already registered`);
    }
    const files = { model: `${prefix}model.json`, metrics: `${prefix}metrics.json` };
    await this.store.put(files.model, JSON.stringify(entry.model), 'application/json');
    await this.store.put(files.metrics, `${JSON.stringify(entry.metrics, null, 2)}\n`, 'application/json');
    const manifest: ModelManifest = {
      name: this.name,
      version: entry.version,
      createdAt: entry.createdAt,
      features: [...entry.model.featureNames],
      trainedOn: entry.trainedOn,
      codeVersion: entry.codeVersion,
      heldOut: entry.heldOut,
      files,
    };
    await this.store.put(`${prefix}manifest.json`, `${JSON.stringify(manifest, null, 2)}\n`, 'application/json');
    return manifest;
  }

  /** A complete version's manifest; undefined when absent or never finished. */
  async manifest(version: string): Promise<ModelManifest | undefined> {
    const key = `${this.versionPrefix(version)}manifest.json`;
    if (!(await this.store.head(key))) return undefined;
    return JSON.parse((await this.store.get(key)).toString('utf8')) as ModelManifest;
  }

  async model(version: string): Promise<GbtModel> {
    const manifest = await this.manifest(version);
    if (!manifest) throw new Error(`Model ${this.name} has no complete version ${version}`);
    return parseGbtModel(JSON.parse((await this.store.get(manifest.files.model)).toString('utf8')));
  }

  /** Complete versions, oldest first. */
  async versions(): Promise<string[]> {
    const versions: string[] = [];
    for await (const object of this.store.list(this.root)) {
      const version = /^([^/]+)\/manifest\.json$/.exec(object.key.slice(this.root.length))?.[1];
      if (version !== undefined && version !== 'history') versions.push(version);
    }
    return versions.sort();
  }

  async productionPointer(): Promise<ProductionPointer | undefined> {
    const key = `${this.root}production.json`;
    if (!(await this.store.head(key))) return undefined;
    return JSON.parse((await this.store.get(key)).toString('utf8')) as ProductionPointer;
  }

  /** The production version with its model, or undefined before the first promotion. */
  async production(): Promise<{ pointer: ProductionPointer; manifest: ModelManifest; model: GbtModel } | undefined> {
    const pointer = await this.productionPointer();
    if (!pointer) return undefined;
    const manifest = await this.manifest(pointer.version);
    if (!manifest) throw new Error(`Model ${this.name}: production points at ${pointer.version}, which has no manifest`);
    return { pointer, manifest, model: await this.model(pointer.version) };
  }

  /** Records a decision in the history and, when it promotes, moves the production pointer. */
  async decide(decision: PromotionDecision): Promise<void> {
    if (decision.promoted && !(await this.manifest(decision.challenger))) {
      throw new Error(`Model ${this.name}: cannot promote ${decision.challenger}, which is not a complete version`);
    }
    const stamp = decision.decidedAt.replace(/[-:.]/g, '');
    await this.store.put(`${this.root}history/${stamp}-${decision.challenger}.json`, `${JSON.stringify(decision, null, 2)}\n`, 'application/json');
    if (decision.promoted) {
      const pointer: ProductionPointer = {
        version: decision.challenger,
        auc: decision.challengerAuc,
        promotedAt: decision.decidedAt,
        previousVersion: decision.champion,
      };
      await this.store.put(`${this.root}production.json`, `${JSON.stringify(pointer, null, 2)}\n`, 'application/json');
    }
  }

  /** Every decision, oldest first. */
  async history(): Promise<PromotionDecision[]> {
    const keys: string[] = [];
    for await (const object of this.store.list(`${this.root}history/`)) keys.push(object.key);
    keys.sort();
    return Promise.all(keys.map(async (key) => JSON.parse((await this.store.get(key)).toString('utf8')) as PromotionDecision));
  }
}
