import { GetFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import { EmbeddedFunction, EmbeddedFunctionError } from '../embedded/lambda';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface LambdaFrontOptions {
  /** The AWS emulator every call but `Invoke` is passed to, e.g. `http://127.0.0.1:5000`. */
  emulator: string;
  region: string;
  /** What the front reads function configurations and assumes execution roles with, as the Lambda service does. */
  serviceCredentials: AwsCredentials;
  /** Folder for the uploaded code, the unpacked bundles and the functions' logs. */
  workDir: string;
  /**
   * Added to every function's environment: what the rehearsal's stand-ins replace (AEP's endpoints,
   * the emulator's address for the AWS SDK), as the Lambda runtime adds its own variables.
   */
  environment: Record<string, string>;
  /** The project whose node_modules gives the functions the AWS SDK, as the runtime provides its own. */
  projectRoot?: string;
}

/** One `Invoke` the front served. */
export interface ServedInvocation {
  functionName: string;
  role: string;
  ok: boolean;
  ms: number;
}

const INVOKE = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
const CREATE = /^\/2015-03-31\/functions\/?$/;
const UPDATE_CODE = /^\/2015-03-31\/functions\/([^/]+)\/code$/;

/**
 * The Lambda service in front of an AWS emulator that cannot run code (moto runs it only in Docker).
 * Keeps the zip of every `CreateFunction` and `UpdateFunctionCode` it passes on, and serves `Invoke`
 * itself: reads the function's configuration back from the emulator (handler, environment, role, the
 * code's SHA-256), assumes the function's role through the emulator's STS, and runs the bundle in a
 * child process with those credentials. Answers as Lambda does: the result, or `X-Amz-Function-Error`
 * with `errorType` and `errorMessage`.
 */
export class LambdaFront {
  readonly invocations: ServedInvocation[] = [];
  private server: http.Server | undefined;
  private readonly lambda: LambdaClient;
  private readonly sts: STSClient;
  private readonly codeDir: string;

  constructor(private readonly options: LambdaFrontOptions) {
    const client = { endpoint: options.emulator, region: options.region, credentials: options.serviceCredentials };
    this.lambda = new LambdaClient(client);
    this.sts = new STSClient(client);
    this.codeDir = path.join(options.workDir, 'code');
    fs.mkdirSync(this.codeDir, { recursive: true });
  }

  async start(): Promise<{ endpoint: string }> {
    this.server = http.createServer((request, response) => {
      this.serve(request, response).catch((error: unknown) => {
        if (!response.headersSent) response.writeHead(502, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ message: `Lambda front: ${(error as Error).message}` }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return { endpoint: `http://127.0.0.1:${(this.server.address() as AddressInfo).port}` };
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async serve(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const pathname = new URL(request.url ?? '/', 'http://front').pathname;
    const invoked = request.method === 'POST' ? INVOKE.exec(pathname) : null;
    if (invoked) {
      await this.invoke(decodeURIComponent(invoked[1]!), body, response);
      return;
    }
    if ((request.method === 'POST' && CREATE.test(pathname)) || (request.method === 'PUT' && UPDATE_CODE.test(pathname))) {
      this.keepCode(body);
    }
    await this.pass(request, body, response);
  }

  /** The zip as Lambda stores it, under its SHA-256 (what `GetFunction` reports as `CodeSha256`). */
  private keepCode(body: Buffer): void {
    const zipFile = (JSON.parse(body.toString('utf8')) as { ZipFile?: string; Code?: { ZipFile?: string } });
    const encoded = zipFile.Code?.ZipFile ?? zipFile.ZipFile;
    if (!encoded) return;
    const zip = Buffer.from(encoded, 'base64');
    fs.writeFileSync(this.zipPath(createHash('sha256').update(zip).digest('base64')), zip);
  }

  private zipPath(codeSha256: string): string {
    return path.join(this.codeDir, `${Buffer.from(codeSha256, 'base64').toString('hex')}.zip`);
  }

  /** Everything but Invoke goes to the emulator unchanged: same path, headers (the signature covers Host) and body. */
  private pass(request: http.IncomingMessage, body: Buffer, response: http.ServerResponse): Promise<void> {
    const target = new URL(this.options.emulator);
    return new Promise((resolve, reject) => {
      const forwarded = http.request(
        { host: target.hostname, port: target.port, method: request.method, path: request.url, headers: request.headers },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
          answer.on('end', resolve);
          answer.on('error', reject);
        },
      );
      forwarded.on('error', reject);
      forwarded.end(body);
    });
  }

  private async invoke(functionName: string, body: Buffer, response: http.ServerResponse): Promise<void> {
    const began = Date.now();
    const { Configuration: configuration } = await this.lambda.send(new GetFunctionCommand({ FunctionName: functionName }));
    if (!configuration?.Handler || !configuration.Role || !configuration.CodeSha256 || !configuration.FunctionName) {
      throw new Error(`the emulator returned no handler, role or code hash for ${functionName}`);
    }
    const name = configuration.FunctionName;
    const zip = this.zipPath(configuration.CodeSha256);
    if (!fs.existsSync(zip)) throw new Error(`${name}'s code (SHA-256 ${configuration.CodeSha256}) was not uploaded through this front`);
    const bundleDir = zip.replace(/\.zip$/, '');
    if (!fs.existsSync(bundleDir)) execFileSync('python3', ['-m', 'zipfile', '-e', zip, bundleDir]);

    // Lambda runs a function with its execution role's temporary credentials, never the caller's.
    const { Credentials: assumed } = await this.sts.send(new AssumeRoleCommand({ RoleArn: configuration.Role, RoleSessionName: name.slice(0, 64) }));
    if (!assumed?.AccessKeyId || !assumed.SecretAccessKey) throw new Error(`assuming ${configuration.Role} returned no credentials`);
    const fn = EmbeddedFunction.deployed({
      name,
      bundleDir,
      handler: configuration.Handler,
      memorySize: configuration.MemorySize ?? 128,
      environment: {
        ...(configuration.Environment?.Variables ?? {}),
        ...this.options.environment,
        AWS_REGION: this.options.region,
        AWS_DEFAULT_REGION: this.options.region,
        AWS_ACCESS_KEY_ID: assumed.AccessKeyId,
        AWS_SECRET_ACCESS_KEY: assumed.SecretAccessKey,
        ...(assumed.SessionToken && { AWS_SESSION_TOKEN: assumed.SessionToken }),
      },
      workDir: this.options.workDir,
      ...(this.options.projectRoot !== undefined && { projectRoot: this.options.projectRoot }),
    });
    const event: unknown = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    try {
      const result = await fn.invoke(event);
      this.invocations.push({ functionName: name, role: configuration.Role, ok: true, ms: Date.now() - began });
      response.writeHead(200, { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' });
      response.end(JSON.stringify(result ?? null));
    } catch (error) {
      this.invocations.push({ functionName: name, role: configuration.Role, ok: false, ms: Date.now() - began });
      const failure = error instanceof EmbeddedFunctionError ? error : new EmbeddedFunctionError(name, 'Error', (error as Error).message);
      response.writeHead(200, { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled', 'x-amz-executed-version': '$LATEST' });
      response.end(JSON.stringify({ errorType: failure.errorType, errorMessage: failure.errorMessage }));
    }
  }
}
