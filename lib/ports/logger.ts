/**
 * The logging surface the pipeline needs. Powertools' Logger satisfies it in Lambda; the command line
 * passes a quieter one. Attributes must never contain secrets: the AEP client logs ids and status codes only.
 */
export interface Log {
  debug(message: string, attributes?: Record<string, unknown>): void;
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };
