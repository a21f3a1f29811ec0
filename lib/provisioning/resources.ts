import type { AepRestServices } from '../aep';
import type { Log } from '../ports/logger';
import { messageOf, ProvisionError } from './errors';

/**
 * The AEP resources of a provisioning plan, in the order they are created (and deleted in reverse).
 * The export connections and the ingestion dataflow, created last when the plan has `export` and
 * `ingestion`, are deleted first on destroy (the ingestion flow first of all: it points at the scores
 * dataset). The feature datasets are not provisioned (the featurize stage makes them with CREATE TABLE
 * AS) but are deleted on destroy, after the export flow that reads them.
 */
export type ResourceKind =
  | 'fieldGroup'
  | 'schema'
  | 'descriptor'
  | 'scoresDataset'
  | 'trainingFeaturesDataset'
  | 'scoringFeaturesDataset'
  | 'exportBaseConnection'
  | 'exportTargetConnection'
  | 'ingestionBaseConnection'
  | 'ingestionSourceConnection'
  | 'ingestionTargetConnection'
  | 'ingestionMappingSet'
  | 'ingestionFlow';

export interface ResourceRef {
  kind: ResourceKind;
  id: string;
  /** Title or name; the descriptor has none. */
  name?: string;
}

export const LABELS: Record<ResourceKind, string> = {
  fieldGroup: 'field group',
  schema: 'schema',
  descriptor: 'identity descriptor',
  scoresDataset: 'scores dataset',
  trainingFeaturesDataset: 'training feature dataset',
  scoringFeaturesDataset: 'scoring feature dataset',
  exportBaseConnection: 'export base connection',
  exportTargetConnection: 'export target connection',
  ingestionBaseConnection: 'ingestion base connection',
  ingestionSourceConnection: 'ingestion source connection',
  ingestionTargetConnection: 'ingestion target connection',
  ingestionMappingSet: 'ingestion mapping set',
  ingestionFlow: 'ingestion dataflow',
};

/** A resource as messages name it: `schema "acme propensity profiles" (<id>)`. */
export function label(ref: ResourceRef): string {
  return `${LABELS[ref.kind]}${ref.name ? ` "${ref.name}"` : ''} (${ref.id})`;
}

/** Deletes a resource by id; false when it was already gone. */
export function deleterFor(aep: AepRestServices, kind: ResourceKind): (id: string) => Promise<boolean> {
  switch (kind) {
    case 'scoresDataset':
    case 'trainingFeaturesDataset':
    case 'scoringFeaturesDataset':
      return (id) => aep.catalog.deleteDataset(id);
    case 'descriptor':
      return (id) => aep.schemaRegistry.deleteDescriptor(id);
    case 'schema':
      return (id) => aep.schemaRegistry.deleteSchema(id);
    case 'fieldGroup':
      return (id) => aep.schemaRegistry.deleteFieldGroup(id);
    case 'exportBaseConnection':
      return (id) => aep.flowService.delete('connections', id);
    case 'exportTargetConnection':
    case 'ingestionTargetConnection':
      return (id) => aep.flowService.delete('targetConnections', id);
    case 'ingestionBaseConnection':
      return (id) => aep.flowService.delete('connections', id);
    case 'ingestionSourceConnection':
      return (id) => aep.flowService.delete('sourceConnections', id);
    case 'ingestionFlow':
      return (id) => aep.flowService.delete('flows', id);
    case 'ingestionMappingSet':
      return () => Promise.reject(new Error('Data Prep has no way to delete a mapping set'));
  }
}

/**
 * What a removal did, resource by resource. Each map gives the ids of the resources in that state;
 * `absent` lists those that were already gone, so a re-run destroy succeeds.
 */
export interface ResourceRemoval {
  deleted: Partial<Record<ResourceKind, string>>;
  /**
   * The scores dataset under `retainDatasetOnDestroy`, with the schema, descriptor and field group it is
   * built on; the feature datasets under `features.retainDatasetsOnDestroy`; and the ingestion's
   * mapping set, which Data Prep cannot delete.
   */
  retained: Partial<Record<ResourceKind, string>>;
  absent: ResourceKind[];
}

export function emptyRemoval(): ResourceRemoval {
  return { deleted: {}, retained: {}, absent: [] };
}

/**
 * Records in `removal`, and logs, what a dataflow's removal by name did to each of its `pieces`:
 * deleted, kept (a mapping set) or already gone.
 */
export function recordRemoval<P extends string>(
  removal: ResourceRemoval,
  done: { deleted: Partial<Record<P, string>>; kept?: Partial<Record<P, string>> },
  pieces: Array<{ piece: P; kind: ResourceKind; name: string }>,
  log: Log,
): void {
  for (const { piece, kind, name } of pieces) {
    const deleted = done.deleted[piece];
    const kept = done.kept?.[piece];
    if (deleted !== undefined) {
      removal.deleted[kind] = deleted;
      log.info(`AEP ${LABELS[kind]} deleted`, { kind, name, id: deleted });
    } else if (kept !== undefined) {
      removal.retained[kind] = kept;
      log.info(`AEP ${LABELS[kind]} kept: Data Prep cannot delete mapping sets`, { kind, name, id: kept });
    } else {
      removal.absent.push(kind);
      log.info(`AEP ${LABELS[kind]} was already gone`, { kind, name });
    }
  }
}

/**
 * Runs the removal of a dataflow by name, which comes before the scores chain's; a failure becomes a
 * ProvisionError naming the step.
 */
export async function runRemovalStep<T>(step: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new ProvisionError(
      `AEP deprovisioning failed at step "${step}": ${messageOf(error)}. The other AEP resources were not touched yet. Re-running the delete carries on from here.`,
      { step, cause: error },
    );
  }
}
