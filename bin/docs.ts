#!/usr/bin/env node
/** `npm run docs`: rewrites the README's tables made from the code (the stage registry, the settings mapping). */
import * as fs from 'fs';
import * as path from 'path';
import { settingsTableMarkdown } from '../lib/config/settings';
import { stageTableMarkdown } from '../lib/stages/registry';

const readmeFile = path.join(__dirname, '..', 'README.md');
let readme = fs.readFileSync(readmeFile, 'utf8');
for (const [name, table] of [
  ['stages', stageTableMarkdown()],
  ['settings', settingsTableMarkdown()],
] as const) {
  const section = new RegExp(`(<!-- ${name}:start -->\\n)[^]*?(<!-- ${name}:end -->)`);
  if (!section.test(readme)) throw new Error(`README.md has no <!-- ${name}:start --> ... <!-- ${name}:end --> section`);
  readme = readme.replace(section, (_all, start: string, end: string) => `${start}${table}\n${end}`);
}
fs.writeFileSync(readmeFile, readme);
