// Alerts in a cluster (PANTAU_REGISTRY_URL=postgres://…): one alert owner, elected through a PostgreSQL advisory
// lock, judges every device's readings in order — exactly as the one process of a single-node Pantau does.
//
//   ingest node ──(acknowledged readings, AlertFeed)──▶ alert_feed ──▶ alert owner ──▶ alerts, alert_events
//   (any number)        one INSERT per batch              (table)      (one node)     + engine snapshot,
//                                                                                     in ONE transaction
//        every node ◀── NOTIFY pantau_alert_events ◀──────────────────────────────────┘
//        (ClusterAlerts: active alerts, live stream)            then: InfluxDB point, MQTT (retained), webhook
//
// This file owns the ordering: the feed and the owner's serial judging of it.
// - Feed: every ingest node hands its acknowledged readings (a LogConsumer of its ingest log) to the table
//   `alert_feed`. It retries while PostgreSQL is away; its log keeps the entries meanwhile.
// - Exactly once: the owner takes a batch of feed rows (at least 300 ms old, so that the two workers' recent
//   readings of a device are sorted by timestamp before they are judged), runs the engine (the same AlertService
//   as one process), and in one transaction stores the alert rows, the change events, the engine snapshot and
//   deletes the feed rows it judged. Either all of it is stored or none: a new owner resumes from the stored
//   snapshot and the feed rows still there — no change is lost or made twice.
// - Time rules (silence, clear times), ISPU evaluation, removed devices and operators' acknowledgements (commands
//   from ClusterAlerts, alerts/cluster-alerts.ts) are judged in the same cycle, on the owner only.
// Beside it: which node is the owner (alerts/owner-election.ts), and what becomes of the changes it makes — stored
// in the cycle's transaction, then published, webhooked and written to InfluxDB (alerts/owner-publish.ts).
import type { Logger } from 'pino';
import type pg from 'pg';
import type { LogConsumer, LogEntry, LogReading } from '../ingest/log-types.js';
import type { PgConnection } from '../registry/postgres.js';
import { RegistryUnavailableError } from '../registry/store.js';
import type { DeviceRecord, Registry } from '../registry/registry.js';
import type { AlertChange } from './engine.js';
import { OwnerElection } from './owner-election.js';
import { OwnerPublisher, type OwnerOutputs, type StoredChange } from './owner-publish.js';
import { AlertService } from './service.js';

export const FEED_CHANNEL = 'pantau_alert_feed';
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

export class AlertOwner {
  private readonly election: OwnerElection;
  private readonly publisher: OwnerPublisher;
  private service: AlertService | undefined;
  private readonly ispu: Array<{ device: DeviceRecord; value: number | null }> = [];
  private readonly forgets = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private again = false;
  private stopping = false;
  private lastTick = 0;
  /** Alert changes committed by this node as owner (for tests and metrics). */
  committed = 0;

  constructor(
    private readonly pg: PgConnection,
    private readonly registry: Registry,
    private readonly outputs: OwnerOutputs,
    private readonly log: Logger,
    private readonly options: { tickMs: number; nodeId: string },
  ) {
    this.publisher = new OwnerPublisher(outputs, log, () => this.wake(), pg.pool);
    this.election = new OwnerElection(pg, {
      load: async (client) => {
        const stored = (await client.query<{ value: unknown }>('SELECT value FROM state WHERE key = $1', [SNAPSHOT_KEY])).rows[0]?.value;
        this.service = this.buildService(stored);
        this.lastTick = Date.now();
        // devices removed while nobody owned the alerts
        const known = new Set(this.registry.listDevices().map((d) => d.id));
        for (const a of this.service.activeAlerts()) if (!known.has(a.deviceId)) this.forgets.add(a.deviceId);
      },
      elected: async (client) => {
        await this.publisher.redeliver(client);
        this.wake();
      },
      steppedDown: () => {
        this.service = undefined;
        this.publisher.drop();
        this.ispu.length = 0;
        this.forgets.clear();
      },
    }, log, options.nodeId);
  }

  get isOwner(): boolean {
    return this.election.client !== undefined;
  }

  async start(): Promise<void> {
    this.registry.on('device-removed', (id: string) => {
      if (this.isOwner) this.forgets.add(id);
    });
    await this.pg.listen(FEED_CHANNEL, () => this.wake());
    this.election.start();
    this.timer = setInterval(() => this.wake(), CYCLE_MS);
    this.timer.unref();
    await this.election.tryAcquire();
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
      .catch((err) => this.election.stepDown(`cycle failed: ${(err as Error).message}`))
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
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
    const store = { recordAll: (changes: AlertChange[]) => this.publisher.hold(changes) };
    return new AlertService(adapter, store, {
      writeLines: async (lines) => this.publisher.holdLines(lines),
      uniqueTs: (stream, at) => this.outputs.uniqueTs(stream, at),
    }, this.log);
  }

  /** One batch: feed rows, commands, ISPU, removals and due time rules → one transaction → deliveries. */
  private async cycle(): Promise<void> {
    const client = this.election.client;
    const service = this.service;
    if (!client || !service) return;
    await this.publisher.flushMarks(client);
    await client.query('BEGIN');
    let events: StoredChange[] = [];
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
      const taken = this.publisher.take();
      lines = taken.lines;

      events = await this.publisher.store(client, taken.pending);
      await client.query('INSERT INTO state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [SNAPSHOT_KEY, JSON.stringify(service.engine.snapshot())]);
      if (feed.length > 0) await client.query('DELETE FROM alert_feed WHERE id = ANY($1::bigint[])', [feed.map((f) => f.id)]);
      for (const r of results) {
        await client.query('UPDATE alert_commands SET done = true, result = $2 WHERE id = $1', [r.id, r.alert ? JSON.stringify(r.alert) : null]);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      events = [];
      throw err;
    }
    this.committed += events.length;
    // a full batch: more is waiting, go on without waiting for the next tick
    if (fullBatch) this.again = true;
    this.publisher.deliverCommitted(events, lines);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.publisher.stop();
    this.election.stop();
    clearInterval(this.timer);
    while (this.running) await sleep(20);
    const client = this.election.client;
    if (client) {
      await this.publisher.flushMarks(client).catch(() => undefined);
      this.election.stepDown('stopping', client);
    }
  }
}
