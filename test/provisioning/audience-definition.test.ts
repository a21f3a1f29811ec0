import { createAepServices, type AepServices } from '../../lib/aep';
import { silentLog } from '../../lib/ports/logger';
import {
  provisionAudienceDefinition,
  type AudienceDefinitionDeletion,
  type AudienceDefinitionInputShape,
  type AudienceDefinitionResult,
} from '../../lib/provisioning/audience-definition';
import { provision, type ProvisionResult } from '../../lib/provisioning/provision';
import { ProvisioningInputError } from '../../lib/provisioning/errors';
import { startTestPlatform } from '../helpers/platform';

type Platform = Awaited<ReturnType<typeof startTestPlatform>>;
let platform: Platform;
let aep: AepServices;
let tenant: string;

beforeAll(async () => {
  platform = await startTestPlatform();
  aep = createAepServices(platform.config);
  // The rule reads _<tenant>.propensity, which the scores schema brings into the Profile union.
  const scores = (await provision(aep, { namePrefix: 'audience', tf: { action: 'create', prev_input: null } }, { log: silentLog })) as ProvisionResult;
  tenant = scores.tenantId;
});
afterAll(async () => {
  await platform?.dispose();
});

type Action = 'create' | 'update' | 'delete';
type Input = Omit<AudienceDefinitionInputShape, 'resource'>;

function event(action: Action, input: Input, previous: Input | null = null): Record<string, unknown> {
  const full = (i: Input) => ({ resource: 'audience', ...i });
  return { ...full(input), tf: { action, prev_input: action === 'delete' ? full(input) : previous && full(previous) } };
}

async function run(action: Action, input: Input, previous: Input | null = null) {
  return provisionAudienceDefinition(aep, event(action, input, previous), { log: silentLog });
}

async function definitionsNamed(name: string) {
  const listed = await aep.client.request<{ segments: Array<{ id: string; name: string; description?: string; expression: { value: string } }> }>({
    method: 'GET',
    path: '/data/core/ups/segment/definitions',
    query: { limit: 1000 },
  });
  return listed.data.segments.filter((s) => s.name === name);
}

/** Requests the stand-in answers from now on, as "METHOD path". */
function traffic(): { calls: string[]; stop: () => void } {
  const calls: string[] = [];
  const stop = platform.aep.onExchange((ex) => calls.push(`${ex.method} ${new URL(ex.url).pathname}`));
  return { calls, stop };
}

describe('create', () => {
  it('creates the segment definition with the band rule once, returning ids only', async () => {
    const input = { name: 'High propensity', band: { low: 0.8, high: 1 } };
    const created = (await run('create', input)) as AudienceDefinitionResult;
    expect(Object.keys(created).sort()).toEqual(['definitionId', 'tenantId']);
    expect(created.tenantId).toBe(tenant);
    const again = (await run('create', input)) as AudienceDefinitionResult;
    expect(again.definitionId).toBe(created.definitionId);
    const found = await definitionsNamed('High propensity');
    expect(found).toHaveLength(1);
    expect(found[0]?.expression.value).toBe(`_${tenant}.propensity >= 0.8 and _${tenant}.propensity <= 1`);
    expect(found[0]?.description).toMatch(/from 0\.8 to 1, both included/);
  });

  it('brings a definition found under the name to the declared band instead of making a twin', async () => {
    const existing = await aep.segmentation.ensureDefinition({
      name: 'Adopted',
      schema: { name: '_xdm.context.profile' },
      expression: { type: 'PQL', format: 'pql/text', value: `_${tenant}.propensity >= 0.1` },
    });
    const result = (await run('create', { name: 'Adopted', band: { low: 0.2, high: 0.3 }, description: 'mine' })) as AudienceDefinitionResult;
    expect(result.definitionId).toBe(existing.resource.id);
    expect(await definitionsNamed('Adopted')).toEqual([
      expect.objectContaining({ description: 'mine', expression: expect.objectContaining({ value: `_${tenant}.propensity >= 0.2 and _${tenant}.propensity <= 0.3` }) }),
    ]);
  });

  it('uses the tenant id of the input', async () => {
    // The stand-in's Profile union knows only the sandbox tenant's fields, so another tenant's rule is refused by AEP.
    await expect(run('create', { name: 'Other tenant', band: { low: 0, high: 0.5 }, tenantId: 'othertenant' })).rejects.toThrow(
      /ensure segment definition "Other tenant".*_othertenant\.propensity/,
    );
    expect(await definitionsNamed('Other tenant')).toEqual([]);
  });
});

describe('update', () => {
  it('PATCHes the rule when the band changes, keeping the id', async () => {
    const before = { name: 'Middle', band: { low: 0.4, high: 0.6 } };
    const created = (await run('create', before)) as AudienceDefinitionResult;
    const recorder = traffic();
    const updated = (await run('update', { name: 'Middle', band: { low: 0.45, high: 0.55 } }, before)) as AudienceDefinitionResult;
    recorder.stop();
    expect(updated.definitionId).toBe(created.definitionId);
    expect(recorder.calls).toContain(`PATCH /data/core/ups/segment/definitions/${created.definitionId}`);
    expect(recorder.calls.filter((c) => c.startsWith('POST'))).toEqual([]);
    expect((await definitionsNamed('Middle'))[0]?.expression.value).toBe(`_${tenant}.propensity >= 0.45 and _${tenant}.propensity <= 0.55`);
  });

  it('changes nothing when nothing changed', async () => {
    const input = { name: 'Steady', band: { low: 0.1, high: 0.2 } };
    await run('create', input);
    const recorder = traffic();
    await run('update', input, input);
    recorder.stop();
    expect(recorder.calls.filter((c) => !c.startsWith('GET') && !c.startsWith('POST /ims'))).toEqual([]);
  });

  it('replaces the definition when the name changes', async () => {
    const before = { name: 'Old name', band: { low: 0.7, high: 0.9 } };
    const old = (await run('create', before)) as AudienceDefinitionResult;
    const renamed = (await run('update', { name: 'New name', band: { low: 0.7, high: 0.9 } }, before)) as AudienceDefinitionResult;
    expect(renamed.definitionId).not.toBe(old.definitionId);
    expect(await definitionsNamed('Old name')).toEqual([]);
    expect((await definitionsNamed('New name')).map((d) => d.id)).toEqual([renamed.definitionId]);
  });
});

describe('delete', () => {
  it('deletes the definition, and counts one already gone as deleted', async () => {
    const input = { name: 'Short lived', band: { low: 0, high: 0.05 } };
    const created = (await run('create', input)) as AudienceDefinitionResult;
    expect(await run('delete', input)).toEqual({ deletedDefinitionId: created.definitionId, absent: false });
    expect(await definitionsNamed('Short lived')).toEqual([]);
    expect((await run('delete', input)) as AudienceDefinitionDeletion).toEqual({ absent: true });
  });
});

describe('bad input', () => {
  async function issues(raw: Record<string, unknown>): Promise<string[]> {
    const recorder = traffic();
    try {
      await provisionAudienceDefinition(aep, raw, { log: silentLog });
    } catch (error) {
      expect(error).toBeInstanceOf(ProvisioningInputError);
      // Refused before any AEP call.
      expect(recorder.calls).toEqual([]);
      return (error as ProvisioningInputError).issues.map((i) => `${i.path}: ${i.message}`);
    } finally {
      recorder.stop();
    }
    throw new Error('expected the event to be refused');
  }
  const tf = { action: 'create', prev_input: null };

  it('refuses low above high, naming both values', async () => {
    expect(await issues({ resource: 'audience', name: 'x', band: { low: 0.9, high: 0.2 }, tf })).toEqual([
      'band: low (0.9) must not be above high (0.2)',
    ]);
  });

  it('refuses ends outside [0, 1] or not numbers, at their paths', async () => {
    expect(await issues({ resource: 'audience', name: 'x', band: { low: -0.5, high: 1.5 }, tf })).toEqual([
      'band.low: must be within [0, 1] (a propensity is a probability), got -0.5',
      'band.high: must be within [0, 1] (a propensity is a probability), got 1.5',
    ]);
    expect(await issues({ resource: 'audience', name: 'x', band: { low: '0.1' }, tf })).toEqual([
      'band.low: must be a finite number from 0 to 1, got "0.1"',
      'band.high: must be a finite number from 0 to 1, got nothing',
    ]);
  });

  it('names every other bad field at once', async () => {
    const found = await issues({ resource: 'audiences', name: ' ', band: { low: 0, high: 1, mid: 0.5 }, tenantId: '_acme', extra: true });
    expect(found).toEqual(
      expect.arrayContaining([
        'tf: is missing: the provisioner expects { action, prev_input } there, as aws_lambda_invocation adds with lifecycle_scope = "CRUD" (and terraform_key = "tf")',
        'resource: must be "audience"',
        'name: must not be empty',
        'band.mid: is not a setting of the audience',
        'tenantId: must be letters and digits, without the leading underscore',
        'extra: is not a setting of the audience',
      ]),
    );
    expect(found).toHaveLength(6);
  });

  it('requires the previous input on update and checks it too', async () => {
    const input = { resource: 'audience', name: 'x', band: { low: 0, high: 1 } };
    expect(await issues({ ...input, tf: { action: 'update', prev_input: null } })).toEqual(['tf.prev_input: must be the previous input object on update, got null']);
    expect(await issues({ ...input, tf: { action: 'update', prev_input: { ...input, band: { low: 1, high: 0 } } } })).toEqual([
      'tf.prev_input.band: low (1) must not be above high (0)',
    ]);
    expect(await issues({ ...input, tf: { action: 'upsert' } })).toEqual(['tf.action: must be "create", "update" or "delete", got "upsert"']);
  });
});

describe('the Lambda handler', () => {
  it('routes an audience event to the segment definition and a plan to the other resources', async () => {
    const saved = { ...process.env };
    // Powertools writes through its own Console over the process streams.
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      Object.assign(process.env, platform.env);
      const { handler } = await import('../../lib/handlers/provision');
      const audience = (await handler(event('create', { name: 'From the handler', band: { low: 0.6, high: 0.7 } }))) as AudienceDefinitionResult;
      expect((await definitionsNamed('From the handler')).map((d) => d.id)).toEqual([audience.definitionId]);
      const plan = (await handler({ namePrefix: 'handler plan', tf: { action: 'create', prev_input: null } })) as ProvisionResult;
      expect(plan.scoresDatasetId).toEqual(expect.any(String));
      await expect(handler({ resource: 'audience', name: 'No band', tf: { action: 'create', prev_input: null } })).rejects.toThrow(/band: is required/);
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });
});
