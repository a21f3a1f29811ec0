import { AepClient, ensureResource } from '../client';

const BASE = '/data/foundation/catalog';
/** The Catalog tag naming a dataset's table in Query Service. */
export const PQS_TABLE_TAG = 'adobe/pqs/table';

export interface Dataset {
  id: string;
  name: string;
  description?: string;
  schemaRef?: { id: string; contentType: string };
  tags?: Record<string, string[]>;
  created?: number;
  updated?: number;
  [key: string]: unknown;
}

export interface DatasetRequest {
  name: string;
  description?: string;
  schemaRef: { id: string; contentType: string };
  tags?: Record<string, string[]>;
  fileDescription?: { format?: string; persisted?: boolean };
}

export type BatchStatus =
  | 'loading'
  | 'staged'
  | 'queued'
  | 'processing'
  | 'success'
  | 'failed'
  | 'failure'
  | 'aborted'
  | 'abandoned'
  | 'inactive'
  | 'retrying'
  | 'deleted';

export interface Batch {
  id: string;
  status: BatchStatus;
  relatedObjects?: Array<{ type: string; id: string }>;
  metrics?: { inputRecordCount?: number; outputRecordCount?: number; failedRecordCount?: number; [key: string]: unknown };
  errors?: Array<{ code?: string; description?: string; rows?: unknown[]; [key: string]: unknown }>;
  created?: number;
  updated?: number;
  [key: string]: unknown;
}

/** Catalog answers single objects and listings alike as `{ "<id>": {...} }`. */
function entries<T>(data: Record<string, Omit<T, 'id'>>): T[] {
  return Object.entries(data ?? {}).map(([id, value]) => ({ ...(value as object), id }) as T);
}

/** Catalog: datasets (with their Query Service table) and batch status. */
export class Catalog {
  constructor(private readonly client: AepClient) {}

  async getDataset(id: string): Promise<Dataset> {
    const response = await this.client.request<Record<string, Omit<Dataset, 'id'>>>({
      method: 'GET',
      path: `${BASE}/dataSets/${encodeURIComponent(id)}`,
    });
    const dataset = entries<Dataset>(response.data).find((d) => d.id === id) ?? entries<Dataset>(response.data)[0];
    if (!dataset) {
      throw new Error(`Catalog returned no dataset for id ${id}`);
    }
    return dataset;
  }

  async findDataset(name: string): Promise<Dataset | undefined> {
    const pageSize = 50;
    const pages = this.client.paginate<Record<string, Omit<Dataset, 'id'>>, Dataset>(
      { method: 'GET', path: `${BASE}/dataSets`, query: { name, limit: pageSize, start: 0 } },
      (page) => entries<Dataset>(page),
      (page, query) => (Object.keys(page ?? {}).length < pageSize ? undefined : { ...query, start: Number(query.start ?? 0) + pageSize }),
    );
    for await (const dataset of pages) {
      if (dataset.name === name) {
        return dataset;
      }
    }
    return undefined;
  }

  async createDataset(request: DatasetRequest): Promise<string> {
    const response = await this.client.request<string[]>({ method: 'POST', path: `${BASE}/dataSets`, body: request });
    const ref = response.data?.[0];
    const id = ref?.replace(/^@\/dataSets\//, '');
    if (!id) {
      throw new Error(`Catalog created a dataset named ${request.name} but answered no id`);
    }
    return id;
  }

  /** The dataset of this name, created if missing. */
  async ensureDataset(request: DatasetRequest): Promise<{ resource: Dataset; created: boolean }> {
    const result = await ensureResource<Dataset | string>(
      () => this.findDataset(request.name),
      () => this.createDataset(request),
    );
    const resource = typeof result.resource === 'string' ? await this.getDataset(result.resource) : result.resource;
    return { resource, created: result.created };
  }

  /**
   * Adds (or replaces) the given tags on a dataset with a JSON Patch, leaving its other tags alone; e.g.
   * `{ unifiedProfile: ['enabled:true'] }` enables it for Profile (catalog.yaml's PATCH example).
   */
  async addDatasetTags(id: string, tags: Record<string, string[]>): Promise<void> {
    const dataset = await this.getDataset(id);
    const pointer = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');
    const body = dataset.tags
      ? Object.entries(tags).map(([key, value]) => ({ op: 'add', path: `/tags/${pointer(key)}`, value }))
      : [{ op: 'add', path: '/tags', value: tags }];
    await this.client.request({
      method: 'PATCH',
      path: `${BASE}/dataSets/${encodeURIComponent(id)}`,
      headers: { 'Content-Type': 'application/json-patch+json' },
      body,
    });
  }

  async deleteDataset(id: string): Promise<boolean> {
    return this.client.deleteIfExists(`${BASE}/dataSets/${encodeURIComponent(id)}`);
  }

  /** The dataset's table name in Query Service, from its `adobe/pqs/table` tag. */
  async tableName(datasetId: string): Promise<string> {
    const dataset = await this.getDataset(datasetId);
    const table = dataset.tags?.[PQS_TABLE_TAG]?.[0];
    if (!table) {
      throw new Error(`Dataset ${datasetId} (${dataset.name}) has no ${PQS_TABLE_TAG} tag yet; Query Service cannot read it`);
    }
    return table;
  }

  /** Batches loaded into a dataset, optionally only those in one status. */
  async listBatches(datasetId: string, status?: BatchStatus): Promise<Batch[]> {
    const pageSize = 100;
    const batches: Batch[] = [];
    const pages = this.client.paginate<Record<string, Omit<Batch, 'id'>>, Batch>(
      { method: 'GET', path: `${BASE}/batches`, query: { dataSet: datasetId, status, limit: pageSize, start: 0 } },
      (page) => entries<Batch>(page),
      (page, query) => (Object.keys(page ?? {}).length < pageSize ? undefined : { ...query, start: Number(query.start ?? 0) + pageSize }),
    );
    for await (const batch of pages) batches.push(batch);
    return batches;
  }

  async getBatch(id: string): Promise<Batch> {
    const response = await this.client.request<Record<string, Omit<Batch, 'id'>>>({
      method: 'GET',
      path: `${BASE}/batches/${encodeURIComponent(id)}`,
    });
    const batch = entries<Batch>(response.data).find((b) => b.id === id);
    if (!batch) {
      throw new Error(`Catalog returned no batch for id ${id}`);
    }
    return batch;
  }
}
