// PgConnection's transactions on a real PostgreSQL when the connection fails while a transaction holds it, between
// two of its statements. A checked-out pooled client has no error listener of the pool's, and pg emits the failure
// on the client: unheard, it ended the process. CI saw it twice: an ingest worker ended by "terminating connection due
// to idle-in-transaction timeout" (the takeover claim's SET LOCAL) while SIGTERMed, and another by ECONNRESET when
// PostgreSQL restarted under load, each leaving acknowledged readings in its spool until it was started again.
// Each case: the transaction is refused as the registry being unavailable, the failure is logged, and the pool
// answers the next query on a fresh connection.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgConnection } from '../registry/postgres.js';
import { RegistryUnavailableError } from '../registry/store.js';
import { eventually } from './support/platform.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';

let server: PostgresServer;
let conn: PgConnection;
const lines: string[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  server = await startPostgres();
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  conn = new PgConnection(server.url, pino({ level: 'warn' }, sink));
  await conn.migrate();
}, 60_000);

afterAll(async () => {
  await conn?.close();
  await server?.stop();
});

/** A transaction that runs one statement, then `between` (while it holds its connection idle), then another. */
async function interrupted(between: (pid: number) => Promise<void>): Promise<unknown> {
  return conn
    .transaction(async (c) => {
      const pid = Number((await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
      await between(pid);
      await c.query('SELECT 1');
      return 'committed';
    })
    .catch((err: unknown) => err);
}

const failures = () => lines.filter((l) => l.includes('a connection in a transaction failed'));

async function expectRecovered(): Promise<void> {
  await eventually(async () => (await conn.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one === 1, 15_000);
  // the failed connection went, it was not handed out again
  const r = await conn.transaction(async (c) => (await c.query<{ n: number }>('SELECT 2 AS n')).rows[0]!.n);
  expect(r).toBe(2);
}

describe('a transaction whose connection fails between two statements', () => {
  it('terminated by another session (pg_terminate_backend): refused as unavailable, logged, the process and the pool go on', async () => {
    const before = failures().length;
    const result = await interrupted(async (pid) => {
      await server.sql(`SELECT pg_terminate_backend(${pid})`);
      // the FATAL and the socket's end arrive while no statement of the transaction is running
      await sleep(300);
    });
    expect(result).toBeInstanceOf(RegistryUnavailableError);
    expect(failures().length).toBeGreaterThan(before);
    expect(failures().at(-1)).toMatch(/administrator command|Connection terminated|ECONNRESET/);
    await expectRecovered();
  });

  it('ended by idle_in_transaction_session_timeout while the caller is busy: the same', async () => {
    const before = failures().length;
    const result = await conn
      .transaction(async (c) => {
        await c.query('SET LOCAL idle_in_transaction_session_timeout = 200');
        await sleep(800);
        await c.query('SELECT 1');
        return 'committed';
      })
      .catch((err: unknown) => err);
    expect(result).toBeInstanceOf(RegistryUnavailableError);
    expect(failures().length).toBeGreaterThan(before);
    expect(failures().at(-1)).toMatch(/idle-in-transaction timeout|Connection terminated/);
    await expectRecovered();
  });

  it('PostgreSQL restarted (fast shutdown) under three open transactions: each refused, the pool serves again once it is back', async () => {
    const before = failures().length;
    let restarted!: Promise<void>;
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const runs = [0, 1, 2].map(() =>
      interrupted(async () => {
        await gate;
        await restarted;
      }),
    );
    await sleep(200);
    restarted = server.restart(300);
    open();
    const results = await Promise.all(runs);
    for (const r of results) expect(r).toBeInstanceOf(RegistryUnavailableError);
    expect(failures().length - before).toBeGreaterThanOrEqual(3);
    await expectRecovered();
  }, 60_000);
});
