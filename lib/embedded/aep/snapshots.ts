/**
 * Dataset snapshots, as AEP's data lake keeps them (Data Distiller: `history_meta('<table>')`,
 * `SNAPSHOT BETWEEN a AND b`).
 *
 * Every successful batch (Batch Ingestion) and every batch query that writes a dataset (CREATE TABLE
 * AS, INSERT INTO) makes a new snapshot of that dataset: a snapshot id from one global, increasing
 * sequence (ids are unique across datasets; a failed write leaves a gap, never a snapshot). Every row
 * carries the id of the snapshot that wrote it in the system column `_acp_snapshot_id bigint`, so
 * "rows of snapshots after a, up to b" is `_acp_snapshot_id > a AND _acp_snapshot_id <= b`.
 *
 * The snapshots are listed in `aep_snapshots(table_name, snapshot_id, batch_id, made_current_at)` and
 * by the function `history_meta(table_name text) RETURNS TABLE(snapshot_id bigint, made_current_at
 * timestamptz)`, oldest first, installed when the stand-in starts.
 *
 * The system column is not a field of the dataset's schema: it is left out of the columns a batch
 * loads and of the files a dataset export writes. Rows written by a wire-protocol client directly
 * (not through Batch Ingestion or a batch query) carry no snapshot id (NULL).
 */
import type { PGlite, Transaction } from '@electric-sql/pglite';

/** The system column every dataset table has. */
export const SNAPSHOT_COLUMN = '_acp_snapshot_id';
/** The table listing every snapshot. */
export const SNAPSHOTS_TABLE = 'aep_snapshots';
const SEQUENCE = 'aep_snapshot_id_seq';
const TAG_FUNCTION = 'aep_tag_snapshot';
const TAG_TRIGGER = 'aep_snapshot_tag';

type Queryable = Pick<PGlite, 'query' | 'exec'> | Transaction;

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Creates the sequence, the snapshot table, `history_meta` and the tagging function (idempotent). */
export async function installSnapshots(db: Queryable): Promise<void> {
  await db.exec(`
    CREATE SEQUENCE IF NOT EXISTS ${SEQUENCE};
    CREATE TABLE IF NOT EXISTS ${SNAPSHOTS_TABLE} (
      table_name text NOT NULL,
      snapshot_id bigint NOT NULL PRIMARY KEY,
      batch_id text,
      made_current_at timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    CREATE INDEX IF NOT EXISTS ${SNAPSHOTS_TABLE}_by_table ON ${SNAPSHOTS_TABLE} (table_name, snapshot_id);
    CREATE OR REPLACE FUNCTION history_meta(table_name text)
      RETURNS TABLE(snapshot_id bigint, made_current_at timestamptz)
      LANGUAGE plpgsql STABLE AS $fn$
    DECLARE
      wanted text := regexp_replace(btrim($1), '^.*\\.', '');
    BEGIN
      IF wanted LIKE '"%"' THEN
        wanted := replace(substr(wanted, 2, length(wanted) - 2), '""', '"');
      ELSIF NOT EXISTS (SELECT 1 FROM ${SNAPSHOTS_TABLE} s WHERE s.table_name = wanted) THEN
        wanted := lower(wanted);
      END IF;
      IF to_regclass(quote_ident(wanted)) IS NULL THEN
        RAISE EXCEPTION 'history_meta: table "%" does not exist', $1 USING ERRCODE = '42P01';
      END IF;
      RETURN QUERY SELECT s.snapshot_id, s.made_current_at FROM ${SNAPSHOTS_TABLE} s
        WHERE s.table_name = wanted ORDER BY s.snapshot_id;
    END
    $fn$;
    CREATE OR REPLACE FUNCTION ${TAG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      NEW.${SNAPSHOT_COLUMN} := TG_ARGV[0]::bigint;
      RETURN NEW;
    END
    $fn$;
  `);
}

/** Takes the next snapshot id (inside the writing transaction, so a rolled-back write leaves only a gap). */
export async function nextSnapshotId(db: Queryable): Promise<number> {
  const res = await db.query<{ id: number | bigint }>(`SELECT nextval('${SEQUENCE}') AS id`);
  return Number(res.rows[0]!.id); // a SELECT of scalars returns one row
}

/** Lists a snapshot of `table` as current. */
export async function recordSnapshot(db: Queryable, table: string, snapshotId: number, batchId?: string): Promise<void> {
  await db.query(`INSERT INTO ${SNAPSHOTS_TABLE} (table_name, snapshot_id, batch_id) VALUES ($1, $2, $3)`, [table, snapshotId, batchId ?? null]);
}

/** The table's columns in order, system column included. */
export async function tableColumns(db: Queryable, table: string): Promise<{ name: string; type: string }[]> {
  const res = await db.query<{ name: string; type: string }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE c.relname = $1 AND pg_table_is_visible(c.oid) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [table],
  );
  return res.rows;
}

export async function hasSnapshotColumn(db: Queryable, table: string): Promise<boolean> {
  return (await tableColumns(db, table)).some((c) => c.name === SNAPSHOT_COLUMN);
}

/**
 * Gives a table a query just created (CREATE TABLE AS) its system column, every row in snapshot
 * `snapshotId`: a new last column (filled without rewriting the table), or, when the SELECT copied
 * the column from another dataset, that column set to the new id.
 */
export async function adoptQueryTable(db: Queryable, table: string, snapshotId: number): Promise<void> {
  const t = quoteIdent(table);
  const c = quoteIdent(SNAPSHOT_COLUMN);
  if (await hasSnapshotColumn(db, table)) {
    await db.query(`UPDATE ${t} SET ${c} = $1`, [snapshotId]);
  } else {
    await db.exec(`ALTER TABLE ${t} ADD COLUMN ${c} bigint DEFAULT ${Number(snapshotId)}`);
    await db.exec(`ALTER TABLE ${t} ALTER COLUMN ${c} DROP DEFAULT`);
  }
}

/**
 * While a batch query runs, rows it inserts into each table are tagged with that table's snapshot id
 * by a row trigger (whatever the INSERT's column list). Returns a function that removes the triggers.
 */
export async function tagInsertsWhileRunning(db: Queryable, snapshots: Map<string, number>): Promise<() => Promise<void>> {
  const tagged: string[] = [];
  const untag = async () => {
    for (const table of tagged) {
      const exists = await db.query<{ t: string | null }>(`SELECT to_regclass($1)::text AS t`, [quoteIdent(table)]);
      // a SELECT of scalars returns one row
      if (exists.rows[0]!.t !== null) await db.exec(`DROP TRIGGER IF EXISTS ${TAG_TRIGGER} ON ${quoteIdent(table)}`);
    }
  };
  try {
    for (const [table, snapshotId] of snapshots) {
      await db.exec(
        `CREATE TRIGGER ${TAG_TRIGGER} BEFORE INSERT ON ${quoteIdent(table)} FOR EACH ROW EXECUTE FUNCTION ${TAG_FUNCTION}('${Number(snapshotId)}')`,
      );
      tagged.push(table);
    }
  } catch (err) {
    await untag();
    throw err;
  }
  return untag;
}

/** Number of rows of `table` in snapshot `snapshotId`. */
export async function rowsInSnapshot(db: Queryable, table: string, snapshotId: number): Promise<number> {
  const res = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${quoteIdent(table)} WHERE ${quoteIdent(SNAPSHOT_COLUMN)} = $1`, [snapshotId]);
  return res.rows[0]!.n; // an aggregate returns one row
}

/** The newest snapshot of a table, or undefined. */
export async function latestSnapshot(db: Queryable, table: string): Promise<{ snapshotId: number; madeCurrentAt: Date } | undefined> {
  const res = await db.query<{ id: number | bigint; at: Date }>(
    `SELECT snapshot_id AS id, made_current_at AS at FROM ${SNAPSHOTS_TABLE} WHERE table_name = $1 ORDER BY snapshot_id DESC LIMIT 1`,
    [table],
  );
  return res.rows[0] ? { snapshotId: Number(res.rows[0].id), madeCurrentAt: res.rows[0].at } : undefined;
}
