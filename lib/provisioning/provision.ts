import type { AepServices } from '../aep';
import { PQS_TABLE_TAG, type Dataset } from '../aep/services/catalog';
import type { Descriptor } from '../aep/services/schema-registry';
import type { Log } from '../ports/logger';
import { ecidIdentityDescriptor, USER_ID_NAMESPACE, userIdPath } from '../xdm/identity';
import { PROFILE_CLASS, SCHEMA_REF_CONTENT_TYPE } from '../xdm/schema';
import { ensureExportDestination, exportDestinationNames, removeExportDestination, type ExportDestinationPiece } from '../dataflows/export-dataflow';
import { ensureIngestionDataflow, ingestionDataflowNames, removeIngestionDataflow, type IngestionPiece } from '../dataflows/ingestion-dataflow';
import {
  PROFILE_DATASET_TAGS,
  propensityFieldGroup,
  propensityProfileSchema,
  provisioningPlanSchema,
  resourceNames,
  sameNames,
  type ProvisioningPlan,
  type ResourceNames,
} from './plan';
import { DEFAULT_TERRAFORM_KEY, parseTerraformEvent, type TerraformEvent, type TerraformResource } from './terraform-event';

/**
 * The AEP provisioner: keeps the AEP resources the scoring side of the pipeline needs (week 4) in step
 * with Terraform. It runs in a Lambda invoked by `aws_lambda_invocation` with `lifecycle_scope = "CRUD"`:
 * the event is the resource's input (a provisioning plan) plus `tf: { action, prev_input }`, and what it
 * returns is stored in Terraform state, so it returns ids and names only.
 */

/**
 * The resources, in the order they are created (and deleted in reverse). The export connections and
 * the ingestion dataflow, created last when the plan has `export` and `ingestion`, are deleted first on
 * destroy (the ingestion flow first of all: it points at the scores dataset).
 */
export type ResourceKind =
  | 'fieldGroup'
  | 'schema'
  | 'descriptor'
  | 'scoresDataset'
  | 'exportBaseConnection'
  | 'exportTargetConnection'
  | 'ingestionBaseConnection'
  | 'ingestionSourceConnection'
  | 'ingestionTargetConnection'
  | 'ingestionMappingSet'
  | 'ingestionFlow';

/** What `create` and `update` return (Terraform keeps it as the resource's `result`): ids and names only. */
export interface ProvisionResult {
  /** Tenant id, without its leading underscore. */
  tenantId: string;
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
  /** Flow Service id of the export's S3 base connection, when the plan has `export`. */
  exportBaseConnectionId?: string;
  /** Flow Service id of the export's S3 target connection (bucket and folder), when the plan has `export`. */
  exportTargetConnectionId?: string;
  /** Flow Service id of the ingestion's S3 base connection, when the plan has `ingestion`. */
  ingestionBaseConnectionId?: string;
  /** Flow Service id of the ingestion's S3 source connection (the scores folder), when the plan has `ingestion`. */
  ingestionSourceConnectionId?: string;
  /** Flow Service id of the ingestion's data lake target connection (the scores dataset), when the plan has `ingestion`. */
  ingestionTargetConnectionId?: string;
  /** Data Prep id of the mapping set (prediction and userId onto the profile fields), when the plan has `ingestion`. */
  ingestionMappingSetId?: string;
  /** Flow Service id of the CloudStorageToAEP dataflow, when the plan has `ingestion`: the ingestion check watches its runs. */
  ingestionFlowId?: string;
}

/**
 * What `delete` returns (Terraform discards it with the resource). Each map gives the ids of the
 * resources in that state; `absent` lists those that were already gone, so a re-run destroy succeeds.
 */
export interface DeprovisionResult {
  tenantId: string;
  deleted: Partial<Record<ResourceKind, string>>;
  /**
   * The scores dataset under `retainDatasetOnDestroy`, with the schema, descriptor and field group it is
   * built on; and the ingestion's mapping set, which Data Prep cannot delete.
   */
  retained: Partial<Record<ResourceKind, string>>;
  absent: ResourceKind[];
}

export interface ProvisionDeps {
  log: Log;
  /** Tenant id without underscore; read from the Schema Registry when absent. */
  tenantId?: string;
  /** The `terraform_key` of the `aws_lambda_invocation` resource. */
  terraformKey?: string;
}

/** The provisioning plan as a Terraform resource's input. */
const PROVISIONING_PLAN: TerraformResource<ProvisioningPlan> = { event: 'provisioning', input: 'provisioning plan', schema: provisioningPlanSchema };

/**
 * Reads an invocation event: the plan with the Terraform key beside it. Throws ProvisioningInputError
 * naming every bad field, in the plan, the Terraform key and, on update, the previous plan.
 */
export function parseProvisionEvent(event: unknown, terraformKey: string = DEFAULT_TERRAFORM_KEY): TerraformEvent<ProvisioningPlan> {
  return parseTerraformEvent(event, PROVISIONING_PLAN, terraformKey);
}

export interface ResourceRef {
  kind: ResourceKind;
  id: string;
  /** Title or name; the descriptor has none. */
  name?: string;
}

const LABELS: Record<ResourceKind, string> = {
  fieldGroup: 'field group',
  schema: 'schema',
  descriptor: 'identity descriptor',
  scoresDataset: 'scores dataset',
  exportBaseConnection: 'export base connection',
  exportTargetConnection: 'export target connection',
  ingestionBaseConnection: 'ingestion base connection',
  ingestionSourceConnection: 'ingestion source connection',
  ingestionTargetConnection: 'ingestion target connection',
  ingestionMappingSet: 'ingestion mapping set',
  ingestionFlow: 'ingestion dataflow',
};

const INGESTION_KINDS: Record<IngestionPiece, ResourceKind> = {
  baseConnection: 'ingestionBaseConnection',
  sourceConnection: 'ingestionSourceConnection',
  targetConnection: 'ingestionTargetConnection',
  mappingSet: 'ingestionMappingSet',
  flow: 'ingestionFlow',
};

const INGESTION_RESULT: Record<
  IngestionPiece,
  'ingestionBaseConnectionId' | 'ingestionSourceConnectionId' | 'ingestionTargetConnectionId' | 'ingestionMappingSetId' | 'ingestionFlowId'
> = {
  baseConnection: 'ingestionBaseConnectionId',
  sourceConnection: 'ingestionSourceConnectionId',
  targetConnection: 'ingestionTargetConnectionId',
  mappingSet: 'ingestionMappingSetId',
  flow: 'ingestionFlowId',
};

const EXPORT_KINDS: Record<ExportDestinationPiece, ResourceKind> = {
  baseConnection: 'exportBaseConnection',
  targetConnection: 'exportTargetConnection',
};

function label(ref: ResourceRef): string {
  return `${LABELS[ref.kind]}${ref.name ? ` "${ref.name}"` : ''} (${ref.id})`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A provisioning step failed. Says which step, AEP's answer, and what was rolled back or left in place. */
export class ProvisionError extends Error {
  readonly step: string;
  /** Resources this invocation created and then deleted again. */
  readonly rolledBack: ResourceRef[];
  /** Resources that could not be rolled back; they need deleting by hand. */
  readonly notRolledBack: ResourceRef[];

  constructor(message: string, details: { step: string; cause: unknown; rolledBack?: ResourceRef[]; notRolledBack?: ResourceRef[] }) {
    super(message, { cause: details.cause });
    this.name = 'ProvisionError';
    this.step = details.step;
    this.rolledBack = details.rolledBack ?? [];
    this.notRolledBack = details.notRolledBack ?? [];
  }
}

/**
 * Runs one Terraform lifecycle action on the plan's AEP resources.
 * - create: finds each resource by name or creates it (field group, profile schema, ECID identity
 *   descriptor, Profile enablement, scores dataset, then the export's S3 base and target connections
 *   when the plan has `export`, then the ingestion dataflow when it has `ingestion`: S3 base and source
 *   connections, data lake target connection, mapping set, flow). Idempotent. If a step fails, deletes
 *   what this invocation created, in reverse order (a mapping set stays: Data Prep cannot delete one,
 *   and the next run adopts it), and throws a ProvisionError naming the step.
 * - update: ensures the resources of the new plan (same guarantee); when the names changed, then deletes
 *   the previous plan's resources, except the scores dataset (and what it is built on) if either plan
 *   retains it.
 * - delete: deletes the ingestion flow and connections (when the plan has `ingestion`; the mapping set
 *   stays), the export connections (when it has `export`), then the dataset (unless retained),
 *   descriptor, schema and field group; what is already gone counts as deleted.
 * The event is validated before any AEP call.
 */
export async function provision(aep: AepServices, event: unknown, deps: ProvisionDeps): Promise<ProvisionResult | DeprovisionResult> {
  const { action, input: plan, previous } = parseProvisionEvent(event, deps.terraformKey ?? DEFAULT_TERRAFORM_KEY);
  const log = deps.log;
  const names = resourceNames(plan);
  log.info('AEP provisioning', { action, namePrefix: plan.namePrefix, retainDatasetOnDestroy: plan.scores.retainDatasetOnDestroy });
  const tenantId = deps.tenantId ?? (await runStep('read the tenant id from the Schema Registry', () => aep.schemaRegistry.tenantId()));

  if (action === 'create') {
    return ensureResources(aep, tenantId, names, plan, log);
  }
  if (action === 'delete') {
    return removeResources(aep, tenantId, names, plan.scores.retainDatasetOnDestroy, flowPrefixes(plan), log);
  }

  const oldNames = resourceNames(previous!);
  if (sameNames(oldNames, names)) {
    log.info('AEP resource names unchanged; ensuring they exist', { namePrefix: plan.namePrefix });
    // The export connections are found by name: changed export settings (role, bucket, folder, format)
    // are not applied to connections that already exist; delete them (or change namePrefix) to apply them.
    // A changed ingestion folder or bucket replaces the ingestion dataflow, whose source connection reads it.
    if (previous!.ingestion && !sameIngestion(previous!.ingestion, plan.ingestion)) {
      log.info('AEP ingestion dataflow changed or dropped from the plan; removing the previous one', { namePrefix: plan.namePrefix });
      await removeIngestion(aep, plan.namePrefix, { tenantId, deleted: {}, retained: {}, absent: [] }, log);
    }
    const result = await ensureResources(aep, tenantId, names, plan, log);
    if (previous!.export && !plan.export) {
      log.info('AEP export destination dropped from the plan; removing it', { namePrefix: plan.namePrefix });
      await removeDestination(aep, plan.namePrefix, { tenantId, deleted: {}, retained: {}, absent: [] }, log);
    }
    return result;
  }
  log.info('AEP resource names changed; replacing the resources', { from: previous!.namePrefix, to: plan.namePrefix });
  const result = await ensureResources(aep, tenantId, names, plan, log);
  // Data is never lost by a rename unless both the old and the new plan allow deleting it.
  const retain = previous!.scores.retainDatasetOnDestroy || plan.scores.retainDatasetOnDestroy;
  try {
    await removeResources(aep, tenantId, oldNames, retain, flowPrefixes(previous!), log);
  } catch (error) {
    const step = error instanceof ProvisionError ? error.step : 'remove the previous resources';
    throw new ProvisionError(
      `Replacing the AEP resources of "${previous!.namePrefix}" with those of "${plan.namePrefix}": the new resources are in place ` +
        `(schema ${result.schemaId}, dataset ${result.scoresDatasetId}), but removing the previous ones failed: ${messageOf(error)}`,
      { step, cause: error },
    );
  }
  return result;
}

/** The name prefixes of the export destination and ingestion dataflow a plan has, for their removal. */
function flowPrefixes(plan: ProvisioningPlan): { export?: string; ingestion?: string } {
  return { export: plan.export ? plan.namePrefix : undefined, ingestion: plan.ingestion ? plan.namePrefix : undefined };
}

function sameIngestion(a: ProvisioningPlan['ingestion'], b: ProvisioningPlan['ingestion']): boolean {
  return a !== undefined && b !== undefined && a.bucket === b.bucket && a.path === b.path;
}

/** Runs a step that has nothing to roll back; a failure becomes a ProvisionError naming the step. */
async function runStep<T>(step: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new ProvisionError(`AEP provisioning failed at step "${step}": ${messageOf(error)}`, { step, cause: error });
  }
}

/** Fails an adopted resource that does not fit the plan (a name clash), rather than building on it. */
class ResourceConflict extends Error {}

async function ensureResources(
  aep: AepServices,
  tenantId: string,
  names: ResourceNames,
  plan: Pick<ProvisioningPlan, 'namePrefix' | 'export' | 'ingestion'>,
  log: Log,
): Promise<ProvisionResult> {
  const registry = aep.schemaRegistry;
  const created: ResourceRef[] = [];
  const existed: ResourceRef[] = [];
  /** Created by this invocation but beyond rollback: mapping sets, which Data Prep cannot delete. */
  const kept: ResourceRef[] = [];
  let step = '';
  const track = (ref: ResourceRef, wasCreated: boolean) => {
    (wasCreated ? created : existed).push(ref);
    log.info(`AEP ${LABELS[ref.kind]} ${wasCreated ? 'created' : 'already exists'}`, { kind: ref.kind, name: ref.name, id: ref.id, tenantId });
  };

  try {
    step = `ensure field group "${names.fieldGroup}"`;
    const fieldGroup = await registry.ensureFieldGroup(propensityFieldGroup(names.fieldGroup, tenantId));
    const fieldGroupId = fieldGroup.resource.$id;
    track({ kind: 'fieldGroup', id: fieldGroupId, name: names.fieldGroup }, fieldGroup.created);
    if (!fieldGroup.created) {
      step = `check field group "${names.fieldGroup}"`;
      const existing = await registry.getFieldGroup(fieldGroupId);
      if (!(existing['meta:intendedToExtend'] ?? []).includes(PROFILE_CLASS)) {
        throw new ResourceConflict(
          `a field group titled "${names.fieldGroup}" (${fieldGroupId}) already exists and does not extend the profile class ${PROFILE_CLASS}; ` +
            'choose another namePrefix or delete that field group',
        );
      }
    }

    step = `ensure schema "${names.schema}"`;
    const schema = await registry.ensureSchema(propensityProfileSchema(names.schema, fieldGroupId));
    const schemaId = schema.resource.$id;
    track({ kind: 'schema', id: schemaId, name: names.schema }, schema.created);
    if (!schema.created) {
      step = `check schema "${names.schema}"`;
      await checkSchema(aep, schemaId, names.schema, fieldGroupId);
    }

    step = `ensure the primary ECID identity descriptor on /_${tenantId}/userid of schema "${names.schema}"`;
    const descriptor = await registry.ensureIdentityDescriptor(ecidIdentityDescriptor(schemaId, tenantId));
    const descriptorId = descriptor.resource['@id'];
    track({ kind: 'descriptor', id: descriptorId }, descriptor.created);
    if (!descriptor.created) checkDescriptor(descriptor.resource, schemaId);

    step = `enable schema "${names.schema}" for Profile`;
    await registry.enableSchemaForProfile(schemaId);
    log.info('AEP schema enabled for Profile (union)', { schemaId });

    step = `ensure dataset "${names.scoresDataset}"`;
    const dataset = await aep.catalog.ensureDataset({
      name: names.scoresDataset,
      description: 'Propensity scores written back to profiles by the AI/ML feature pipeline',
      schemaRef: { id: schemaId, contentType: SCHEMA_REF_CONTENT_TYPE },
      tags: { ...PROFILE_DATASET_TAGS },
    });
    const scoresDatasetId = dataset.resource.id;
    track({ kind: 'scoresDataset', id: scoresDatasetId, name: names.scoresDataset }, dataset.created);
    if (!dataset.created && dataset.resource.schemaRef?.id !== schemaId) {
      throw new ResourceConflict(
        `a dataset named "${names.scoresDataset}" (${scoresDatasetId}) already exists on schema ${dataset.resource.schemaRef?.id ?? '(none)'}, ` +
          `not on ${schemaId}; choose another namePrefix or delete that dataset`,
      );
    }
    if (!isProfileEnabled(dataset.resource)) {
      step = `enable dataset "${names.scoresDataset}" for Profile`;
      await aep.catalog.addDatasetTags(scoresDatasetId, { ...PROFILE_DATASET_TAGS });
      log.info('AEP dataset enabled for Profile', { datasetId: scoresDatasetId });
    }

    step = `read the Query Service table of dataset "${names.scoresDataset}"`;
    const scoresTable = dataset.resource.tags?.[PQS_TABLE_TAG]?.[0] ?? (await aep.catalog.tableName(scoresDatasetId));

    const result: ProvisionResult = { tenantId, fieldGroupId, schemaId, descriptorId, scoresDatasetId, scoresTable };

    if (plan.export) {
      // Last, so a failure here rolls back the connections and whatever else this invocation created.
      const exportNames = exportDestinationNames(plan.namePrefix);
      const pieceName = { baseConnection: exportNames.baseConnection, targetConnection: exportNames.targetConnection };
      step = `ensure export base connection "${exportNames.baseConnection}"`;
      const destination = await ensureExportDestination(aep, { namePrefix: plan.namePrefix, ...plan.export }, (piece, id, wasCreated) => {
        track({ kind: EXPORT_KINDS[piece], id, name: pieceName[piece] }, wasCreated);
        if (piece === 'baseConnection') step = `ensure export target connection "${exportNames.targetConnection}"`;
      });
      result.exportBaseConnectionId = destination.baseConnectionId;
      result.exportTargetConnectionId = destination.targetConnectionId;
    }

    if (plan.ingestion) {
      // After the dataset it lands records in; last of all, so its failure rolls back everything created.
      const ingestionNames = ingestionDataflowNames(plan.namePrefix);
      const order: IngestionPiece[] = ['baseConnection', 'sourceConnection', 'targetConnection', 'mappingSet', 'flow'];
      step = `ensure ${LABELS[INGESTION_KINDS.baseConnection]} "${ingestionNames.baseConnection}"`;
      await ensureIngestionDataflow(
        aep,
        { namePrefix: plan.namePrefix, ...plan.ingestion, tenantId, schemaId, scoresDatasetId, startTime: new Date() },
        (piece, id, wasCreated) => {
          const ref: ResourceRef = { kind: INGESTION_KINDS[piece], id, name: ingestionNames[piece] };
          if (piece === 'mappingSet' && wasCreated) {
            kept.push(ref);
            log.info('AEP ingestion mapping set created', { kind: ref.kind, name: ref.name, id, tenantId });
          } else {
            track(ref, wasCreated);
          }
          result[INGESTION_RESULT[piece]] = id;
          const next = order[order.indexOf(piece) + 1];
          if (next) step = `ensure ${LABELS[INGESTION_KINDS[next]]} "${ingestionNames[next]}"`;
        },
      );
    }

    log.info('AEP resources ready', { ...result, created: created.map((r) => r.kind), existing: existed.map((r) => r.kind) });
    return result;
  } catch (error) {
    log.error('AEP provisioning step failed; rolling back what this invocation created', { step, error: messageOf(error) });
    const { rolledBack, notRolledBack } = await rollBack(aep, created, log);
    const parts = [`AEP provisioning failed at step "${step}": ${messageOf(error)}.`];
    parts.push(
      rolledBack.length > 0
        ? `Rolled back what this invocation created: ${rolledBack.map(label).join(', ')}.`
        : 'This invocation had created nothing, so there was nothing to roll back.',
    );
    if (notRolledBack.length > 0) parts.push(`Could not delete (remove by hand): ${notRolledBack.map(label).join(', ')}.`);
    if (kept.length > 0) parts.push(`Kept, as Data Prep cannot delete mapping sets (the next provisioning adopts it by name): ${kept.map(label).join(', ')}.`);
    if (existed.length > 0) parts.push(`Left in place, as they existed before: ${existed.map(label).join(', ')}.`);
    throw new ProvisionError(parts.join(' '), { step, cause: error, rolledBack, notRolledBack });
  }
}

async function checkSchema(aep: AepServices, schemaId: string, title: string, fieldGroupId: string): Promise<void> {
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

function deleterFor(aep: AepServices, kind: ResourceKind): (id: string) => Promise<boolean> {
  switch (kind) {
    case 'scoresDataset':
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

/** Deletes what one invocation created, newest first; carries on past a failure so as much as possible goes. */
async function rollBack(aep: AepServices, created: ResourceRef[], log: Log): Promise<{ rolledBack: ResourceRef[]; notRolledBack: ResourceRef[] }> {
  const rolledBack: ResourceRef[] = [];
  const notRolledBack: ResourceRef[] = [];
  for (const ref of [...created].reverse()) {
    try {
      await deleterFor(aep, ref.kind)(ref.id);
      rolledBack.push(ref);
      log.info(`AEP ${LABELS[ref.kind]} rolled back`, { kind: ref.kind, name: ref.name, id: ref.id });
    } catch (error) {
      notRolledBack.push(ref);
      log.error(`AEP ${LABELS[ref.kind]} could not be rolled back`, { kind: ref.kind, name: ref.name, id: ref.id, error: messageOf(error) });
    }
  }
  return { rolledBack, notRolledBack };
}

/** Deletes the export's target then base connection by name, recording them in `result`; re-runnable. */
async function removeDestination(aep: AepServices, namePrefix: string, result: DeprovisionResult, log: Log): Promise<void> {
  const names = exportDestinationNames(namePrefix);
  const step = `delete export connections "${names.targetConnection}" and "${names.baseConnection}"`;
  let removal: Awaited<ReturnType<typeof removeExportDestination>>;
  try {
    removal = await removeExportDestination(aep, namePrefix);
  } catch (error) {
    throw new ProvisionError(
      `AEP deprovisioning failed at step "${step}": ${messageOf(error)}. The other AEP resources were not touched yet. Re-running the delete carries on from here.`,
      { step, cause: error },
    );
  }
  for (const piece of ['targetConnection', 'baseConnection'] as const) {
    const kind = EXPORT_KINDS[piece];
    const id = removal.deleted[piece];
    if (id !== undefined) {
      result.deleted[kind] = id;
      log.info(`AEP ${LABELS[kind]} deleted`, { kind, name: names[piece], id });
    } else {
      result.absent.push(kind);
      log.info(`AEP ${LABELS[kind]} was already gone`, { kind, name: names[piece] });
    }
  }
}

/**
 * Deletes the ingestion flow and its connections by name, recording them in `result`; the mapping set
 * is recorded as retained (Data Prep cannot delete it). Re-runnable.
 */
async function removeIngestion(aep: AepServices, namePrefix: string, result: DeprovisionResult, log: Log): Promise<void> {
  const names = ingestionDataflowNames(namePrefix);
  const step = `delete ingestion dataflow "${names.flow}" and its connections`;
  let removal: Awaited<ReturnType<typeof removeIngestionDataflow>>;
  try {
    removal = await removeIngestionDataflow(aep, namePrefix);
  } catch (error) {
    throw new ProvisionError(
      `AEP deprovisioning failed at step "${step}": ${messageOf(error)}. The other AEP resources were not touched yet. Re-running the delete carries on from here.`,
      { step, cause: error },
    );
  }
  for (const piece of ['flow', 'sourceConnection', 'targetConnection', 'baseConnection', 'mappingSet'] as const) {
    const kind = INGESTION_KINDS[piece];
    if (removal.deleted[piece] !== undefined) {
      result.deleted[kind] = removal.deleted[piece];
      log.info(`AEP ${LABELS[kind]} deleted`, { kind, name: names[piece], id: removal.deleted[piece] });
    } else if (removal.kept[piece] !== undefined) {
      result.retained[kind] = removal.kept[piece];
      log.info(`AEP ${LABELS[kind]} kept: Data Prep cannot delete mapping sets`, { kind, name: names[piece], id: removal.kept[piece] });
    } else {
      result.absent.push(kind);
      log.info(`AEP ${LABELS[kind]} was already gone`, { kind, name: names[piece] });
    }
  }
}

/**
 * Deletes the named resources in reverse order of creation: the ingestion dataflow and the export
 * connections first (when their prefixes are given), then the scores chain. A retained scores dataset
 * keeps the schema, identity descriptor and field group it is built on (AEP refuses to delete a schema
 * a dataset uses).
 */
async function removeResources(
  aep: AepServices,
  tenantId: string,
  names: ResourceNames,
  retainDataset: boolean,
  flows: { export?: string; ingestion?: string },
  log: Log,
): Promise<DeprovisionResult> {
  const registry = aep.schemaRegistry;
  const result: DeprovisionResult = { tenantId, deleted: {}, retained: {}, absent: [] };
  if (flows.ingestion !== undefined) await removeIngestion(aep, flows.ingestion, result, log);
  if (flows.export !== undefined) await removeDestination(aep, flows.export, result, log);

  const dataset = await runStep(`find dataset "${names.scoresDataset}"`, () => aep.catalog.findDataset(names.scoresDataset));
  const schema = await runStep(`find schema "${names.schema}"`, () => registry.findSchema(names.schema));
  const fieldGroup = await runStep(`find field group "${names.fieldGroup}"`, () => registry.findFieldGroup(names.fieldGroup));
  const descriptor = schema
    ? await runStep(`find the identity descriptor of schema "${names.schema}"`, async () =>
        (await registry.listDescriptors(schema.$id)).find(
          (d) => d['@type'] === 'xdm:descriptorIdentity' && d['xdm:sourceProperty'] === userIdPath(tenantId),
        ),
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
      if (!ref) result.absent.push(kind);
      else if (kind === 'scoresDataset' || keepsSchema) result.retained[kind] = ref.id;
    }
    log.warn('AEP scores dataset retained (retainDatasetOnDestroy is true)', {
      datasetId: dataset.id,
      name: names.scoresDataset,
      alsoRetained: keepsSchema ? 'its schema, identity descriptor and field group, which AEP needs while the dataset exists' : undefined,
    });
    if (keepsSchema) return result;
  }

  for (const { kind, ref } of found) {
    if (result.retained[kind] !== undefined || result.absent.includes(kind)) continue;
    if (!ref) {
      result.absent.push(kind);
      continue;
    }
    const step = `delete ${label(ref)}`;
    let wasThere: boolean;
    try {
      wasThere = await deleterFor(aep, kind)(ref.id);
    } catch (error) {
      const done = Object.entries(result.deleted).map(([k, id]) => `${LABELS[k as ResourceKind]} ${id}`);
      throw new ProvisionError(
        `AEP deprovisioning failed at step "${step}": ${messageOf(error)}.` +
          (done.length > 0 ? ` Already deleted: ${done.join(', ')}.` : ' Nothing was deleted yet.') +
          ' Re-running the delete carries on from here.',
        { step, cause: error },
      );
    }
    if (wasThere) {
      result.deleted[kind] = ref.id;
      log.info(`AEP ${LABELS[kind]} deleted`, { kind, name: ref.name, id: ref.id });
    } else {
      result.absent.push(kind);
      log.info(`AEP ${LABELS[kind]} was already gone`, { kind, name: ref.name, id: ref.id });
    }
  }
  return result;
}
