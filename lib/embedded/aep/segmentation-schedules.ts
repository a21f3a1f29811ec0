/**
 * Segmentation schedules stand-in (`/data/core/ups/config/schedules`, segmentation.yaml): a sandbox's
 * batch segmentation schedule, which AEP runs once a day over every segment definition with batch
 * evaluation on. The job it starts is listed by `GET /segment/jobs` with `source: "scheduler"` and the
 * per-definition counts, like an on-demand job. The schedule is timed work: a simulator asks `nextAt`
 * and calls `run` when its clock gets there.
 */
import type { Clock } from '../../ports/clock';
import type { TimedWork } from '../time/timed-work';
import { segmentationError } from './errors';
import { ApiError, intParam, isPlainObject, objectBody, Reply, RequestContext, Router } from './http';
import { uuid } from './ids';
import { SEGMENTATION_BASE, type Segmentation } from './segmentation';

/** When the stand-in's own schedule runs unless told otherwise: daily at 06:30 UTC (Quartz cron). */
export const DEFAULT_SEGMENTATION_SCHEDULE = '0 30 6 * * ?';
const DEFAULT_SCHEDULE_NAME = 'profile-default';
const MAX_LIMIT = 100;
const DAY_MS = 24 * 60 * 60 * 1000;

type ScheduleState = 'active' | 'inactive';

interface ScheduleRecord {
  id: string;
  name: string;
  type: 'batch_segmentation';
  segments: string[];
  schedule: string;
  /** Seconds after midnight UTC the schedule fires at. */
  secondOfDay: number;
  state: ScheduleState;
  createEpoch: number;
  updateEpoch: number;
}

/**
 * Reads the Quartz cron of a batch segmentation schedule: `<seconds> <minutes> <hours> * * ?`, once a
 * day, as AEP allows no more. Returns the second of the day it fires at, or a message saying what is wrong.
 */
export function dailyScheduleSecond(cron: string): number | string {
  const fields = cron.trim().split(/\s+/);
  const usage = `give "<seconds> <minutes> <hours> * * ?" (e.g. "${DEFAULT_SEGMENTATION_SCHEDULE}"): a batch segmentation schedule runs once a day`;
  if (fields.length < 6 || fields.length > 7) return `'schedule' "${cron}" is not a Quartz cron expression of 6 or 7 fields; ${usage}`;
  const [second, minute, hour, dayOfMonth, month, dayOfWeek, year = '*'] = fields as [string, string, string, string, string, string, string?];
  const everyDay = (dayOfMonth === '*' || dayOfMonth === '?') && month === '*' && (dayOfWeek === '?' || dayOfWeek === '*') && dayOfMonth !== dayOfWeek && year === '*';
  const numbers = [second, minute, hour].map((f) => (/^\d{1,2}$/.test(f) ? Number(f) : Number.NaN));
  const [s, m, h] = numbers as [number, number, number];
  if (!everyDay || !(s < 60) || !(m < 60) || !(h < 24)) return `'schedule' "${cron}" does not fire once every day at a fixed time; ${usage}`;
  return h * 3600 + m * 60 + s;
}

export interface SegmentationSchedulesOptions {
  clock: Clock;
  /**
   * The sandbox's batch segmentation schedule, active from the start; undefined leaves the sandbox
   * without one (create it through the API).
   */
  defaultSchedule?: string | undefined;
}

export class SegmentationSchedules implements TimedWork {
  readonly name = 'AEP scheduled segmentation';
  private readonly schedules = new Map<string, ScheduleRecord>();
  private readonly clock: Clock;

  constructor(
    private readonly segmentation: Segmentation,
    options: SegmentationSchedulesOptions,
  ) {
    this.clock = options.clock;
    if (options.defaultSchedule !== undefined) {
      this.create({ name: DEFAULT_SCHEDULE_NAME, type: 'batch_segmentation', properties: { segments: ['*'] }, schedule: options.defaultSchedule, state: 'active' });
    }
  }

  register(router: Router): void {
    const b = `${SEGMENTATION_BASE}/config/schedules`;
    router.add('GET', 'segmentation', b, (c) => this.list(c));
    router.add('POST', 'segmentation', b, (c) => ({ status: 200, body: this.render(this.create(objectBody(c, segmentationError))) }));
    router.add('GET', 'segmentation', `${b}/:id`, (c) => ({ status: 200, body: this.render(this.mustGet(c.param('id'))) }));
    router.add('PATCH', 'segmentation', `${b}/:id`, (c) => this.patch(c));
    router.add('DELETE', 'segmentation', `${b}/:id`, (c) => {
      this.schedules.delete(this.mustGet(c.param('id')).id);
      return { status: 204 };
    });
  }

  /** The next time after `after` the active batch segmentation schedule fires. */
  nextAt(after: Date): Date | undefined {
    const active = this.activeSchedule();
    if (!active) return undefined;
    const midnight = Math.floor(after.getTime() / DAY_MS) * DAY_MS;
    const today = midnight + active.secondOfDay * 1000;
    return new Date(today > after.getTime() ? today : today + DAY_MS);
  }

  /** Runs the active schedule's segment job, stamped `at`, and waits for it to end. */
  async run(at: Date): Promise<void> {
    const active = this.activeSchedule();
    if (active) await this.segmentation.runScheduledJob({ id: active.id, segments: active.segments }, at);
  }

  private activeSchedule(): ScheduleRecord | undefined {
    return [...this.schedules.values()].find((s) => s.state === 'active');
  }

  private bad(message: string): ApiError {
    return segmentationError(400, message, '1001');
  }

  private mustGet(id: string): ScheduleRecord {
    const found = this.schedules.get(id);
    if (!found) throw segmentationError(404, `Schedule '${id}' was not found`, '1200');
    return found;
  }

  private render(s: ScheduleRecord): Record<string, unknown> {
    return {
      id: s.id,
      name: s.name,
      type: s.type,
      properties: { segments: [...s.segments] },
      schedule: s.schedule,
      state: s.state,
      createEpoch: s.createEpoch,
      updateEpoch: s.updateEpoch,
    };
  }

  private cronSecond(value: unknown): number {
    if (typeof value !== 'string') throw this.bad(`'schedule' is required: a Quartz cron expression such as "${DEFAULT_SEGMENTATION_SCHEDULE}"`);
    const second = dailyScheduleSecond(value);
    if (typeof second === 'string') throw this.bad(second);
    return second;
  }

  private state(value: unknown): ScheduleState {
    if (value !== 'active' && value !== 'inactive') throw this.bad(`'state' must be "active" or "inactive", got ${JSON.stringify(value) ?? 'nothing'}`);
    return value;
  }

  private create(body: Record<string, unknown>): ScheduleRecord {
    if (typeof body.name !== 'string' || body.name.trim() === '') throw this.bad("'name' is required: the name of the schedule");
    if (body.type !== 'batch_segmentation') {
      throw this.bad(`'type' ${JSON.stringify(body.type) ?? 'nothing'} is not supported by the embedded platform; use "batch_segmentation"`);
    }
    const properties = body.properties;
    const segments = isPlainObject(properties) ? properties.segments : undefined;
    if (!Array.isArray(segments) || segments.length === 0 || !segments.every((x) => typeof x === 'string' && x !== '')) {
      throw this.bad(`'properties.segments' is required for batch_segmentation: the definition ids to evaluate, or ["*"] for all`);
    }
    if ([...this.schedules.values()].some((s) => s.type === 'batch_segmentation')) {
      throw this.bad('This sandbox already has a batch_segmentation schedule; a sandbox has one: change it with PATCH');
    }
    const secondOfDay = this.cronSecond(body.schedule);
    const epoch = Math.floor(this.clock.now().getTime() / 1000);
    const record: ScheduleRecord = {
      id: uuid(),
      name: body.name,
      type: 'batch_segmentation',
      segments: segments as string[],
      schedule: body.schedule as string,
      secondOfDay,
      state: body.state === undefined ? 'inactive' : this.state(body.state),
      createEpoch: epoch,
      updateEpoch: epoch,
    };
    this.schedules.set(record.id, record);
    return record;
  }

  /** JSON Patch `add` of `/state` or `/schedule`, as the OpenAPI file describes; checked whole before applied. */
  private patch(ctx: RequestContext): Reply {
    const record = this.mustGet(ctx.param('id'));
    const ops = ctx.body;
    if (!Array.isArray(ops) || ops.length === 0) throw this.bad('The request body must be a non-empty array of JSON Patch operations { "op": "add", "path": "/state" | "/schedule", "value": ... }');
    const changes: Partial<Pick<ScheduleRecord, 'state' | 'schedule' | 'secondOfDay'>> = {};
    ops.forEach((op, index) => {
      if (!isPlainObject(op) || op.op !== 'add') throw this.bad(`Operation ${index} must be { "op": "add", ... }`);
      if (op.path === '/state') changes.state = this.state(op.value);
      else if (op.path === '/schedule') {
        changes.secondOfDay = this.cronSecond(op.value);
        changes.schedule = op.value as string;
      } else throw this.bad(`Operation ${index}: path ${JSON.stringify(op.path) ?? 'nothing'} cannot be changed; use "/state" or "/schedule"`);
    });
    Object.assign(record, changes, { updateEpoch: Math.floor(this.clock.now().getTime() / 1000) });
    return { status: 204 };
  }

  private list(ctx: RequestContext): Reply {
    const limit = intParam(ctx.query, 'limit', MAX_LIMIT, segmentationError, { min: 1, max: MAX_LIMIT });
    const start = intParam(ctx.query, 'start', 0, segmentationError, { min: 0 });
    const all = [...this.schedules.values()];
    const items = all.slice(start, start + limit);
    const next = start + items.length < all.length ? { next: String(start + items.length) } : {};
    return { status: 200, body: { _page: { totalCount: all.length, pageSize: items.length, ...next }, children: items.map((s) => this.render(s)) } };
  }
}
