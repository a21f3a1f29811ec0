#!/usr/bin/env node
/** `npm run rehearse`: `cdktf deploy` rehearsed against moto and the embedded AEP (lib/rehearsal/rehearse.ts). */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { rehearse } from '../lib/rehearsal/rehearse';

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aep-rehearsal-'));
const say = (line: string) => process.stdout.write(`${line}\n`);
rehearse({
  providerMirror: process.env.TF_PROVIDER_MIRROR || undefined,
  users: Number(process.env.REHEARSAL_USERS ?? 2000),
  workDir,
  say,
  log: { debug: () => undefined, info: () => undefined, warn: (m: string) => say(`warn: ${m}`), error: (m: string) => say(`error: ${m}`) },
}).then(
  (result) => {
    fs.writeFileSync(path.join(workDir, 'rehearsal.json'), `${JSON.stringify(result, null, 2)}\n`);
    say(JSON.stringify(result, null, 2));
  },
  (error: unknown) => {
    process.stderr.write(`Rehearsal failed: ${error instanceof Error ? error.message : String(error)}\n(files kept in ${workDir})\n`);
    process.exitCode = 1;
  },
);
