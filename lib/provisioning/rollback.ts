import type { AepRestServices } from '../aep';
import type { Log } from '../ports/logger';
import { messageOf, ProvisionError } from './errors';
import { deleterFor, label, LABELS, type ResourceRef } from './resources';

/**
 * What one create or update invocation has ensured so far, step by step, so that a failed step can
 * delete what this invocation created, and say what it left in place.
 */
export class ProvisioningRun {
  /** The step under way, as the error names it. */
  step = '';
  readonly created: ResourceRef[] = [];
  readonly existed: ResourceRef[] = [];
  /** Created by this invocation but beyond rollback: mapping sets, which Data Prep cannot delete. */
  readonly kept: ResourceRef[] = [];

  constructor(
    private readonly aep: AepRestServices,
    readonly tenantId: string,
    readonly log: Log,
  ) {}

  /** Notes a resource in place, created by this invocation or found. */
  track(ref: ResourceRef, wasCreated: boolean): void {
    (wasCreated ? this.created : this.existed).push(ref);
    this.log.info(`AEP ${LABELS[ref.kind]} ${wasCreated ? 'created' : 'already exists'}`, { kind: ref.kind, name: ref.name, id: ref.id, tenantId: this.tenantId });
  }

  /** Notes a resource this invocation created but cannot delete again. */
  keep(ref: ResourceRef): void {
    this.kept.push(ref);
    this.log.info(`AEP ${LABELS[ref.kind]} created`, { kind: ref.kind, name: ref.name, id: ref.id, tenantId: this.tenantId });
  }

  /** Deletes what this invocation created, newest first, and throws a ProvisionError naming the step. */
  async fail(error: unknown): Promise<never> {
    const { step, log } = this;
    log.error('AEP provisioning step failed; rolling back what this invocation created', { step, error: messageOf(error) });
    const { rolledBack, notRolledBack } = await this.rollBack();
    const parts = [`AEP provisioning failed at step "${step}": ${messageOf(error)}.`];
    parts.push(
      rolledBack.length > 0
        ? `Rolled back what this invocation created: ${rolledBack.map(label).join(', ')}.`
        : 'This invocation had created nothing, so there was nothing to roll back.',
    );
    if (notRolledBack.length > 0) parts.push(`Could not delete (remove by hand): ${notRolledBack.map(label).join(', ')}.`);
    if (this.kept.length > 0) parts.push(`Kept, as Data Prep cannot delete mapping sets (the next provisioning adopts it by name): ${this.kept.map(label).join(', ')}.`);
    if (this.existed.length > 0) parts.push(`Left in place, as they existed before: ${this.existed.map(label).join(', ')}.`);
    throw new ProvisionError(parts.join(' '), { step, cause: error, rolledBack, notRolledBack });
  }

  /** Deletes what this invocation created, newest first; carries on past a failure so as much as possible goes. */
  private async rollBack(): Promise<{ rolledBack: ResourceRef[]; notRolledBack: ResourceRef[] }> {
    const rolledBack: ResourceRef[] = [];
    const notRolledBack: ResourceRef[] = [];
    for (const ref of [...this.created].reverse()) {
      try {
        await deleterFor(this.aep, ref.kind)(ref.id);
        rolledBack.push(ref);
        this.log.info(`AEP ${LABELS[ref.kind]} rolled back`, { kind: ref.kind, name: ref.name, id: ref.id });
      } catch (error) {
        notRolledBack.push(ref);
        this.log.error(`AEP ${LABELS[ref.kind]} could not be rolled back`, { kind: ref.kind, name: ref.name, id: ref.id, error: messageOf(error) });
      }
    }
    return { rolledBack, notRolledBack };
  }
}
