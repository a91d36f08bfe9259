// Every node of a cluster has a row in PostgreSQL's `cluster_nodes` (docs/scale-out.md, *Health of the cluster*):
//   - its time slot: server-assigned timestamps (a reading without `ts`) are congruent to the slot modulo
//     TIME_SLOTS, so two nodes that take readings of one device in the same millisecond never assign the same time
//     (InfluxDB would keep one point of the two). Slots are claimed once per node id, under a table lock;
//   - its lease: a heartbeat on PostgreSQL's clock every third of PANTAU_WORKER_LEASE, with its status (role, spool
//     depth, the InfluxDB writer's lag, whether it holds the alert owner's lock, its broker session). A node whose
//     lease ran out is `silent`. `GET /api/v1/cluster` and each node's /metrics show them;
//   - fencing through that lease (issue 24): an ingest worker acknowledges only while `mayAcknowledge()`, i.e. less
//     than lease − ¼ lease has passed on its own monotonic clock since it sent its last successful renewal; a live
//     worker takes over a session only lease + ¼ lease after its last heartbeat on PostgreSQL's clock
//     (platform/takeover.ts). A renewal never succeeds while another node is draining this node's session. A worker
//     that stops without ending its session is not a clean stop: it gives its lease up for a live worker to take over.
import type { Logger } from 'pino';
import type { ClusterHealth, ClusterNodeHealth, NodeStatus } from '../api/cluster.js';
import type { PgConnection } from '../registry/postgres.js';
import type { Config } from './config.js';
import type { Metrics } from './metrics.js';

export type { ClusterHealth, ClusterNodeHealth, NodeStatus };

/** Server-assigned timestamps are spread over this many residues: up to 8 nodes never share one. */
export const TIME_SLOTS = 8;
/** PANTAU_WORKER_LEASE's default: a node not heard of for this long is `silent` (its slot may go to a new node). */
export const DEFAULT_LEASE_MS = 15_000;

/** A lease's safety margin: the holder stops acknowledging this long before it runs out; the taker waits as long after. */
export const leaseMarginMs = (leaseMs: number): number => Math.floor(leaseMs / 4);
/** An ingest worker's broker client id: its persistent session, which a live worker takes over when it dies. */
export const workerClientId = (workerId: string): string => `pantau-ingest-${workerId}`;

/** PostgreSQL's clock in epoch ms: heartbeats are compared on one clock, never on the nodes' own. */
export const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

export interface ClusterNodeRow {
  nodeId: string;
  role: string;
  timeSlot: number | null;
  startedAt: string;
  lastHeartbeat: string;
  /** Seconds since its last heartbeat, on PostgreSQL's clock. */
  heartbeatAgeSeconds: number;
  /** When its lease runs out unless renewed: its last heartbeat + PANTAU_WORKER_LEASE (of the node that answers). */
  leaseExpiresAt: string;
  /**
   * `live` (lease held), `silent` (lease ran out: dead, or cut off from PostgreSQL), `stopped` (left cleanly) or
   * `taken-over` (lease ran out and `takenBy` drains or drained its broker session, until the node returns).
   */
  state: 'live' | 'silent' | 'stopped' | 'taken-over';
  takenBy: string | null;
  /** When the taker ended the session (null while it drains). */
  takenOverAt: string | null;
  status: Partial<NodeStatus>;
}

export interface ClusterNode {
  readonly timeSlot: number;
  /** Every node PostgreSQL knows, this one included. */
  list(): Promise<ClusterNodeRow[]>;
  /** Record a clean stop (the node shows `stopped`, not `silent`); nothing after `stopWithSessionKept()`. */
  stop(): Promise<void>;
  /**
   * Stop without a clean stop: this ingest worker could not end its broker session (it was fenced, a message arrived
   * while it was leaving, or the broker was unreachable), and the broker keeps routing messages to it. The lease is
   * given up (no more heartbeats; the row is left as a dead worker's, `silent`) so that a live worker takes the
   * session over at its next round. Only once the worker's connection to the broker is closed.
   */
  stopWithSessionKept(): Promise<void>;
  /** Fencing: this node's lease still holds on its own monotonic clock (less than lease − margin since it was renewed). */
  mayAcknowledge(): boolean;
  /** After every successful renewal; `taken`: the node's session had been taken over (ended), its row is reset now. */
  onRenewed(listener: (taken: boolean) => void): void;
}

type Row = { node_id: string; role: string; time_slot: number | null; started_at: string; heartbeat_at: string; stopped_at: string | null; status: Partial<NodeStatus>; now: string; taken_by: string | null; taken_over_at: string | null };

/**
 * Renew the lease unless another node is draining this node's session right now (`held`: nothing changes, the lease
 * is not renewed). A row that was taken (drained, or its taker died) is reset: `taken`.
 */
async function renewLease(pg: PgConnection, nodeId: string, status: string | null, leaseMs: number): Promise<'renewed' | 'taken' | 'held' | 'missing'> {
  const r = await pg.query<{ taken_by: string | null }>(
    `WITH old AS (SELECT taken_by, taken_over_at FROM cluster_nodes WHERE node_id = $1 FOR UPDATE)
     UPDATE cluster_nodes n SET heartbeat_at = ${NOW_MS}, stopped_at = NULL, status = COALESCE($2::jsonb, n.status), taken_by = NULL, taken_at = NULL
     FROM old WHERE n.node_id = $1 AND (old.taken_by IS NULL OR old.taken_over_at IS NOT NULL OR NOT EXISTS (
       SELECT 1 FROM cluster_nodes t WHERE t.node_id = old.taken_by AND t.stopped_at IS NULL AND ${NOW_MS} - t.heartbeat_at < $3))
     RETURNING old.taken_by`,
    [nodeId, status, leaseMs],
  );
  if (r.rows[0]) return r.rows[0].taken_by === null ? 'renewed' : 'taken';
  const row = await pg.query('SELECT 1 FROM cluster_nodes WHERE node_id = $1', [nodeId]);
  return row.rows.length > 0 ? 'held' : 'missing';
}

/** Claim this node's time slot: its own from before, else a free one, else the longest-silent node's. */
export async function claimTimeSlot(pg: PgConnection, nodeId: string, role: string, log: Logger, leaseMs = DEFAULT_LEASE_MS, session: string | null = null): Promise<number> {
  return pg.transaction(async (c) => {
    await c.query('LOCK TABLE cluster_nodes IN SHARE ROW EXCLUSIVE MODE');
    const rows = (await c.query<Row>(`SELECT node_id, time_slot, heartbeat_at, stopped_at, ${NOW_MS} AS now FROM cluster_nodes`)).rows;
    let slot = rows.find((r) => r.node_id === nodeId)?.time_slot ?? undefined;
    if (slot === undefined || slot === null) {
      const used = new Set(rows.map((r) => r.time_slot).filter((s): s is number => s !== null));
      slot = Array.from({ length: TIME_SLOTS }, (_, i) => i).find((i) => !used.has(i));
      if (slot === undefined) {
        // every slot is held: take the one of the node heard of longest ago (stopped ones first)
        const held = rows.filter((r) => r.time_slot !== null && r.node_id !== nodeId);
        held.sort((a, b) => Number(b.stopped_at !== null) - Number(a.stopped_at !== null) || Number(a.heartbeat_at) - Number(b.heartbeat_at));
        const from = held[0]!;
        slot = from.time_slot!;
        await c.query('UPDATE cluster_nodes SET time_slot = NULL WHERE node_id = $1', [from.node_id]);
        const live = from.stopped_at === null && Number(from.now) - Number(from.heartbeat_at) < leaseMs;
        if (live) log.warn({ slot, sharedWith: from.node_id, slots: TIME_SLOTS }, 'more live nodes than time slots: this node shares one, and a reading without ts that reaches both in the same millisecond may be stored once');
        else log.info({ slot, from: from.node_id }, 'time slot taken over from a node not heard of since');
      }
    }
    await c.query(
      // a row taken over keeps its claim: the lease (and so acknowledging) starts with the first renewal (joinCluster)
      `INSERT INTO cluster_nodes (node_id, role, time_slot, started_at, heartbeat_at, stopped_at, status, session)
       VALUES ($1, $2, $3, ${NOW_MS}, ${NOW_MS}, NULL, '{}'::jsonb, $4)
       ON CONFLICT (node_id) DO UPDATE SET role = excluded.role, time_slot = excluded.time_slot,
         started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL, session = excluded.session`,
      [nodeId, role, slot, session],
    );
    return slot;
  });
}

export async function joinCluster(options: {
  pg: PgConnection;
  config: Pick<Config, 'workerId' | 'role'> & { workerLeaseMs?: number; brokerUrl?: string };
  log: Logger;
  ingest: { setTimeSlot(slot: number, slots: number): void };
  status(): NodeStatus;
  /** After each heartbeat: every node as PostgreSQL knows it (for this node's /metrics). */
  onList?(nodes: ClusterNodeRow[]): void;
}): Promise<ClusterNode> {
  const { pg, config } = options;
  const log = options.log.child({ component: 'cluster-nodes' });
  const nodeId = config.workerId;
  const leaseMs = config.workerLeaseMs ?? DEFAULT_LEASE_MS;
  // only an ingest worker has a broker session that another may take over
  const session = config.brokerUrl && config.role !== 'api' ? workerClientId(nodeId) : null;
  let timeSlot = await claimTimeSlot(pg, nodeId, config.role, log, leaseMs, session);
  options.ingest.setTimeSlot(timeSlot, TIME_SLOTS);
  log.info({ nodeId, timeSlot, slots: TIME_SLOTS }, 'joined the cluster: server-assigned timestamps use this time slot');

  const list = async (): Promise<ClusterNodeRow[]> => {
    const rows = (await pg.query<Row>(`SELECT node_id, role, time_slot, started_at, heartbeat_at, stopped_at, status, taken_by, taken_over_at, ${NOW_MS} AS now FROM cluster_nodes ORDER BY node_id`)).rows;
    return rows.map((r) => ({
      nodeId: r.node_id,
      role: r.role,
      timeSlot: r.time_slot,
      startedAt: new Date(Number(r.started_at)).toISOString(),
      lastHeartbeat: new Date(Number(r.heartbeat_at)).toISOString(),
      heartbeatAgeSeconds: Math.max(0, (Number(r.now) - Number(r.heartbeat_at)) / 1000),
      leaseExpiresAt: new Date(Number(r.heartbeat_at) + leaseMs).toISOString(),
      state: r.stopped_at !== null ? 'stopped' : r.taken_by !== null ? 'taken-over' : Number(r.now) - Number(r.heartbeat_at) < leaseMs ? 'live' : 'silent',
      takenBy: r.taken_by,
      takenOverAt: r.taken_over_at === null ? null : new Date(Number(r.taken_over_at)).toISOString(),
      status: r.status,
    }));
  };
  /** performance.now() when the last successful renewal was sent (−∞: none yet): the fence's own clock. */
  let renewedAt = Number.NEGATIVE_INFINITY;
  const listeners: Array<(taken: boolean) => void> = [];
  let lastOutcome = '';
  const renew = async (): Promise<string> => {
    let status: string | null = null;
    try {
      status = JSON.stringify(options.status());
    } catch {
      // the platform is still starting (its parts are not all there yet): the lease is renewed without a status
    }
    // sent before PostgreSQL stamps heartbeat_at, so this node's clock runs out before the taker's does
    const sentAt = performance.now();
    let outcome = await renewLease(pg, nodeId, status, leaseMs);
    if (outcome === 'missing') {
      // the row was deleted by hand: joined again (perhaps with another slot)
      timeSlot = await claimTimeSlot(pg, nodeId, config.role, log, leaseMs, session);
      options.ingest.setTimeSlot(timeSlot, TIME_SLOTS);
      outcome = await renewLease(pg, nodeId, status, leaseMs);
    }
    if (outcome !== lastOutcome && outcome === 'held') log.warn({ nodeId }, 'lease not renewed: another worker is draining this node\'s broker session; acknowledging nothing until it is done');
    if (outcome === 'taken') log.warn({ nodeId }, 'this node\'s broker session was taken over while its lease had run out: starting fresh');
    lastOutcome = outcome;
    if (outcome === 'renewed' || outcome === 'taken') {
      renewedAt = sentAt;
      for (const l of listeners) l(outcome === 'taken');
    }
    return outcome;
  };
  // before anything is acknowledged: a worker that returns while its session is being drained waits for the drain
  while ((await renew().catch(() => 'held')) === 'held') await new Promise((r) => setTimeout(r, 250));
  let beating: Promise<unknown> | undefined;
  const beat = () => {
    // one heartbeat at a time: a slow PostgreSQL does not pile them up
    beating ??= renew()
      .then(async () => options.onList?.(await list()))
      .catch((err: Error) => log.debug({ err: err.message }, 'heartbeat not recorded (PostgreSQL unavailable)'))
      .finally(() => (beating = undefined));
  };
  const timer = setInterval(beat, Math.floor(leaseMs / 3));
  timer.unref();
  /** The worker stopped with its broker session kept: its lease was given up, and no clean stop is recorded. */
  let sessionKept = false;

  return {
    get timeSlot() {
      return timeSlot;
    },
    list,
    mayAcknowledge: () => performance.now() - renewedAt < leaseMs - leaseMarginMs(leaseMs),
    onRenewed(listener) {
      listeners.push(listener);
    },
    async stopWithSessionKept() {
      sessionKept = true;
      clearInterval(timer);
      await beating;
      log.warn({ nodeId, session }, 'stopped with messages left in its broker session; a live worker will take it over');
      // stopped_at stays NULL (a clean stop is never taken over) and the heartbeat goes lease + margin into the past
      // on PostgreSQL's clock: past every taker's threshold at once (platform/takeover.ts) instead of a lease later.
      // Should PostgreSQL not answer, the lease simply runs out and the session is taken over then.
      // never rejects: the platform's stop goes on while this runs (platform/shutdown.ts)
      await Promise.resolve()
        .then(() => pg.query(`UPDATE cluster_nodes SET heartbeat_at = ${NOW_MS} - $2, stopped_at = NULL, status = $3 WHERE node_id = $1`, [nodeId, leaseMs + leaseMarginMs(leaseMs) + 1, JSON.stringify(options.status())]))
        .catch((err: Error) => log.warn({ err: err.message }, 'could not give up the lease in cluster_nodes; the session is taken over once it runs out'));
    },
    async stop() {
      clearInterval(timer);
      await beating;
      if (sessionKept) return;
      await pg
        .query(`UPDATE cluster_nodes SET heartbeat_at = ${NOW_MS}, stopped_at = ${NOW_MS}, status = $2 WHERE node_id = $1`, [nodeId, JSON.stringify(options.status())])
        .catch((err: Error) => log.warn({ err: err.message }, 'could not record the stop in cluster_nodes'));
    },
  };
}

// ---- GET /api/v1/cluster --------------------------------------------------------------------------------------

/** The cluster as the answering node sees it: every node's row, its own with its status of this moment. */
export async function clusterHealth(options: {
  node: ClusterNode | undefined;
  nodeId: string;
  role: string;
  leaseMs: number;
  startedAt: number;
  status(): NodeStatus;
}): Promise<ClusterHealth> {
  const own = options.status();
  const self: ClusterNodeHealth = {
    id: options.nodeId,
    role: options.role,
    state: 'live',
    timeSlot: options.node ? options.node.timeSlot : null,
    startedAt: new Date(options.startedAt).toISOString(),
    lastHeartbeat: null,
    heartbeatAgeSeconds: null,
    leaseExpiresAt: null,
    takenBy: null,
    takenOverAt: null,
    ...own,
  };
  let rows: ClusterNodeRow[] | undefined;
  try {
    rows = await options.node?.list();
  } catch {
    rows = undefined;
  }
  const nodes: ClusterNodeHealth[] = rows
    ? rows.map((r) => {
        const base = {
          id: r.nodeId, role: r.role, state: r.state, timeSlot: r.timeSlot, startedAt: r.startedAt,
          lastHeartbeat: r.lastHeartbeat, heartbeatAgeSeconds: r.heartbeatAgeSeconds, leaseExpiresAt: r.leaseExpiresAt,
          takenBy: r.takenBy, takenOverAt: r.takenOverAt,
        };
        if (r.nodeId === options.nodeId) return { ...base, ...own, state: 'live' as const };
        const st = r.status;
        return { ...base, spoolBytes: st.spoolBytes ?? 0, writerLagSeconds: st.writerLagSeconds ?? 0, influxUp: st.influxUp ?? false, alertOwner: r.state === 'live' && st.alertOwner === true, brokerSession: st.brokerSession ?? null };
      })
    : [self];
  const owner = own.alertOwner ? options.nodeId : nodes.find((n) => n.alertOwner && n.state === 'live')?.id ?? null;
  return { node: options.nodeId, cluster: options.node !== undefined, registry: options.node === undefined || rows !== undefined, leaseMs: options.leaseMs, alertOwner: owner, nodes };
}

/** This node's /metrics: the cluster as it sees it (its own spool and writer lag are pantau_spool_* already). */
export function clusterMetrics(metrics: Metrics, nodes: ClusterNodeRow[], own: NodeStatus): void {
  metrics.clusterNodes.reset();
  for (const state of ['live', 'silent', 'stopped', 'taken-over'] as const) metrics.clusterNodes.set({ state }, nodes.filter((n) => n.state === state).length);
  metrics.clusterHeartbeatAge.reset();
  for (const n of nodes) metrics.clusterHeartbeatAge.set({ node: n.nodeId, role: n.role }, n.heartbeatAgeSeconds);
  metrics.clusterAlertOwner.set(own.alertOwner ? 1 : 0);
}
