/**
 * Golden tests: the SQL compiled for the week-2 specification, against checked-in files under golden/.
 * Any change in the compiler shows as a failing test and, once the files are regenerated with
 * `UPDATE_GOLDEN=1 npx jest test/features/golden`, as a diff of those files in review.
 */
import * as fs from 'fs';
import * as path from 'path';
import { compileFeatureQuery, compileFeatureStatement } from '../../lib/features/compile';
import { WEEK2_FEATURES } from '../../lib/features/spec';
import { dataDistiller, postgres } from '../../lib/sql/dialect';

const GOLDEN_DIR = path.join(__dirname, 'golden');
const common = { eventsTable: 'cmle_synthetic_events', tenantId: 'acmecorp' };

const cases: Array<[file: string, sql: () => string]> = [
  [
    'data-distiller-training-create.sql',
    () => compileFeatureStatement(WEEK2_FEATURES, dataDistiller, { ...common, kind: 'training', outputTable: 'cmle_training_features', mode: 'create', snapshots: { to: 1700000000002 } }),
  ],
  [
    'data-distiller-training-insert.sql',
    () =>
      compileFeatureStatement(WEEK2_FEATURES, dataDistiller, {
        ...common,
        kind: 'training',
        outputTable: 'cmle_training_features',
        mode: 'insert',
        snapshots: { from: 1700000000002, to: 1700000000005 },
      }),
  ],
  ['data-distiller-scoring.sql', () => compileFeatureQuery(WEEK2_FEATURES, dataDistiller, { ...common, kind: 'scoring', snapshots: { to: 1700000000005 } })],
  [
    'postgres-training-insert.sql',
    () =>
      compileFeatureStatement(WEEK2_FEATURES, postgres, {
        ...common,
        kind: 'training',
        outputTable: 'cmle_training_features',
        mode: 'insert',
        snapshots: { from: 2, to: 5 },
      }),
  ],
];

/** Whitespace differences are not changes. */
const normalize = (sql: string) => sql.replace(/\s+/g, ' ').trim();

describe('golden SQL of the week-2 features', () => {
  it.each(cases)('%s', (file, sql) => {
    const target = path.join(GOLDEN_DIR, file);
    const actual = sql();
    if (process.env.UPDATE_GOLDEN === '1') {
      fs.mkdirSync(GOLDEN_DIR, { recursive: true });
      fs.writeFileSync(target, `${actual}\n`);
    }
    expect(normalize(actual)).toBe(normalize(fs.readFileSync(target, 'utf8')));
  });

  it('normalizes only whitespace', () => {
    expect(normalize('SELECT  a,\n  b')).toBe('SELECT a, b');
    expect(normalize('SELECT a, b')).not.toBe(normalize('SELECT a, c'));
  });
});
