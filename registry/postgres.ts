// The PostgreSQL side of a cluster (PANTAU_REGISTRY_URL=postgres://…): a connection pool for queries, one
// listening connection for LISTEN/NOTIFY (how a node hears of writes made through another node), and the schema
// migrations, run at start by one node at a time under an advisory lock.
//
// Outages: every query has a deadline; a failure to reach PostgreSQL becomes RegistryUnavailableError (the API
// answers 503). The listener reconnects on its own with backoff and tells its owner (`onReconnect`) so that
// caches reload everything they might have missed while notifications could not arrive.
import pg from 'pg';
import type { Logger } from 'pino';
import { PG_MIGRATIONS } from './schema.js';
import { ConflictError, NotFoundError, RegistryUnavailableError } from './store.js';

// int8 (bigserial, epoch-ms columns) as a JS number: every value Pantau keeps there is far below 2^53
pg.types.setTypeParser(20, (v) => Number(v));

/** Advisory lock ids (first key 'pant' as int32); the second key names the purpose. */
export const LOCK_SPACE = 0x70616e74;
export const LOCK_MIGRATIONS = 1;
export const LOCK_ALERT_OWNER = 2;

export type Notification = { channel: string; payload: string };

export class PgConnection {
  readonly pool: pg.Pool;
  private listener: pg.Client | undefined;
  private readonly channels = new Set<string>();
  private readonly handlers = new Set<(n: Notification) => void>();
  private readonly reconnectHandlers = new Set<() => void>();
  private closed = false;
  private up = true;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = 250;

  constructor(readonly url: string, private readonly log: Logger) {
    this.pool = new pg.Pool({
      connectionString: url,
      max: 6,
      connectionTimeoutMillis: 3000,
      query_timeout: 10_000,
      idleTimeoutMillis: 30_000,
      application_name: 'pantau',
    });
    // an idle pooled connection that dies (PostgreSQL restarted) must not take the process with it
    this.pool.on('error', (err) => this.log.warn({ err: err.message }, 'PostgreSQL: an idle pooled connection failed'));
  }

  /** A fresh client on its own connection (not from the pool), for session state such as advisory locks. */
  newClient(): pg.Client {
    return new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 3000, query_timeout: 10_000, application_name: 'pantau' });
  }

  get usable(): boolean {
    return this.up && !this.closed;
  }

  /** Run a query; connection trouble becomes RegistryUnavailableError, a unique violation ConflictError, a foreign key NotFoundError. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      const r = await this.pool.query<R>(text, values);
      this.up = true;
      return r;
    } catch (err) {
      throw this.translate(err);
    }
  }

  /** Run `fn` in one transaction on one pooled connection. */
  async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.translate(err);
    }
    let broken = false;
    // a checked-out client has no listener of the pool's: a connection that fails between two of fn's queries
    // (PostgreSQL restarted, pg_terminate_backend, idle_in_transaction_session_timeout) emits 'error' on the client,
    // which unheard would end the process. Heard, it is logged; the next query fails (not queryable) and the
    // transaction is refused as the registry being unavailable, and the client is destroyed, not pooled again.
    const onError = (err: Error) => {
      broken = true;
      this.log.warn({ err: err.message }, 'PostgreSQL: a connection in a transaction failed');
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      this.up = true;
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => (broken = true));
      throw this.translate(err);
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  translate(err: unknown): Error {
    if (err instanceof ConflictError || err instanceof RegistryUnavailableError || err instanceof NotFoundError) return err;
    const e = err as { code?: string; message?: string };
    if (e.code === '23505') return new ConflictError(e.message ?? 'already exists');
    // a foreign key: the device a DevEUI or configuration belongs to was deleted meanwhile
    if (e.code === '23503') return new NotFoundError(e.message ?? 'the device does not exist');
    // SQLSTATE classes 08 (connection), 53 (resources), 57 (operator intervention: shutdown, restart), or a
    // Node socket/timeout error: the registry is unreachable, not wrong
    const code = e.code ?? '';
    if (code.length !== 5 || /^(08|53|57)/.test(code) || /timeout|terminat|ECONN|EPIPE|ENOTFOUND|not queryable/i.test(e.message ?? '')) {
      this.up = false;
      return new RegistryUnavailableError(`the registry (PostgreSQL) is unavailable: ${(e.message ?? String(err)).slice(0, 200)}`);
    }
    return err as Error;
  }

  /** Apply the migrations not applied yet; nodes starting together take turns on an advisory lock. */
  async migrate(): Promise<void> {
    const client = this.newClient();
    // a connection lost between two migration statements: the next statement fails and start stops with its reason
    client.on('error', (err) => this.log.warn({ err: err.message }, 'PostgreSQL: the migration connection failed'));
    await client.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1, $2)', [LOCK_SPACE, LOCK_MIGRATIONS]);
      await client.query('CREATE TABLE IF NOT EXISTS pantau_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
      const applied = new Set((await client.query<{ version: number }>('SELECT version FROM pantau_migrations')).rows.map((r) => r.version));
      for (const m of PG_MIGRATIONS) {
        if (applied.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO pantau_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new Error(`registry migration ${m.version} (${m.name}) failed: ${(err as Error).message}`);
        }
        this.log.info({ version: m.version, name: m.name }, 'registry migration applied');
      }
      await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_SPACE, LOCK_MIGRATIONS]);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Receive NOTIFYs on `channel` (the listener connects on first use and reconnects by itself). */
  async listen(channel: string, handler: (n: Notification) => void): Promise<void> {
    this.handlers.add((n) => {
      if (n.channel === channel) handler(n);
    });
    this.channels.add(channel);
    if (!this.listener) await this.connectListener();
    else await this.listener.query(`LISTEN ${channel}`);
  }

  /** Called after the listener reconnected: notifications may have been missed, reload what is cached. */
  onReconnect(fn: () => void): void {
    this.reconnectHandlers.add(fn);
  }

  private async connectListener(): Promise<void> {
    const client = this.newClient();
    client.on('notification', (m) => {
      for (const h of this.handlers) h({ channel: m.channel, payload: m.payload ?? '' });
    });
    client.on('error', (err) => {
      this.log.warn({ err: err.message }, 'PostgreSQL: the notification connection failed; reconnecting');
      this.dropListener(client);
    });
    client.on('end', () => this.dropListener(client));
    this.listener = client;
    await client.connect();
    for (const c of this.channels) await client.query(`LISTEN ${c}`);
    this.up = true;
    this.retryDelay = 250;
  }

  private dropListener(client: pg.Client): void {
    if (this.listener !== client) return;
    this.listener = undefined;
    this.up = false;
    client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(async () => {
      this.retryTimer = undefined;
      try {
        await this.connectListener();
        this.log.info('PostgreSQL: notification connection back; reloading the registry cache');
        for (const fn of this.reconnectHandlers) fn();
      } catch (err) {
        const failed = this.listener;
        this.listener = undefined;
        failed?.end().catch(() => undefined);
        this.up = false;
        this.retryDelay = Math.min(5000, this.retryDelay * 2);
        this.log.debug({ err: (err as Error).message }, 'PostgreSQL: still unreachable');
        this.scheduleReconnect();
      }
    }, this.retryDelay);
    this.retryTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const l = this.listener;
    this.listener = undefined;
    await l?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}
