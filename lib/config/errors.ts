export interface ConfigIssue {
  /** Where the problem is: a dotted configuration path, or `file:line` for a malformed file. */
  path: string;
  message: string;
  /** The environment variable or file the value can come from, to tell the user where to fix it. */
  source?: string | undefined;
}

/** Invalid configuration. The message lists every problem at once, so one run shows all that needs fixing. */
export class ConfigError extends Error {
  readonly issues: ConfigIssue[];

  constructor(summary: string, issues: ConfigIssue[]) {
    const lines = issues.map((issue) => `  - ${issue.path}${issue.source ? ` (${issue.source})` : ''}: ${issue.message}`);
    super([`${summary}:`, ...lines].join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}
