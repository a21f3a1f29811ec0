import { QueryServiceConnectionFactory } from '../aep/query-connection';
import type { QueryRunner } from '../ports/query-runner';
import { dialectFor, type SqlDialect } from '../sql/dialect';
import type { FunctionContext } from './function-handler';

/** Query Service over its wire protocol, and the SQL dialect it speaks. */
export interface QueryServicePorts {
  query: QueryRunner;
  dialect: SqlDialect;
}

/**
 * The ports of a function that queries (featurize), built once at cold start. Kept out of
 * function-handler.ts so that only such a function bundles the PostgreSQL driver.
 */
export function queryServicePorts({ config, aep }: FunctionContext): QueryServicePorts {
  return {
    query: new QueryServiceConnectionFactory({ client: aep.client, queryService: config.aep.queryService }).runner(),
    dialect: dialectFor(config.aep.queryService.dialect),
  };
}
