// Channels, rules and the delivery outbox in the registry's database (docs/notifications.md, "Storage"): the
// embedded SQLite file on a single node, PostgreSQL (migration 6, registry/schema.ts) shared by every node of a
// cluster — a channel made through one node is used by the alert owner at once. One set of statements for both
// (registry/notify-schema.ts has the tables); `?` placeholders become `$n` for PostgreSQL.
//
// The first start after the upgrade moves the state documents `notify-channels` / `notify-rules` (where channels
// and rules were kept before) into the tables and removes them.
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { NOTIFY_TABLES_SQL } from '../registry/notify-schema.js';
import type { PgConnection } from '../registry/postgres.js';
import { scopeFromStored, type Scope } from '../registry/scope.js';
import type { ChannelType, StoredChannel } from './channels.js';
import type { DeliveryStatus, ExistingRow, PlannedRow, Reason } from './plan.js';
import type { StoredRule } from './rules.js';

/** The statements' way to a database: SQLite (synchronous underneath) or PostgreSQL (a pool or one transaction's client). */
export interface Sql {
  all<T>(sql: string, params?: unknown[]): Promise<T[]>;
  run(sql: string, params?: unknown[]): Promise<number>;
}

const pgText = (sql: string) => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

export function sqliteSql(db: Database.Database): Sql {
  return {
    all: async <T>(sql: string, params: unknown[] = []) => db.prepare(sql).all(...params) as T[],
    run: async (sql, params = []) => db.prepare(sql).run(...params).changes,
  };
}

type Query = (text: string, values?: unknown[]) => Promise<{ rows: unknown[]; rowCount: number | null }>;

export function pgSql(client: pg.ClientBase | PgConnection): Sql {
  const query = ((text: string, values?: unknown[]) => (client as PgConnection).query(text, values)) as Query;
  return {
    all: async <T>(sql: string, params: unknown[] = []) => (await query(pgText(sql), params)).rows as T[],
    run: async (sql, params = []) => (await query(pgText(sql), params)).rowCount ?? 0,
  };
}

export interface OutboxRow extends Omit<PlannedRow, 'status'> {
  status: DeliveryStatus;
  createdAt: number;
  /** Not sent by then: expired. */
  expiresAt: number;
  attempts: number;
  leaseUntil: number | null;
  claimedBy: string | null;
  sentAt: number | null;
  inDigest: boolean;
  groupKey: string | null;
}

export interface Attempt {
  at: number;
  ok: boolean;
  /** The provider's HTTP status (SMTP reply code for email); null when it did not answer. */
  status: number | null;
  /** The provider's error, scrubbed of the channel's secrets; null on success. */
  error: string | null;
}

interface RowRecord {
  id: string; alert_id: string; change_key: string; channel_id: string; rule_id: string | null; reason: Reason; change_at: number;
  language: 'id' | 'en'; body: string; ack: number; status: DeliveryStatus; due_at: number; created_at: number; expires_at: number; attempts: number;
  lease_until: number | null; claimed_by: string | null; sent_at: number | null; in_digest: number; group_key: string | null;
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

function fromRecord(r: RowRecord): OutboxRow {
  return {
    id: r.id, alertId: r.alert_id, changeKey: r.change_key, channelId: r.channel_id, ruleId: r.rule_id, reason: r.reason,
    changeAt: Number(r.change_at), language: r.language, body: r.body, ack: Boolean(r.ack), status: r.status, dueAt: Number(r.due_at),
    createdAt: Number(r.created_at), expiresAt: Number(r.expires_at), attempts: Number(r.attempts), leaseUntil: num(r.lease_until), claimedBy: r.claimed_by,
    sentAt: num(r.sent_at), inDigest: Boolean(r.in_digest), groupKey: r.group_key,
  };
}

interface ChannelRecord { id: string; name: string; type: ChannelType; config: string; scope: string; created_at: number }
const channelFrom = (r: ChannelRecord): StoredChannel => ({
  id: r.id, name: r.name, type: r.type, config: JSON.parse(r.config), scope: scopeFromStored(JSON.parse(r.scope)), createdAt: Number(r.created_at),
});

interface RuleRecord { id: string; rule: string; owner: string; created_at: number }
const ruleFrom = (r: RuleRecord): StoredRule => {
  const body = JSON.parse(r.rule) as StoredRule;
  return { ...body, id: r.id, owner: scopeFromStored(JSON.parse(r.owner)), scope: { ...scopeFromStored(body.scope), deviceIds: body.scope?.deviceIds ?? [] }, createdAt: Number(r.created_at) };
};

/** Statuses a sender may claim once due (`sending` only when its claim's lease ran out). */
const CLAIMABLE = "('queued','held','failed')";

export class NotifyStore {
  private constructor(
    readonly sql: Sql,
    readonly backend: 'sqlite' | 'postgres',
    private readonly pg?: PgConnection,
  ) {}

  /** The embedded registry's tables (made when missing); adopts the old state documents. */
  static sqlite(db: Database.Database): NotifyStore {
    db.exec(NOTIFY_TABLES_SQL);
    const store = new NotifyStore(sqliteSql(db), 'sqlite');
    const take = (key: string) => {
      const row = db.prepare('SELECT value FROM state WHERE key = ?').get(key) as { value: string } | undefined;
      return row ? JSON.parse(row.value) : undefined;
    };
    db.transaction(() => {
      const adopt = adoption(take('notify-channels'), take('notify-rules'));
      for (const [sql, params] of adopt) db.prepare(sql.replace('INSERT INTO', 'INSERT OR IGNORE INTO')).run(...params);
      db.prepare("DELETE FROM state WHERE key IN ('notify-channels', 'notify-rules')").run();
    })();
    return store;
  }

  /** The cluster's tables (migration 6); adopts the old state documents once (nodes starting together: no duplicates). */
  static async postgres(pg: PgConnection): Promise<NotifyStore> {
    const store = new NotifyStore(pgSql(pg), 'postgres', pg);
    await pg.transaction(async (c) => {
      const rows = (await c.query<{ key: string; value: unknown }>("SELECT key, value FROM state WHERE key IN ('notify-channels', 'notify-rules') FOR UPDATE")).rows;
      if (rows.length === 0) return;
      const take = (key: string) => rows.find((r) => r.key === key)?.value;
      for (const [sql, params] of adoption(take('notify-channels'), take('notify-rules'))) await c.query(`${pgText(sql)} ON CONFLICT DO NOTHING`, params);
      await c.query("DELETE FROM state WHERE key IN ('notify-channels', 'notify-rules')");
    });
    return store;
  }

  /** Run `fn` in one transaction where the backend has them across awaits (PostgreSQL); in order otherwise. */
  async transaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    if (this.pg) return this.pg.transaction((c) => fn(pgSql(c)));
    return fn(this.sql);
  }

  // ---- channels ----------------------------------------------------------------------------------------

  async listChannels(sql = this.sql): Promise<StoredChannel[]> {
    return (await sql.all<ChannelRecord>('SELECT * FROM notify_channels ORDER BY created_at, id')).map(channelFrom);
  }

  async getChannel(id: string): Promise<StoredChannel | undefined> {
    const [r] = await this.sql.all<ChannelRecord>('SELECT * FROM notify_channels WHERE id = ?', [id]);
    return r ? channelFrom(r) : undefined;
  }

  async channelIds(sql = this.sql): Promise<Set<string>> {
    return new Set((await sql.all<{ id: string }>('SELECT id FROM notify_channels')).map((r) => r.id));
  }

  async insertChannel(c: StoredChannel): Promise<void> {
    await this.sql.run('INSERT INTO notify_channels (id, name, type, config, scope, created_at) VALUES (?, ?, ?, ?, ?, ?)', channelParams(c));
  }

  async updateChannel(c: StoredChannel): Promise<void> {
    await this.sql.run('UPDATE notify_channels SET name = ?, config = ? WHERE id = ?', [c.name, JSON.stringify(c.config), c.id]);
  }

  /** The channel, and its id from every rule and tier (a tier left without channels is dropped). */
  async deleteChannel(id: string): Promise<void> {
    await this.transaction(async (sql) => {
      await sql.run('DELETE FROM notify_channels WHERE id = ?', [id]);
      for (const r of await this.listRules(sql)) {
        if (!r.channels.includes(id) && !r.escalation.some((t) => t.channels.includes(id))) continue;
        const changed: StoredRule = {
          ...r,
          channels: r.channels.filter((c) => c !== id),
          escalation: r.escalation.map((t) => ({ ...t, channels: t.channels.filter((c) => c !== id) })).filter((t) => t.channels.length > 0),
        };
        await sql.run('UPDATE notify_rules SET rule = ? WHERE id = ?', [JSON.stringify(changed), r.id]);
      }
    });
  }

  // ---- rules -------------------------------------------------------------------------------------------

  async listRules(sql = this.sql): Promise<StoredRule[]> {
    return (await sql.all<RuleRecord>('SELECT * FROM notify_rules ORDER BY created_at, id')).map(ruleFrom);
  }

  async getRule(id: string): Promise<StoredRule | undefined> {
    const [r] = await this.sql.all<RuleRecord>('SELECT * FROM notify_rules WHERE id = ?', [id]);
    return r ? ruleFrom(r) : undefined;
  }

  async insertRule(r: StoredRule): Promise<void> {
    await this.sql.run('INSERT INTO notify_rules (id, name, owner, rule, created_at) VALUES (?, ?, ?, ?, ?)', ruleParams(r));
  }

  async updateRule(r: StoredRule): Promise<void> {
    await this.sql.run('UPDATE notify_rules SET name = ?, rule = ? WHERE id = ?', [r.name, JSON.stringify(r), r.id]);
  }

  async deleteRule(id: string): Promise<void> {
    await this.sql.run('DELETE FROM notify_rules WHERE id = ?', [id]);
  }

  // ---- planning (notify/outbox.ts) ---------------------------------------------------------------------

  async existing(sql: Sql, alertId: string): Promise<ExistingRow[]> {
    return (await sql.all<RowRecord>('SELECT * FROM notify_outbox WHERE alert_id = ?', [alertId])).map((r) => {
      const o = fromRecord(r);
      return { channelId: o.channelId, reason: o.reason, status: o.status, language: o.language, ruleId: o.ruleId, dueAt: o.dueAt };
    });
  }

  /** New rows; a row whose key is there already is left as it is. */
  async insertRows(sql: Sql, rows: PlannedRow[], now: number, retryForMs: number): Promise<number> {
    let n = 0;
    for (const r of rows) {
      n += await sql.run(
        `INSERT INTO notify_outbox (id, alert_id, change_key, channel_id, rule_id, reason, change_at, language, body, ack, status, due_at, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        [r.id, r.alertId, r.changeKey, r.channelId, r.ruleId, r.reason, r.changeAt, r.language, r.body, r.ack ? 1 : 0, r.status, r.dueAt, now, Math.max(now, r.dueAt) + retryForMs],
      );
    }
    return n;
  }

  /** An acknowledgement, a fall or the end: tier messages not sent yet are not sent. */
  async cancelTiers(sql: Sql, alertId: string): Promise<number> {
    return sql.run(`UPDATE notify_outbox SET status = 'cancelled', lease_until = NULL, claimed_by = NULL WHERE alert_id = ? AND reason = 'tier' AND status IN ${CLAIMABLE}`, [alertId]);
  }

  async getMeta(key: string): Promise<string | undefined> {
    return (await this.sql.all<{ value: string }>('SELECT value FROM notify_meta WHERE key = ?', [key]))[0]?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.sql.run('INSERT INTO notify_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
  }

  // ---- sending -----------------------------------------------------------------------------------------

  /**
   * Due rows, claimed by `node` until `leaseUntil`: waiting ones whose time came and ones whose claim ran out (the
   * sender that held them died). PostgreSQL: `FOR UPDATE SKIP LOCKED`, so two senders never claim one row.
   */
  async claim(node: string, now: number, leaseUntil: number, limit: number): Promise<OutboxRow[]> {
    const lock = this.backend === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
    const rows = await this.sql.all<RowRecord>(
      `UPDATE notify_outbox SET status = 'sending', claimed_by = ?, lease_until = ? WHERE id IN (
         SELECT id FROM notify_outbox
         WHERE (status IN ${CLAIMABLE} AND due_at <= ?) OR (status = 'sending' AND lease_until < ?)
         ORDER BY due_at, created_at, id LIMIT ? ${lock})
       RETURNING *`,
      [node, leaseUntil, now, now, limit],
    );
    return rows.map(fromRecord).sort((a, b) => a.dueAt - b.dueAt || a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  /** A single node's start: what the previous process had claimed is claimable at once (nobody else sends). */
  async releaseClaims(): Promise<void> {
    await this.sql.run("UPDATE notify_outbox SET status = 'queued', claimed_by = NULL, lease_until = NULL WHERE status = 'sending'");
  }

  /** Messages a channel got since `since` (a digest counts once), the oldest of them, and when a waiting digest is due. */
  async window(channelId: string, since: number): Promise<{ sent: number; oldest: number | null; digestDue: number | null }> {
    const [w] = await this.sql.all<{ sent: number; oldest: number | null }>(
      "SELECT count(DISTINCT coalesce(group_key, id)) AS sent, min(sent_at) AS oldest FROM notify_outbox WHERE channel_id = ? AND status = 'sent' AND sent_at > ?",
      [channelId, since],
    );
    const [d] = await this.sql.all<{ due: number | null }>(`SELECT min(due_at) AS due FROM notify_outbox WHERE channel_id = ? AND in_digest = 1 AND status IN ${CLAIMABLE}`, [channelId]);
    return { sent: Number(w?.sent ?? 0), oldest: num(w?.oldest), digestDue: num(d?.due) };
  }

  /** Claimed rows handed back unsent: due at `dueAt`, into the channel's next digest when `inDigest`. */
  async defer(node: string, ids: string[], dueAt: number, inDigest: boolean): Promise<void> {
    for (const id of ids) {
      await this.sql.run(
        "UPDATE notify_outbox SET status = 'queued', due_at = ?, in_digest = ?, claimed_by = NULL, lease_until = NULL WHERE id = ? AND claimed_by = ? AND status = 'sending'",
        [dueAt, inDigest ? 1 : 0, id, node],
      );
    }
  }

  /**
   * The outcome of a claimed row: its attempt recorded (when there was one) and its new status. False when the
   * claim had been lost meanwhile (the attempt is recorded all the same).
   */
  async finish(node: string, id: string, attempt: Attempt | null, next: { status: DeliveryStatus; dueAt?: number; groupKey?: string | null }): Promise<boolean> {
    return this.transaction(async (sql) => {
      if (attempt) {
        await sql.run('INSERT INTO notify_attempts (outbox_id, at, ok, status, error) VALUES (?, ?, ?, ?, ?)', [id, attempt.at, attempt.ok ? 1 : 0, attempt.status, attempt.error]);
      }
      const changed = await sql.run(
        `UPDATE notify_outbox SET status = ?, due_at = coalesce(?, due_at), sent_at = ?, group_key = coalesce(?, group_key),
           attempts = attempts + ?, claimed_by = NULL, lease_until = NULL
         WHERE id = ? AND claimed_by = ? AND status = 'sending'`,
        [next.status, next.dueAt ?? null, next.status === 'sent' ? attempt?.at ?? Date.now() : null, next.groupKey ?? null, attempt ? 1 : 0, id, node],
      );
      return changed > 0;
    });
  }

  // ---- reading -----------------------------------------------------------------------------------------

  /** The alert's rows (oldest first), each with its attempts. */
  async deliveries(alertId: string): Promise<Array<OutboxRow & { attemptList: Attempt[] }>> {
    const rows = (await this.sql.all<RowRecord>('SELECT * FROM notify_outbox WHERE alert_id = ? ORDER BY change_at, due_at, created_at, id', [alertId])).map(fromRecord);
    if (rows.length === 0) return [];
    const attempts = await this.sql.all<{ outbox_id: string; at: number; ok: number; status: number | null; error: string | null }>(
      `SELECT a.outbox_id, a.at, a.ok, a.status, a.error FROM notify_attempts a JOIN notify_outbox o ON o.id = a.outbox_id WHERE o.alert_id = ? ORDER BY a.at`,
      [alertId],
    );
    return rows.map((r) => ({
      ...r,
      attemptList: attempts.filter((a) => a.outbox_id === r.id).map((a) => ({ at: Number(a.at), ok: Boolean(a.ok), status: num(a.status), error: a.error })),
    }));
  }

  async countByStatus(): Promise<Record<string, number>> {
    const rows = await this.sql.all<{ status: string; n: number }>('SELECT status, count(*) AS n FROM notify_outbox GROUP BY status');
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  /** Finished rows older than `before` go (with their attempts). */
  async prune(before: number): Promise<void> {
    await this.sql.run("DELETE FROM notify_outbox WHERE status IN ('sent', 'expired', 'cancelled') AND created_at < ?", [before]);
  }
}

const channelParams = (c: StoredChannel) => [c.id, c.name, c.type, JSON.stringify(c.config), JSON.stringify(c.scope), c.createdAt];
const ruleParams = (r: StoredRule) => [r.id, r.name, JSON.stringify(r.owner), JSON.stringify(r), r.createdAt];

/** Inserts that move the old state documents into the tables. */
function adoption(channels: unknown, rules: unknown): Array<[string, unknown[]]> {
  const out: Array<[string, unknown[]]> = [];
  for (const c of (Array.isArray(channels) ? channels : []) as Array<StoredChannel & { scope: Scope }>) {
    out.push(['INSERT INTO notify_channels (id, name, type, config, scope, created_at) VALUES (?, ?, ?, ?, ?, ?)', channelParams({ ...c, scope: scopeFromStored(c.scope) })]);
  }
  for (const r of (Array.isArray(rules) ? rules : []) as StoredRule[]) {
    out.push(['INSERT INTO notify_rules (id, name, owner, rule, created_at) VALUES (?, ?, ?, ?, ?)', ruleParams({ ...r, owner: scopeFromStored(r.owner) })]);
  }
  return out;
}
