/**
 * Ad hoc activation stand-in (`/data/core/activation/disflowprovider/adhocrun`), dataset variant:
 * with `Accept: application/vnd.adobe.adhoc.dataset.activation+json; version=1` and a body
 * `{ activationInfo: { destinations: [{ flowId, datasets: [{ id }] }] } }` it starts an export run of
 * each dataset through its dataflow at once and answers 200 with one order record per run:
 * `{ order: [{ flowId, datasetId, order: <flowId>, statusURL: <Flow Service run URL> }] }`.
 *
 * The whole request is checked before any run starts; the first problem is the answer:
 * - unknown dataflow or dataset: 404;
 * - a dataflow that is not a dataset export, or a dataset not in the dataflow: 400;
 * - a dataflow or dataset younger than `exportReadyAfterMs`: 400 "Invalid parameter: Following
 *   order ID(s) are not ready for dataset export, please wait for 10 minutes and retry." (AEP's text);
 * - a run of the same dataflow and dataset still queued or in progress: 400 "Run already exists …",
 *   400 being the status ad-hoc-activation.yaml documents for a run already going on.
 * Error bodies are Flow Service problem details plus the `message` the file documents.
 */
import type { Catalog } from './catalog';
import { activationError } from './errors';
import { header, isPlainObject, objectBody, Reply, RequestContext, Router } from './http';
import { EXPORT_SPECS, FLOW_BASE, type FlowService } from './flow-service';

export const ACTIVATION_PATH = '/data/core/activation/disflowprovider/adhocrun';
export const DATASET_ACTIVATION_ACCEPT = 'application/vnd.adobe.adhoc.dataset.activation+json; version=1';

export interface ActivationSettings {
  exportReadyAfterMs: number;
}

function isDatasetVariant(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    return type === 'application/vnd.adobe.adhoc.dataset.activation+json' && params.some((p) => p.replace(/\s+/g, '') === 'version=1');
  });
}

export class Activation {
  constructor(
    private readonly flows: FlowService,
    private readonly catalog: Catalog,
    private readonly settings: ActivationSettings,
  ) {}

  register(router: Router): void {
    router.add('POST', 'activation', ACTIVATION_PATH, (c) => this.adhocRun(c));
  }

  private adhocRun(ctx: RequestContext): Reply {
    if (!isDatasetVariant(header(ctx.headers, 'accept'))) {
      throw activationError(
        400,
        `The embedded platform runs dataset exports only: send Accept: ${DATASET_ACTIVATION_ACCEPT} ` +
          `(got '${header(ctx.headers, 'accept') ?? ''}'; audience activation is not supported)`,
      );
    }
    const body = objectBody(ctx, activationError);
    const info = body.activationInfo;
    if (!isPlainObject(info) || !Array.isArray(info.destinations) || info.destinations.length === 0) {
      throw activationError(400, "'activationInfo.destinations' is required: [{ flowId, datasets: [{ id }] }]");
    }
    const requests: { flowId: string; datasetId: string }[] = [];
    info.destinations.forEach((d, i) => {
      if (!isPlainObject(d) || typeof d.flowId !== 'string' || d.flowId === '') throw activationError(400, `'activationInfo.destinations[${i}].flowId' is required`);
      if (!Array.isArray(d.datasets) || d.datasets.length === 0) throw activationError(400, `'activationInfo.destinations[${i}].datasets' must list at least one { id }`);
      d.datasets.forEach((ds, j) => {
        if (!isPlainObject(ds) || typeof ds.id !== 'string' || ds.id === '') throw activationError(400, `'activationInfo.destinations[${i}].datasets[${j}].id' is required`);
        if (!requests.some((r) => r.flowId === d.flowId && r.datasetId === ds.id)) requests.push({ flowId: d.flowId as string, datasetId: ds.id });
      });
    });
    const now = this.catalog.clock.now().getTime();
    for (const r of requests) this.check(r.flowId, r.datasetId, now);
    const order = requests.flatMap((r) =>
      this.flows.startExportRuns(this.flows.flows.get(r.flowId)!, r.datasetId).map((run) => ({
        flowId: r.flowId,
        datasetId: r.datasetId,
        order: r.flowId,
        statusURL: `${ctx.baseUrl}${FLOW_BASE}/runs/${run.id}`,
      })),
    );
    return { status: 200, body: { order } };
  }

  /** Throws the answer AEP gives when this dataset cannot be exported through this flow now. */
  private check(flowId: string, datasetId: string, now: number): void {
    const flow = this.flows.flows.get(flowId);
    if (!flow) throw activationError(404, `Dataflow '${flowId}' was not found`, '1404');
    if (flow.flowSpec.id !== EXPORT_SPECS.datasetExportFlow) {
      throw activationError(400, `Invalid parameter: Flow for id ${flowId} is incorrect. Error is [Adhoc run can not be executed for Flow spec=${flow.flowSpec.id}.]`);
    }
    if (flow.state !== 'enabled') throw activationError(400, `Invalid parameter: Flow for id ${flowId} is disabled`);
    const dataset = this.catalog.datasets.get(datasetId);
    if (!dataset) throw activationError(404, `Dataset '${datasetId}' was not found`, '1404');
    if (!this.flows.flowDatasets(flow).includes(datasetId)) {
      throw activationError(400, `Datasets [${datasetId}] are not part of this dataflow (${flowId}) or out of schedule range!`);
    }
    const readyAt = Math.max(flow.createdAt, dataset.created) + this.settings.exportReadyAfterMs;
    if (now < readyAt) {
      throw activationError(
        400,
        'Invalid parameter: Following order ID(s) are not ready for dataset export, please wait for 10 minutes and retry. ' +
          `(Dataflow ${flowId}, dataset ${datasetId}: ready in ${Math.ceil((readyAt - now) / 1000)} s.)`,
        '1103',
      );
    }
    const running = this.flows.activeRun(flowId, datasetId);
    if (running) {
      throw activationError(
        400,
        `Run already exists for dataset ${datasetId} of dataflow ${flowId}: run ${running.id} is ${running.state} ` +
          '(run already going on); wait for it to finish before starting another.',
        '1409',
      );
    }
  }
}
