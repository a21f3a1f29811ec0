import * as fs from 'fs';
import * as path from 'path';
import { settingsTableMarkdown } from '../../lib/config/settings';
import { stageTableMarkdown } from '../../lib/stages/registry';

const README = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');

/** The text between `<!-- name:start -->` and `<!-- name:end -->` (`npm run docs` rewrites it). */
function generatedSection(name: string): string {
  const match = new RegExp(`<!-- ${name}:start -->\\n([^]*?)\\n<!-- ${name}:end -->`).exec(README);
  if (!match) throw new Error(`README.md has no ${name} section`);
  return match[1]!; // the pattern's one group takes part in every match
}

it("the README's stage table is the registry's", () => {
  expect(generatedSection('stages')).toBe(stageTableMarkdown());
});

it("the README's settings table is the settings mapping's", () => {
  expect(generatedSection('settings')).toBe(settingsTableMarkdown());
});
