// Takeover of a dead worker (issue 24, docs/scale-out.md *Takeover of a dead worker*). A worker whose lease ran out
// still has a persistent session at the broker, and the broker keeps routing its share of the telemetry there. A live
// worker takes it over:
//   1. claims it in PostgreSQL, under a table lock, only once the dead worker's heartbeat is lease + ¼ lease old on
//      PostgreSQL's clock (the dead worker itself stopped acknowledging at lease − ¼ lease on its own clock, so a slow
//      worker is fenced before anyone takes its session), and only while its own lease holds: one taker per session;
//   2. connects with the dead worker's client id (clean = false), subscribes as it did, takes what the broker queued
//      through its own ingest (the same acknowledgement rule as its own messages: spool, or PANTAU_ACK_AFTER=store)
//      and, once the connection is quiet, leaves as a clean stop does: UNSUBSCRIBE, drain, clean-session CONNECT;
//   3. records `taken_over_at`. The worker that returns finds its row taken, resets it and starts fresh (its session
//      is gone); a drain that could not end the session (a message arrived while leaving) is released and retried.
import type { Logger } from 'pino';
import type { PgConnection } from '../registry/postgres.js';
import { NOW_MS, leaseMarginMs } from './cluster-nodes.js';
import type { Metrics } from './metrics.js';

export interface DrainResult {
  /** The session was ended at the broker (nothing left in it). */
  ended: boolean;
  /** Messages taken from it. */
  messages: number;
}

/** Claim one dead worker's session for `nodeId`, atomically: undefined when there is none (or this node's lease is gone). */
export async function claimTakeover(pg: PgConnection, nodeId: string, leaseMs: number): Promise<{ nodeId: string; session: string } | undefined> {
  const deadAfter = leaseMs + leaseMarginMs(leaseMs);
  return pg.transaction(async (c) => {
    // the same lock as the time slots': two takers are serialised, and the second sees the first one's claim
    // a taker paused while holding the lock (SIGSTOP) would stall every heartbeat: PostgreSQL ends its session instead
    await c.query(`SET LOCAL idle_in_transaction_session_timeout = ${Math.max(500, leaseMarginMs(leaseMs))}`);
    await c.query('LOCK TABLE cluster_nodes IN SHARE ROW EXCLUSIVE MODE');
    const r = await c.query<{ node_id: string; session: string }>(
      `UPDATE cluster_nodes SET taken_by = $1, taken_at = ${NOW_MS}, taken_over_at = NULL
       WHERE node_id = (
         SELECT d.node_id FROM cluster_nodes d LEFT JOIN cluster_nodes t ON t.node_id = d.taken_by
         WHERE d.node_id <> $1 AND d.session IS NOT NULL AND d.stopped_at IS NULL AND ${NOW_MS} - d.heartbeat_at > $2
           -- not taken, or taken by a node that died while draining it (its lease ran out, or it is this node restarted)
           AND (d.taken_by IS NULL OR (d.taken_over_at IS NULL AND (d.taken_by = $1 OR t.node_id IS NULL OR t.stopped_at IS NOT NULL OR ${NOW_MS} - t.heartbeat_at > $2)))
         ORDER BY d.heartbeat_at LIMIT 1)
       AND EXISTS (SELECT 1 FROM cluster_nodes me WHERE me.node_id = $1 AND me.taken_by IS NULL AND me.stopped_at IS NULL AND ${NOW_MS} - me.heartbeat_at < $3)
       RETURNING node_id, session`,
      [nodeId, deadAfter, leaseMs - leaseMarginMs(leaseMs)],
    );
    const row = r.rows[0];
    return row ? { nodeId: row.node_id, session: row.session } : undefined;
  });
}

/** The drain ended the session: recorded, the row stays `taken-over` until its worker returns. */
export async function finishTakeover(pg: PgConnection, nodeId: string, dead: string): Promise<void> {
  await pg.query(`UPDATE cluster_nodes SET taken_over_at = ${NOW_MS} WHERE node_id = $1 AND taken_by = $2`, [dead, nodeId]);
}

/** The drain could not end the session: the claim is let go, and the next round (any live worker) tries again. */
export async function releaseTakeover(pg: PgConnection, nodeId: string, dead: string): Promise<void> {
  await pg.query('UPDATE cluster_nodes SET taken_by = NULL, taken_at = NULL WHERE node_id = $1 AND taken_by = $2 AND taken_over_at IS NULL', [dead, nodeId]);
}

/** Every third of the lease, while this node's own lease holds: take over one dead worker's session at a time. */
export function startTakeovers(options: {
  pg: PgConnection;
  nodeId: string;
  leaseMs: number;
  mayAcknowledge(): boolean;
  /** Connect as `session`, take what it holds, leave and end it. */
  drain(session: string): Promise<DrainResult>;
  log: Logger;
  metrics: Metrics;
}): { stop(): Promise<void> } {
  const { pg, nodeId, leaseMs, log } = options;
  let running: Promise<void> | undefined;
  /** The round that has claimed a session and is draining it: the one thing stop() waits for. */
  let draining: Promise<void> | undefined;
  let stopped = false;
  const round = async () => {
    if (stopped || !options.mayAcknowledge()) return;
    const claim = await claimTakeover(pg, nodeId, leaseMs);
    if (!claim) return;
    if (stopped) {
      // stop() did not wait for the claim (it may wait on a lock for as long as PostgreSQL's query timeout): a claim
      // won after it is let go at once; should that fail, it lapses with this node's lease (see claimTakeover)
      await releaseTakeover(pg, nodeId, claim.nodeId);
      log.info({ dead: claim.nodeId }, 'takeover: claimed as this node stopped; let go for another worker');
      return;
    }
    draining = drainClaimed(claim).finally(() => (draining = undefined));
    await draining;
  };
  const drainClaimed = async (claim: { nodeId: string; session: string }) => {
    const started = performance.now();
    log.warn({ dead: claim.nodeId, session: claim.session }, 'takeover: a worker\'s lease ran out; draining its broker session');
    let result: DrainResult = { ended: false, messages: 0 };
    try {
      result = await options.drain(claim.session);
    } finally {
      const ms = Math.round(performance.now() - started);
      if (result.ended) {
        await finishTakeover(pg, nodeId, claim.nodeId);
        options.metrics.clusterTakeovers.inc({ outcome: 'ended' });
        log.warn({ dead: claim.nodeId, session: claim.session, messages: result.messages, ms }, 'takeover: drained the dead worker\'s session and ended it');
      } else {
        await releaseTakeover(pg, nodeId, claim.nodeId);
        options.metrics.clusterTakeovers.inc({ outcome: 'kept' });
        log.warn({ dead: claim.nodeId, session: claim.session, messages: result.messages, ms }, 'takeover: the session could not be ended (a message arrived while leaving, or the broker was unreachable); trying again');
      }
    }
  };
  const timer = setInterval(() => {
    running ??= round()
      .catch((err: Error) => log.warn({ err: err.message }, 'takeover round failed (PostgreSQL or broker unavailable); trying again'))
      .finally(() => (running = undefined));
  }, Math.floor(leaseMs / 3));
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      // a drain under way finishes (what it took is acknowledged or left in the session); a claim still waiting on
      // PostgreSQL is not waited for: a fenced worker's own renewal, blocked on its row, can hold every claim's table
      // lock, and its stop (and the takeover of its session) would wait for the query timeout
      await draining?.catch(() => undefined);
    },
  };
}
