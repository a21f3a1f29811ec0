import { ProvisioningInputError } from '../../lib/provisioning/errors';
import { parseProvisioningPlan, resourceNames, sameNames } from '../../lib/provisioning/plan';
import { propensityFieldGroup, propensityProfileSchema } from '../../lib/provisioning/scores-schema';
import { PROFILE_CLASS } from '../../lib/xdm/schema';

describe('provisioning plan', () => {
  it('retains the scores dataset on destroy unless told otherwise', () => {
    expect(parseProvisioningPlan({ namePrefix: 'acme' })).toEqual({ namePrefix: 'acme', scores: { retainDatasetOnDestroy: true }, features: { retainDatasetsOnDestroy: false } });
    expect(parseProvisioningPlan({ namePrefix: 'acme', scores: {} }).scores.retainDatasetOnDestroy).toBe(true);
    expect(parseProvisioningPlan({ namePrefix: 'acme', scores: { retainDatasetOnDestroy: false } }).scores.retainDatasetOnDestroy).toBe(false);
  });

  it('deletes the feature datasets on destroy unless told otherwise, naming a bad flag', () => {
    expect(parseProvisioningPlan({ namePrefix: 'acme', features: { retainDatasetsOnDestroy: true } }).features.retainDatasetsOnDestroy).toBe(true);
    expect(() => parseProvisioningPlan({ namePrefix: 'acme', features: { retainDatasetsOnDestroy: 'yes' } })).toThrow(/features\.retainDatasetsOnDestroy: must be true or false/);
  });

  it('accepts 1 to 40 letters, digits, spaces, "_" and "-", with no space at either end', () => {
    for (const ok of ['a', 'A b_c-9', 'x'.repeat(40), '_lead', 'trail-']) expect(parseProvisioningPlan({ namePrefix: ok }).namePrefix).toBe(ok);
    for (const bad of ['', 'x'.repeat(41), ' lead', 'trail ', 'a.b', 'a/b', "o'brien", 'é']) {
      expect(() => parseProvisioningPlan({ namePrefix: bad })).toThrow(/namePrefix: must be 1-40 letters/);
    }
  });

  it('names every problem, with its path, in one error', () => {
    let error: unknown;
    try {
      parseProvisioningPlan({ namePrefix: 7, scores: { retainDatasetOnDestroy: 'no', extra: 1 }, other: true }, 'tf.prev_input');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProvisioningInputError);
    const issues = (error as ProvisioningInputError).issues;
    expect(Object.fromEntries(issues.map((i) => [i.path, i.message]))).toEqual({
      'tf.prev_input.namePrefix': 'must be a string',
      'tf.prev_input.scores.retainDatasetOnDestroy': 'must be true or false',
      'tf.prev_input.scores.extra': 'is not a setting of the provisioning plan',
      'tf.prev_input.other': 'is not a setting of the provisioning plan',
    });
    expect((error as Error).message).toMatch(/^Invalid provisioning plan in tf\.prev_input:\n {2}- /);
  });

  it('derives the AEP names from the prefix', () => {
    const names = resourceNames({ namePrefix: 'Acme' });
    expect(names).toEqual({ fieldGroup: 'Acme propensity', schema: 'Acme propensity profiles', scoresDataset: 'Acme propensity scores' });
    expect(sameNames(names, resourceNames({ namePrefix: 'Acme' }))).toBe(true);
    expect(sameNames(names, resourceNames({ namePrefix: 'acme' }))).toBe(false);
  });

  it('defines the propensity and user id fields under the tenant namespace, on the profile class', () => {
    const fieldGroup = propensityFieldGroup('t', 'acme');
    expect(fieldGroup['meta:intendedToExtend']).toEqual([PROFILE_CLASS]);
    const tenant = (fieldGroup.definitions.propensityScore as { properties: Record<string, { properties: Record<string, { type: string }> }> })
      .properties._acme;
    expect(tenant?.properties.propensity?.type).toBe('number');
    expect(tenant?.properties.userid?.type).toBe('string');
    expect(propensityProfileSchema('s', 'fg').allOf).toEqual([{ $ref: PROFILE_CLASS }, { $ref: 'fg' }]);
  });
});
