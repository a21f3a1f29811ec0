import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Client } from 'pg';
import { EmbeddedPostgres, startEmbeddedPostgres, withExclusiveSession } from '../../lib/embedded/postgres';

const ORG = 'EMBEDDED0000000000000000@AdobeOrg';

function aepStyleClient(pg: EmbeddedPostgres): Client {
  // Exactly what Query Service takes: database `<sandbox>:all`, user the org id, password the token.
  return new Client({ host: pg.host, port: pg.port, database: 'embedded:all', user: ORG, password: 'eyJhbGciOi.token.sig', ssl: false });
}

/** Resolves to 'pending' if `p` has not settled within `ms`. */
async function settledWithin<T>(p: Promise<T>, ms: number): Promise<T | 'pending'> {
  return Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);
}

describe('embedded PostgreSQL (PGlite over the wire protocol)', () => {
  let pg: EmbeddedPostgres;
  beforeAll(async () => {
    pg = await startEmbeddedPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it('listens on loopback on a port chosen at run time', () => {
    expect(pg.host).toBe('127.0.0.1');
    expect(pg.port).toBeGreaterThan(0);
  });

  it('accepts pg connections with Query Service parameters and runs SQL', async () => {
    const c = aepStyleClient(pg);
    await c.connect();
    try {
      // PGlite accepts any database/user name and ignores them.
      const who = await c.query('SELECT current_database() AS db, current_user AS usr');
      expect(who.rows[0]).toEqual({ db: 'postgres', usr: 'postgres' });
      await c.query('CREATE TABLE wire_t (id int, "eventType" text)');
      await c.query('INSERT INTO wire_t VALUES ($1, $2), ($3, $4)', [1, 'a', 2, 'b']);
      const r = await c.query('SELECT "eventType" FROM wire_t WHERE id = $1', [2]);
      expect(r.rows).toEqual([{ eventType: 'b' }]);
      await expect(c.query('SELECT * FROM missing_table')).rejects.toThrow(/relation "missing_table" does not exist/);
      // the connection survives an error
      expect((await c.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    } finally {
      await c.end();
    }
    // The stand-in sees the same database in process.
    const n = await withExclusiveSession(pg.db, () => pg.db.query<{ n: number }>('SELECT count(*)::int AS n FROM wire_t'));
    expect(n.rows[0]?.n).toBe(2);
  });

  it('serves several connections at once, queueing their statements', async () => {
    const clients = Array.from({ length: 8 }, () => aepStyleClient(pg));
    await Promise.all(clients.map((c) => c.connect()));
    try {
      const results = await Promise.all(
        clients.map(async (c, i) => {
          let ok = 0;
          for (let k = 0; k < 40; k++) {
            const r = await c.query(`SELECT $1::int * ${i + 1} AS v, '${i}' AS who`, [k]);
            if (r.rows[0].v === k * (i + 1) && r.rows[0].who === String(i)) ok++;
          }
          return ok;
        }),
      );
      expect(results).toEqual(Array(8).fill(40));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it("holds other connections back while one is inside a transaction", async () => {
    const a = aepStyleClient(pg);
    const b = aepStyleClient(pg);
    await a.connect();
    await b.connect();
    try {
      await a.query('CREATE TABLE tx_t (id int)');
      await a.query('BEGIN');
      await a.query('INSERT INTO tx_t VALUES (1)');
      const bCount = b.query('SELECT count(*)::int AS n FROM tx_t');
      expect(await settledWithin(bCount, 150)).toBe('pending');
      await a.query('COMMIT');
      expect((await bCount).rows[0].n).toBe(1);
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('rolls back the transaction of a connection that goes away', async () => {
    const a = aepStyleClient(pg);
    const b = aepStyleClient(pg);
    await a.connect();
    await b.connect();
    try {
      await b.query('CREATE TABLE gone_t (id int)');
      await a.query('BEGIN');
      await a.query('INSERT INTO gone_t VALUES (1)');
      a.on('error', () => undefined);
      a.connection.stream.destroy();
      const r = await b.query('SELECT count(*)::int AS n FROM gone_t');
      expect(r.rows[0].n).toBe(0);
    } finally {
      await a.end().catch(() => undefined);
      await b.end();
    }
  });

  it('gives in-process work the session exclusively (withExclusiveSession)', async () => {
    const a = aepStyleClient(pg);
    await a.connect();
    try {
      await a.query('CREATE TABLE excl_t (id int)');
      // In-process work waits for a wire transaction to finish ...
      await a.query('BEGIN');
      await a.query('INSERT INTO excl_t VALUES (1)');
      const local = withExclusiveSession(pg.db, () => pg.db.query<{ n: number }>('SELECT count(*)::int AS n FROM excl_t'));
      expect(await settledWithin(local, 150)).toBe('pending');
      await a.query('ROLLBACK');
      expect((await local).rows[0]?.n).toBe(0);

      // ... and wire traffic waits while in-process work holds the session.
      let release!: () => void;
      const held = withExclusiveSession(pg.db, async () => {
        await pg.db.exec('BEGIN; INSERT INTO excl_t VALUES (2);');
        await new Promise<void>((r) => (release = r));
        await pg.db.exec('COMMIT');
      });
      await new Promise((r) => setTimeout(r, 20));
      const wire = a.query('SELECT count(*)::int AS n FROM excl_t');
      expect(await settledWithin(wire, 150)).toBe('pending');
      release();
      await held;
      expect((await wire).rows[0].n).toBe(1);
    } finally {
      await a.end();
    }
  });

  it('keeps data in dataDir across restarts, and stop() closes the server and the database', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pglite-test-'));
    try {
      const first = await startEmbeddedPostgres({ dataDir });
      await withExclusiveSession(first.db, () => first.db.exec("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')"));
      await first.stop();
      expect(first.db.closed).toBe(true);
      const refused = aepStyleClient(first);
      await expect(refused.connect()).rejects.toThrow();

      const second = await startEmbeddedPostgres({ dataDir });
      try {
        const c = aepStyleClient(second);
        await c.connect();
        expect((await c.query('SELECT v FROM kept')).rows).toEqual([{ v: 'still here' }]);
        await c.end();
      } finally {
        await second.stop();
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
