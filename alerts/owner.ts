// Alerts in a cluster (PANTAU_REGISTRY_URL=postgres://…): one alert owner, elected through a PostgreSQL advisory
// lock, judges every device's readings in order — exactly as the one process of a single-node Pantau does.
//
//   ingest node ──(acknowledged readings, AlertFeed)──▶ alert_feed ──▶ alert owner ──▶ alerts, alert_events
//   (any number)        one INSERT per batch              (table)      (one node)     + engine snapshot,
//                                                                                     in ONE transaction
//        every node ◀── NOTIFY pantau_alert_events ◀──────────────────────────────────┘
//        (ClusterAlerts: active alerts, live stream)            then: InfluxDB point, MQTT (retained), webhook
//
// - Feed: every ingest node hands its acknowledged readings (a LogConsumer of its ingest log) to the table
//   `alert_feed`. It retries while PostgreSQL is away; its log keeps the entries meanwhile.
// - Ownership: every node tries `pg_try_advisory_lock` on its own connection once a second; the holder is the
//   owner. The lock lives as long as that connection: a node that dies (or loses PostgreSQL) loses it at once
//   and another node takes over. All of the owner's writes go through that same connection, so a node that has
//   lost the lock cannot write anything more.
// - Exactly once: the owner takes a batch of feed rows (at least 300 ms old, so that the two workers' recent
//   readings of a device are sorted by timestamp before they are judged), runs the engine (the same AlertService
//   as one process), and in one transaction stores the alert rows, the change events, the engine snapshot and
//   deletes the feed rows it judged. Either all of it is stored or none: a new owner resumes from the stored
//   snapshot and the feed rows still there — no change is lost or made twice.
// - Delivery: only after that commit is a change published (MQTT, retained, QoS 1), webhooked and written to
//   InfluxDB; `alert_events.published` / `.webhooked` record each delivery. A new owner first delivers what its
//   predecessor committed but had not delivered (the only duplicates possible: a delivery the dead owner made but
//   had not yet recorded, milliseconds wide).
// - Operator acknowledgements are commands (`alert_commands`) the owner carries out in its next cycle; the node
//   that took the request waits for the result.
// - Time rules (silence, clear times), ISPU evaluation and derived points run on the owner only.
import type { Logger } from 'pino';
import type pg from 'pg';
import type { LogConsumer, LogEntry, LogReading } from '../ingest/log-types.js';
import { LOCK_ALERT_OWNER, LOCK_SPACE, type PgConnection } from '../registry/postgres.js';
import { RegistryUnavailableError } from '../registry/store.js';
import type { DeviceRecord, Registry } from '../registry/registry.js';
import type { Alert, AlertChange } from './engine.js';
import { SEVERITY_RANK } from './rules.js';
import { AlertService, changeMessages, changeOutputs } from './service.js';
import type { PgAlertStore, StoredEvent } from './store.js';
import type { WebhookSender } from './webhook.js';

export const FEED_CHANNEL = 'pantau_alert_feed';
export const EVENTS_CHANNEL = 'pantau_alert_events';
const SNAPSHOT_KEY = 'alert-owner';
/** Feed rows younger than this wait for the next cycle: readings of both workers get sorted by timestamp. */
const REORDER_MS = 300;
const CYCLE_MS = 250;
const BATCH = 5000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- the feed ---------------------------------------------------------------------------------------------

/** Ingest node side: acknowledged readings into `alert_feed`. Durable: retries until PostgreSQL takes them. */
export class AlertFeed implements LogConsumer {
  readonly name = 'alert-feed';
  readonly durable = true;
  private stopped = false;
  inserted = 0;
  /** Failed inserts retried (tests, metrics). */
  retries = 0;

  constructor(private readonly pg: PgConnection, private readonly log: Logger) {}

  async handle(entries: LogEntry[]): Promise<void> {
    const readings: LogReading[] = [];
    for (const e of entries) for (const r of e.readings) readings.push(r);
    await this.insert(readings);
  }

  async insert(readings: LogReading[]): Promise<void> {
    for (let i = 0; i < readings.length; i += BATCH) {
      const chunk = readings.slice(i, i + BATCH);
      let delay = 200;
      for (;;) {
        try {
          await this.pg.query(
            `WITH ins AS (INSERT INTO alert_feed (device_id, kind, ts, vals)
               SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::jsonb[]) RETURNING 1)
             SELECT pg_notify('${FEED_CHANNEL}', count(*)::text) FROM ins`,
            [chunk.map((r) => r.deviceId), chunk.map((r) => r.kind), chunk.map((r) => r.ts), chunk.map((r) => JSON.stringify(r.values))],
          );
          this.inserted += chunk.length;
          break;
        } catch (err) {
          // Whatever the error — unreachable, a read-only standby after a failover (25006), a serialization
          // failure (40001, 40P01) — the batch is retried, never skipped: a skipped batch would be readings the
          // alert owner never judges. A feed that stays stuck long enough is detached by the log (spool.ts).
          // Stopping: never resolve, so the log does not move this consumer's checkpoint past readings the
          // owner has not got; the next start hands them over again (the owner ignores a reading judged twice)
          if (this.stopped) return new Promise<void>(() => undefined);
          if (delay === 200) {
            if (err instanceof RegistryUnavailableError) this.log.warn({ err: err.message, readings: chunk.length }, 'alert feed: PostgreSQL unavailable; holding readings for the alert owner until it is back');
            else this.log.error({ err: (err as Error).message, code: (err as { code?: string }).code, readings: chunk.length }, 'alert feed: PostgreSQL refused the readings; retrying until it takes them');
          }
          this.retries++;
          await sleep(delay);
          delay = Math.min(5000, delay * 2);
        }
      }
    }
  }

  /** Stop retrying (shutdown): what is still held stays in the ingest log for the next start. */
  stop(): void {
    this.stopped = true;
  }
}

// ---- the owner --------------------------------------------------------------------------------------------

export interface OwnerOutputs {
  writeLines(lines: string[]): Promise<void>;
  uniqueTs(stream: string, at: number): number;
  /** Retained QoS 1 publish on the cluster's broker; resolves once the broker has it. */
  publish(topic: string, payload: string): Promise<void>;
  webhook?: WebhookSender;
  /** After each committed change (metrics, device state point). */
  onChange?(change: AlertChange): void;
  /**
   * Inside the cycle's transaction, after its changes are stored: what must commit with them or not at all (the
   * notification outbox plans its messages here, notify/outbox.ts). A failure rolls the cycle back.
   */
  inTransaction?(client: pg.Client, changes: AlertChange[]): Promise<void>;
}

interface Pending {
  change: AlertChange;
  publish?: { topic: string; payload: string };
  webhook?: unknown;
}

export class AlertOwner {
  private client: pg.Client | undefined;
  private service: AlertService | undefined;
  private pending: Pending[] = [];
  private lines: string[] = [];
  private readonly ispu: Array<{ device: DeviceRecord; value: number | null }> = [];
  private readonly forgets = new Set<string>();
  private readonly timers: NodeJS.Timeout[] = [];
  private running = false;
  private again = false;
  private stopping = false;
  private lastTick = 0;
  private readonly published = new Set<number>();
  private readonly webhooked = new Set<number>();
  /** Alert changes committed by this node as owner (for tests and metrics). */
  committed = 0;

  constructor(
    private readonly pg: PgConnection,
    private readonly registry: Registry,
    private readonly outputs: OwnerOutputs,
    private readonly log: Logger,
    private readonly options: { tickMs: number; nodeId: string },
  ) {}

  get isOwner(): boolean {
    return this.client !== undefined;
  }

  async start(): Promise<void> {
    this.registry.on('device-removed', (id: string) => {
      if (this.isOwner) this.forgets.add(id);
    });
    await this.pg.listen(FEED_CHANNEL, () => this.wake());
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(1000, () => void this.tryAcquire());
    every(CYCLE_MS, () => this.wake());
    await this.tryAcquire();
  }

  /** ISPU is computed from 24 h of history on the owner (platform indices loop) and judged in the next cycle. */
  onIspu(device: DeviceRecord, value: number | null): void {
    if (this.isOwner) this.ispu.push({ device, value });
  }

  wake(): void {
    if (!this.isOwner || this.stopping) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.cycle()
      .catch((err) => this.stepDown(`cycle failed: ${(err as Error).message}`))
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async tryAcquire(): Promise<void> {
    if (this.client || this.stopping) return;
    const client = this.pg.newClient();
    client.on('error', (err) => this.stepDown(`lock connection failed: ${err.message}`, client));
    try {
      await client.connect();
      const got = (await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [LOCK_SPACE, LOCK_ALERT_OWNER])).rows[0]?.ok;
      if (!got || this.stopping) {
        await client.end().catch(() => undefined);
        return;
      }
      const stored = (await client.query<{ value: unknown }>('SELECT value FROM state WHERE key = $1', [SNAPSHOT_KEY])).rows[0]?.value;
      this.service = this.buildService(stored);
      this.client = client;
      this.lastTick = Date.now();
      // devices removed while nobody owned the alerts
      const known = new Set(this.registry.listDevices().map((d) => d.id));
      for (const a of this.service.activeAlerts()) if (!known.has(a.deviceId)) this.forgets.add(a.deviceId);
      this.log.info({ node: this.options.nodeId }, 'alert owner: this node now judges the alerts of the cluster');
      await this.redeliver();
      this.wake();
    } catch (err) {
      await client.end().catch(() => undefined);
      if (this.client === client) this.stepDown(`taking over failed: ${(err as Error).message}`);
    }
  }

  private stepDown(reason: string, which?: pg.Client): void {
    if (which && which !== this.client) return;
    const client = this.client;
    if (!client) return;
    this.client = undefined;
    this.service = undefined;
    this.pending = [];
    this.lines = [];
    this.ispu.length = 0;
    this.forgets.clear();
    client.end().catch(() => undefined);
    if (!this.stopping) this.log.warn({ reason }, 'alert owner: stepped down; the owner is elected again (this or another node) from the stored state');
  }

  private buildService(snapshot: unknown): AlertService {
    const r = this.registry;
    const adapter = {
      device: (id: string) => r.device(id),
      listDevices: () => r.listDevices(),
      audit: (actor: string, action: string, target: string) => r.audit(actor, action, target),
      // the snapshot is read at takeover and written with every committed cycle, never by the service itself
      getState: <T>() => snapshot as T | undefined,
      setState: () => undefined,
    };
    // the owner stores the changes and the snapshot itself, in the cycle's transaction, and delivers after it
    const store = {
      recordAll: (changes: AlertChange[]) =>
        changes.map((change) => {
          const { topic, payload, webhook } = changeMessages(change);
          this.pending.push({ change, publish: { topic, payload }, webhook: this.outputs.webhook ? webhook : undefined });
          return 0;
        }),
    };
    return new AlertService(adapter, store, {
      writeLines: async (lines) => {
        this.lines.push(...lines);
      },
      uniqueTs: (stream, at) => this.outputs.uniqueTs(stream, at),
    }, this.log);
  }

  /** One batch: feed rows, commands, ISPU, removals and due time rules → one transaction → deliveries. */
  private async cycle(): Promise<void> {
    const client = this.client;
    const service = this.service;
    if (!client || !service) return;
    await this.flushMarks(client);
    await client.query('BEGIN');
    let events: Array<{ seq: number; pending: Pending }> = [];
    let lines: string[] = [];
    let fullBatch = false;
    try {
      const feed = (await client.query<{ id: number; device_id: string; kind: string; ts: number; vals: Record<string, number> }>(
        `SELECT id, device_id, kind, ts, vals FROM alert_feed WHERE added_at < clock_timestamp() - interval '${REORDER_MS} milliseconds' ORDER BY id LIMIT ${BATCH}`,
      )).rows;
      fullBatch = feed.length === BATCH;
      const commands = (await client.query<{ id: number; alert_id: string; actor: string }>('SELECT id, alert_id, actor FROM alert_commands WHERE NOT done ORDER BY id LIMIT 100')).rows;
      const now = Date.now();
      const tickDue = now - this.lastTick >= this.options.tickMs;
      if (feed.length === 0 && commands.length === 0 && this.ispu.length === 0 && this.forgets.size === 0 && !tickDue) {
        await client.query('COMMIT');
        return;
      }
      // the engine (synchronous); judged in timestamp order, as a device sent them
      const readings = feed
        .map((f) => ({ deviceId: f.device_id, kind: f.kind as DeviceRecord['kind'], ts: f.ts, values: f.vals }))
        .sort((a, b) => a.ts - b.ts);
      service.onReadings(readings);
      for (const id of this.forgets) service.forget(id);
      this.forgets.clear();
      for (const { device, value } of this.ispu.splice(0)) service.onIspu(device, value);
      const results = commands.map((c) => ({ id: c.id, alert: service.acknowledge(c.alert_id, c.actor) }));
      if (tickDue) {
        service.tick(now);
        this.lastTick = now;
      }
      const pending = this.pending;
      this.pending = [];
      lines = this.lines;
      this.lines = [];

      if (pending.length > 0) {
        // the alert rows in their newest state (one row per alert: an upsert may not touch a row twice)
        const newest = new Map<string, Alert>();
        for (const p of pending) newest.set(p.change.alert.id, p.change.alert);
        await client.query(
          `INSERT INTO alerts (id, device_id, kind, rule, severity, state, value, message, opened_at, acknowledged_at, resolved_at)
           SELECT a.id, a."deviceId", a.kind, a.rule, a.severity, a.state, a.value, a.message, a."openedAt", a."acknowledgedAt", a."resolvedAt"
           FROM jsonb_to_recordset($1::jsonb) AS a(id text, "deviceId" text, kind text, rule text, severity text, state text, value double precision,
             message text, "openedAt" bigint, "acknowledgedAt" bigint, "resolvedAt" bigint)
           ON CONFLICT (id) DO UPDATE SET severity = excluded.severity, state = excluded.state, value = excluded.value,
             message = excluded.message, acknowledged_at = excluded.acknowledged_at, resolved_at = excluded.resolved_at`,
          [JSON.stringify([...newest.values()])],
        );
        // the events, in order: sequence numbers are drawn in the order the rows are inserted
        const seqs = (await client.query<{ seq: number }>(
          `INSERT INTO alert_events (at, change, webhooked)
           SELECT at, change, webhooked FROM unnest($1::bigint[], $2::jsonb[], $3::boolean[]) WITH ORDINALITY AS e(at, change, webhooked, n) ORDER BY n
           RETURNING seq`,
          [pending.map((p) => p.change.at), pending.map((p) => JSON.stringify(p.change)), pending.map((p) => p.webhook === undefined)],
        )).rows.map((r) => r.seq).sort((x, y) => x - y);
        events = pending.map((p, i) => ({ seq: seqs[i]!, pending: p }));
        await this.outputs.inTransaction?.(client, pending.map((p) => p.change));
      }
      await client.query('INSERT INTO state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [SNAPSHOT_KEY, JSON.stringify(service.engine.snapshot())]);
      if (feed.length > 0) await client.query('DELETE FROM alert_feed WHERE id = ANY($1::bigint[])', [feed.map((f) => f.id)]);
      for (const r of results) {
        await client.query('UPDATE alert_commands SET done = true, result = $2 WHERE id = $1', [r.id, r.alert ? JSON.stringify(r.alert) : null]);
      }
      if (events.length > 0) await client.query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, String(events[events.length - 1]!.seq)]);
      // cheap housekeeping: the event log is for resuming streams, not history (alerts keep every state)
      if (events.some((e) => e.seq % 1000 === 0)) await client.query('DELETE FROM alert_events WHERE seq <= $1 AND published AND webhooked', [events[events.length - 1]!.seq - 50_000]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      events = [];
      throw err;
    }
    this.committed += events.length;
    // a full batch: more is waiting, go on without waiting for the next tick
    if (fullBatch) this.again = true;
    // committed: now the world may hear of it
    if (lines.length > 0) void this.outputs.writeLines(lines).catch((err) => this.log.error({ err: (err as Error).message }, 'alert points not spooled'));
    for (const { seq, pending } of events) this.deliver(seq, pending.change, pending.publish, pending.webhook);
  }

  private deliver(seq: number, change: AlertChange, publish: Pending['publish'], webhook: unknown): void {
    if (publish) {
      this.outputs.publish(publish.topic, publish.payload).then(
        () => {
          this.published.add(seq);
          this.wake(); // recorded promptly: a successor re-sends only what is not recorded
        },
        (err) => this.log.warn({ err: (err as Error).message, seq }, 'alert not published; the next owner publishes it again'),
      );
    } else {
      this.published.add(seq);
    }
    if (webhook !== undefined && this.outputs.webhook) {
      this.outputs.webhook.send(webhook, () => {
        // a shutdown interrupts the queue: left unmarked, the next owner sends it
        if (this.stopping) return;
        this.webhooked.add(seq);
        this.wake();
      });
    }
    this.outputs.onChange?.(change);
  }

  private async flushMarks(client: pg.Client): Promise<void> {
    if (this.published.size > 0) {
      const seqs = [...this.published];
      this.published.clear();
      await client.query('UPDATE alert_events SET published = true WHERE seq = ANY($1::bigint[])', [seqs]);
    }
    if (this.webhooked.size > 0) {
      const seqs = [...this.webhooked];
      this.webhooked.clear();
      await client.query('UPDATE alert_events SET webhooked = true WHERE seq = ANY($1::bigint[])', [seqs]);
    }
  }

  /** At takeover: changes the previous owner committed but did not get delivered. */
  private async redeliver(): Promise<void> {
    const client = this.client!;
    const rows = (await client.query<{ seq: number; change: AlertChange; published: boolean; webhooked: boolean }>(
      'SELECT seq, change, published, webhooked FROM alert_events WHERE NOT (published AND webhooked) AND at > $1 ORDER BY seq',
      [Date.now() - 86_400_000],
    )).rows;
    if (rows.length === 0) return;
    const lines: string[] = [];
    for (const r of rows) {
      const out = changeOutputs(r.change, (at) => this.outputs.uniqueTs(`${r.change.alert.deviceId}\u0000alerts`, at));
      if (!r.published) lines.push(out.line);
      this.deliver(r.seq, r.change, r.published ? undefined : { topic: out.topic, payload: out.payload }, r.webhooked ? undefined : out.webhook);
    }
    if (lines.length > 0) await this.outputs.writeLines(lines).catch(() => undefined);
    this.log.info({ changes: rows.length }, 'alert owner: delivered alert changes the previous owner had stored but not delivered');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    while (this.running) await sleep(20);
    const client = this.client;
    if (client) {
      await this.flushMarks(client).catch(() => undefined);
      this.stepDown('stopping', client);
    }
  }
}

// ---- every node's view ------------------------------------------------------------------------------------

/**
 * The alerts as every node of a cluster sees them: active alerts and the event log mirrored from PostgreSQL
 * (pushed to this node's live stream), acknowledgements handed to the owner. Same methods as AlertService.
 */
export class ClusterAlerts {
  private readonly active = new Map<string, Alert>();
  private lastSeq = 0;
  private pulling: Promise<void> | undefined;
  private pullAgain = false;

  constructor(
    private readonly pg: PgConnection,
    readonly store: PgAlertStore,
    readonly owner: AlertOwner,
    private readonly onEvent: (event: StoredEvent) => void,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const [active, lastSeq] = await Promise.all([this.store.active(), this.store.lastSeq()]);
    for (const a of active) this.active.set(a.id, a);
    // recent events, so a live-stream client resuming with Last-Event-ID gets them from this node too
    for (const e of await this.store.fetchAfter(Math.max(0, lastSeq - 1000))) this.store.apply(e);
    this.lastSeq = lastSeq;
    await this.pg.listen(EVENTS_CHANNEL, () => this.pull());
    this.pg.onReconnect(() => this.pull());
    await this.owner.start();
  }

  /** Fetch the events after the last one seen (serialised; a pull requested meanwhile runs once more). */
  pull(): void {
    if (this.pulling) {
      this.pullAgain = true;
      return;
    }
    this.pulling = (async () => {
      try {
        for (;;) {
          const events = await this.store.fetchAfter(this.lastSeq);
          for (const e of events) {
            this.lastSeq = e.seq;
            const a = e.change.alert;
            if (a.state === 'resolved') this.active.delete(a.id);
            else this.active.set(a.id, a);
            this.store.apply(e);
            this.onEvent(e);
          }
          if (events.length < 1000) break;
        }
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'alert events not fetched; retried on the next notification or reconnect');
      }
    })().finally(() => {
      this.pulling = undefined;
      if (this.pullAgain) {
        this.pullAgain = false;
        this.pull();
      }
    });
  }

  /** Readings reach the owner through the feed, not through this node. */
  onReadings(): void {}

  onIspu(device: DeviceRecord, ispu: number | null): void {
    this.owner.onIspu(device, ispu);
  }

  /** The owner runs the time rules. */
  tick(): void {}

  /** The owner forgets a removed device's alerts when it hears of the removal. */
  forget(): void {}

  saveNow(): void {}

  activeAlerts(): Alert[] {
    return [...this.active.values()];
  }

  severity(deviceId: string): number {
    let worst = 0;
    for (const a of this.active.values()) if (a.deviceId === deviceId) worst = Math.max(worst, SEVERITY_RANK[a.severity]);
    return worst;
  }

  /** Handed to the owner; null when the alert is not open. 503 when no owner answers within 10 s. */
  async acknowledge(id: string, actor: string): Promise<Alert | null> {
    const cmd = (await this.pg.query<{ id: number }>('INSERT INTO alert_commands (alert_id, actor, created_at) VALUES ($1, $2, $3) RETURNING id', [id, actor, Date.now()])).rows[0]!.id;
    this.owner.wake();
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      await sleep(50);
      const row = (await this.pg.query<{ done: boolean; result: Alert | null }>('SELECT done, result FROM alert_commands WHERE id = $1', [cmd])).rows[0];
      if (row?.done) {
        await this.pg.query('DELETE FROM alert_commands WHERE id = $1', [cmd]).catch(() => undefined);
        return row.result;
      }
    }
    await this.pg.query('DELETE FROM alert_commands WHERE id = $1 AND NOT done', [cmd]).catch(() => undefined);
    throw new RegistryUnavailableError('no alert owner answered within 10 s (is PostgreSQL reachable from every node?)');
  }
}

