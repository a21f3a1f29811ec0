import { AepClient, ensureResource } from '../client';
import { isAepError } from '../errors';

const BASE = '/data/foundation/flowservice';

/** Connection and flow specs the pipeline uses (BRIEF section 3). */
export const FLOW_SPECS = {
  /** Dataset export to Amazon S3. */
  s3DestinationConnectionSpec: '4fce964d-3f37-408f-9778-e597338a21ee',
  datasetExportFlowSpec: '269ba276-16fc-47db-92b0-c1049a3c131f',
  datasetSourceConnectionSpec: '23598e46-f560-407b-88d5-ea6207e49db0',
  /** Ingestion from Amazon S3 into a data lake dataset. */
  s3SourceConnectionSpec: 'ecadc60c-7455-4d87-84dc-2a0e293d997b',
  dataLakeTargetConnectionSpec: 'c604ff05-7f1a-43c0-8e18-33bf874cb11c',
  cloudStorageToAepFlowSpec: '9753525b-82c7-4dce-8a9b-5ccfce2b9876',
} as const;

export interface SpecRef {
  id: string;
  version: string;
}

export interface FlowServiceResource {
  id: string;
  name?: string;
  etag?: string;
  [key: string]: unknown;
}

export interface BaseConnectionRequest {
  name: string;
  description?: string;
  connectionSpec: SpecRef;
  auth?: { specName: string; params: Record<string, unknown> };
}

/** Source and target connections take the same shape: where the data is, in the connection spec's terms. */
export interface ConnectionRequest {
  name: string;
  description?: string;
  baseConnectionId?: string;
  connectionSpec: SpecRef;
  data?: Record<string, unknown>;
  params?: Record<string, unknown>;
}

export interface FlowRequest {
  name: string;
  description?: string;
  flowSpec: SpecRef;
  sourceConnectionIds: string[];
  targetConnectionIds: string[];
  transformations?: Array<{ name: string; params: Record<string, unknown> }>;
  scheduleParams?: Record<string, unknown>;
}

export interface FlowRun extends FlowServiceResource {
  flowId?: string;
  status?: { value?: string; errors?: Array<{ code?: string; message?: string }> };
  metrics?: Record<string, unknown>;
  createdAt?: number;
}

type Collection = 'connections' | 'sourceConnections' | 'targetConnections' | 'flows' | 'runs';

interface ListPage<T> {
  items?: T[];
  _links?: { next?: { href?: string } };
}

/** Flow Service: base, source and target connections, dataflows and their runs, for sources and destinations alike. */
export class FlowService {
  constructor(private readonly client: AepClient) {}

  async list<T extends FlowServiceResource>(collection: Collection, property?: string): Promise<T[]> {
    const items: T[] = [];
    const pages = this.client.paginate<ListPage<T>, T>(
      { method: 'GET', path: `${BASE}/${collection}`, query: { property, limit: 100 } },
      (page) => page.items ?? [],
      (page, query) => {
        const href = page._links?.next?.href;
        const token = href ? new URL(href, 'http://x').searchParams.get('continuationToken') : null;
        return token ? { ...query, continuationToken: token } : undefined;
      },
    );
    for await (const item of pages) items.push(item);
    return items;
  }

  async findByName<T extends FlowServiceResource>(collection: Exclude<Collection, 'runs'>, name: string): Promise<T | undefined> {
    return (await this.list<T>(collection, `name==${name}`)).find((item) => item.name === name);
  }

  async get<T extends FlowServiceResource>(collection: Collection, id: string): Promise<T> {
    const response = await this.client.request<{ items?: T[] }>({ method: 'GET', path: `${BASE}/${collection}/${encodeURIComponent(id)}` });
    const item = response.data.items?.[0];
    if (!item) {
      throw new Error(`Flow Service returned no ${collection} item for id ${id}`);
    }
    return item;
  }

  private async create(collection: Collection, body: object): Promise<FlowServiceResource> {
    return (await this.client.request<FlowServiceResource>({ method: 'POST', path: `${BASE}/${collection}`, body })).data;
  }

  /** Find by name, else create: Flow Service names are not unique, so this is what keeps retries from making twins. */
  ensure(collection: Exclude<Collection, 'runs'>, body: { name: string }) {
    return ensureResource<FlowServiceResource>(
      () => this.findByName(collection, body.name),
      () => this.create(collection, body),
    );
  }

  ensureBaseConnection(request: BaseConnectionRequest) {
    return this.ensure('connections', request);
  }
  ensureSourceConnection(request: ConnectionRequest) {
    return this.ensure('sourceConnections', request);
  }
  ensureTargetConnection(request: ConnectionRequest) {
    return this.ensure('targetConnections', request);
  }
  ensureFlow(request: FlowRequest) {
    return this.ensure('flows', request);
  }

  /** Runs of a flow, newest first. */
  async runsOf(flowId: string): Promise<FlowRun[]> {
    const runs = await this.list<FlowRun>('runs', `flowId==${flowId}`);
    return runs.sort((a, b) => (b.createdAt ?? 0) - (a.createdAt ?? 0));
  }

  /** Deletes with the resource's etag, as Flow Service requires; a resource already gone counts as deleted. */
  async delete(collection: Exclude<Collection, 'runs'>, id: string): Promise<boolean> {
    let current: FlowServiceResource;
    try {
      current = await this.get(collection, id);
    } catch (error) {
      if (isAepError(error, 'not-found')) return false;
      throw error;
    }
    return this.client.deleteIfExists(`${BASE}/${collection}/${encodeURIComponent(id)}`, current.etag ? { 'If-Match': current.etag } : {});
  }

}
