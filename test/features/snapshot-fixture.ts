/**
 * Test fixtures for incremental (snapshot) feature runs: a second events dataset, ingested through the
 * Batch Ingestion API in several batches that the test chooses (e.g. one per time slice), so each batch is
 * one snapshot.
 *
 * TEST-ONLY SHIM: the embedded platform is gaining the per-row snapshot id column `_acp_snapshot_id` and
 * the function `history_meta(table)` (lib/embedded/aep/). Until it has them, `SnapshotShim` adds the
 * column to the test's table, stamps each batch's rows with the batch's number after the batch is ingested,
 * and defines a `history_meta` over that column. When the platform already provides the column, the shim
 * does nothing and the platform's own snapshot ids and `history_meta` are used.
 */
import type { AepServices } from '../../lib/aep';
import { systemClock } from '../../lib/ports/clock';
import type { QueryRunner } from '../../lib/ports/query-runner';
import { postgres, SNAPSHOT_ID_COLUMN } from '../../lib/sql/dialect';
import type { XdmExperienceEvent } from '../../lib/synthetic/generator';
import { ecidIdentityDescriptor, eventsSchema, syntheticResourceNames, userIdFieldGroup } from '../../lib/synthetic/xdm';

export interface BatchDataset {
  datasetId: string;
  tableName: string;
}

/** Creates the events field group, schema, identity and dataset (as seedSyntheticData does) without data. */
export async function createEventsDataset(aep: AepServices, tenantId: string, namePrefix: string): Promise<BatchDataset> {
  const names = syntheticResourceNames(namePrefix);
  const fieldGroup = await aep.schemaRegistry.ensureFieldGroup(userIdFieldGroup(names.fieldGroup, tenantId));
  const schema = await aep.schemaRegistry.ensureSchema(eventsSchema(names.schema, fieldGroup.resource.$id));
  await aep.schemaRegistry.ensureIdentityDescriptor(ecidIdentityDescriptor(schema.resource.$id, tenantId));
  const dataset = await aep.catalog.ensureDataset({
    name: names.dataset,
    description: 'Feature compiler test events',
    schemaRef: { id: schema.resource.$id, contentType: 'application/vnd.adobe.xed-full+json;version=1' },
  });
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

async function hasSnapshotColumn(runner: QueryRunner, table: string): Promise<boolean> {
  const rows = await runner.query('SELECT 1 FROM information_schema.columns WHERE table_name = $1 AND column_name = $2', [table, SNAPSHOT_ID_COLUMN]);
  return rows.length > 0;
}

/** TEST-ONLY: see the module comment. Call `afterBatch()` once after each ingested batch, in order. */
export class SnapshotShim {
  private mode: 'unknown' | 'platform' | 'shim' = 'unknown';
  private batches = 0;

  constructor(
    private readonly runner: QueryRunner,
    private readonly table: string,
  ) {}

  get active(): boolean {
    return this.mode === 'shim';
  }

  async afterBatch(): Promise<void> {
    this.batches++;
    if (this.mode === 'unknown') {
      this.mode = (await hasSnapshotColumn(this.runner, this.table)) ? 'platform' : 'shim';
      if (this.mode === 'shim') {
        await this.runner.query(`ALTER TABLE "${this.table}" ADD COLUMN "${SNAPSHOT_ID_COLUMN}" bigint`);
        const [existing] = await this.runner.query<{ f: string | null }>(`SELECT to_regprocedure('history_meta(text)')::text AS f`);
        if (existing.f === null) {
          await this.runner.query(`CREATE FUNCTION history_meta(tbl text) RETURNS TABLE (snapshot_id bigint, made_current_at timestamptz)
            LANGUAGE plpgsql AS $$
            BEGIN
              RETURN QUERY EXECUTE format('SELECT DISTINCT %I::bigint, now() FROM %I WHERE %I IS NOT NULL ORDER BY 1', '${SNAPSHOT_ID_COLUMN}', tbl, '${SNAPSHOT_ID_COLUMN}');
            END
            $$`);
        }
      }
    }
    if (this.mode === 'shim') {
      await this.runner.query(`UPDATE "${this.table}" SET "${SNAPSHOT_ID_COLUMN}" = ${this.batches} WHERE "${SNAPSHOT_ID_COLUMN}" IS NULL`);
    }
  }
}

/** The table's snapshot ids in order, from `history_meta` (the platform's or the shim's). */
export async function snapshotIds(runner: QueryRunner, table: string): Promise<number[]> {
  const rows = await runner.query<{ snapshot_id: string }>(postgres.snapshotIdsQuery(table));
  return rows.map((r) => Number(r.snapshot_id));
}
