import { LambdaClient } from '@aws-sdk/client-lambda';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { invokeDeployedStage, runEmbeddedStage } from '../../lib/cli/stage-command';
import { localRunLedger } from '../../lib/cli/runs';
import { silentLog } from '../../lib/ports/logger';

/** A loopback endpoint speaking Lambda's Invoke API, answering as the named function would. */
async function lambdaEndpoint(answer: (functionName: string, event: unknown) => { status: number; body: unknown; functionError?: string }) {
  const calls: Array<{ functionName: string; event: unknown; invocationType?: string | undefined }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const functionName = decodeURIComponent(/\/functions\/([^/]+)\/invocations/.exec(req.url ?? '')?.[1] ?? '');
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      calls.push({ functionName, event, invocationType: req.headers['x-amz-invocation-type'] as string | undefined });
      const { status, body, functionError } = answer(functionName, event);
      res.writeHead(status, { 'content-type': 'application/json', ...(functionError ? { 'x-amz-function-error': functionError } : {}) });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new LambdaClient({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  return { client, calls, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('invoking a deployed stage', () => {
  it('sends the schedule\'s event synchronously and returns the answer', async () => {
    const endpoint = await lambdaEndpoint(() => ({ status: 200, body: { status: 'succeeded', outputs: { datasetId: 'abc' } } }));
    try {
      const result = await invokeDeployedStage('featurize', 'pipeline-featurize', endpoint.client);
      expect(result).toEqual({ status: 'succeeded', outputs: { datasetId: 'abc' } });
      expect(endpoint.calls).toEqual([{ functionName: 'pipeline-featurize', event: { stage: 'featurize' }, invocationType: 'RequestResponse' }]);
    } finally {
      await endpoint.close();
    }
  });

  it('turns a function error into an error carrying the function\'s message', async () => {
    const endpoint = await lambdaEndpoint(() => ({ status: 200, body: { errorType: 'AepError', errorMessage: 'Query 42 ended FAILED' }, functionError: 'Unhandled' }));
    try {
      await expect(invokeDeployedStage('featurize', 'pipeline-featurize', endpoint.client)).rejects.toThrow(
        'Stage featurize (function pipeline-featurize) failed: Query 42 ended FAILED',
      );
    } finally {
      await endpoint.close();
    }
  });
});

describe('running a stage on the embedded platform', () => {
  it('provisions and records the run in the ledger of its run folder', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stage-'));
    try {
      const result = (await runEmbeddedStage('provision', dir, silentLog)) as Record<string, string>;
      expect(result.scoresDatasetId).toMatch(/^[0-9a-f]{24}$/);
      const local = await localRunLedger(dir);
      try {
        const [run] = await local.ledger.recent('provision', 1);
        expect(run).toMatchObject({ status: 'succeeded', outputs: { scoresDatasetId: result.scoresDatasetId } });
      } finally {
        await local.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the stages it knows when asked for another', async () => {
    await expect(runEmbeddedStage('featurise', os.tmpdir(), silentLog)).rejects.toThrow(/No stage "featurise" runs on the embedded platform; stages: provision/);
  });
});
