import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { settingAt } from '../../lib/config/settings';
import { STAGE_NAMES, STAGES } from '../../lib/stages/registry';
import { allStrings, leastPrivilegeProblems, resourcesOf, type SynthesizedStack } from '../constructs/synth-helpers';

/**
 * The consumer's synthesized stack, checked as the construct tests check ours: every stage and the
 * provisioner deployed from a shipped bundle on nodejs22.x, each stage's required settings in its
 * environment, least privilege, no IAM users or keys, nothing secret-shaped.
 */
export function checkConsumerStack(stackFile: string, flavor: string): void {
  const json = JSON.parse(fs.readFileSync(stackFile, 'utf8')) as SynthesizedStack;
  const functions = Object.values(resourcesOf(json, 'aws_lambda_function'));
  assert.strictEqual(functions.length, STAGE_NAMES.length + 1, `${flavor}: expected ${STAGE_NAMES.length + 1} functions, found ${functions.length}`);
  for (const fn of functions) {
    assert.strictEqual(fn.runtime, 'nodejs22.x', `${flavor}: ${fn.function_name} runs ${fn.runtime}`);
    assert.strictEqual(fn.handler, 'index.handler', `${flavor}: ${fn.function_name} has handler ${fn.handler}`);
    const asset = path.resolve(path.dirname(stackFile), String(fn.filename));
    assert.ok(fs.existsSync(asset), `${flavor}: ${fn.function_name}'s code ${fn.filename} is not in the synthesized output`);
  }
  for (const name of STAGE_NAMES) {
    const fn = functions.find((f) => String(f.description).startsWith(`The ${name} stage`));
    assert.ok(fn, `${flavor}: no function for the ${name} stage`);
    const variables = (fn.environment?.variables ?? {}) as Record<string, string>;
    for (const path of STAGES[name].required) {
      assert.ok(variables[settingAt(path).variable], `${flavor}: the ${name} function lacks ${settingAt(path).variable}`);
    }
  }
  assert.deepStrictEqual(leastPrivilegeProblems(json), [], `${flavor}: least privilege`);
  assert.deepStrictEqual(resourcesOf(json, 'aws_iam_user'), {}, `${flavor}: an IAM user was synthesized`);
  assert.deepStrictEqual(resourcesOf(json, 'aws_iam_access_key'), {}, `${flavor}: an access key was synthesized`);
  const secretShaped = /p8e-[A-Za-z0-9_-]{10,}|"clientSecret"\s*:\s*"[^"]+"|AKIA[0-9A-Z]{16}|BEGIN (RSA )?PRIVATE KEY/;
  assert.deepStrictEqual(allStrings(json).filter(({ value }) => secretShaped.test(value)), [], `${flavor}: secret-shaped strings in the stack`);
}
