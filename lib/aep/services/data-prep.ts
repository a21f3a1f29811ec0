import { AepClient, ensureResource } from '../client';

const BASE = '/data/foundation/conversion';

export interface MappingOperation {
  /** A source column, a Data Prep expression, or a constant (the SourceType values of data-prep.yaml). */
  sourceType: 'ATTRIBUTE' | 'EXPRESSION' | 'STATIC';
  source: string;
  destination: string;
  name?: string;
  description?: string;
}

export interface MappingSetRequest {
  name?: string;
  outputSchema: { schemaRef: { id: string; contentType: string } };
  inputSchema?: { id?: string; version?: number; schemaRef?: { id: string; contentType: string } };
  mappings: MappingOperation[];
}

export interface MappingSet extends MappingSetRequest {
  id: string;
  version?: number;
  [key: string]: unknown;
}

interface MappingSetList {
  data?: MappingSet[];
  _page?: { count?: number };
}

/** Data Prep: mapping sets that turn source columns into XDM fields. */
export class DataPrep {
  constructor(private readonly client: AepClient) {}

  async get(id: string): Promise<MappingSet> {
    return (await this.client.request<MappingSet>({ method: 'GET', path: `${BASE}/mappingSets/${encodeURIComponent(id)}` })).data;
  }

  async findByName(name: string): Promise<MappingSet | undefined> {
    const pages = this.client.paginate<MappingSetList, MappingSet>(
      { method: 'GET', path: `${BASE}/mappingSets`, query: { limit: 100, start: 0 } },
      (page) => page.data ?? [],
      (page, query) => ((page.data?.length ?? 0) < 100 ? undefined : { ...query, start: Number(query.start ?? 0) + 100 }),
    );
    for await (const set of pages) {
      if (set.name === name) return set;
    }
    return undefined;
  }

  /** Mapping sets have no unique name in AEP; ours carry one so a retry finds the first instead of making a second. */
  ensure(request: MappingSetRequest & { name: string }) {
    return ensureResource<MappingSet>(
      () => this.findByName(request.name),
      async () => (await this.client.request<MappingSet>({ method: 'POST', path: `${BASE}/mappingSets`, body: request })).data,
    );
  }

  /** Replaces a mapping set's content (PUT); Data Prep keeps the id and makes a new version, which it returns. */
  async update(id: string, request: MappingSetRequest & { name: string }): Promise<MappingSet> {
    return (await this.client.request<MappingSet>({ method: 'PUT', path: `${BASE}/mappingSets/${encodeURIComponent(id)}`, body: request })).data;
  }

  async delete(id: string): Promise<boolean> {
    return this.client.deleteIfExists(`${BASE}/mappingSets/${encodeURIComponent(id)}`);
  }
}
