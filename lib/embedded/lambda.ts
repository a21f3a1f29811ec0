import { fork } from 'child_process';
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { bundleHandler, findProjectRoot } from '../bundling/bundle-handler';

/** How the deployed function is built: the same esbuild bundle, so a local run exercises what ships. */
const LAMBDA_TARGET = 'node22';

// Loads the bundle as the Lambda runtime does (`<file>.<export>` from the handler setting), calls it with
// the event and a Lambda-shaped context, and sends the answer back over IPC; stdout and stderr stay free
// for the function's own log lines.
const runnerSource = (bundleDir: string, handler: string) => {
  const [file, exportName] = handler.split('.');
  return `'use strict';
process.once('message', async ({ event, context }) => {
  try {
    const handler = require(${JSON.stringify(path.join(bundleDir, `${file}.js`))})[${JSON.stringify(exportName)}];
    const result = await handler(event, context);
    process.send({ ok: true, result: result === undefined ? null : result }, () => process.exit(0));
  } catch (error) {
    const failure = error instanceof Error ? { errorType: error.name, errorMessage: error.message } : { errorType: 'Error', errorMessage: String(error) };
    process.send({ ok: false, failure }, () => process.exit(1));
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

export interface EmbeddedFunctionOptions {
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
export interface DeployedFunctionOptions {
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

/**
 * A stage handler bundled exactly as `PipelineFunction` bundles it, invoked in a child process per
 * event: a cold start each time, the environment the construct sets, the AWS SDK taken from the
 * project's node_modules as the runtime provides its own. Logs go to `<workDir>/logs/<name>.log`.
 */
export class EmbeddedFunction {
  readonly logFile: string;

  private constructor(
    readonly name: string,
    private readonly environment: Record<string, string>,
    private readonly runnerFile: string,
    private readonly bundleDir: string,
    private readonly memorySize: number,
    logFile: string,
    private readonly nodeModules: string,
  ) {
    this.logFile = logFile;
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
    return new EmbeddedFunction(options.name, options.environment, runnerFile, options.bundleDir, options.memorySize ?? 512, logFile, path.join(projectRoot, 'node_modules'));
  }

  /** Invokes the handler with `event`; resolves with its answer or rejects with its error. */
  invoke(event: unknown): Promise<unknown> {
    const log = fs.openSync(this.logFile, 'a');
    fs.writeSync(log, `--- invoke ${new Date().toISOString()} ${JSON.stringify(event)}\n`);
    const child = fork(this.runnerFile, [], {
      cwd: this.bundleDir,
      env: {
        PATH: process.env.PATH ?? '',
        ...this.environment,
        AWS_LAMBDA_FUNCTION_NAME: this.name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(this.memorySize),
        // Every invocation here is a new process: a cold start, as Powertools reads it.
        AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
        NODE_PATH: this.nodeModules,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        NODE_OPTIONS: '--enable-source-maps',
      },
      stdio: ['ignore', log, log, 'ipc'],
    });
    return new Promise((resolve, reject) => {
      let answered = false;
      child.once('message', (message: { ok: boolean; result?: unknown; failure?: { errorType: string; errorMessage: string } }) => {
        answered = true;
        if (message.ok) resolve(message.result);
        else reject(new EmbeddedFunctionError(this.name, message.failure?.errorType ?? 'Error', message.failure?.errorMessage ?? 'unknown error'));
      });
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        fs.closeSync(log);
        if (!answered) reject(new EmbeddedFunctionError(this.name, 'Runtime.ExitError', `exited with ${signal ?? `code ${code}`} before answering; see ${this.logFile}`));
      });
      const context = { awsRequestId: randomUUID(), functionName: this.name, functionVersion: '$LATEST', memoryLimitInMB: String(this.memorySize) };
      child.send({ event: event ?? {}, context });
    });
  }
}
