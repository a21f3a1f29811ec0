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
  /** The logistic baseline's AUC on the challenger's held-out rows. */
  baselineAuc?: number;
  champion?: string;
  /** The champion's AUC on the challenger's held-out rows, or its recorded AUC when it could not be re-scored. */
  championAuc?: number;
  tolerance: number;
  /** The floor: the least held-out AUC, and how far above the baseline's it must be. */
  minAuc?: number;
  baselineMargin?: number;
  promoted: boolean;
  reason: string;
}

/** What a model must show on its held-out rows to become production. */
export interface PromotionPolicy {
  /** The least held-out AUC, the first model's included. */
  minAuc: number;
  /** How far above the logistic baseline's AUC on the same rows the challenger's must be. */
  baselineMargin: number;
  /** How far below the champion's AUC on the same rows the challenger's may be. */
  tolerance: number;
}

/** Held-out AUCs of the challenger and, on the same rows, the baseline and the champion (absent when there is none). */
export interface PromotionAucs {
  challenger: number;
  baseline: number;
  champion?: number | undefined;
}

const VERSION = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

const auc = (value: number) => value.toFixed(4);

/**
 * The promotion floor, then champion and challenger. Every model, the first included, must reach
 * `minAuc` and beat the logistic baseline by `baselineMargin`; then, when there is a champion, its AUC
 * must be at least the champion's less the tolerance. The champion is judged on the challenger's rows,
 * so a new export whose labels carry no signal drags both to chance: only the floor keeps a no-skill
 * challenger out. The reason names every check that failed, or every check passed.
 */
export function decidePromotion(aucs: PromotionAucs, policy: PromotionPolicy): { promoted: boolean; reason: string } {
  const { minAuc, baselineMargin, tolerance } = policy;
  if (!(tolerance >= 0)) throw new Error(`The promotion tolerance must be 0 or more, got ${tolerance}`);
  if (!(baselineMargin >= 0)) throw new Error(`The baseline margin must be 0 or more, got ${baselineMargin}`);
  if (!(minAuc >= 0.5 && minAuc < 1)) throw new Error(`The minimum AUC must be from 0.5 to below 1, got ${minAuc}`);
  const challenger = `Challenger AUC ${auc(aucs.challenger)}`;
  const checks = [
    { passed: aucs.challenger >= minAuc, pass: `>= floor ${minAuc}`, fail: `${challenger} < floor ${minAuc}` },
    {
      passed: aucs.challenger >= aucs.baseline + baselineMargin,
      pass: `>= baseline ${auc(aucs.baseline)} + margin ${baselineMargin}`,
      fail: `${challenger} < baseline ${auc(aucs.baseline)} + margin ${baselineMargin}`,
    },
  ];
  if (aucs.champion !== undefined) {
    checks.push({
      passed: aucs.challenger >= aucs.champion - tolerance,
      pass: `>= champion ${auc(aucs.champion)} - tolerance ${tolerance}`,
      fail: `${challenger} < champion ${auc(aucs.champion)} - tolerance ${tolerance}`,
    });
  }
  const failed = checks.filter((c) => !c.passed);
  if (failed.length > 0) return { promoted: false, reason: `${failed.map((c) => c.fail).join('; ')}; production is unchanged` };
  const passed = `${challenger} ${checks.map((c) => c.pass).join(', ')}`;
  return { promoted: true, reason: aucs.champion === undefined ? `No production model yet; ${passed}` : passed };
}

/** A registry object that cannot be used: missing, unreadable or not a valid model. The message names the key. */
export class ModelRegistryError extends Error {
  constructor(
    message: string,
    readonly key: string,
  ) {
    super(message);
    this.name = 'ModelRegistryError';
  }
}

/**
 * Checks a model can score profiles: it has trees and at least one split (without, it gives every
 * profile the same score), its leaves and base score are finite (so every prediction is), and it reads
 * distinct features: exactly `features`, in that order, when given. Throws a message naming `key`.
 */
export function validateModel(model: GbtModel, key: string, features?: readonly string[]): GbtModel {
  const invalid = (what: string) => new ModelRegistryError(`Model file ${key} ${what}`, key);
  if (model.trees.length === 0) throw invalid('has no trees: it would give every profile the same score');
  if (!model.trees.some((tree) => tree.nodes.some((node) => node.feature >= 0))) {
    throw invalid(`has ${model.trees.length} trees but no split: it would give every profile the same score`);
  }
  if (!Number.isFinite(model.baseScore)) throw invalid(`has the base score ${model.baseScore}: its predictions would not be finite`);
  model.trees.forEach((tree, t) =>
    tree.nodes.forEach((node, k) => {
      if (node.feature < 0 && !Number.isFinite(node.value)) throw invalid(`has leaf ${k} of tree ${t} valued ${node.value}: its predictions would not be finite`);
    }),
  );
  if (model.featureNames.length === 0 || new Set(model.featureNames).size !== model.featureNames.length) {
    throw invalid(`must read distinct features, reads [${model.featureNames.join(', ')}]`);
  }
  if (features && (features.length !== model.featureNames.length || features.some((name, f) => model.featureNames[f] !== name))) {
    throw invalid(`reads the features [${model.featureNames.join(', ')}], not the [${features.join(', ')}] expected`);
  }
  return model;
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

  /** An object's bytes; a missing or unreadable one fails naming its key. */
  private async read(key: string, what: string): Promise<Buffer> {
    try {
      return await this.store.get(key);
    } catch (error) {
      throw new ModelRegistryError(`Model ${this.name}: ${what} ${key} cannot be read: ${(error as Error).message}`, key);
    }
  }

  private async readJson(key: string, what: string): Promise<unknown> {
    const bytes = await this.read(key, what);
    try {
      return JSON.parse(bytes.toString('utf8')) as unknown;
    } catch (error) {
      throw new ModelRegistryError(`Model ${this.name}: ${what} ${key} is not valid JSON (${bytes.length} bytes, truncated or corrupt): ${(error as Error).message}`, key);
    }
  }

  /**
   * Writes a version's files, the manifest last. Registering does not promote. A model that cannot
   * score (no trees, no split, values that are not finite) is refused before anything is written.
   */
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
    const files = { model: `${prefix}model.json`, metrics: `${prefix}metrics.json` };
    validateModel(entry.model, files.model);
    if (await this.store.head(`${prefix}manifest.json`)) {
      throw new Error(`Model ${this.name} version ${entry.version} is already registered`);
    }
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
    const manifest = (await this.readJson(key, 'manifest')) as Partial<ModelManifest> | null;
    if (!manifest || typeof manifest.files?.model !== 'string' || !Array.isArray(manifest.features)) {
      throw new ModelRegistryError(`Model ${this.name}: manifest ${key} names no model file or features`, key);
    }
    return manifest as ModelManifest;
  }

  /**
   * A complete version's model, validated: it parses, can score, and reads the features its manifest
   * lists (and `features`, when given: those the feature specification exports). Errors name the key.
   */
  async model(version: string, features?: readonly string[]): Promise<GbtModel> {
    const manifest = await this.manifest(version);
    if (!manifest) throw new ModelRegistryError(`Model ${this.name} has no complete version ${version}`, `${this.versionPrefix(version)}manifest.json`);
    const key = manifest.files.model;
    const json = await this.readJson(key, 'model file');
    let model: GbtModel;
    try {
      model = parseGbtModel(json);
    } catch (error) {
      throw new ModelRegistryError(`Model file ${key} is not a model: ${(error as Error).message}`, key);
    }
    validateModel(model, key, manifest.features);
    return features ? validateModel(model, key, features) : model;
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
    const pointer = (await this.readJson(key, 'production pointer')) as Partial<ProductionPointer> | null;
    if (!pointer || typeof pointer.version !== 'string' || !VERSION.test(pointer.version) || typeof pointer.auc !== 'number') {
      throw new ModelRegistryError(`Model ${this.name}: production pointer ${key} names no version and AUC`, key);
    }
    return pointer as ProductionPointer;
  }

  /**
   * The production version with its validated model, or undefined before the first promotion. A
   * production version that cannot be used fails with a ModelRegistryError naming the object.
   */
  async production(features?: readonly string[]): Promise<{ pointer: ProductionPointer; manifest: ModelManifest; model: GbtModel } | undefined> {
    const pointer = await this.productionPointer();
    if (!pointer) return undefined;
    const manifest = await this.manifest(pointer.version);
    if (!manifest) {
      const key = `${this.versionPrefix(pointer.version)}manifest.json`;
      throw new ModelRegistryError(`Model ${this.name}: production points at ${pointer.version}, whose manifest ${key} is missing`, key);
    }
    return { pointer, manifest, model: await this.model(pointer.version, features) };
  }

  /**
   * Records a decision in the history and, when it promotes, moves the production pointer: only to a
   * complete version whose stored model passes validation (and reads `features`, when given).
   */
  async decide(decision: PromotionDecision, features?: readonly string[]): Promise<void> {
    if (decision.promoted) {
      if (!(await this.manifest(decision.challenger))) {
        throw new Error(`Model ${this.name}: cannot promote ${decision.challenger}, which is not a complete version`);
      }
      await this.model(decision.challenger, features);
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
    return Promise.all(keys.map(async (key) => (await this.readJson(key, 'decision')) as PromotionDecision));
  }
}
