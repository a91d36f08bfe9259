// Durable sending by rules (docs/notifications.md, "Sending"): every message is first a row of the outbox
// (notify/store.ts), planned from an alert change (notify/plan.ts), then sent by the sender loop, which claims due
// rows, sends them, records each attempt and retries with backoff until the row expires (24 h).
//
// Where a change is planned:
// - single node: right after the alert service stored it (`onChange`, in order); the last planned change's
//   sequence number is kept (`planned-seq`), and a start plans the stored changes after it — a crash between
//   storing a change and planning it loses nothing, and planning one twice adds nothing (rows are unique per
//   alert, change and channel);
// - cluster: inside the alert owner's transaction that stores the change (`planIn`): both or neither.
// Who sends: the single node; in a cluster the alert owner (`active`). A claim is a lease: a sender that dies
// leaves its claimed rows to the next one once the lease ends; two senders never hold one row (SKIP LOCKED).
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { AlertChange, AlertChangeType } from '../alerts/engine.js';
import type { StoredEvent } from '../alerts/store.js';
import { fieldSpec } from '../catalog/index.js';
import { describeTrend, type RiverTrend } from '../catalog/trend.js';
import type { DeviceRecord, Registry } from '../registry/registry.js';
import type { AckLinks } from './ack.js';
import type { StoredChannel } from './channels.js';
import { messageText } from './message.js';
import { backoffMs, planChange } from './plan.js';
import type { StoredRule } from './rules.js';
import { sendToChannel, type ProviderUrls } from './send.js';
import { pgSql, type NotifyStore, type OutboxRow, type Sql } from './store.js';

export interface OutboxOptions {
  store: NotifyStore;
  registry: Pick<Registry, 'device'>;
  providerUrls: ProviderUrls;
  consoleUrl: () => string;
  ackLinks?: AckLinks;
  log: Logger;
  /** This node's name in claims. */
  nodeId: string;
  /** Whether this node sends now: always on a single node, the alert owner in a cluster. */
  active?: () => boolean;
  counted?: (type: string, ok: boolean) => void;
  /** Messages per channel per window (PANTAU_NOTIFY_MAX_PER_10M); the rest go out as one digest when it ends. */
  maxPerWindow?: number;
  windowMs?: number;
  /** First retry delay, doubling with each failed attempt (at most 30 minutes). */
  baseDelayMs?: number;
  /** How long a row is retried after it was first due (24 h). */
  retryForMs?: number;
  /** How long a claim holds (long enough for the sends of one claim). */
  leaseMs?: number;
  sendTimeoutMs?: number;
  pollMs?: number;
  /**
   * A river gauge's trend over the 30 minutes up to the reading of the change (api/alert-trend.ts reads the others
   * from InfluxDB), put in the words of a flood-level alert's messages; null or a failure leaves it out. Asked at
   * most `TREND_WAIT_MS`.
   */
  trend?: (deviceId: string, newest: { ts: number; cm: number }) => Promise<RiverTrend | null>;
}

const CLAIM = 20;
const PLANNED_SEQ = 'planned-seq';
const KEEP_MS = 30 * 86_400_000;
/** Planning waits this long for a gauge's trend (InfluxDB slow or down): then the message goes without it. */
const TREND_WAIT_MS = 2000;

export class Outbox {
  private planning: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private lastPrune = 0;
  readonly retryForMs: number;

  constructor(private readonly options: OutboxOptions) {
    this.retryForMs = options.retryForMs ?? 86_400_000;
  }

  // ---- planning ----------------------------------------------------------------------------------------

  /** Single node: a change the alert service has just stored (`seq` its sequence number). */
  onChange(change: AlertChange, seq?: number): void {
    this.serially(async () => {
      await this.plan(this.options.store.sql, change);
      if (seq !== undefined) await this.options.store.setMeta(PLANNED_SEQ, String(seq));
      this.wake();
    });
  }

  /**
   * Single node, at start: the stored changes after the last planned one (a crash came between). The first start
   * with an outbox plans nothing old: it only notes where the stored changes end.
   */
  replay(eventsAfter: (seq: number) => StoredEvent[], lastSeq: () => number): void {
    this.serially(async () => {
      const { store } = this.options;
      await store.releaseClaims();
      const mark = await store.getMeta(PLANNED_SEQ);
      if (mark === undefined) return store.setMeta(PLANNED_SEQ, String(lastSeq()));
      let seq = Number(mark);
      for (;;) {
        const events = eventsAfter(seq);
        if (events.length === 0) break;
        for (const e of events) {
          await this.plan(store.sql, e.change);
          seq = e.seq;
        }
        await store.setMeta(PLANNED_SEQ, String(seq));
        this.options.log.info({ changes: events.length }, 'notifications: planned alert changes stored before the last stop');
      }
    });
  }

  /** Cluster: the changes the alert owner is committing, planned in its transaction. */
  async planIn(client: pg.ClientBase, changes: AlertChange[]): Promise<void> {
    const sql = pgSql(client);
    // one look at the rules per cycle: without any, a cycle costs the owner one query
    const rules = await this.options.store.listRules(sql);
    if (rules.length === 0) return;
    for (const change of changes) await this.plan(sql, change, rules);
  }

  /** Wait for the planning queued so far (tests, shutdown). */
  settled(): Promise<void> {
    return this.planning;
  }

  private serially(fn: () => Promise<void>): void {
    this.planning = this.planning.then(fn).catch((err) => this.options.log.error({ err: (err as Error).message }, 'notifications: an alert change could not be planned; it is planned again at the next start'));
  }

  private async plan(sql: Sql, change: AlertChange, known?: StoredRule[]): Promise<void> {
    const { store, registry } = this.options;
    const device = registry.device(change.alert.deviceId);
    const rules = known ?? (await store.listRules(sql));
    if (rules.length === 0) return;
    const channelIds = await store.channelIds(sql);
    const existing = await store.existing(sql, change.alert.id);
    const trend = await this.trendOf(change);
    const plan = planChange({ change, device, rules, channelIds, existing, now: Date.now(), text: (as, language) => this.text(change, as, language, device, trend) });
    if (plan.cancelTiers) await store.cancelTiers(sql, change.alert.id);
    if (plan.rows.length > 0) await store.insertRows(sql, plan.rows, Date.now(), this.retryForMs);
  }

  /** The trend of a flood-level alert's gauge while the alert is not resolved; null otherwise or when unknown in time. */
  private async trendOf(change: AlertChange): Promise<RiverTrend | null> {
    const a = change.alert;
    if (!this.options.trend || a.kind !== 'flood' || a.rule !== 'flood_level' || change.type === 'resolved') return null;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), TREND_WAIT_MS);
    });
    try {
      return await Promise.race([this.options.trend(a.deviceId, { ts: change.at, cm: a.value }).catch(() => null), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private text(change: AlertChange, as: AlertChangeType, language: 'id' | 'en', device: DeviceRecord | undefined, trend: RiverTrend | null): string {
    const a = change.alert;
    const field = a.rule.includes(':') ? a.rule.slice(a.rule.indexOf(':') + 1) : a.kind === 'flood' ? 'waterLevel' : undefined;
    const unit = device && field && a.rule.startsWith('flood') ? fieldSpec(device.kind, field)?.unit ?? '' : '';
    const place = device ?? { name: a.deviceId, district: '-', city: '-' };
    return messageText({ change: as, alert: a, device: place, unit, at: change.at, consoleUrl: this.options.consoleUrl(), language, trend: trend && describeTrend(trend, language) });
  }

  // ---- sending -----------------------------------------------------------------------------------------

  start(): void {
    this.timer = setInterval(() => this.wake(), this.options.pollMs ?? 500);
    this.timer.unref();
    this.wake();
  }

  /** Look for due rows now (after planning, and on every poll). */
  wake(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((err) => this.options.log.warn({ err: (err as Error).message }, 'notifications: sender pass failed; retried'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.race([Promise.all([this.running, this.planning]), new Promise((r) => setTimeout(r, 2000))]);
  }

  private async pass(): Promise<void> {
    if (this.options.active && !this.options.active()) return;
    const { store, nodeId } = this.options;
    const now = Date.now();
    if (now - this.lastPrune > 3_600_000) {
      this.lastPrune = now;
      await store.prune(now - KEEP_MS);
    }
    const rows = await store.claim(nodeId, now, now + (this.options.leaseMs ?? 120_000), CLAIM);
    if (rows.length === 0) return;
    const byChannel = new Map<string, OutboxRow[]>();
    for (const r of rows) byChannel.set(r.channelId, [...(byChannel.get(r.channelId) ?? []), r]);
    await Promise.all([...byChannel].map(([id, group]) => this.sendGroup(id, group)));
    if (rows.length === CLAIM) this.again = true;
  }

  /** One channel's claimed rows, in order: one by one within the channel's limit, the rest into its digest. */
  private async sendGroup(channelId: string, claimed: OutboxRow[]): Promise<void> {
    const { store, nodeId } = this.options;
    const channel = await store.getChannel(channelId);
    const now = Date.now();
    const rows: OutboxRow[] = [];
    for (const r of claimed) {
      if (!channel) await store.finish(nodeId, r.id, { at: now, ok: false, status: null, error: 'the channel was deleted' }, { status: 'cancelled' });
      else if (now >= r.expiresAt) await store.finish(nodeId, r.id, null, { status: 'expired' });
      else rows.push(r);
    }
    if (!channel || rows.length === 0) return;
    const max = this.options.maxPerWindow ?? 6;
    const windowMs = this.options.windowMs ?? 600_000;
    const w = await store.window(channelId, now - windowMs);
    // a digest whose time came takes every row of the channel claimed with it
    if (rows.some((r) => r.inDigest)) return this.sendDigest(channel, rows, max);
    // a digest is waiting: what comes meanwhile joins it
    if (w.digestDue !== null) return store.defer(nodeId, rows.map((r) => r.id), w.digestDue, true);
    const room = Math.max(0, max - w.sent);
    for (const r of rows.slice(0, room)) await this.sendOne(channel, r);
    const rest = rows.slice(room);
    if (rest.length === 0) return;
    const after = await store.window(channelId, Date.now() - windowMs);
    await store.defer(nodeId, rest.map((r) => r.id), (after.oldest ?? Date.now()) + windowMs, true);
  }

  private async sendOne(channel: StoredChannel, row: OutboxRow): Promise<void> {
    const { store, nodeId, ackLinks } = this.options;
    const timeout = this.options.sendTimeoutMs ?? 10_000;
    // too little of the claim left to be sure no other sender takes the row while this one sends it
    if (row.leaseUntil !== null && Date.now() + timeout + 5000 > row.leaseUntil) return store.defer(nodeId, [row.id], row.dueAt, row.inDigest);
    const link = row.ack && ackLinks ? ackLinks.sign(row.alertId, channel.id) : undefined;
    const ack = link ? { ackUrl: `${this.options.consoleUrl().replace(/\/$/, '')}/api/v1/ack/${link}`, ackLabel: row.language === 'id' ? 'Akui' : 'Acknowledge' } : {};
    const at = Date.now();
    const answer = await sendToChannel(channel, { text: row.body, ...ack, idempotencyKey: row.id }, this.options.providerUrls, timeout);
    await this.settle(channel, [row], { at, ok: answer.ok, status: answer.status, error: answer.ok ? null : answer.body });
  }

  /** The held rows of a channel as one message: the digest. */
  private async sendDigest(channel: StoredChannel, rows: OutboxRow[], max: number): Promise<void> {
    const language = rows[0]!.language;
    const head = language === 'id' ? `RINGKASAN: ${rows.length} pesan ditahan (batas ${max} per 10 menit)` : `DIGEST: ${rows.length} messages held back (limit ${max} per 10 minutes)`;
    const groupKey = `dg-${createHash('sha256').update(rows.map((r) => r.id).sort().join(',')).digest('base64url').slice(0, 24)}`;
    const at = Date.now();
    const answer = await sendToChannel(channel, { text: `${head}\n\n${rows.map((r) => r.body).join('\n\n')}`, idempotencyKey: groupKey }, this.options.providerUrls, this.options.sendTimeoutMs ?? 10_000);
    await this.settle(channel, rows, { at, ok: answer.ok, status: answer.status, error: answer.ok ? null : answer.body }, groupKey);
  }

  private async settle(channel: StoredChannel, rows: OutboxRow[], attempt: { at: number; ok: boolean; status: number | null; error: string | null }, groupKey?: string): Promise<void> {
    const { store, nodeId, log } = this.options;
    this.options.counted?.(channel.type, attempt.ok);
    for (const r of rows) {
      if (attempt.ok) {
        await store.finish(nodeId, r.id, attempt, { status: 'sent', groupKey: groupKey ?? null });
        continue;
      }
      const next = Date.now() + backoffMs(r.attempts + 1, this.options.baseDelayMs);
      const expired = next >= r.expiresAt;
      await store.finish(nodeId, r.id, attempt, expired ? { status: 'expired' } : { status: 'failed', dueAt: next });
      const entry = { channel: channel.id, type: channel.type, delivery: r.id, status: attempt.status, answer: attempt.error, attempt: r.attempts + 1 };
      if (expired) log.error(entry, 'notification expired: not delivered within its retry time');
      else log.warn(entry, 'notification not delivered; retrying');
    }
  }
}
