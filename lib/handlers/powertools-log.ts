import { Logger } from '@aws-lambda-powertools/logger';
import type { Log } from '../ports/logger';

/** The Log port over Powertools' structured logger, which takes attributes as a rest parameter. */
export function powertoolsLog(serviceName: string): Log {
  const logger = new Logger({ serviceName });
  return {
    debug: (message, attributes) => logger.debug(message, ...(attributes ? [attributes] : [])),
    info: (message, attributes) => logger.info(message, ...(attributes ? [attributes] : [])),
    warn: (message, attributes) => logger.warn(message, ...(attributes ? [attributes] : [])),
    error: (message, attributes) => logger.error(message, ...(attributes ? [attributes] : [])),
  };
}
