import * as z from 'zod';
import type { AepRestServices, SegmentDefinition, SegmentDefinitionRequest } from '../aep';
import { PROFILE_SEGMENT_SCHEMA, propensityBandPql, propensityBandSchema, type PropensityBand } from '../audience';
import type { Log } from '../ports/logger';
import { messageOf, ProvisionError, runStep } from './errors';
import { DEFAULT_TERRAFORM_KEY, isPlainObject, parseTerraformEvent, type TerraformEvent, type TerraformResource } from './terraform-event';

/**
 * The propensity audience (notebook week 5) as a provisioned resource: a segment definition with the
 * rule `_<tenant>.propensity >= low and _<tenant>.propensity <= high` on `_xdm.context.profile`. The
 * provisioner Lambda keeps it in step with Terraform like the other AEP resources: the event is the
 * input below plus `tf: { action, prev_input }` (`aws_lambda_invocation`, lifecycle_scope CRUD), and
 * what it returns lands in Terraform state, so it returns ids only.
 */

/** The discriminator that routes a provisioner event here; events without `resource` are provisioning plans. */
export const AUDIENCE_RESOURCE = 'audience';

const TENANT_ID = /^[A-Za-z0-9]+$/;
const MAX_NAME_LENGTH = 256;

export const audienceDefinitionInputSchema = z
  .object({
    resource: z.literal(AUDIENCE_RESOURCE, { error: `must be "${AUDIENCE_RESOURCE}"` }),
    /** The segment definition's name, unique in the sandbox: the audience is found by it. */
    name: z
      .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') })
      .trim()
      .min(1, 'must not be empty')
      .max(MAX_NAME_LENGTH, `must be at most ${MAX_NAME_LENGTH} characters`),
    description: z.string({ error: 'must be a string' }).max(4000, 'must be at most 4000 characters').optional(),
    band: z
      .custom<object>((band) => isPlainObject(band), { error: (issue) => (issue.input === undefined ? 'is required: { low, high }' : 'must be an object { low, high }') })
      .pipe(propensityBandSchema),
    /** Tenant id without its underscore; the provisioner's configured or discovered tenant when absent. */
    tenantId: z.string({ error: 'must be a string' }).regex(TENANT_ID, 'must be letters and digits, without the leading underscore').optional(),
  })
  .strict();

export type AudienceDefinitionInput = z.infer<typeof audienceDefinitionInputSchema>;
export type AudienceDefinitionInputShape = z.input<typeof audienceDefinitionInputSchema>;

/** What `create` and `update` return (Terraform keeps it as the resource's `result`). */
export interface AudienceDefinitionResult {
  /** Id of the segment definition. */
  definitionId: string;
  /** Tenant id whose `propensity` field the rule reads, without its underscore. */
  tenantId: string;
}

/** What `delete` returns: the id deleted, or `absent` when the definition was already gone. */
export interface AudienceDefinitionDeletion {
  deletedDefinitionId?: string;
  absent: boolean;
}

export interface AudienceDefinitionDeps {
  log: Log;
  /** Tenant id without underscore when the input has none; read from the Schema Registry when absent too. */
  tenantId?: string | undefined;
  /** The `terraform_key` of the `aws_lambda_invocation` resource. */
  terraformKey?: string;
}

export type AudienceDefinitionEvent = TerraformEvent<AudienceDefinitionInput>;

/** Whether a provisioner event is for an audience (it names a `resource`); other events are provisioning plans. */
export function isAudienceDefinitionEvent(event: unknown): boolean {
  return isPlainObject(event) && event.resource !== undefined;
}

/** The audience as a Terraform resource's input. */
const AUDIENCE: TerraformResource<AudienceDefinitionInput> = { event: 'audience', input: 'audience', schema: audienceDefinitionInputSchema };

/**
 * Reads an invocation event: the audience input with the Terraform key beside it. Throws
 * ProvisioningInputError naming every bad field, in the input, the Terraform key and, on update, the
 * previous input.
 */
export function parseAudienceDefinitionEvent(event: unknown, terraformKey: string = DEFAULT_TERRAFORM_KEY): AudienceDefinitionEvent {
  return parseTerraformEvent(event, AUDIENCE, terraformKey);
}

export function defaultAudienceDescription(band: PropensityBand): string {
  return `Profiles whose propensity is from ${band.low} to ${band.high}, both included (AI/ML feature pipeline)`;
}

/** The segment definition an audience input asks for. */
export function audienceDefinitionRequest(input: AudienceDefinitionInput, tenantId: string): SegmentDefinitionRequest {
  return {
    name: input.name,
    description: input.description ?? defaultAudienceDescription(input.band),
    schema: { name: PROFILE_SEGMENT_SCHEMA },
    expression: { type: 'PQL', format: 'pql/text', value: propensityBandPql(tenantId, input.band) },
    evaluationInfo: { batch: { enabled: true }, continuous: { enabled: false }, synchronous: { enabled: false } },
  };
}

function matches(existing: SegmentDefinition, wanted: SegmentDefinitionRequest): boolean {
  return (
    existing.expression?.value === wanted.expression.value &&
    existing.expression?.format === wanted.expression.format &&
    existing.schema?.name === wanted.schema.name &&
    (existing.description ?? '') === (wanted.description ?? '')
  );
}

/** Runs an AEP call of the audience; a failure becomes a ProvisionError naming the step. */
function step<T>(name: string, work: () => Promise<T>): Promise<T> {
  return runStep(name, work, 'AEP audience provisioning');
}

/** Finds the definition by name or creates it, then brings its rule and description to the input's. */
async function ensureAudience(aep: AepRestServices, input: AudienceDefinitionInput, tenantId: string, log: Log): Promise<AudienceDefinitionResult> {
  const wanted = audienceDefinitionRequest(input, tenantId);
  const { resource, created } = await step(`ensure segment definition "${input.name}"`, () => aep.segmentation.ensureDefinition(wanted));
  if (created) {
    log.info('AEP segment definition created', { name: input.name, id: resource.id, pql: wanted.expression.value });
  } else if (!matches(resource, wanted)) {
    // The definition is declared by name: one found under it is brought to the declared band.
    log.warn('AEP segment definition differs from the audience; updating it', { name: input.name, id: resource.id, from: resource.expression?.value, to: wanted.expression.value });
    await step(`update segment definition "${input.name}" (${resource.id})`, () => aep.segmentation.updateDefinition(resource.id, wanted));
  } else {
    log.info('AEP segment definition already in place', { name: input.name, id: resource.id });
  }
  return { definitionId: resource.id, tenantId };
}

async function removeAudience(aep: AepRestServices, name: string, log: Log): Promise<AudienceDefinitionDeletion> {
  const existing = await step(`find segment definition "${name}"`, () => aep.segmentation.findDefinition(name));
  if (!existing) {
    log.info('AEP segment definition was already gone', { name });
    return { absent: true };
  }
  const deleted = await step(`delete segment definition "${name}" (${existing.id})`, () => aep.segmentation.deleteDefinition(existing.id));
  log.info(deleted ? 'AEP segment definition deleted' : 'AEP segment definition was already gone', { name, id: existing.id });
  return deleted ? { deletedDefinitionId: existing.id, absent: false } : { absent: true };
}

/**
 * Runs one Terraform lifecycle action on the audience's segment definition.
 * - create: finds the definition by name or creates it (never a twin); one found with another rule or
 *   description is updated to this band.
 * - update: the same for the new input (the rule is PATCHed when the band changed); when the name
 *   changed, the definition under the previous name is then deleted.
 * - delete: deletes the definition found by name; one already gone counts as deleted.
 * The event is validated before any AEP call.
 */
export async function provisionAudienceDefinition(
  aep: AepRestServices,
  event: unknown,
  deps: AudienceDefinitionDeps,
): Promise<AudienceDefinitionResult | AudienceDefinitionDeletion> {
  const { action, input, previous } = parseAudienceDefinitionEvent(event, deps.terraformKey ?? DEFAULT_TERRAFORM_KEY);
  const log = deps.log;
  log.info('AEP audience provisioning', { action, name: input.name, low: input.band.low, high: input.band.high });
  if (action === 'delete') return removeAudience(aep, input.name, log);

  const tenantId =
    input.tenantId ?? deps.tenantId ?? (await step('read the tenant id from the Schema Registry', () => aep.schemaRegistry.tenantId()));
  const result = await ensureAudience(aep, input, tenantId, log);
  if (previous && previous.name !== input.name) {
    try {
      await removeAudience(aep, previous.name, log);
    } catch (error) {
      throw new ProvisionError(
        `Renaming audience "${previous.name}" to "${input.name}": the new definition ${result.definitionId} is in place, but removing the previous one failed: ${messageOf(error)}`,
        { step: `delete segment definition "${previous.name}"`, cause: error },
      );
    }
  }
  return result;
}
