import type { Clock } from '../../ports/clock';
import { AepClient, ensureResource } from '../client';
import { AepError } from '../errors';

const BASE = '/data/core/ups';

export interface SegmentDefinitionRequest {
  name: string;
  description?: string;
  schema: { name: string };
  expression: { type: 'PQL'; format: 'pql/text'; value: string };
  evaluationInfo?: { batch?: { enabled: boolean }; continuous?: { enabled: boolean }; synchronous?: { enabled: boolean } };
}

export interface SegmentDefinition extends SegmentDefinitionRequest {
  id: string;
  [key: string]: unknown;
}

export interface SegmentJob {
  id: string;
  /** NEW, QUEUED, PROCESSING, SUCCEEDED, FAILED, CANCELLING, CANCELLED, or one AEP adds later. */
  status: string;
  segments?: Array<{ segmentId: string }>;
  /** `api` for an on-demand job, `scheduler` for one of the sandbox's batch segmentation schedule. */
  source?: string;
  /** When the job was requested, in milliseconds since the epoch. */
  creationTime?: number;
  sandbox?: { sandboxName?: string; type?: string; [key: string]: unknown };
  metrics?: { segmentedProfileCounter?: Record<string, number>; totalProfiles?: number; [key: string]: unknown };
  errors?: Array<{ code?: string; msg?: string; message?: string }>;
  [key: string]: unknown;
}

/** A page of `GET /segment/definitions`, as AEP answers it (the OpenAPI file gives it the single-definition schema). */
interface DefinitionList {
  segments?: SegmentDefinition[];
  page?: { totalCount?: number; totalPages?: number; pageSize?: number; limit?: number };
  link?: { next?: string };
}

const PAGE_SIZE = 100;

/** Statuses after which a segment job changes no more. */
const FINAL_JOB_STATUSES = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

/** The error for a job that ended FAILED or CANCELLED, with AEP's reasons. */
export function segmentJobFailure(job: SegmentJob): AepError {
  const reason = (job.errors ?? []).map((e) => [e.code, e.msg ?? e.message].filter(Boolean).join(' ')).join('; ');
  return new AepError(`Segment job ${job.id} ended ${job.status}${reason ? `: ${reason}` : ''}`, { kind: 'failed-operation', detail: reason || undefined });
}

/** Segmentation: segment definitions (audiences by PQL rule) and the jobs that evaluate them. */
export class Segmentation {
  constructor(private readonly client: AepClient) {}

  async findDefinition(name: string): Promise<SegmentDefinition | undefined> {
    // Pages by number: `start` is documented only as an offset "as per created time".
    const pages = this.client.paginate<DefinitionList, SegmentDefinition>(
      { method: 'GET', path: `${BASE}/segment/definitions`, query: { limit: PAGE_SIZE, page: 0 } },
      (page) => page.segments ?? [],
      (page, query) => {
        const current = Number(query.page ?? 0);
        const more = page.link?.next !== undefined || current + 1 < (page.page?.totalPages ?? 0);
        return more && (page.segments ?? []).length > 0 ? { ...query, page: current + 1 } : undefined;
      },
    );
    for await (const definition of pages) {
      if (definition.name === name) return definition;
    }
    return undefined;
  }

  ensureDefinition(request: SegmentDefinitionRequest) {
    return ensureResource<SegmentDefinition>(
      () => this.findDefinition(request.name),
      async () => (await this.client.request<SegmentDefinition>({ method: 'POST', path: `${BASE}/segment/definitions`, body: request })).data,
    );
  }

  async getDefinition(id: string): Promise<SegmentDefinition> {
    return (await this.client.request<SegmentDefinition>({ method: 'GET', path: `${BASE}/segment/definitions/${encodeURIComponent(id)}` })).data;
  }

  /**
   * Overwrites a definition. The PATCH body is the definition object (name, schema and expression are
   * required), not JSON Patch operations; sending the same body again is harmless.
   */
  async updateDefinition(id: string, definition: SegmentDefinitionRequest): Promise<SegmentDefinition> {
    return (
      await this.client.request<SegmentDefinition>({
        method: 'PATCH',
        path: `${BASE}/segment/definitions/${encodeURIComponent(id)}`,
        body: definition,
      })
    ).data;
  }

  async deleteDefinition(id: string): Promise<boolean> {
    return this.client.deleteIfExists(`${BASE}/segment/definitions/${encodeURIComponent(id)}`);
  }

  async createJob(segmentIds: string[]): Promise<SegmentJob> {
    return (
      await this.client.request<SegmentJob>({
        method: 'POST',
        path: `${BASE}/segment/jobs`,
        body: segmentIds.map((segmentId) => ({ segmentId })),
      })
    ).data;
  }

  /**
   * The newest segment jobs, newest first, on-demand and scheduled alike (`source` tells them apart):
   * one page of `limit`, as far back as a stage needs to look.
   */
  async recentJobs(options: { status?: string; limit?: number } = {}): Promise<SegmentJob[]> {
    const query = { sort: 'creationTime:desc', limit: options.limit ?? 25, ...(options.status ? { status: options.status } : {}) };
    return (await this.client.request<{ children?: SegmentJob[] }>({ method: 'GET', path: `${BASE}/segment/jobs`, query })).data.children ?? [];
  }

  async getJob(id: string): Promise<SegmentJob> {
    return (await this.client.request<SegmentJob>({ method: 'GET', path: `${BASE}/segment/jobs/${encodeURIComponent(id)}` })).data;
  }

  /**
   * Polls a job until it ends (SUCCEEDED, FAILED, CANCELLED) or `budgetMs` has passed, and returns it as
   * last seen; the caller decides what an unfinished job means.
   */
  async pollJob(id: string, options: { clock: Clock; budgetMs: number; pollIntervalMs?: number | undefined }): Promise<SegmentJob> {
    const started = options.clock.now().getTime();
    for (;;) {
      const job = await this.getJob(id);
      if (FINAL_JOB_STATUSES.has(job.status) || options.clock.now().getTime() - started >= options.budgetMs) return job;
      await options.clock.sleep(options.pollIntervalMs ?? 10_000);
    }
  }

  /** Waits for a job to succeed; a failed, cancelled or unfinished (after `timeoutMs`) job is an AepError. */
  async waitForJob(id: string, options: { clock: Clock; timeoutMs: number; pollIntervalMs?: number }): Promise<SegmentJob> {
    const job = await this.pollJob(id, { clock: options.clock, budgetMs: options.timeoutMs, pollIntervalMs: options.pollIntervalMs });
    if (job.status === 'SUCCEEDED') return job;
    if (FINAL_JOB_STATUSES.has(job.status)) throw segmentJobFailure(job);
    throw new AepError(`Segment job ${id} still ${job.status} after ${Math.round(options.timeoutMs / 1000)} s`, { kind: 'failed-operation' });
  }
}
