import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { prepareRunFolder } from '../../lib/cli/local-run';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'run-folders-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

it('gives every run a folder of its own, even two runs of the same instant', () => {
  const now = new Date('2026-12-07T00:00:00Z');
  const first = prepareRunFolder({ runsRoot: root }, now);
  fs.writeFileSync(path.join(first.runDir, 'left-by-the-first-run'), '');
  const second = prepareRunFolder({ runsRoot: root }, now);
  expect(path.basename(first.runDir)).toBe('20261207T000000Z');
  expect(path.basename(second.runDir)).toBe('20261207T000000Z-2');
  expect(fs.readdirSync(second.runDir)).toEqual([]);
});

it('refuses an audience band before making any folder', () => {
  expect(() => prepareRunFolder({ runsRoot: path.join(root, 'runs'), audience: { low: 0.9, high: 0.2 } }, new Date())).toThrow(/low end/);
  expect(fs.existsSync(path.join(root, 'runs'))).toBe(false);
});
