// The alert owner's publishing (alerts/owner.ts): what becomes of the alert changes the engine makes. They are held
// until the owner's cycle stores them — the alert rows and the change events (`alerts`, `alert_events`), in the
// cycle's one transaction, with whatever must commit with them (OwnerOutputs.inTransaction) — and every node hears
// of them (NOTIFY pantau_alert_events, read by ClusterAlerts). Only after that commit is a change published (MQTT,
// retained, QoS 1), webhooked and written to InfluxDB; `alert_events.published` / `.webhooked` record each
// delivery, written through the pool within milliseconds of it. A new owner first delivers what its predecessor
// committed but had not delivered, except the publishes the broker's retained messages show it took
// (`reachedBroker`). The only duplicates left: a webhook the dead owner sent in those milliseconds before recording
// it (the body byte for byte the same, with the same Idempotency-Key), and a publish on a broker that shows no
// retained message in time.
import type { Logger } from 'pino';
import type pg from 'pg';
import type { Alert, AlertChange } from './engine.js';
import { changeMessages, changeOutputs } from './service.js';
import type { WebhookSender } from './webhook.js';

export const EVENTS_CHANNEL = 'pantau_alert_events';

/** How long delivery marks gather before they are written (OwnerPublisher with a pool). */
const MARK_DELAY_MS = 10;

export interface OwnerOutputs {
  writeLines(lines: string[]): Promise<void>;
  uniqueTs(stream: string, at: number): number;
  /** Retained QoS 1 publish on the cluster's broker; resolves once the broker has it. */
  publish(topic: string, payload: string): Promise<void>;
  /** What the broker retains on these topics (topic → payload); topics it shows nothing for are left out. */
  retained?(topics: string[]): Promise<Map<string, string>>;
  webhook?: WebhookSender;
  /** After each committed change (metrics, device state point). */
  onChange?(change: AlertChange): void;
  /**
   * Inside the cycle's transaction, after its changes are stored: what must commit with them or not at all (the
   * notification outbox plans its messages here, notify/outbox.ts). A failure rolls the cycle back.
   */
  inTransaction?(client: pg.Client, changes: AlertChange[]): Promise<void>;
}

/** A change the engine made, with its messages, not yet stored. */
export interface PendingChange {
  change: AlertChange;
  publish?: { topic: string; payload: string };
  webhook?: unknown;
}

/** A change stored under its event's sequence number, to be delivered once the transaction commits. */
export interface StoredChange {
  seq: number;
  pending: PendingChange;
}

export class OwnerPublisher {
  private pending: PendingChange[] = [];
  private lines: string[] = [];
  private readonly published = new Set<number>();
  private readonly webhooked = new Set<number>();
  private stopping = false;

  private markTimer: NodeJS.Timeout | undefined;
  private marking: Promise<void> = Promise.resolve();

  /**
   * `recorded`: a delivery was recorded, to be written in the owner's next cycle (`flushMarks`). With `pool`, marks
   * are written through it within MARK_DELAY_MS of the delivery instead, whatever the cycle is doing: under a flood a
   * cycle can take seconds, and every delivery made but not yet marked when the owner dies is sent again by the next.
   */
  constructor(
    private readonly outputs: OwnerOutputs,
    private readonly log: Logger,
    private readonly recorded: () => void,
    private readonly pool?: pg.Pool,
  ) {}

  private noteDelivery(): void {
    if (!this.pool) return this.recorded();
    this.markTimer ??= setTimeout(() => {
      this.markTimer = undefined;
      this.marking = this.marking.then(() => this.flushMarks(this.pool!)).catch((err) => {
        // left in the sets by flushMarks: the owner's next cycle writes them
        this.log.warn({ err: (err as Error).message }, 'alert owner: delivery marks not written yet; the next cycle writes them');
        this.recorded();
      });
    }, MARK_DELAY_MS);
  }

  /** The engine's changes (AlertService's store), held for the cycle's transaction. */
  hold(changes: AlertChange[]): number[] {
    return changes.map((change) => {
      const { topic, payload, webhook } = changeMessages(change);
      this.pending.push({ change, publish: { topic, payload }, webhook: this.outputs.webhook ? webhook : undefined });
      return 0;
    });
  }

  /** The engine's InfluxDB points, held until the cycle commits. */
  holdLines(lines: string[]): void {
    this.lines.push(...lines);
  }

  /** What the cycle stores and then delivers: everything held since the last one. */
  take(): { pending: PendingChange[]; lines: string[] } {
    const taken = { pending: this.pending, lines: this.lines };
    this.pending = [];
    this.lines = [];
    return taken;
  }

  /** Stepped down: what was held is not stored; the next owner judges it again from the stored state. */
  drop(): void {
    this.pending = [];
    this.lines = [];
  }

  /** Inside the cycle's transaction: the alert rows, the events in order, what commits with them, and the NOTIFY. */
  async store(client: pg.Client, pending: PendingChange[]): Promise<StoredChange[]> {
    if (pending.length === 0) return [];
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
    const events = pending.map((p, i) => ({ seq: seqs[i]!, pending: p }));
    await this.outputs.inTransaction?.(client, pending.map((p) => p.change));
    const last = events[events.length - 1]!.seq;
    // sent by PostgreSQL when the transaction commits, not before
    await client.query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, String(last)]);
    // cheap housekeeping: the event log is for resuming streams, not history (alerts keep every state)
    if (events.some((e) => e.seq % 1000 === 0)) await client.query('DELETE FROM alert_events WHERE seq <= $1 AND published AND webhooked', [last - 50_000]);
    return events;
  }

  /** Committed: now the world may hear of it. */
  deliverCommitted(events: StoredChange[], lines: string[]): void {
    if (lines.length > 0) void this.outputs.writeLines(lines).catch((err) => this.log.error({ err: (err as Error).message }, 'alert points not spooled'));
    for (const { seq, pending } of events) this.deliver(seq, pending.change, pending.publish, pending.webhook);
  }

  private deliver(seq: number, change: AlertChange, publish: PendingChange['publish'], webhook: unknown): void {
    if (publish) {
      this.outputs.publish(publish.topic, publish.payload).then(
        () => {
          this.published.add(seq);
          this.noteDelivery(); // recorded promptly: a successor re-sends only what is not recorded
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
        this.noteDelivery();
      });
    }
    this.outputs.onChange?.(change);
  }

  /** The deliveries made since the last write, recorded on their events (kept for the next write if this one fails). */
  async flushMarks(client: pg.Client | pg.Pool): Promise<void> {
    for (const [set, column] of [[this.published, 'published'], [this.webhooked, 'webhooked']] as const) {
      if (set.size === 0) continue;
      const seqs = [...set];
      set.clear();
      try {
        await client.query(`UPDATE alert_events SET ${column} = true WHERE seq = ANY($1::bigint[])`, [seqs]);
      } catch (err) {
        for (const seq of seqs) set.add(seq);
        throw err;
      }
    }
  }

  /** At takeover: changes the previous owner committed but did not get delivered. */
  async redeliver(client: pg.Client): Promise<void> {
    const rows = (await client.query<{ seq: number; change: AlertChange; published: boolean; webhooked: boolean }>(
      'SELECT seq, change, published, webhooked FROM alert_events WHERE NOT (published AND webhooked) AND at > $1 ORDER BY seq',
      [Date.now() - 86_400_000],
    )).rows;
    if (rows.length === 0) return;
    const reached = await this.reachedBroker(rows);
    const lines: string[] = [];
    for (const r of rows) {
      const out = changeOutputs(r.change, (at) => this.outputs.uniqueTs(`${r.change.alert.deviceId}\u0000alerts`, at));
      if (!r.published) lines.push(out.line);
      const publish = r.published || reached.has(r.seq) ? undefined : { topic: out.topic, payload: out.payload };
      this.deliver(r.seq, r.change, publish, r.webhooked ? undefined : out.webhook);
    }
    if (reached.size > 0) this.log.info({ changes: reached.size }, 'alert owner: the broker holds alert changes the previous owner published but had not recorded; not published again');
    if (lines.length > 0) await this.outputs.writeLines(lines).catch(() => undefined);
    this.log.info({ changes: rows.length }, 'alert owner: delivered alert changes the previous owner had stored but not delivered');
  }

  /**
   * The unrecorded publishes that reached the broker. The previous owner may have died between the broker's PUBACK
   * and recording it; published again, subscribers would get the change twice. The message the broker retains on a
   * device's topic is the last one it took there, and one connection's QoS 1 publishes reach it in order: that
   * change and every earlier one on the topic were published. (A broker that shows no retained message, or another
   * one, leaves them all to be published again: at least once, never lost.)
   */
  private async reachedBroker(rows: Array<{ seq: number; change: AlertChange; published: boolean }>): Promise<Set<number>> {
    const reached = new Set<number>();
    const open = rows.filter((r) => !r.published).map((r) => ({ seq: r.seq, ...changeMessages(r.change) }));
    if (open.length === 0 || !this.outputs.retained) return reached;
    const retained = await this.outputs.retained([...new Set(open.map((o) => o.topic))]).catch((err: Error) => {
      this.log.warn({ err: err.message }, 'alert owner: retained alert messages not read; the previous owner\'s unrecorded publishes are sent again');
      return new Map<string, string>();
    });
    for (const [topic, payload] of retained) {
      const onTopic = open.filter((o) => o.topic === topic);
      let last = -1;
      onTopic.forEach((o, i) => (last = o.payload === payload ? i : last));
      for (const o of onTopic.slice(0, last + 1)) reached.add(o.seq);
    }
    return reached;
  }

  /** Shutting down: a webhook the queue gives up on stays unrecorded, for the next owner to send. */
  stop(): void {
    this.stopping = true;
    // the owner's stop writes what is gathered through its own connection
    if (this.markTimer) clearTimeout(this.markTimer);
    this.markTimer = undefined;
  }
}
