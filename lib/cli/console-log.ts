import type { Log } from '../ports/logger';

/** The command line's log: warnings and errors on stderr, everything with --verbose. */
export function consoleLog(verbose: boolean): Log {
  const write = (level: string) => (message: string, attributes?: Record<string, unknown>) => {
    process.stderr.write(`${level} ${message}${attributes ? ` ${JSON.stringify(attributes)}` : ''}\n`);
  };
  const quiet = () => undefined;
  return {
    debug: verbose ? write('debug') : quiet,
    info: verbose ? write('info') : quiet,
    warn: write('warn'),
    error: write('error'),
  };
}
