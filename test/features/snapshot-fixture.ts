/**
 * Test fixtures for incremental (snapshot) feature runs: a second events dataset, ingested through the
 * Batch Ingestion API in several batches that the test chooses (e.g. one per time slice), so each batch is
 * one snapshot of the embedded platform.
 */
import type { AepServices } from '../../lib/aep';
import { systemClock } from '../../lib/ports/clock';
import type { QueryRunner } from '../../lib/ports/query-runner';
import { postgres } from '../../lib/sql/dialect';
import type { XdmExperienceEvent } from '../../lib/synthetic/generator';
import { ensureEventsDataset } from '../../lib/synthetic/seed';

export interface BatchDataset {
  datasetId: string;
  tableName: string;
}

/** The events field group, schema, identity and dataset, without data (seeding's own resources). */
export async function createEventsDataset(aep: AepServices, tenantId: string, namePrefix: string): Promise<BatchDataset> {
  const { dataset } = await ensureEventsDataset(aep, tenantId, namePrefix);
  return { datasetId: dataset.resource.id, tableName: await aep.catalog.tableName(dataset.resource.id) };
}

/** Ingests `events` as one batch and waits until it is loaded. */
export async function ingestBatch(aep: AepServices, dataset: BatchDataset, events: readonly XdmExperienceEvent[], fileName: string): Promise<string> {
  const batchId = await aep.ingestion.createBatch(dataset.datasetId, { format: 'json' });
  await aep.ingestion.uploadFile(batchId, dataset.datasetId, fileName, Buffer.from(events.map((e) => JSON.stringify(e)).join('\n') + '\n'));
  await aep.ingestion.completeBatch(batchId);
  await aep.ingestion.waitForBatch(batchId, { clock: systemClock, timeoutMs: 120_000, pollIntervalMs: 20 });
  return batchId;
}

/** The table's snapshot ids in order, from the platform's `history_meta`. */
export async function snapshotIds(runner: QueryRunner, table: string): Promise<number[]> {
  const rows = await runner.query<{ snapshot_id: string }>(postgres.snapshotIdsQuery(table));
  return rows.map((r) => Number(r.snapshot_id));
}
