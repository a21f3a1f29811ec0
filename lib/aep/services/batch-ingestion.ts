import type { Clock } from '../../ports/clock';
import { AepClient } from '../client';
import { AepError } from '../errors';
import { Catalog, type Batch } from './catalog';

const BASE = '/data/foundation/import';

export type BatchInputFormat = { format: 'json'; isMultiLineJson?: boolean } | { format: 'csv'; delimiter?: string; header?: boolean } | { format: 'parquet' };

/** Batch states after which nothing more will happen. */
const FINAL_SUCCESS = new Set(['success']);
const FINAL_FAILURE = new Set(['failed', 'failure', 'aborted', 'abandoned', 'inactive', 'deleted']);

export interface WaitOptions {
  clock: Clock;
  timeoutMs: number;
  pollIntervalMs?: number;
}

/** Batch Ingestion: batches of files loaded into a dataset, and waiting for Catalog to report them done. */
export class BatchIngestion {
  private readonly catalog: Catalog;

  constructor(private readonly client: AepClient) {
    this.catalog = new Catalog(client);
  }

  async createBatch(datasetId: string, inputFormat: BatchInputFormat): Promise<string> {
    const response = await this.client.request<{ id: string }>({
      method: 'POST',
      path: `${BASE}/batches`,
      body: { datasetId, inputFormat },
    });
    return response.data.id;
  }

  /** Small-file upload (up to 256 MB per file). The PUT replaces the file, so retrying it is harmless. */
  async uploadFile(batchId: string, datasetId: string, fileName: string, content: Buffer): Promise<void> {
    await this.client.request({
      method: 'PUT',
      path: `${BASE}/batches/${encodeURIComponent(batchId)}/datasets/${encodeURIComponent(datasetId)}/files/${encodeURIComponent(fileName)}`,
      body: content,
      headers: { 'Content-Type': 'application/octet-stream' },
      timeoutMs: 10 * 60 * 1000,
    });
  }

  async completeBatch(batchId: string): Promise<void> {
    // Completing twice is refused, not duplicated, so the action is safe to retry.
    await this.client.request({ method: 'POST', path: `${BASE}/batches/${encodeURIComponent(batchId)}`, query: { action: 'COMPLETE' }, idempotent: true });
  }

  async abortBatch(batchId: string): Promise<void> {
    await this.client.request({ method: 'POST', path: `${BASE}/batches/${encodeURIComponent(batchId)}`, query: { action: 'ABORT' }, idempotent: true });
  }

  /** Polls Catalog until the batch succeeds; a failed batch becomes an error carrying AEP's reasons. */
  async waitForBatch(batchId: string, options: WaitOptions): Promise<Batch> {
    const started = options.clock.now().getTime();
    const interval = options.pollIntervalMs ?? 5000;
    for (;;) {
      const batch = await this.catalog.getBatch(batchId);
      if (FINAL_SUCCESS.has(batch.status)) {
        return batch;
      }
      if (FINAL_FAILURE.has(batch.status)) {
        const reasons = (batch.errors ?? []).map((e) => [e.code, e.description].filter(Boolean).join(' ')).filter(Boolean);
        throw new AepError(`Batch ${batchId} ended ${batch.status}${reasons.length ? `: ${reasons.slice(0, 5).join('; ')}` : ''}`, {
          kind: 'failed-operation',
          code: batch.errors?.[0]?.code,
          detail: reasons.join('; ') || undefined,
        });
      }
      if (options.clock.now().getTime() - started > options.timeoutMs) {
        throw new AepError(`Batch ${batchId} still ${batch.status} after ${Math.round(options.timeoutMs / 1000)} s`, { kind: 'failed-operation' });
      }
      await options.clock.sleep(interval);
    }
  }
}
