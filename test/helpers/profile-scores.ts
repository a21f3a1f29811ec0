import type { AepServices } from '../../lib/aep';
import { systemClock } from '../../lib/ports/clock';

export interface ScoreRow {
  userid: string;
  /** null leaves the user without a propensity. */
  propensity: number | null;
}

/**
 * Loads score rows onto profiles the way AEP receives records: one Batch Ingestion batch of XDM
 * records `{ _<tenant>: { userid, propensity } }` into a Profile-enabled dataset. Returns the batch id.
 */
export async function ingestProfileScores(aep: AepServices, datasetId: string, tenantId: string, rows: ScoreRow[]): Promise<string> {
  const lines = rows.map((row) => JSON.stringify({ [`_${tenantId}`]: { userid: row.userid, propensity: row.propensity } }));
  const batchId = await aep.ingestion.createBatch(datasetId, { format: 'json' });
  await aep.ingestion.uploadFile(batchId, datasetId, 'scores.json', Buffer.from(`${lines.join('\n')}\n`));
  await aep.ingestion.completeBatch(batchId);
  await aep.ingestion.waitForBatch(batchId, { clock: systemClock, timeoutMs: 60_000, pollIntervalMs: 20 });
  return batchId;
}
