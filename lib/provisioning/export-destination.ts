import type { AepRestServices } from '../aep';
import type { Log } from '../ports/logger';
import { ensureExportDestination, exportDestinationNames, removeExportDestination, type ExportDestinationPiece } from '../dataflows/export-dataflow';
import type { ExportDestinationPlan } from './plan';
import { recordRemoval, runRemovalStep, type ResourceKind, type ResourceRemoval } from './resources';
import type { ProvisioningRun } from './rollback';

/**
 * The S3 destination of the dataset export, when the plan has `export`: its base and target
 * connections, which need no dataset and so are made at deploy time. The export stage adds the source
 * connection and the flow at its first run.
 */

const EXPORT_KINDS: Record<ExportDestinationPiece, ResourceKind> = {
  baseConnection: 'exportBaseConnection',
  targetConnection: 'exportTargetConnection',
};

export interface ExportDestinationResources {
  /** Flow Service id of the export's S3 base connection. */
  exportBaseConnectionId: string;
  /** Flow Service id of the export's S3 target connection (bucket and folder). */
  exportTargetConnectionId: string;
}

/**
 * Finds the connections by name or creates them, noting each in `run`. Connections that exist are
 * adopted as they are: changed export settings (role, bucket, folder, format) are not applied to them.
 */
export async function provisionExportDestination(
  aep: AepRestServices,
  namePrefix: string,
  plan: ExportDestinationPlan,
  run: ProvisioningRun,
): Promise<ExportDestinationResources> {
  const names = exportDestinationNames(namePrefix);
  run.step = `ensure export base connection "${names.baseConnection}"`;
  const destination = await ensureExportDestination(aep, { namePrefix, ...plan }, (piece, id, wasCreated) => {
    run.track({ kind: EXPORT_KINDS[piece], id, name: names[piece] }, wasCreated);
    if (piece === 'baseConnection') run.step = `ensure export target connection "${names.targetConnection}"`;
  });
  return { exportBaseConnectionId: destination.baseConnectionId, exportTargetConnectionId: destination.targetConnectionId };
}

/** Deletes the export's flow and connections by name, recording the connections in `removal`; re-runnable. */
export async function deprovisionExportDestination(aep: AepRestServices, namePrefix: string, removal: ResourceRemoval, log: Log): Promise<void> {
  const names = exportDestinationNames(namePrefix);
  const done = await runRemovalStep(`delete export connections "${names.targetConnection}" and "${names.baseConnection}"`, () =>
    removeExportDestination(aep, namePrefix),
  );
  const pieces = (['targetConnection', 'baseConnection'] as const).map((piece) => ({ piece, kind: EXPORT_KINDS[piece], name: names[piece] }));
  recordRemoval(removal, done, pieces, log);
}
