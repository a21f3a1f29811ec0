import type { AepRestServices } from '../aep';
import type { Clock } from '../ports/clock';
import type { Log } from '../ports/logger';
import { ecidIdentityDescriptor } from '../xdm/identity';
import { SCHEMA_REF_CONTENT_TYPE } from '../xdm/schema';
import { generateUsers, type SyntheticOptions, type SyntheticUser } from './generator';
import { eventsSchema, syntheticResourceNames, userIdFieldGroup } from './xdm';

export interface SeedOptions {
  users: number;
  /** Users per ingestion batch; the notebook uses 10 batches of 10,000. */
  usersPerBatch: number;
  seed: number;
  /** The synthetic window ends two weeks before this instant. */
  now: Date;
  /** Prefix of the names of the field group, schema and dataset. */
  namePrefix: string;
  /** Tenant id without underscore; read from the Schema Registry when absent. */
  tenantId?: string | undefined;
  /** Longest wait for one batch to be ingested. */
  batchTimeoutMs?: number;
  /** How often to ask Catalog about a batch; AEP takes minutes, the embedded platform milliseconds. */
  batchPollIntervalMs?: number;
}

export interface SeedProgress {
  phase: 'resources' | 'upload' | 'ingest' | 'done';
  usersUploaded: number;
  batchesUploaded: number;
  batchesIngested: number;
  batches: number;
}

export interface SeedResult {
  tenantId: string;
  fieldGroupId: string;
  schemaId: string;
  datasetId: string;
  tableName: string;
  users: number;
  events: number;
  subscribers: number;
  batches: Array<{ id: string; users: number; events: number; recordsIngested: number | undefined }>;
}

export class SeedInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SeedInputError';
  }
}

export function validateUserCount(value: unknown, what = 'user count'): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new SeedInputError(`The ${what} must be a whole number of at least 1, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * The events field group (`_<tenant>.userid`), ExperienceEvent schema, primary ECID identity and
 * dataset, found by name or created.
 */
export async function ensureEventsDataset(aep: AepRestServices, tenantId: string, namePrefix: string) {
  const names = syntheticResourceNames(namePrefix);
  const fieldGroup = await aep.schemaRegistry.ensureFieldGroup(userIdFieldGroup(names.fieldGroup, tenantId));
  const schema = await aep.schemaRegistry.ensureSchema(eventsSchema(names.schema, fieldGroup.resource.$id));
  await aep.schemaRegistry.ensureIdentityDescriptor(ecidIdentityDescriptor(schema.resource.$id, tenantId));
  const dataset = await aep.catalog.ensureDataset({
    name: names.dataset,
    description: 'Synthetic experience events for the AI/ML feature pipeline',
    schemaRef: { id: schema.resource.$id, contentType: SCHEMA_REF_CONTENT_TYPE },
  });
  return { fieldGroup, schema, dataset };
}

/**
 * Week 1: creates the events field group, schema, ECID identity and dataset through the AEP APIs, then
 * ingests the synthetic events with Batch Ingestion and waits for every batch, exactly as against a real
 * sandbox. Refuses a dataset that already holds ingested data, so a re-run never doubles the events.
 */
export async function seedSyntheticData(
  aep: AepRestServices,
  deps: { clock: Clock; log: Log; onProgress?: ((p: SeedProgress) => void) | undefined; onUser?: ((user: SyntheticUser) => void) | undefined },
  options: SeedOptions,
): Promise<SeedResult> {
  const users = validateUserCount(options.users);
  const usersPerBatch = validateUserCount(options.usersPerBatch, 'users per batch');
  const batchCount = Math.ceil(users / usersPerBatch);
  const progress = (p: Omit<SeedProgress, 'batches'>) => deps.onProgress?.({ ...p, batches: batchCount });
  progress({ phase: 'resources', usersUploaded: 0, batchesUploaded: 0, batchesIngested: 0 });

  const tenantId = options.tenantId ?? (await aep.schemaRegistry.tenantId());
  const { fieldGroup, schema, dataset } = await ensureEventsDataset(aep, tenantId, options.namePrefix);
  const names = syntheticResourceNames(options.namePrefix);
  const datasetId = dataset.resource.id;
  if (!dataset.created) {
    const loaded = (await aep.catalog.listBatches(datasetId)).filter((b) => b.status === 'success');
    if (loaded.length > 0) {
      throw new SeedInputError(
        `Dataset "${names.dataset}" (${datasetId}) already holds ${loaded.length} ingested batch(es); ` +
          'seeding again would duplicate its events. Use another name prefix, or delete the dataset first.',
      );
    }
  }
  deps.log.info('Synthetic data resources ready', { tenantId, schemaId: schema.resource.$id, datasetId });

  const generatorOptions: SyntheticOptions = { seed: options.seed, now: options.now, tenantId: `_${tenantId}` };
  const generated = generateUsers(0, users, generatorOptions);
  const ingested = await ingestSyntheticUsers(aep, deps, {
    datasetId,
    users: deps.onUser ? tap(generated, deps.onUser) : generated,
    usersPerBatch,
    fileLabel: 'events',
    batchTimeoutMs: options.batchTimeoutMs,
    batchPollIntervalMs: options.batchPollIntervalMs,
    onUploaded: (p) => progress({ phase: 'upload', usersUploaded: p.users, batchesUploaded: p.batches, batchesIngested: 0 }),
    onIngested: (p) => progress({ phase: 'ingest', usersUploaded: users, batchesUploaded: batchCount, batchesIngested: p.batches }),
  });
  const { batches, events, subscribers } = ingested;
  progress({ phase: 'done', usersUploaded: users, batchesUploaded: batches.length, batchesIngested: batches.length });

  return {
    tenantId,
    fieldGroupId: fieldGroup.resource.$id,
    schemaId: schema.resource.$id,
    datasetId,
    tableName: await aep.catalog.tableName(datasetId),
    users,
    events,
    subscribers,
    batches,
  };
}

function* tap<T>(items: Iterable<T>, look: (item: T) => void): Generator<T> {
  for (const item of items) {
    look(item);
    yield item;
  }
}

/** What one Batch Ingestion of synthetic users put into the events dataset. */
export interface IngestedUsers {
  users: number;
  events: number;
  subscribers: number;
  batches: SeedResult['batches'];
}

/**
 * Uploads the users' events as JSON through Batch Ingestion, `usersPerBatch` users a batch (files
 * `<fileLabel>-001.json`, …), then waits until AEP has ingested every batch: the seed's way in, and each
 * simulated day's.
 */
export async function ingestSyntheticUsers(
  aep: AepRestServices,
  deps: { clock: Clock },
  options: {
    datasetId: string;
    users: Iterable<SyntheticUser>;
    usersPerBatch: number;
    fileLabel: string;
    batchTimeoutMs?: number | undefined;
    batchPollIntervalMs?: number | undefined;
    onUploaded?: (p: { users: number; batches: number }) => void;
    onIngested?: (p: { batches: number }) => void;
  },
): Promise<IngestedUsers> {
  const submitted: Array<{ id: string; users: number; events: number }> = [];
  let userCount = 0;
  let subscribers = 0;
  let events = 0;
  let lines: string[] = [];
  let batchUsers = 0;
  const upload = async () => {
    const batchId = await aep.ingestion.createBatch(options.datasetId, { format: 'json' });
    await aep.ingestion.uploadFile(batchId, options.datasetId, `${options.fileLabel}-${String(submitted.length + 1).padStart(3, '0')}.json`, Buffer.from(lines.join('\n') + '\n'));
    await aep.ingestion.completeBatch(batchId);
    submitted.push({ id: batchId, users: batchUsers, events: lines.length });
    events += lines.length;
    lines = [];
    batchUsers = 0;
    options.onUploaded?.({ users: userCount, batches: submitted.length });
  };
  for (const user of options.users) {
    userCount++;
    batchUsers++;
    if (user.subscribed) subscribers++;
    for (const event of user.events) lines.push(JSON.stringify(event));
    if (batchUsers === options.usersPerBatch) await upload();
  }
  if (batchUsers > 0) await upload();

  const batches: SeedResult['batches'] = [];
  for (const batch of submitted) {
    const done = await aep.ingestion.waitForBatch(batch.id, {
      clock: deps.clock,
      timeoutMs: options.batchTimeoutMs ?? 30 * 60 * 1000,
      pollIntervalMs: options.batchPollIntervalMs ?? 15_000,
    });
    batches.push({ ...batch, recordsIngested: done.metrics?.outputRecordCount });
    options.onIngested?.({ batches: batches.length });
  }
  return { users: userCount, events, subscribers, batches };
}
