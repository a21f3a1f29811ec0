import type { AepRestServices } from '../aep';
import { PQS_TABLE_TAG, type Dataset } from '../aep/services/catalog';
import type { Descriptor } from '../aep/services/schema-registry';
import type { Log } from '../ports/logger';
import { ecidIdentityDescriptor, USER_ID_NAMESPACE, userIdPath } from '../xdm/identity';
import { PROFILE_CLASS, SCHEMA_REF_CONTENT_TYPE } from '../xdm/schema';
import { messageOf, ProvisionError, runStep } from './errors';
import type { ResourceNames } from './plan';
import { deleterFor, label, LABELS, type ResourceKind, type ResourceRef, type ResourceRemoval } from './resources';
import type { ProvisioningRun } from './rollback';
import { PROFILE_DATASET_TAGS, propensityFieldGroup, propensityProfileSchema } from './scores-schema';

/**
 * The scores chain: the propensity field group, the profile schema, its primary ECID identity, Profile
 * enablement and the scores dataset the ingestion lands the scores in.
 */

/** The ids of the scores chain, as the provisioner returns them. */
export interface ScoresResources {
  /** `$id` of the propensity field group. */
  fieldGroupId: string;
  /** `$id` of the profile schema. */
  schemaId: string;
  /** `@id` of the identity descriptor marking `/_<tenant>/userid` as the primary ECID. */
  descriptorId: string;
  /** Catalog id of the scores dataset. */
  scoresDatasetId: string;
  /** The scores dataset's table in Query Service (its `adobe/pqs/table` tag). */
  scoresTable: string;
}

/** Fails an adopted resource that does not fit the plan (a name clash), rather than building on it. */
class ResourceConflict extends Error {}

/** Finds each resource of the chain by name or creates it, noting each in `run`; throws on a name clash. */
export async function provisionScores(aep: AepRestServices, names: ResourceNames, run: ProvisioningRun): Promise<ScoresResources> {
  const registry = aep.schemaRegistry;
  const { tenantId, log } = run;

  run.step = `ensure field group "${names.fieldGroup}"`;
  const fieldGroup = await registry.ensureFieldGroup(propensityFieldGroup(names.fieldGroup, tenantId));
  const fieldGroupId = fieldGroup.resource.$id;
  run.track({ kind: 'fieldGroup', id: fieldGroupId, name: names.fieldGroup }, fieldGroup.created);
  if (!fieldGroup.created) {
    run.step = `check field group "${names.fieldGroup}"`;
    const existing = await registry.getFieldGroup(fieldGroupId);
    if (!(existing['meta:intendedToExtend'] ?? []).includes(PROFILE_CLASS)) {
      throw new ResourceConflict(
        `a field group titled "${names.fieldGroup}" (${fieldGroupId}) already exists and does not extend the profile class ${PROFILE_CLASS}; ` +
          'choose another namePrefix or delete that field group',
      );
    }
  }

  run.step = `ensure schema "${names.schema}"`;
  const schema = await registry.ensureSchema(propensityProfileSchema(names.schema, fieldGroupId));
  const schemaId = schema.resource.$id;
  run.track({ kind: 'schema', id: schemaId, name: names.schema }, schema.created);
  if (!schema.created) {
    run.step = `check schema "${names.schema}"`;
    await checkSchema(aep, schemaId, names.schema, fieldGroupId);
  }

  run.step = `ensure the primary ECID identity descriptor on ${userIdPath(tenantId)} of schema "${names.schema}"`;
  const descriptor = await registry.ensureIdentityDescriptor(ecidIdentityDescriptor(schemaId, tenantId));
  const descriptorId = descriptor.resource['@id'];
  run.track({ kind: 'descriptor', id: descriptorId }, descriptor.created);
  if (!descriptor.created) checkDescriptor(descriptor.resource, schemaId);

  run.step = `enable schema "${names.schema}" for Profile`;
  await registry.enableSchemaForProfile(schemaId);
  log.info('AEP schema enabled for Profile (union)', { schemaId });

  run.step = `ensure dataset "${names.scoresDataset}"`;
  const dataset = await aep.catalog.ensureDataset({
    name: names.scoresDataset,
    description: 'Propensity scores written back to profiles by the AI/ML feature pipeline',
    schemaRef: { id: schemaId, contentType: SCHEMA_REF_CONTENT_TYPE },
    tags: { ...PROFILE_DATASET_TAGS },
  });
  const scoresDatasetId = dataset.resource.id;
  run.track({ kind: 'scoresDataset', id: scoresDatasetId, name: names.scoresDataset }, dataset.created);
  if (!dataset.created && dataset.resource.schemaRef?.id !== schemaId) {
    throw new ResourceConflict(
      `a dataset named "${names.scoresDataset}" (${scoresDatasetId}) already exists on schema ${dataset.resource.schemaRef?.id ?? '(none)'}, ` +
        `not on ${schemaId}; choose another namePrefix or delete that dataset`,
    );
  }
  if (!isProfileEnabled(dataset.resource)) {
    run.step = `enable dataset "${names.scoresDataset}" for Profile`;
    await aep.catalog.addDatasetTags(scoresDatasetId, { ...PROFILE_DATASET_TAGS });
    log.info('AEP dataset enabled for Profile', { datasetId: scoresDatasetId });
  }

  run.step = `read the Query Service table of dataset "${names.scoresDataset}"`;
  const scoresTable = dataset.resource.tags?.[PQS_TABLE_TAG]?.[0] ?? (await aep.catalog.tableName(scoresDatasetId));
  return { fieldGroupId, schemaId, descriptorId, scoresDatasetId, scoresTable };
}

async function checkSchema(aep: AepRestServices, schemaId: string, title: string, fieldGroupId: string): Promise<void> {
  const schema = await aep.schemaRegistry.getSchema(schemaId);
  const refs = (schema.allOf ?? []).map((item) => item.$ref);
  const xdmClass = schema['meta:class'] ?? refs.find((ref) => ref === PROFILE_CLASS);
  if (xdmClass !== PROFILE_CLASS || !refs.includes(fieldGroupId)) {
    throw new ResourceConflict(
      `a schema titled "${title}" (${schemaId}) already exists but is not the profile class with field group ${fieldGroupId}; ` +
        'choose another namePrefix or delete that schema',
    );
  }
}

function checkDescriptor(descriptor: Descriptor, schemaId: string): void {
  const namespace = String(descriptor['xdm:namespace'] ?? '');
  if (namespace.toUpperCase() !== USER_ID_NAMESPACE || descriptor['xdm:isPrimary'] !== true) {
    throw new ResourceConflict(
      `schema ${schemaId} already has identity descriptor ${descriptor['@id']} on the user id with namespace "${namespace}"` +
        `${descriptor['xdm:isPrimary'] === true ? '' : ', not primary'}; expected the primary ${USER_ID_NAMESPACE} identity`,
    );
  }
}

function isProfileEnabled(dataset: Dataset): boolean {
  return Object.entries(PROFILE_DATASET_TAGS).every(([key, values]) => values.every((v) => dataset.tags?.[key]?.includes(v)));
}

/**
 * Deletes the chain by name, dataset first, recording each resource in `removal`. A retained scores
 * dataset keeps the schema, identity descriptor and field group it is built on (AEP refuses to delete
 * a schema a dataset uses). What is already gone counts as deleted, so this can run again.
 */
export async function deprovisionScores(
  aep: AepRestServices,
  tenantId: string,
  names: ResourceNames,
  retainDataset: boolean,
  removal: ResourceRemoval,
  log: Log,
): Promise<void> {
  const registry = aep.schemaRegistry;
  const dataset = await runStep(`find dataset "${names.scoresDataset}"`, () => aep.catalog.findDataset(names.scoresDataset));
  const schema = await runStep(`find schema "${names.schema}"`, () => registry.findSchema(names.schema));
  const fieldGroup = await runStep(`find field group "${names.fieldGroup}"`, () => registry.findFieldGroup(names.fieldGroup));
  const descriptor = schema
    ? await runStep(`find the identity descriptor of schema "${names.schema}"`, async () =>
        (await registry.listDescriptors(schema.$id)).find((d) => d['@type'] === 'xdm:descriptorIdentity' && d['xdm:sourceProperty'] === userIdPath(tenantId)),
      )
    : undefined;

  const found: Array<{ ref: ResourceRef | undefined; kind: ResourceKind }> = [
    { kind: 'scoresDataset', ref: dataset && { kind: 'scoresDataset', id: dataset.id, name: names.scoresDataset } },
    { kind: 'descriptor', ref: descriptor && { kind: 'descriptor', id: descriptor['@id'] } },
    { kind: 'schema', ref: schema && { kind: 'schema', id: schema.$id, name: names.schema } },
    { kind: 'fieldGroup', ref: fieldGroup && { kind: 'fieldGroup', id: fieldGroup.$id, name: names.fieldGroup } },
  ];

  if (dataset && retainDataset) {
    // The dataset keeps its schema; the schema keeps its identity and field group.
    const keepsSchema = schema !== undefined && dataset.schemaRef?.id === schema.$id;
    for (const { kind, ref } of found) {
      if (!ref) removal.absent.push(kind);
      else if (kind === 'scoresDataset' || keepsSchema) removal.retained[kind] = ref.id;
    }
    log.warn('AEP scores dataset retained (retainDatasetOnDestroy is true)', {
      datasetId: dataset.id,
      name: names.scoresDataset,
      alsoRetained: keepsSchema ? 'its schema, identity descriptor and field group, which AEP needs while the dataset exists' : undefined,
    });
    if (keepsSchema) return;
  }

  for (const { kind, ref } of found) {
    if (removal.retained[kind] !== undefined || removal.absent.includes(kind)) continue;
    if (!ref) {
      removal.absent.push(kind);
      continue;
    }
    const step = `delete ${label(ref)}`;
    let wasThere: boolean;
    try {
      wasThere = await deleterFor(aep, kind)(ref.id);
    } catch (error) {
      const done = Object.entries(removal.deleted).map(([k, id]) => `${LABELS[k as ResourceKind]} ${id}`);
      throw new ProvisionError(
        `AEP deprovisioning failed at step "${step}": ${messageOf(error)}.` +
          (done.length > 0 ? ` Already deleted: ${done.join(', ')}.` : ' Nothing was deleted yet.') +
          ' Re-running the delete carries on from here.',
        { step, cause: error },
      );
    }
    if (wasThere) {
      removal.deleted[kind] = ref.id;
      log.info(`AEP ${LABELS[kind]} deleted`, { kind, name: ref.name, id: ref.id });
    } else {
      removal.absent.push(kind);
      log.info(`AEP ${LABELS[kind]} was already gone`, { kind, name: ref.name, id: ref.id });
    }
  }
}
