import type { AepRestServices } from '../aep';
import { PQS_TABLE_TAG, type Dataset } from '../aep/services/catalog';
import type { Log } from '../ports/logger';
import { featureTableNames } from '../stages/featurize';
import { messageOf, ProvisionError } from './errors';
import { LABELS, type ResourceKind, type ResourceRemoval } from './resources';

/**
 * The feature datasets: the featurize stage makes them at its first run with CREATE TABLE AS, so the
 * provisioner never creates them, but they follow the plan's prefix (`featureTableNames`) and go with
 * the rest on destroy. Only a dataset whose name and Query Service table are both the pipeline's table
 * name is taken for one: a dataset someone named that way by hand, on another table, is left alone.
 */

const FEATURE_DATASETS: Array<{ set: 'training' | 'scoring'; kind: ResourceKind }> = [
  { set: 'training', kind: 'trainingFeaturesDataset' },
  { set: 'scoring', kind: 'scoringFeaturesDataset' },
];

/** Whether the featurize stage's CREATE TABLE AS made this dataset: Query Service names the dataset after its table. */
function isFeatureTable(dataset: Dataset, table: string): boolean {
  return dataset.name === table && dataset.tags?.[PQS_TABLE_TAG]?.[0] === table;
}

/**
 * Deletes the featurize stage's datasets of `namePrefix`, or records them as retained; what is
 * already gone counts as deleted, so this can run again. Call it after the export flow, which reads
 * them, is gone.
 */
export async function deprovisionFeatureDatasets(
  aep: AepRestServices,
  namePrefix: string,
  retain: boolean,
  removal: ResourceRemoval,
  log: Log,
): Promise<void> {
  const tables = featureTableNames(namePrefix);
  for (const { set, kind } of FEATURE_DATASETS) {
    const table = tables[set];
    let step = `find dataset "${table}"`;
    try {
      const dataset = await aep.catalog.findDataset(table);
      if (!dataset || !isFeatureTable(dataset, table)) {
        removal.absent.push(kind);
        if (dataset) {
          log.warn(`AEP dataset "${table}" left alone: its Query Service table is not the featurize stage's`, { kind, id: dataset.id, table: dataset.tags?.[PQS_TABLE_TAG]?.[0] });
        } else {
          log.info(`AEP ${LABELS[kind]} was already gone`, { kind, name: table });
        }
        continue;
      }
      if (retain) {
        removal.retained[kind] = dataset.id;
        log.warn(`AEP ${LABELS[kind]} retained (features.retainDatasetsOnDestroy is true)`, { kind, name: table, id: dataset.id });
        continue;
      }
      step = `delete ${LABELS[kind]} "${table}" (${dataset.id})`;
      if (await aep.catalog.deleteDataset(dataset.id)) {
        removal.deleted[kind] = dataset.id;
        log.info(`AEP ${LABELS[kind]} deleted`, { kind, name: table, id: dataset.id });
      } else {
        removal.absent.push(kind);
        log.info(`AEP ${LABELS[kind]} was already gone`, { kind, name: table, id: dataset.id });
      }
    } catch (error) {
      throw new ProvisionError(
        `AEP deprovisioning failed at step "${step}": ${messageOf(error)}. The scores dataset and its schema were not touched yet. ` +
          'Re-running the delete carries on from here.',
        { step, cause: error },
      );
    }
  }
}
