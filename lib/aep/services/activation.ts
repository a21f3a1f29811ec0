import { AepClient } from '../client';
import { isAepError } from '../errors';

const PATH = '/data/core/activation/disflowprovider/adhocrun';
const ACCEPT_DATASET_EXPORT = 'application/vnd.adobe.adhoc.dataset.activation+json; version=1';

export interface AdhocRunOrder {
  flowId?: string;
  datasetId?: string;
  order?: string;
  statusURL?: string;
  [key: string]: unknown;
}

/** What an ad hoc run request came to; the two known refusals are outcomes, not failures: the next scheduled run continues. */
export type AdhocRunOutcome =
  | { kind: 'started'; orders: AdhocRunOrder[] }
  | { kind: 'not-ready'; message: string }
  | { kind: 'already-running'; message: string };

/** Ad hoc activation: run a dataset-export dataflow now instead of waiting for its schedule. */
export class Activation {
  constructor(private readonly client: AepClient) {}

  async runDatasetExport(flowId: string, datasetIds: string[]): Promise<AdhocRunOutcome> {
    try {
      const response = await this.client.request<{ order?: AdhocRunOrder[] }>({
        method: 'POST',
        path: PATH,
        headers: { Accept: ACCEPT_DATASET_EXPORT },
        body: { activationInfo: { destinations: [{ flowId, datasets: datasetIds.map((id) => ({ id })) }] } },
        // A second request for the same run is refused as "already exists", never duplicated.
        idempotent: true,
      });
      return { kind: 'started', orders: response.data.order ?? [] };
    } catch (error) {
      if (isAepError(error, 'invalid-request') || isAepError(error, 'conflict')) {
        const text = `${error.title ?? ''} ${error.detail ?? ''}`;
        if (/not ready|wait .*minutes/i.test(text)) return { kind: 'not-ready', message: text.trim() };
        if (/already exists|already running/i.test(text)) return { kind: 'already-running', message: text.trim() };
      }
      throw error;
    }
  }
}
