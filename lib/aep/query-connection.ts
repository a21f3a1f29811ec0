import type { ClientConfig } from 'pg';
// The client alone, not pg's index: that also loads its pool and its native (libpq) binding, neither of
// which is used here, and a function's bundle would carry them.
import Client from 'pg/lib/client';
import type { AepConfig } from '../config/schema';
import type { QueryRunner } from '../ports/query-runner';
import type { AepClient } from './client';
import { QueryServiceApi } from './services/query-service';

export interface QueryServiceConnectionOptions {
  client: AepClient;
  queryService: AepConfig['queryService'];
  /** Milliseconds before an interactive statement is abandoned. Long work goes through batch queries instead. */
  statementTimeoutMs?: number;
}

/**
 * Opens PostgreSQL wire-protocol connections to Query Service: database `<sandbox>:all`, user the IMS
 * org id, password a current access token, TLS unless configured off (only the embedded platform is).
 * The host comes from the configuration or, when absent, from Query Service's connection parameters.
 */
export class QueryServiceConnectionFactory {
  private host?: Promise<string>;

  constructor(private readonly options: QueryServiceConnectionOptions) {}

  private resolveHost(): Promise<string> {
    if (this.options.queryService.host) {
      return Promise.resolve(this.options.queryService.host);
    }
    this.host ??= new QueryServiceApi(this.options.client).connectionParameters().then((p) => p.host);
    return this.host;
  }

  async config(): Promise<ClientConfig> {
    return {
      host: await this.resolveHost(),
      port: this.options.queryService.port,
      database: `${this.options.client.sandbox}:all`,
      user: this.options.client.orgId,
      password: await this.options.client.tokens.getToken(),
      ssl: this.options.queryService.ssl ? { rejectUnauthorized: true } : false,
      statement_timeout: this.options.statementTimeoutMs,
      application_name: 'aep-feature-pipelines',
    };
  }

  async connect(): Promise<Client> {
    const connection = new Client(await this.config());
    await connection.connect();
    return connection;
  }

  /** Runs `work` on a fresh connection and always closes it. */
  async withConnection<T>(work: (connection: Client) => Promise<T>): Promise<T> {
    const connection = await this.connect();
    try {
      return await work(connection);
    } finally {
      await connection.end().catch(() => undefined);
    }
  }

  /** A QueryRunner port over one connection per call. */
  runner(): QueryRunner {
    return {
      query: <Row extends Record<string, unknown>>(sql: string, params?: readonly unknown[]) => this.withConnection(async (c) => (await c.query<Row>(sql, params as unknown[] | undefined)).rows),
    };
  }
}
