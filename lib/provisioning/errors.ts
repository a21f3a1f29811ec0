import type * as z from 'zod';
import type { ResourceRef } from './resources';

export interface InputIssue {
  /** Dotted path of the bad field in the invocation event, e.g. `scores.retainDatasetOnDestroy`. */
  path: string;
  message: string;
}

/** A malformed provisioning event or plan, found before any AEP call. The message names every bad field. */
export class ProvisioningInputError extends Error {
  readonly issues: InputIssue[];

  constructor(summary: string, issues: InputIssue[]) {
    super([`${summary}:`, ...issues.map((i) => `  - ${i.path}: ${i.message}`)].join('\n'));
    this.name = 'ProvisioningInputError';
    this.issues = issues;
  }
}

/**
 * The problems zod found, each at its dotted path below `at`; an unknown key is reported at its own
 * path as not a setting of `what` (e.g. "provisioning plan", "audience").
 */
export function inputIssues(error: z.ZodError, at: string, what: string): InputIssue[] {
  const join = (segments: PropertyKey[]) => [...(at ? [at] : []), ...segments.map(String)].join('.') || `(${what})`;
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: join([...issue.path, key]), message: `is not a setting of the ${what}` }))
      : [{ path: join(issue.path), message: issue.message }],
  );
}

export function messageOf(error: unknown): string {
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
 * Runs a step that has nothing to roll back; a failure becomes a ProvisionError naming the step, e.g.
 * `AEP provisioning failed at step "find schema …": <AEP's answer>`.
 */
export async function runStep<T>(step: string, work: () => Promise<T>, what = 'AEP provisioning'): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new ProvisionError(`${what} failed at step "${step}": ${messageOf(error)}`, { step, cause: error });
  }
}
