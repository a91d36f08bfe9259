// The alert owner's election (alerts/owner.ts): which node of a cluster judges the alerts. Every node tries
// `pg_try_advisory_lock` on a connection of its own once a second; the holder is the owner. The lock lives as long
// as that connection: a node that dies (or loses PostgreSQL) loses it at once and another node takes over. All of
// the owner's writes go through that same connection, so a node that has lost the lock cannot write anything more.
// This file owns the connection and the lock; what the owner loads at takeover and drops at stepping down is the
// owner's (ElectionHooks).
import type { Logger } from 'pino';
import type pg from 'pg';
import { LOCK_ALERT_OWNER, LOCK_SPACE, type PgConnection } from '../registry/postgres.js';

/** How often a node that is not the owner tries the lock. */
const ACQUIRE_MS = 1000;

export interface ElectionHooks {
  /**
   * The lock is ours, the node is not yet the owner: load what judging needs through `client`. A failure gives
   * the lock back (the connection is closed) and the next attempt starts over.
   */
  load(client: pg.Client): Promise<void>;
  /** The node is now the owner (`client` is the election's): catch up. A failure steps down. */
  elected(client: pg.Client): Promise<void>;
  /** The node is no longer the owner: drop whatever was held for it (the connection is closed by the election). */
  steppedDown(): void;
}

export class OwnerElection {
  private held: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(
    private readonly pg: PgConnection,
    private readonly hooks: ElectionHooks,
    private readonly log: Logger,
    private readonly nodeId: string,
  ) {}

  /** The connection that holds the lock while this node is the owner; every write of the owner goes through it. */
  get client(): pg.Client | undefined {
    return this.held;
  }

  /** Try the lock every second from now on (the first attempt is the caller's: `tryAcquire`). */
  start(): void {
    this.timer = setInterval(() => void this.tryAcquire(), ACQUIRE_MS);
    this.timer.unref();
  }

  async tryAcquire(): Promise<void> {
    if (this.held || this.stopping) return;
    const client = this.pg.newClient();
    client.on('error', (err) => this.stepDown(`lock connection failed: ${err.message}`, client));
    try {
      await client.connect();
      const got = (await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [LOCK_SPACE, LOCK_ALERT_OWNER])).rows[0]?.ok;
      if (!got || this.stopping) {
        await client.end().catch(() => undefined);
        return;
      }
      await this.hooks.load(client);
      this.held = client;
      this.log.info({ node: this.nodeId }, 'alert owner: this node now judges the alerts of the cluster');
      await this.hooks.elected(client);
    } catch (err) {
      await client.end().catch(() => undefined);
      if (this.held === client) this.stepDown(`taking over failed: ${(err as Error).message}`);
    }
  }

  /** Give the lock up (by closing its connection); `which`: only if that connection still holds it. */
  stepDown(reason: string, which?: pg.Client): void {
    if (which && which !== this.held) return;
    const client = this.held;
    if (!client) return;
    this.held = undefined;
    this.hooks.steppedDown();
    client.end().catch(() => undefined);
    if (!this.stopping) this.log.warn({ reason }, 'alert owner: stepped down; the owner is elected again (this or another node) from the stored state');
  }

  /** No more attempts; the owner steps down itself once its last cycle is done (`stepDown('stopping', client)`). */
  stop(): void {
    this.stopping = true;
    clearInterval(this.timer);
  }
}
