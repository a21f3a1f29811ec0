/**
 * The embedded platform's stand-in for AEP Query Service: PGlite (PostgreSQL compiled to WebAssembly)
 * served over the PostgreSQL wire protocol with `@electric-sql/pglite-socket`, so `pg` (node-postgres)
 * connects to it exactly as it connects to Query Service:
 *
 *   new pg.Client({ host, port, database: `${sandbox}:all`, user: imsOrgId, password: accessToken, ssl: false })
 *
 * What was checked about PGlite 0.5.14 (PostgreSQL 18.6) and pglite-socket 0.2.17 (see test/embedded/postgres.test.ts):
 *
 * - Startup: PGlite answers every startup packet with AuthenticationOk. The database and user names are
 *   accepted whatever they are (`prod:all`, `xxx@AdobeOrg` work) but ignored: `current_database()` is
 *   `postgres` and `current_user` is `postgres`. No password is asked for, so the token is not checked
 *   on this endpoint. An SSLRequest is answered with 'N' (no TLS): clients must use `ssl: false` locally.
 * - Concurrent connections: PGLiteSocketServer accepts at most `maxConnections` sockets (default 1; a
 *   further connection gets the text "Too many connections" and is closed, which `pg` reports as a
 *   protocol error), so we raise the limit. All connections share PGlite's ONE backend session: the
 *   server puts every protocol message of every connection in one FIFO queue and runs them one at a time
 *   under `db.runExclusive`. While the session is inside a transaction block it serves only the
 *   connection that opened it (the others wait in the queue), so BEGIN/COMMIT from several connections
 *   are serialised rather than interleaved. Messages are queued one by one, so a Parse/Bind/Execute/Sync
 *   sequence could in principle be interleaved with another connection's messages; in practice a
 *   sequence arrives in one TCP chunk and runs before the next connection is read, and we additionally
 *   keep the session with a connection until its Sync (see `wireFacingDb`). Session state is shared:
 *   `SET` commands, temporary tables and prepared statement names are visible to every connection.
 *   There is no parallelism: one long query delays every other connection (and, since PGlite runs in
 *   this thread, the whole process).
 * - In-process users of the same PGlite (the AEP stand-in loading batches, running batch queries) take
 *   PGlite's own mutexes per statement, which the socket server does not coordinate with: a wire client's
 *   open transaction would swallow in-process statements and vice versa. `withExclusiveSession` gives
 *   in-process work the session exclusively (it waits for an open wire transaction to finish and holds
 *   wire traffic back until it is done).
 */
import type { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import * as nodeModule from 'module';

/**
 * PGlite's Emscripten glue loads parts of itself with dynamic `import()`, which fails when PGlite is
 * evaluated by a sandboxing module loader without dynamic-import support (jest's, unless node runs with
 * --experimental-vm-modules). So PGlite is loaded with Node's own `require` (from the real `module`
 * builtin, which such loaders do not replace); under plain Node this is the module a static import gives.
 */
function loadPGlite(): typeof import('@electric-sql/pglite') {
  const getBuiltin = (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  const builtin = (typeof getBuiltin === 'function' ? getBuiltin('module') : nodeModule) as typeof nodeModule;
  return builtin.createRequire(__filename)('@electric-sql/pglite') as typeof import('@electric-sql/pglite');
}

export interface EmbeddedPostgres {
  db: PGlite;
  host: string;
  port: number;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** PGlite data directory; in-memory when absent. */
  dataDir?: string;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Port to listen on; 0 (default) lets the system choose one, reported in the result. */
  port?: number;
  /** Maximum simultaneous wire connections; default 64. */
  maxConnections?: number;
}

/** Default wait for an open wire-protocol transaction before in-process work gives up. */
const DEFAULT_SESSION_WAIT_MS = 120_000;

/** One lock per PGlite instance, shared by the wire server and in-process users. */
class SessionGate {
  private held: 'wire' | 'local' | undefined;
  private readonly waiters: Array<() => void> = [];
  /** A wire client is inside an extended-protocol sequence (Parse ... Sync) or a COPY. */
  wireSequenceOpen = false;
  /**
   * In-process work owns the session: set only once it has checked that no wire transaction is open,
   * so any transaction seen while it is set is the in-process one.
   */
  localOwnsSession = false;

  async acquire(kind: 'wire' | 'local'): Promise<void> {
    while (this.held !== undefined) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    this.held = kind;
  }

  release(): void {
    this.held = undefined;
    const next = this.waiters.shift();
    if (next) next();
  }
}

const gates = new WeakMap<PGlite, SessionGate>();

function gateFor(db: PGlite): SessionGate {
  let gate = gates.get(db);
  if (!gate) {
    gate = new SessionGate();
    gates.set(db, gate);
  }
  return gate;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `fn` with PGlite's single session to itself: waits until no wire client is inside a transaction
 * or an extended-protocol sequence, and holds wire traffic back until `fn` settles. Use it for every
 * in-process statement sequence on a PGlite that is also served over the wire. Not re-entrant.
 */
export async function withExclusiveSession<T>(
  db: PGlite,
  fn: () => Promise<T>,
  options: { waitMs?: number } = {},
): Promise<T> {
  const gate = gateFor(db);
  const deadline = Date.now() + (options.waitMs ?? DEFAULT_SESSION_WAIT_MS);
  for (;;) {
    await gate.acquire('local');
    if (!db.isInTransaction() && !gate.wireSequenceOpen) break;
    gate.release();
    if (Date.now() > deadline) {
      throw new Error(
        'The embedded database is busy: a Query Service (wire protocol) connection keeps a transaction open',
      );
    }
    await delay(5);
  }
  gate.localOwnsSession = true;
  try {
    return await fn();
  } finally {
    gate.localOwnsSession = false;
    gate.release();
  }
}

/** Protocol message type bytes (frontend). */
const MSG_PARSE = 0x50; // 'P'
const MSG_BIND = 0x42; // 'B'
const MSG_DESCRIBE = 0x44; // 'D'
const MSG_EXECUTE = 0x45; // 'E'
const MSG_CLOSE = 0x43; // 'C'
const MSG_FLUSH = 0x48; // 'H'
const MSG_SYNC = 0x53; // 'S'
const MSG_QUERY = 0x51; // 'Q'
const MSG_TERMINATE = 0x58; // 'X'
const MSG_COPY_DATA = 0x64; // 'd'
const MSG_COPY_DONE = 0x63; // 'c'
const MSG_COPY_FAIL = 0x66; // 'f'
const OPENS_SEQUENCE = new Set([MSG_PARSE, MSG_BIND, MSG_DESCRIBE, MSG_EXECUTE, MSG_CLOSE, MSG_FLUSH, MSG_COPY_DATA]);
const CLOSES_SEQUENCE = new Set([MSG_SYNC, MSG_QUERY, MSG_TERMINATE, MSG_COPY_DONE, MSG_COPY_FAIL]);

type RawStreamFn = PGlite['execProtocolRawStream'];

/**
 * The PGlite as the socket server sees it: every message runs under the session gate; the session
 * counts as "in a transaction" (so the server's queue keeps serving the same connection) while that
 * connection is between Parse and Sync; an in-process session is never reported as a wire transaction
 * (so the queue neither stalls on it nor rolls it back when a client disconnects).
 */
function wireFacingDb(db: PGlite, gate: SessionGate): PGlite {
  const runExclusive = async <T>(fn: () => Promise<T>): Promise<T> => {
    await gate.acquire('wire');
    try {
      return await db.runExclusive(fn);
    } finally {
      gate.release();
    }
  };
  const execProtocolRawStream: RawStreamFn = (message, options) => {
    const type = message[0]; // undefined for an empty message, which neither opens nor closes a sequence
    if (type !== undefined && OPENS_SEQUENCE.has(type)) gate.wireSequenceOpen = true;
    else if (type !== undefined && CLOSES_SEQUENCE.has(type)) gate.wireSequenceOpen = false;
    return db.execProtocolRawStream(message, options);
  };
  const isInTransaction = (): boolean => {
    if (gate.localOwnsSession) return false;
    return db.isInTransaction() || gate.wireSequenceOpen;
  };
  const exec: PGlite['exec'] = async (query, options) => {
    // Only called by the socket server to roll back a disconnected client's transaction.
    gate.wireSequenceOpen = false;
    if (gate.localOwnsSession || !db.isInTransaction()) return [];
    return db.exec(query, options);
  };
  const overrides: Record<string | symbol, unknown> = { runExclusive, execProtocolRawStream, isInTransaction, exec };
  return new Proxy(db, {
    get(target, prop) {
      if (Object.prototype.hasOwnProperty.call(overrides, prop)) return overrides[prop];
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * Starts PGlite (in memory, or persisted in `dataDir`) and serves it over the PostgreSQL wire protocol
 * on `host:port` (loopback and a port chosen at run time by default).
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const host = options.host ?? '127.0.0.1';
  const { PGlite } = loadPGlite();
  const db = options.dataDir ? await PGlite.create({ dataDir: options.dataDir }) : await PGlite.create();
  const gate = gateFor(db);
  const server = new PGLiteSocketServer({
    db: wireFacingDb(db, gate),
    host,
    port: options.port ?? 0,
    maxConnections: options.maxConnections ?? 64,
  });
  try {
    await server.start();
  } catch (err) {
    await db.close();
    throw err;
  }
  const conn = server.getServerConn();
  const port = Number(conn.slice(conn.lastIndexOf(':') + 1));
  let stopped = false;
  return {
    db,
    host,
    port,
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await server.stop();
      if (!db.closed) await db.close();
    },
  };
}
