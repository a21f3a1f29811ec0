/** Runs SQL and returns rows: Query Service's wire protocol in production, PGlite on the embedded platform. */
export interface QueryRunner {
  query<Row extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
}
