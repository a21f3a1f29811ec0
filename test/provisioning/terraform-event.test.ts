import * as z from 'zod';
import { ProvisioningInputError } from '../../lib/provisioning/errors';
import { DEFAULT_TERRAFORM_KEY, parseTerraformEvent, type TerraformResource } from '../../lib/provisioning/terraform-event';

const WIDGET: TerraformResource<{ name: string; size: number }> = {
  event: 'widget',
  input: 'widget',
  schema: z.object({ name: z.string({ error: 'must be a string' }), size: z.number({ error: 'must be a number' }).default(1) }).strict(),
};

function refusal(event: unknown, terraformKey?: string): ProvisioningInputError {
  try {
    parseTerraformEvent(event, WIDGET, terraformKey);
  } catch (error) {
    expect(error).toBeInstanceOf(ProvisioningInputError);
    return error as ProvisioningInputError;
  }
  throw new Error('expected the event to be refused');
}

const issues = (event: unknown, terraformKey?: string) => refusal(event, terraformKey).issues.map((i) => `${i.path}: ${i.message}`);

describe('the Terraform CRUD event', () => {
  it('reads the action and the input, and on update the previous input without its Terraform key', () => {
    expect(DEFAULT_TERRAFORM_KEY).toBe('tf');
    expect(parseTerraformEvent({ name: 'a', tf: { action: 'create', prev_input: null } }, WIDGET)).toEqual({ action: 'create', input: { name: 'a', size: 1 } });
    expect(parseTerraformEvent({ name: 'a', tf: { action: 'create' } }, WIDGET).action).toBe('create');
    expect(parseTerraformEvent({ name: 'b', tf: { action: 'update', prev_input: { name: 'a', size: 2, tf: { action: 'create', prev_input: null } } } }, WIDGET)).toEqual({
      action: 'update',
      input: { name: 'b', size: 1 },
      previous: { name: 'a', size: 2 },
    });
  });

  it('on delete reads the last applied input and ignores prev_input', () => {
    expect(parseTerraformEvent({ name: 'a', tf: { action: 'delete', prev_input: { name: 7 } } }, WIDGET)).toEqual({ action: 'delete', input: { name: 'a', size: 1 } });
  });

  it('refuses an event that is not an object, naming the input and the key', () => {
    for (const bad of ['create', null, [1], 3]) {
      const error = refusal(bad);
      expect(error.message).toMatch(/^Invalid widget event:\n {2}- \(event\): must be a JSON object \(the widget plus "tf"\), got /);
    }
    expect(issues('create', 'lifecycle')).toEqual(['(event): must be a JSON object (the widget plus "lifecycle"), got "create"']);
  });

  it('names what is wrong with the Terraform key', () => {
    expect(issues({ name: 'a' })).toEqual([
      'tf: is missing: the provisioner expects { action, prev_input } there, as aws_lambda_invocation adds with lifecycle_scope = "CRUD" (and terraform_key = "tf")',
    ]);
    expect(issues({ name: 'a', tf: 'create' })).toEqual(['tf: must be an object { action, prev_input }, got "create"']);
    expect(issues({ name: 'a', tf: ['create'] })).toEqual(['tf: must be an object { action, prev_input }, got an array']);
    expect(issues({ name: 'a', tf: {} })).toEqual(['tf.action: must be "create", "update" or "delete", got nothing']);
    expect(issues({ name: 'a', tf: { action: 'destroy', prev_input: null } })).toEqual(['tf.action: must be "create", "update" or "delete", got "destroy"']);
    expect(issues({ name: 'a', tf: { action: 'create', prev_input: 'old' } })).toEqual(['tf.prev_input: must be the previous input object, or null, got "old"']);
    expect(issues({ name: 'a', tf: { action: 'update', prev_input: null } })).toEqual(['tf.prev_input: must be the previous input object on update, got null']);
    expect(issues({ name: 'a', tf: { action: 'update' } })).toEqual(['tf.prev_input: must be the previous input object on update, got nothing']);
  });

  it('lists every problem at once, in the input, the key and the previous input', () => {
    expect(issues({ name: 1, colour: 'red', tf: { action: 'update', prev_input: { size: 'big' } } })).toEqual([
      'name: must be a string',
      'colour: is not a setting of the widget',
      'tf.prev_input.name: must be a string',
      'tf.prev_input.size: must be a number',
    ]);
    expect(issues({ name: 'a', tf: { action: 'upsert' }, extra: true })).toEqual([
      'tf.action: must be "create", "update" or "delete", got "upsert"',
      'extra: is not a setting of the widget',
    ]);
  });

  it('honours another Terraform key, which is then no setting of the input', () => {
    expect(parseTerraformEvent({ name: 'a', lifecycle: { action: 'delete', prev_input: null } }, WIDGET, 'lifecycle').input).toEqual({ name: 'a', size: 1 });
    expect(issues({ name: 'a', tf: { action: 'create', prev_input: null } }, 'lifecycle')).toEqual([
      'lifecycle: is missing: the provisioner expects { action, prev_input } there, as aws_lambda_invocation adds with lifecycle_scope = "CRUD" (and terraform_key = "lifecycle")',
      'tf: is not a setting of the widget',
    ]);
  });
});
