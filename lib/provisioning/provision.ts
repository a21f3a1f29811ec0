import type { AepRestServices } from '../aep';
import type { Log } from '../ports/logger';
import { messageOf, ProvisionError, ProvisioningInputError, runStep } from './errors';
import { deprovisionExportDestination, provisionExportDestination, type ExportDestinationResources } from './export-destination';
import { deprovisionFeatureDatasets } from './feature-datasets';
import { deprovisionIngestion, provisionIngestion, sameIngestion, type IngestionResources } from './ingestion';
import { provisioningPlanSchema, resourceNames, sameNames, type ProvisioningPlan, type ResourceNames } from './plan';
import { emptyRemoval, type ResourceRemoval } from './resources';
import { ProvisioningRun } from './rollback';
import { deprovisionScores, provisionScores, type ScoresResources } from './scores';
import { DEFAULT_TERRAFORM_KEY, parseTerraformEvent, type TerraformEvent, type TerraformResource } from './terraform-event';
import { featureTableNames } from '../stages/featurize';

/**
 * The AEP provisioner: keeps the AEP resources the scoring side of the pipeline needs (week 4) in step
 * with Terraform. It runs in a Lambda invoked by `aws_lambda_invocation` with `lifecycle_scope = "CRUD"`:
 * the event is the resource's input (a provisioning plan) plus `tf: { action, prev_input }`, and what it
 * returns is stored in Terraform state, so it returns ids and names only. The steps, in order: the
 * scores chain (`scores.ts`), the export destination (`export-destination.ts`) and the ingestion
 * dataflow (`ingestion.ts`); a failed create rolls back what it created (`rollback.ts`).
 */

/**
 * What `create` and `update` return (Terraform keeps it as the resource's `result`): ids and names only;
 * the export's ids when the plan has `export`, the ingestion's when it has `ingestion`.
 */
export interface ProvisionResult extends ScoresResources, Partial<ExportDestinationResources>, Partial<IngestionResources> {
  /** Tenant id, without its leading underscore. */
  tenantId: string;
}

/**
 * What `delete` returns (Terraform discards it with the resource): what was deleted, retained or
 * already gone, resource by resource.
 */
export interface DeprovisionResult extends ResourceRemoval {
  tenantId: string;
}

export interface ProvisionDeps {
  log: Log;
  /** Tenant id without underscore; read from the Schema Registry when absent. */
  tenantId?: string | undefined;
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
 *   retains it, and the previous prefix's feature datasets likewise.
 * - delete: deletes the ingestion flow and connections (when the plan has `ingestion`; the mapping set
 *   stays), the export flow and connections (when it has `export`), the feature datasets the featurize
 *   stage made (unless retained), then the scores dataset (unless retained), descriptor, schema and
 *   field group; what is already gone counts as deleted.
 * The event is validated before any AEP call.
 */
export async function provision(aep: AepRestServices, event: unknown, deps: ProvisionDeps): Promise<ProvisionResult | DeprovisionResult> {
  const { action, input: plan, previous } = parseProvisionEvent(event, deps.terraformKey ?? DEFAULT_TERRAFORM_KEY);
  const log = deps.log;
  const names = resourceNames(plan);
  if (action === 'update') refuseExportChanges(previous!, plan);
  log.info('AEP provisioning', {
    action,
    namePrefix: plan.namePrefix,
    retainDatasetOnDestroy: plan.scores.retainDatasetOnDestroy,
    retainFeatureDatasetsOnDestroy: plan.features.retainDatasetsOnDestroy,
  });
  const tenantId = deps.tenantId ?? (await runStep('read the tenant id from the Schema Registry', () => aep.schemaRegistry.tenantId()));

  if (action === 'create') {
    return ensureResources(aep, tenantId, names, plan, log);
  }
  if (action === 'delete') {
    return removeResources(aep, tenantId, plan.namePrefix, { scores: plan.scores.retainDatasetOnDestroy, features: plan.features.retainDatasetsOnDestroy }, flowPrefixes(plan), log);
  }

  const oldNames = resourceNames(previous!);
  if (sameNames(oldNames, names)) {
    log.info('AEP resource names unchanged; ensuring they exist', { namePrefix: plan.namePrefix });
    // A changed ingestion folder or bucket replaces the ingestion dataflow, whose source connection reads it.
    if (previous!.ingestion && !sameIngestion(previous!.ingestion, plan.ingestion)) {
      log.info('AEP ingestion dataflow changed or dropped from the plan; removing the previous one', { namePrefix: plan.namePrefix });
      await deprovisionIngestion(aep, plan.namePrefix, emptyRemoval(), log);
    }
    const result = await ensureResources(aep, tenantId, names, plan, log);
    if (previous!.export && !plan.export) {
      log.info('AEP export destination dropped from the plan; removing it', { namePrefix: plan.namePrefix });
      await deprovisionExportDestination(aep, plan.namePrefix, emptyRemoval(), log);
    }
    return result;
  }
  log.info('AEP resource names changed; replacing the resources', { from: previous!.namePrefix, to: plan.namePrefix });
  const result = await ensureResources(aep, tenantId, names, plan, log);
  // Data is never lost by a rename unless both the old and the new plan allow deleting it.
  const retain = {
    scores: previous!.scores.retainDatasetOnDestroy || plan.scores.retainDatasetOnDestroy,
    // Prefixes that differ only in punctuation share the feature tables, which the new prefix goes on using.
    features:
      previous!.features.retainDatasetsOnDestroy ||
      plan.features.retainDatasetsOnDestroy ||
      featureTableNames(previous!.namePrefix).training === featureTableNames(plan.namePrefix).training,
  };
  try {
    await removeResources(aep, tenantId, previous!.namePrefix, retain, flowPrefixes(previous!), log);
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

/**
 * The export's connections are found by name and adopted as they are, so a change of the bucket, folder,
 * role or format under the same names would report success while AEP kept writing where it did. Such an
 * update is refused before any AEP call, naming each change and how to apply it.
 */
function refuseExportChanges(previous: ProvisioningPlan, plan: ProvisioningPlan): void {
  if (!previous.export || !plan.export || previous.namePrefix !== plan.namePrefix) return;
  const before = previous.export;
  const after = plan.export;
  const changed = (['bucket', 'path', 'roleArn', 'format', 'compression'] as const).filter((field) => before[field] !== after[field]);
  if (changed.length === 0) return;
  throw new ProvisioningInputError(
    `The export destination of "${plan.namePrefix}" cannot change in place: its connections would keep the old settings. ` +
      'Change namePrefix to replace them, or deploy without the export and then with the new one',
    changed.map((field) => ({ path: `export.${field}`, message: `changed from ${JSON.stringify(before[field])} to ${JSON.stringify(after[field])}` })),
  );
}

/** The name prefixes of the export destination and ingestion dataflow a plan has, for their removal. */
function flowPrefixes(plan: ProvisioningPlan): { export?: string | undefined; ingestion?: string | undefined } {
  return { export: plan.export ? plan.namePrefix : undefined, ingestion: plan.ingestion ? plan.namePrefix : undefined };
}

/** Ensures every resource of the plan, step by step; a failed step rolls back what this invocation created. */
async function ensureResources(
  aep: AepRestServices,
  tenantId: string,
  names: ResourceNames,
  plan: Pick<ProvisioningPlan, 'namePrefix' | 'export' | 'ingestion'>,
  log: Log,
): Promise<ProvisionResult> {
  const run = new ProvisioningRun(aep, tenantId, log);
  try {
    const scores = await provisionScores(aep, names, run);
    const result: ProvisionResult = { tenantId, ...scores };
    // Last, so a failure here rolls back the connections and whatever else this invocation created.
    if (plan.export) Object.assign(result, await provisionExportDestination(aep, plan.namePrefix, plan.export, run));
    // After the dataset it lands records in; last of all, so its failure rolls back everything created.
    if (plan.ingestion) Object.assign(result, await provisionIngestion(aep, plan.namePrefix, plan.ingestion, scores, run));
    log.info('AEP resources ready', { ...result, created: run.created.map((r) => r.kind), existing: run.existed.map((r) => r.kind) });
    return result;
  } catch (error) {
    return run.fail(error);
  }
}

/**
 * Deletes the named resources in reverse order of creation: the ingestion dataflow and the export
 * connections first (when their prefixes are given), then the feature datasets and the scores chain,
 * each unless retained.
 */
async function removeResources(
  aep: AepRestServices,
  tenantId: string,
  namePrefix: string,
  retain: { scores: boolean; features: boolean },
  flows: { export?: string | undefined; ingestion?: string | undefined },
  log: Log,
): Promise<DeprovisionResult> {
  const result: DeprovisionResult = { tenantId, ...emptyRemoval() };
  if (flows.ingestion !== undefined) await deprovisionIngestion(aep, flows.ingestion, result, log);
  if (flows.export !== undefined) await deprovisionExportDestination(aep, flows.export, result, log);
  await deprovisionFeatureDatasets(aep, namePrefix, retain.features, result, log);
  await deprovisionScores(aep, tenantId, resourceNames({ namePrefix }), retain.scores, result, log);
  return result;
}
