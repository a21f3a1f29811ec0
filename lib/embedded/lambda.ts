import { fork, type ChildProcess } from 'child_process';
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { bundleHandler, findProjectRoot } from '../bundling/bundle-handler';
import { systemClock, type Clock } from '../ports/clock';

/** How the deployed function is built: the same esbuild bundle, so a local run exercises what ships. */
const LAMBDA_TARGET = 'node22';

// Loads the bundle once, as the Lambda runtime does at init (`<file>.<export>` from the handler setting),
// then serves invocations one at a time over IPC, as a warm execution environment does; stdout and
// stderr stay free for the function's own log lines. An invocation may carry the simulated time: the
// runtime then sets the process's Date to it, time flowing at the real rate from there, so the bundle
// (unchanged) sees the simulated day. The process ends when its parent goes.
const runnerSource = (bundleDir: string, handler: string) => {
  const [file, exportName] = handler.split('.');
  return `'use strict';
const RealDate = Date;
let offsetMs = 0;
function SimulatedDate(...args) {
  if (!new.target) return new RealDate(RealDate.now() + offsetMs).toString();
  return args.length === 0 ? Reflect.construct(RealDate, [RealDate.now() + offsetMs], new.target) : Reflect.construct(RealDate, args, new.target);
}
SimulatedDate.prototype = RealDate.prototype;
SimulatedDate.now = () => RealDate.now() + offsetMs;
SimulatedDate.UTC = RealDate.UTC;
SimulatedDate.parse = RealDate.parse;
globalThis.Date = SimulatedDate;
let handler;
process.on('disconnect', () => process.exit(0));
process.on('message', async ({ event, context, nowMs }) => {
  if (typeof nowMs === 'number') offsetMs = nowMs - RealDate.now();
  try {
    handler ??= require(${JSON.stringify(path.join(bundleDir, `${file}.js`))})[${JSON.stringify(exportName)}];
    const result = await handler(event, context);
    process.send({ ok: true, result: result === undefined ? null : result });
  } catch (error) {
    const failure = error instanceof Error ? { errorType: error.name, errorMessage: error.message } : { errorType: 'Error', errorMessage: String(error) };
    process.send({ ok: false, failure });
  }
});
`;
};

/** A function's error, carrying its message as Lambda reports it (`errorType`, `errorMessage`). */
export class EmbeddedFunctionError extends Error {
  constructor(
    readonly functionName: string,
    readonly errorType: string,
    readonly errorMessage: string,
  ) {
    super(`Function ${functionName} failed: ${errorType}: ${errorMessage}`);
    this.name = 'EmbeddedFunctionError';
  }
}

/**
 * When a warm execution environment is given up and the next invocation starts cold. Lambda documents no
 * figure for either; these are the simulator's assumptions, in the function's (simulated) time.
 */
export interface ExecutionEnvironmentLimits {
  /**
   * An environment idle for longer than this is gone by the next invocation.
   * @default 60 minutes (DEFAULT_ENVIRONMENT_LIMITS.idleMs)
   */
  idleMs?: number;
  /**
   * No environment serves an invocation that starts later than this after its cold start.
   * @default 4 hours (DEFAULT_ENVIRONMENT_LIMITS.lifetimeMs)
   */
  lifetimeMs?: number;
}

export const DEFAULT_ENVIRONMENT_LIMITS = { idleMs: 60 * 60_000, lifetimeMs: 4 * 3_600_000 } as const;

/** Lambda's longest timeout, the embedded runtime's unless the function sets its own. */
export const MAX_LAMBDA_TIMEOUT_SECONDS = 900;

/** How a function's invocations are run, beyond what its deployment sets. */
export interface EmbeddedRuntimeOptions {
  /**
   * Lambda's timeout: a run still going after this many seconds is killed and answered with
   * `Task timed out after N.00 seconds`.
   * @default MAX_LAMBDA_TIMEOUT_SECONDS (900)
   */
  timeoutSeconds?: number;
  /**
   * The time the function sees: each invocation sets the process's Date to `clock.now()`.
   * @default the machine's time, untouched
   */
  clock?: Clock;
  /**
   * Keep an environment warm between invocations, within these limits, as Lambda does. Off, every
   * invocation is a new process: a cold start, which is what a single pass of the pipeline sees anyway.
   * @default false
   */
  reuseEnvironments?: boolean | ExecutionEnvironmentLimits;
}

export interface EmbeddedFunctionOptions extends EmbeddedRuntimeOptions {
  /** Function name, as it appears in logs and errors. */
  name: string;
  /** The handler file, relative to the project root (e.g. `lib/handlers/train.ts`). */
  entry: string;
  /** The function's environment, as the construct sets it. */
  environment: Record<string, string>;
  /** Folder for the bundle (emptied) and, beside it, the function's log. */
  workDir: string;
  /** @default the nearest folder holding a package.json */
  projectRoot?: string;
}

/** A function already bundled, as a synthesized stack deploys it. */
export interface DeployedFunctionOptions extends EmbeddedRuntimeOptions {
  name: string;
  /** The folder Terraform zips and uploads. */
  bundleDir: string;
  /** Lambda's handler setting, `<file>.<export>`. */
  handler: string;
  environment: Record<string, string>;
  memorySize?: number;
  /** Folder for the runner and the function's log. */
  workDir: string;
  /** @default the nearest folder holding a package.json */
  projectRoot?: string;
}

/** One execution environment: a runner process and when (in the function's time) it started and last served. */
interface ExecutionEnvironment {
  child: ChildProcess;
  log: number;
  startedAtMs: number;
  lastUsedAtMs: number;
}

type RunnerAnswer = { ok: boolean; result?: unknown; failure?: { errorType: string; errorMessage: string } };

/** Counts of a function's invocations, for the simulator's report. */
export interface InvocationCounts {
  invocations: number;
  coldStarts: number;
  timeouts: number;
  killed: number;
}

/**
 * A stage handler bundled exactly as `PipelineFunction` bundles it, run in child processes as Lambda
 * runs it in execution environments: the environment the construct sets, the AWS SDK taken from the
 * project's node_modules as the runtime provides its own, the timeout enforced. With
 * `reuseEnvironments`, an idle environment serves the next invocation (a warm start) until it has been
 * idle or alive too long, or its process died; otherwise every invocation is a cold start. Logs go to
 * `<workDir>/logs/<name>.log`.
 */
export class EmbeddedFunction {
  readonly logFile: string;
  readonly counts: InvocationCounts = { invocations: 0, coldStarts: 0, timeouts: 0, killed: 0 };
  private readonly idle: ExecutionEnvironment[] = [];
  private readonly running = new Set<ExecutionEnvironment>();
  private readonly limits: Required<ExecutionEnvironmentLimits> | undefined;
  private readonly timeoutMs: number;
  private readonly clock: Clock;
  private readonly shiftsTime: boolean;

  private constructor(
    readonly name: string,
    /** The environment its processes get, as the deployment gave it. */
    readonly environment: Readonly<Record<string, string>>,
    private readonly runnerFile: string,
    private readonly bundleDir: string,
    private readonly memorySize: number,
    logFile: string,
    private readonly nodeModules: string,
    runtime: EmbeddedRuntimeOptions,
  ) {
    this.logFile = logFile;
    const timeoutSeconds = runtime.timeoutSeconds ?? MAX_LAMBDA_TIMEOUT_SECONDS;
    if (!(timeoutSeconds > 0) || timeoutSeconds > MAX_LAMBDA_TIMEOUT_SECONDS) {
      throw new Error(`Function ${name}: timeoutSeconds must be above 0 and at most ${MAX_LAMBDA_TIMEOUT_SECONDS}, got ${timeoutSeconds}`);
    }
    this.timeoutMs = timeoutSeconds * 1000;
    this.clock = runtime.clock ?? systemClock;
    this.shiftsTime = runtime.clock !== undefined;
    const reuse = runtime.reuseEnvironments ?? false;
    this.limits = reuse === false ? undefined : { ...DEFAULT_ENVIRONMENT_LIMITS, ...(reuse === true ? {} : reuse) };
  }

  /** Bundles `entry` as `PipelineFunction` does, then runs that bundle. */
  static bundle(options: EmbeddedFunctionOptions): EmbeddedFunction {
    const projectRoot = options.projectRoot ?? findProjectRoot(__dirname);
    const bundleDir = path.join(options.workDir, 'bundles', options.name);
    const bundle = bundleHandler(options.entry, { outDir: bundleDir, projectRoot, target: LAMBDA_TARGET });
    return EmbeddedFunction.deployed({ ...options, projectRoot, bundleDir, handler: bundle.handler });
  }

  /** Runs a bundle made elsewhere (by `cdktf synth`) with the handler setting and environment it is deployed with. */
  static deployed(options: DeployedFunctionOptions): EmbeddedFunction {
    const projectRoot = options.projectRoot ?? findProjectRoot(__dirname);
    const runnerFile = path.join(options.workDir, 'runners', `${options.name}.js`);
    fs.mkdirSync(path.dirname(runnerFile), { recursive: true });
    fs.writeFileSync(runnerFile, runnerSource(path.resolve(options.bundleDir), options.handler));
    const logFile = path.join(options.workDir, 'logs', `${options.name}.log`);
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    return new EmbeddedFunction(options.name, options.environment, runnerFile, options.bundleDir, options.memorySize ?? 512, logFile, path.join(projectRoot, 'node_modules'), options);
  }

  /** Invokes the handler with `event`; resolves with its answer or rejects with its error. */
  invoke(event: unknown): Promise<unknown> {
    const nowMs = this.clock.now().getTime();
    const warm = this.takeIdle(nowMs);
    const environment = warm ?? this.coldStart(nowMs);
    this.counts.invocations++;
    if (!warm) this.counts.coldStarts++;
    fs.writeSync(environment.log, `--- invoke ${new Date(nowMs).toISOString()} ${warm ? 'warm' : 'cold'} ${JSON.stringify(event)}\n`);
    const { child } = environment;
    child.ref();
    this.running.add(environment);
    return new Promise((resolve, reject) => {
      const settle = () => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        child.off('error', onError);
        this.running.delete(environment);
      };
      const onMessage = (message: RunnerAnswer) => {
        settle();
        environment.lastUsedAtMs = this.clock.now().getTime();
        this.release(environment);
        if (message.ok) resolve(message.result);
        else reject(new EmbeddedFunctionError(this.name, message.failure?.errorType ?? 'Error', message.failure?.errorMessage ?? 'unknown error'));
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        settle();
        reject(new EmbeddedFunctionError(this.name, 'Runtime.ExitError', `exited with ${signal ?? `code ${code}`} before answering; see ${this.logFile}`));
      };
      const onError = (error: Error) => {
        settle();
        this.retire(environment);
        reject(error);
      };
      const timer = setTimeout(() => {
        settle();
        this.counts.timeouts++;
        child.kill('SIGKILL');
        reject(new EmbeddedFunctionError(this.name, 'Sandbox.Timedout', `Task timed out after ${(this.timeoutMs / 1000).toFixed(2)} seconds`));
      }, this.timeoutMs);
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.once('error', onError);
      const context = { awsRequestId: randomUUID(), functionName: this.name, functionVersion: '$LATEST', memoryLimitInMB: String(this.memorySize) };
      child.send({ event: event ?? {}, context, ...(this.shiftsTime && { nowMs }) });
    });
  }

  /**
   * Kills every invocation running now, as a crash or an out-of-memory kill would, the environment with
   * it: each answers `Runtime.ExitError`, and the next invocation starts cold. Returns how many it killed.
   */
  kill(): number {
    const victims = [...this.running];
    for (const environment of victims) {
      this.counts.killed++;
      environment.child.kill('SIGKILL');
    }
    return victims.length;
  }

  /** Ends the idle environments (running invocations finish first, then end with their environment). */
  stop(): void {
    for (const environment of this.idle.splice(0)) this.retire(environment);
  }

  /** The most recently used idle environment still within the limits; older ones are ended. */
  private takeIdle(nowMs: number): ExecutionEnvironment | undefined {
    const limits = this.limits;
    if (!limits) return undefined;
    for (;;) {
      const environment = this.idle.pop();
      if (!environment) return undefined;
      const fresh = nowMs - environment.lastUsedAtMs <= limits.idleMs && nowMs - environment.startedAtMs <= limits.lifetimeMs;
      if (fresh && environment.child.exitCode === null && environment.child.signalCode === null) return environment;
      this.retire(environment);
    }
  }

  private coldStart(nowMs: number): ExecutionEnvironment {
    const log = fs.openSync(this.logFile, 'a');
    const child = fork(this.runnerFile, [], {
      cwd: this.bundleDir,
      env: {
        PATH: process.env.PATH ?? '',
        ...this.environment,
        AWS_LAMBDA_FUNCTION_NAME: this.name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(this.memorySize),
        AWS_LAMBDA_FUNCTION_TIMEOUT: String(this.timeoutMs / 1000),
        // Each process is a new execution environment: its first invocation is a cold start, as Powertools reads it.
        AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
        NODE_PATH: this.nodeModules,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        NODE_OPTIONS: '--enable-source-maps',
      },
      stdio: ['ignore', log, log, 'ipc'],
    });
    child.once('exit', () => fs.closeSync(log));
    // A process dying between invocations is noticed by the next one (it starts cold); nothing to report now.
    child.on('error', () => undefined);
    return { child, log, startedAtMs: nowMs, lastUsedAtMs: nowMs };
  }

  private release(environment: ExecutionEnvironment): void {
    if (!this.limits) {
      this.retire(environment);
      return;
    }
    // An idle environment must not keep the caller's process alive.
    environment.child.unref();
    environment.child.channel?.unref();
    this.idle.push(environment);
  }

  /** Ends an environment: an answered one leaves on its own once disconnected; a stuck one is killed. */
  private retire(environment: ExecutionEnvironment): void {
    const { child } = environment;
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (child.connected && !this.running.has(environment)) child.disconnect();
    else child.kill('SIGKILL');
  }
}
