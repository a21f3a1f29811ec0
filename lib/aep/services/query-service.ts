import type { Clock } from '../../ports/clock';
import { AepClient, ensureResource } from '../client';
import { AepError } from '../errors';

const BASE = '/data/foundation/query';

export type QueryState = 'SUBMITTED' | 'IN_PROGRESS' | 'SUCCESS' | 'FAILED' | 'KILLED' | 'DELETED' | 'CANCELLED' | 'CANCELED';

export interface QueryError {
  code?: string;
  message?: string;
  errorType?: string;
}

export interface Query {
  id: string;
  state: QueryState;
  sql?: string;
  effectiveSQL?: string;
  isCTAS?: boolean;
  isInsertInto?: boolean;
  rowCount?: number;
  created?: string;
  updated?: string;
  elapsedTime?: number;
  errors?: QueryError[];
  [key: string]: unknown;
}

export interface SubmitQuery {
  /** `<sandbox>:all` reaches every dataset of the sandbox. */
  dbName: string;
  sql?: string;
  templateId?: string;
  name?: string;
  description?: string;
  queryParameters?: Record<string, string>;
}

export interface QueryTemplate {
  id: string;
  name: string;
  sql: string;
  queryParameters?: Record<string, string>;
  [key: string]: unknown;
}

export interface ConnectionParameters {
  host: string;
  port: number;
  username: string;
  token: string;
  dbName: string;
  version?: string;
}

interface QueryTemplateList {
  templates?: QueryTemplate[];
  _page?: { next?: string };
}

const FINISHED_OK = new Set<QueryState>(['SUCCESS']);
const FINISHED_BAD = new Set<QueryState>(['FAILED', 'KILLED', 'DELETED', 'CANCELLED', 'CANCELED']);

/** Query Service's REST API: batch queries (for work longer than an interactive session), templates, wire-protocol parameters. */
export class QueryServiceApi {
  constructor(private readonly client: AepClient) {}

  /** The database name that reaches every dataset of the sandbox. */
  get allDatabase(): string {
    return `${this.client.sandbox}:all`;
  }

  async submit(query: SubmitQuery): Promise<Query> {
    return (await this.client.request<Query>({ method: 'POST', path: `${BASE}/queries`, body: query })).data;
  }

  /**
   * The queries whose SQL contains `text`, oldest first: Query Service's `sql~` filter, which takes one
   * string without a comma.
   */
  async findBySql(text: string, limit = 10): Promise<Query[]> {
    if (text.includes(',')) throw new Error(`Query Service cannot look up SQL containing a comma: ${JSON.stringify(text)}`);
    const response = await this.client.request<{ queries?: Query[] }>({
      method: 'GET',
      path: `${BASE}/queries`,
      query: { property: `sql~${text}`, orderby: '+created', limit },
    });
    return response.data.queries ?? [];
  }

  async get(id: string): Promise<Query> {
    return (await this.client.request<Query>({ method: 'GET', path: `${BASE}/queries/${encodeURIComponent(id)}` })).data;
  }

  async cancel(id: string): Promise<void> {
    await this.client.request({ method: 'PATCH', path: `${BASE}/queries/${encodeURIComponent(id)}`, body: { op: 'cancel' } });
  }

  /** Polls a query until it finishes; a failed query becomes an error carrying Query Service's message. */
  async waitFor(id: string, options: { clock: Clock; timeoutMs: number; pollIntervalMs?: number }): Promise<Query> {
    const started = options.clock.now().getTime();
    for (;;) {
      const query = await this.get(id);
      if (FINISHED_OK.has(query.state)) {
        return query;
      }
      if (FINISHED_BAD.has(query.state)) {
        const reason = (query.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(' ')).join('; ');
        throw new AepError(`Query ${id} ended ${query.state}${reason ? `: ${reason}` : ''}`, {
          kind: 'failed-operation',
          code: query.errors?.[0]?.code,
          detail: reason || undefined,
        });
      }
      if (options.clock.now().getTime() - started > options.timeoutMs) {
        throw new AepError(`Query ${id} still ${query.state} after ${Math.round(options.timeoutMs / 1000)} s`, { kind: 'failed-operation' });
      }
      await options.clock.sleep(options.pollIntervalMs ?? 5000);
    }
  }

  async findTemplate(name: string): Promise<QueryTemplate | undefined> {
    const pages = this.client.paginate<QueryTemplateList, QueryTemplate>(
      { method: 'GET', path: `${BASE}/query-templates`, query: { property: `name==${name}`, limit: 50 } },
      (page) => page.templates ?? [],
      (page, query) => (page._page?.next ? { ...query, start: page._page.next } : undefined),
    );
    for await (const template of pages) {
      if (template.name === name) {
        return template;
      }
    }
    return undefined;
  }

  /** The template of this name, created if missing, and brought up to date if its SQL changed. */
  async ensureTemplate(template: { name: string; sql: string; queryParameters?: Record<string, string> }): Promise<{ resource: QueryTemplate; created: boolean }> {
    const result = await ensureResource<QueryTemplate>(
      () => this.findTemplate(template.name),
      async () => (await this.client.request<QueryTemplate>({ method: 'POST', path: `${BASE}/query-templates`, body: template })).data,
    );
    if (!result.created && result.resource.sql !== template.sql) {
      const updated = await this.client.request<QueryTemplate>({
        method: 'PUT',
        path: `${BASE}/query-templates/${encodeURIComponent(result.resource.id)}`,
        body: template,
      });
      return { resource: { ...result.resource, ...updated.data }, created: false };
    }
    return result;
  }

  async deleteTemplate(id: string): Promise<boolean> {
    return this.client.deleteIfExists(`${BASE}/query-templates/${encodeURIComponent(id)}`);
  }

  /** Host, port, database and credentials for the PostgreSQL wire protocol. */
  async connectionParameters(): Promise<ConnectionParameters> {
    return (await this.client.request<ConnectionParameters>({ method: 'GET', path: `${BASE}/connection_parameters` })).data;
  }
}
