import type { z } from 'zod';

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
