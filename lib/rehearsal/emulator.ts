import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import type { AwsCredentials } from './lambda-front';

/** moto, started with `moto_shim.py` (the emulator's gaps closed), on a loopback port of its own. */
export interface Emulator {
  endpoint: string;
  /** An IAM user allowed everything: what Terraform and the rehearsal act as once IAM is enforced. */
  operator: AwsCredentials;
  /**
   * The IAM user `lambda.amazonaws.com`, allowed `sts:AssumeRole` and `lambda:GetFunction`: what the
   * Lambda front acts as, the shim taking it for the service principal execution roles trust.
   */
  lambdaService: AwsCredentials;
  stop(): Promise<void>;
}

const SHIM = path.join(__dirname, 'moto_shim.py');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

// Before IAM is enforced moto checks no signature, so these calls need only name the service in the
// credential scope, which is how moto routes a request without a service host name.
async function unsignedQuery(endpoint: string, service: string, params: Record<string, string>): Promise<string> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `AWS4-HMAC-SHA256 Credential=bootstrap/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: new URLSearchParams(params).toString(),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`moto ${service} ${params.Action} answered ${response.status}: ${text.slice(0, 300)}`);
  return text;
}

/** The service principal Lambda execution roles trust; moto_shim.py lets the IAM user of this name stand for it. */
export const LAMBDA_SERVICE_PRINCIPAL = 'lambda.amazonaws.com';

async function createUser(endpoint: string, user: string, statements: unknown[]): Promise<AwsCredentials> {
  await unsignedQuery(endpoint, 'iam', { Action: 'CreateUser', UserName: user, Version: '2010-05-08' });
  await unsignedQuery(endpoint, 'iam', {
    Action: 'PutUserPolicy',
    UserName: user,
    PolicyName: 'rehearsal',
    PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: statements }),
    Version: '2010-05-08',
  });
  const key = await unsignedQuery(endpoint, 'iam', { Action: 'CreateAccessKey', UserName: user, Version: '2010-05-08' });
  const accessKeyId = /<AccessKeyId>([^<]+)</.exec(key)?.[1];
  const secretAccessKey = /<SecretAccessKey>([^<]+)</.exec(key)?.[1];
  if (!accessKeyId || !secretAccessKey) throw new Error(`moto's CreateAccessKey answered without a key: ${key.slice(0, 300)}`);
  return { accessKeyId, secretAccessKey };
}

/**
 * Starts moto (with the shim unless `shim: false`) on a free loopback port, makes the operator and
 * Lambda service users, then turns IAM enforcement on
 * (`/moto-api/reset-auth`): from then on every call is checked against its caller's policies.
 */
export async function startEmulator(logFile: string, options: { shim?: boolean } = {}): Promise<Emulator> {
  // Without the shim: moto as released, to show each gap the shim closes (test/rehearsal/moto-shim.test.ts).
  const command = options.shim === false ? ['-m', 'moto.server'] : [SHIM];
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const log = fs.openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn('python3', [...command, '-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', log, log] });
  } finally {
    fs.closeSync(log);
  }
  let exited = false;
  child.once('exit', () => (exited = true));
  const stop = async () => {
    if (exited) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  };
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited) throw new Error(`moto did not start (python3 ${command.join(' ')}); see ${logFile}`);
      const up = await fetch(`${endpoint}/moto-api/`).then((r) => r.ok, () => false);
      if (up) break;
      if (Date.now() > deadline) throw new Error(`moto did not answer on ${endpoint} within 60 s; see ${logFile}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const operator = await createUser(endpoint, 'rehearsal-operator', [{ Effect: 'Allow', Action: '*', Resource: '*' }]);
    const lambdaService = await createUser(endpoint, LAMBDA_SERVICE_PRINCIPAL, [{ Effect: 'Allow', Action: ['sts:AssumeRole', 'lambda:GetFunction'], Resource: '*' }]);
    const enforced = await fetch(`${endpoint}/moto-api/reset-auth`, { method: 'POST', body: '0' });
    if (!enforced.ok) throw new Error(`moto refused to enforce IAM: ${enforced.status}`);
    return { endpoint, operator, lambdaService, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
