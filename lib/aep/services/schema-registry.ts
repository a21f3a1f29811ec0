import { AepClient, ensureResource } from '../client';

const BASE = '/data/foundation/schemaregistry';
const ACCEPT_LIST = 'application/vnd.adobe.xed-id+json';
const ACCEPT_ONE = 'application/vnd.adobe.xed+json; version=1';
const ACCEPT_DESCRIPTORS = 'application/vnd.adobe.xdm-v2+json';

/** The summary the Schema Registry lists resources with. */
export interface XdmResourceSummary {
  $id: string;
  'meta:altId': string;
  version: string;
  title: string;
}

export interface XdmResource extends XdmResourceSummary {
  type?: string;
  description?: string;
  allOf?: Array<{ $ref: string; type?: string }>;
  'meta:class'?: string;
  'meta:immutableTags'?: string[];
  'meta:intendedToExtend'?: string[];
  definitions?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface FieldGroupDefinition {
  title: string;
  description?: string;
  type: 'object';
  'meta:intendedToExtend': string[];
  definitions: Record<string, unknown>;
  allOf: Array<{ $ref: string }>;
}

export interface SchemaDefinition {
  title: string;
  description?: string;
  type: 'object';
  allOf: Array<{ $ref: string }>;
}

export interface IdentityDescriptor {
  '@type': 'xdm:descriptorIdentity';
  'xdm:sourceSchema': string;
  'xdm:sourceVersion': number;
  'xdm:sourceProperty': string;
  'xdm:namespace': string;
  'xdm:property': 'xdm:code' | 'xdm:id';
  'xdm:isPrimary': boolean;
}

export interface Descriptor extends Record<string, unknown> {
  '@id': string;
  '@type': string;
  'xdm:sourceSchema': string;
}

interface ListPage<T> {
  results: T[];
  _page?: { next?: string | null; count?: number };
}

type ResourceKind = 'fieldgroups' | 'schemas';

/** Schema Registry: tenant id, field groups, schemas, descriptors and union membership. */
export class SchemaRegistry {
  constructor(private readonly client: AepClient) {}

  /** The tenant id, without its leading underscore (custom fields live under `_<tenantId>`). */
  async tenantId(): Promise<string> {
    const response = await this.client.request<{ tenantId?: string }>({ method: 'GET', path: `${BASE}/stats` });
    if (!response.data.tenantId) {
      throw new Error('The Schema Registry /stats answer has no tenantId');
    }
    return response.data.tenantId;
  }

  private async findByTitle(kind: ResourceKind, title: string): Promise<XdmResourceSummary | undefined> {
    const pages = this.client.paginate<ListPage<XdmResourceSummary>, XdmResourceSummary>(
      { method: 'GET', path: `${BASE}/tenant/${kind}`, headers: { Accept: ACCEPT_LIST }, query: { property: `title==${title}`, limit: 100 } },
      (page) => page.results ?? [],
      (page, query) => (page._page?.next ? { ...query, start: page._page.next } : undefined),
    );
    for await (const item of pages) {
      // The property filter is a convenience of the real API; compare again so a looser server can't mislead us.
      if (item.title === title) {
        return item;
      }
    }
    return undefined;
  }

  private async get(kind: ResourceKind, id: string): Promise<XdmResource> {
    const response = await this.client.request<XdmResource>({
      method: 'GET',
      path: `${BASE}/tenant/${kind}/${encodeURIComponent(id)}`,
      headers: { Accept: ACCEPT_ONE },
    });
    return response.data;
  }

  private async create(kind: ResourceKind, body: FieldGroupDefinition | SchemaDefinition): Promise<XdmResource> {
    const response = await this.client.request<XdmResource>({ method: 'POST', path: `${BASE}/tenant/${kind}`, body });
    return response.data;
  }

  /** Deletes a resource; a resource already gone counts as deleted. */
  private async remove(kind: ResourceKind, id: string): Promise<boolean> {
    return this.client.deleteIfExists(`${BASE}/tenant/${kind}/${encodeURIComponent(id)}`);
  }

  findFieldGroup(title: string) {
    return this.findByTitle('fieldgroups', title);
  }
  getFieldGroup(id: string) {
    return this.get('fieldgroups', id);
  }
  deleteFieldGroup(id: string) {
    return this.remove('fieldgroups', id);
  }
  /** The field group of this title, created from `definition` if it does not exist yet. */
  ensureFieldGroup(definition: FieldGroupDefinition) {
    return ensureResource<XdmResourceSummary>(
      () => this.findFieldGroup(definition.title),
      () => this.create('fieldgroups', definition),
    );
  }

  findSchema(title: string) {
    return this.findByTitle('schemas', title);
  }
  getSchema(id: string) {
    return this.get('schemas', id);
  }
  deleteSchema(id: string) {
    return this.remove('schemas', id);
  }
  ensureSchema(definition: SchemaDefinition) {
    return ensureResource<XdmResourceSummary>(
      () => this.findSchema(definition.title),
      () => this.create('schemas', definition),
    );
  }

  /** Adds the schema to its class's union, which is what enables it for Real-Time Customer Profile. */
  async enableSchemaForProfile(schemaId: string): Promise<void> {
    const schema = await this.getSchema(schemaId);
    if (schema['meta:immutableTags']?.includes('union')) {
      return;
    }
    await this.client.request({
      method: 'PATCH',
      path: `${BASE}/tenant/schemas/${encodeURIComponent(schemaId)}`,
      body: [{ op: 'add', path: '/meta:immutableTags', value: ['union'] }],
    });
  }

  async listDescriptors(sourceSchema?: string): Promise<Descriptor[]> {
    const descriptors: Descriptor[] = [];
    const pages = this.client.paginate<ListPage<Descriptor>, Descriptor>(
      { method: 'GET', path: `${BASE}/tenant/descriptors`, headers: { Accept: ACCEPT_DESCRIPTORS }, query: { limit: 100 } },
      (page) => page.results ?? [],
      (page, query) => (page._page?.next ? { ...query, start: page._page.next } : undefined),
    );
    for await (const descriptor of pages) {
      if (sourceSchema === undefined || descriptor['xdm:sourceSchema'] === sourceSchema) {
        descriptors.push(descriptor);
      }
    }
    return descriptors;
  }

  /** The identity descriptor on this schema and field, created if missing. */
  ensureIdentityDescriptor(descriptor: IdentityDescriptor) {
    return ensureResource<Descriptor>(
      async () =>
        (await this.listDescriptors(descriptor['xdm:sourceSchema'])).find(
          (d) => d['@type'] === descriptor['@type'] && d['xdm:sourceProperty'] === descriptor['xdm:sourceProperty'],
        ),
      async () => (await this.client.request<Descriptor>({ method: 'POST', path: `${BASE}/tenant/descriptors`, body: descriptor })).data,
    );
  }

  async deleteDescriptor(id: string): Promise<boolean> {
    return this.client.deleteIfExists(`${BASE}/tenant/descriptors/${encodeURIComponent(id)}`);
  }
}
