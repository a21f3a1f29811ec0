import * as z from 'zod';
import { inputIssues, ProvisioningInputError, type InputIssue } from './errors';

/**
 * Terraform's create/update/delete event, read in one place for every resource the provisioner keeps.
 * `aws_lambda_invocation` with `lifecycle_scope = "CRUD"` sends the resource's input with one more key
 * (its `terraform_key`, "tf" by default) holding `{ action, prev_input }`: on create prev_input is null;
 * on update it is the input of the previous apply; on delete Terraform sends the last applied input as
 * the input, and the same again as prev_input, which is then ignored.
 */

export const DEFAULT_TERRAFORM_KEY = 'tf';

export const TERRAFORM_ACTIONS = ['create', 'update', 'delete'] as const;
export type TerraformAction = (typeof TERRAFORM_ACTIONS)[number];

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value as an error message quotes it: short JSON for scalars, its kind for the rest. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The value under the Terraform key. prev_input may be absent (as null); on update it must be the previous input. */
export const terraformLifecycleSchema = z
  .object(
    {
      action: z.enum(TERRAFORM_ACTIONS, { error: (issue) => `must be "create", "update" or "delete", got ${describeValue(issue.input)}` }),
      prev_input: z
        .custom<Record<string, unknown> | null>((value) => value === null || isPlainObject(value), {
          error: (issue) => `must be the previous input object, or null, got ${describeValue(issue.input)}`,
        })
        .optional(),
    },
    { error: (issue) => `must be an object { action, prev_input }, got ${describeValue(issue.input)}` },
  )
  .superRefine((tf, ctx) => {
    if (tf.action === 'update' && !isPlainObject(tf.prev_input)) {
      ctx.addIssue({ code: 'custom', path: ['prev_input'], message: `must be the previous input object on update, got ${describeValue(tf.prev_input)}` });
    }
  });

/** What a resource's input is, for reading its events. */
export interface TerraformResource<T> {
  /** Names the event in the error's summary: "provisioning" gives "Invalid provisioning event". */
  event: string;
  /** Names the input in messages: "provisioning plan" gives "is not a setting of the provisioning plan". */
  input: string;
  schema: z.ZodType<T>;
}

export interface TerraformEvent<T> {
  action: TerraformAction;
  /** The input of this apply; on delete, the last applied one. */
  input: T;
  /** On update, the input of the previous apply. */
  previous?: T | undefined;
}

/**
 * Reads an invocation event: the resource's input with the Terraform key beside it. Checks the
 * Terraform key, the input and, on update, the previous input (without its own Terraform key), and
 * throws one ProvisioningInputError naming every bad field.
 */
export function parseTerraformEvent<T>(event: unknown, resource: TerraformResource<T>, terraformKey: string = DEFAULT_TERRAFORM_KEY): TerraformEvent<T> {
  const summary = `Invalid ${resource.event} event`;
  if (!isPlainObject(event)) {
    throw new ProvisioningInputError(summary, [
      { path: '(event)', message: `must be a JSON object (the ${resource.input} plus "${terraformKey}"), got ${describeValue(event)}` },
    ]);
  }
  const { [terraformKey]: tf, ...rest } = event;
  const issues: InputIssue[] = [];
  const parseInput = (value: unknown, at: string): T | undefined => {
    const parsed = resource.schema.safeParse(value);
    if (parsed.success) return parsed.data;
    issues.push(...inputIssues(parsed.error, at, resource.input));
    return undefined;
  };

  let lifecycle: z.infer<typeof terraformLifecycleSchema> | undefined;
  if (tf === undefined) {
    issues.push({
      path: terraformKey,
      message:
        'is missing: the provisioner expects { action, prev_input } there, as aws_lambda_invocation adds with lifecycle_scope = "CRUD"' +
        ` (and terraform_key = "${terraformKey}")`,
    });
  } else {
    const parsed = terraformLifecycleSchema.safeParse(tf);
    if (parsed.success) lifecycle = parsed.data;
    else issues.push(...inputIssues(parsed.error, terraformKey, 'Terraform key'));
  }
  const input = parseInput(rest, '');
  let previous: T | undefined;
  if (lifecycle?.action === 'update' && isPlainObject(lifecycle.prev_input)) {
    const { [terraformKey]: _ignored, ...prevRest } = lifecycle.prev_input;
    void _ignored;
    previous = parseInput(prevRest, `${terraformKey}.prev_input`);
  }
  if (issues.length > 0 || lifecycle === undefined || input === undefined) throw new ProvisioningInputError(summary, issues);
  return { action: lifecycle.action, input, previous };
}
