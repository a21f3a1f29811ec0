import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateFunctionCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startEmulator, type Emulator } from '../../lib/rehearsal/emulator';
import { LambdaFront } from '../../lib/rehearsal/lambda-front';

// The Lambda front between a Lambda client and moto: CreateFunction passes through with its zip kept,
// Invoke runs that zip's handler with the configuration moto holds and the role's own credentials.
const region = 'us-east-1';
let dir: string;
let emulator: Emulator;
let front: LambdaFront;
let lambda: LambdaClient;

const HANDLER = `
const { STSClient, GetCallerIdentityCommand } = require('@aws-sdk/client-sts');
exports.handler = async (event) => {
  if (event.fail) throw new TypeError('asked to fail');
  const who = await new STSClient({}).send(new GetCallerIdentityCommand({}));
  return { event, greeting: process.env.GREETING, added: process.env.ADDED_BY_FRONT, caller: who.Arn };
};
`;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lambda-front-'));
  emulator = await startEmulator(path.join(dir, 'moto.log'));
  front = new LambdaFront({
    emulator: emulator.endpoint,
    region,
    serviceCredentials: emulator.lambdaService,
    workDir: path.join(dir, 'front'),
    environment: { ADDED_BY_FRONT: 'yes', AWS_ENDPOINT_URL: emulator.endpoint },
  });
  const { endpoint } = await front.start();
  lambda = new LambdaClient({ endpoint, region, credentials: emulator.operator });

  const operator = { endpoint: emulator.endpoint, region, credentials: emulator.operator };
  const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] };
  const iam = new IAMClient(operator);
  const { Role: role } = await iam.send(new CreateRoleCommand({ RoleName: 'greeter', AssumeRolePolicyDocument: JSON.stringify(trust) }));
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: 'greeter',
      PolicyName: 'who',
      PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:GetCallerIdentity', Resource: '*' }] }),
    }),
  );
  const source = path.join(dir, 'src');
  fs.mkdirSync(source);
  fs.writeFileSync(path.join(source, 'index.js'), HANDLER);
  execFileSync('python3', ['-m', 'zipfile', '-c', path.join(dir, 'fn.zip'), 'index.js'], { cwd: source });
  await lambda.send(
    new CreateFunctionCommand({
      FunctionName: 'greeter',
      Role: role!.Arn,
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      Code: { ZipFile: fs.readFileSync(path.join(dir, 'fn.zip')) },
      Environment: { Variables: { GREETING: 'hello' } },
    }),
  );
}, 60_000);

afterAll(async () => {
  await front?.stop();
  await emulator?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('LambdaFront', () => {
  it("runs the uploaded handler with the function's environment, the front's additions and its role's credentials", async () => {
    const answer = await lambda.send(new InvokeCommand({ FunctionName: 'greeter', Payload: Buffer.from(JSON.stringify({ n: 1 })) }));
    expect(answer.FunctionError).toBeUndefined();
    const result = JSON.parse(Buffer.from(answer.Payload!).toString('utf8')) as Record<string, unknown>;
    expect(result).toMatchObject({ event: { n: 1 }, greeting: 'hello', added: 'yes' });
    // The execution role's session, not the caller's user.
    expect(result.caller).toMatch(/:assumed-role\/greeter\/greeter$/);
    expect(front.invocations).toContainEqual(expect.objectContaining({ functionName: 'greeter', ok: true }));
  });

  it("answers a handler's error as Lambda does: 200 with X-Amz-Function-Error, errorType and errorMessage", async () => {
    const answer = await lambda.send(new InvokeCommand({ FunctionName: 'greeter', Payload: Buffer.from(JSON.stringify({ fail: true })) }));
    expect(answer.StatusCode).toBe(200);
    expect(answer.FunctionError).toBe('Unhandled');
    expect(JSON.parse(Buffer.from(answer.Payload!).toString('utf8'))).toEqual({ errorType: 'TypeError', errorMessage: 'asked to fail' });
  });
});
