// Alerts kept for the API and for restarts: every alert (resolved ones too), and every change as an event with a
// sequence number — the SSE stream's `id`, so a client resumes with `Last-Event-ID`. In SQLite for one process
// (AlertStore); in PostgreSQL for a cluster (PgAlertStore: read side of every node; the alert owner writes
// the rows, alerts/owner-publish.ts).
import type Database from 'better-sqlite3';
import type { PgConnection } from '../registry/postgres.js';
import type { Alert, AlertChange } from './engine.js';

export interface AlertFilter {
  state?: string;
  kind?: string;
  deviceId?: string;
  /** Only alerts of these devices (a scoped caller's visible devices); [] matches none. */
  deviceIds?: string[];
  limit?: number;
}

export interface StoredEvent {
  seq: number;
  change: AlertChange;
}

export class AlertStore implements AlertReader {
  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS alerts (
        id TEXT PRIMARY KEY, device_id TEXT NOT NULL, kind TEXT NOT NULL, rule TEXT NOT NULL, severity TEXT NOT NULL,
        state TEXT NOT NULL, value REAL NOT NULL, message TEXT NOT NULL, opened_at INTEGER NOT NULL,
        acknowledged_at INTEGER, resolved_at INTEGER
      );
      CREATE INDEX IF NOT EXISTS alerts_state ON alerts (state, opened_at);
      CREATE TABLE IF NOT EXISTS alert_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, change TEXT NOT NULL);
    `);
  }

  /**
   * Save alert changes (in order) together with the alert engine's state after them, in one transaction: a crash
   * leaves both or neither, so a restarted engine never misses an alert that is stored as open (it would stay open
   * forever, and the next breach would open a second one). Returns the changes' sequence numbers.
   */
  recordAll(changes: AlertChange[], state?: { key: string; value: () => unknown }): number[] {
    return this.db.transaction(() => {
      const seqs = changes.map((c) => this.record(c));
      if (state) this.db.prepare('INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(state.key, JSON.stringify(state.value()));
      return seqs;
    })();
  }

  /** Save the alert's new state and the change; returns the change's sequence number. */
  record(change: AlertChange): number {
    const a = change.alert;
    this.db
      .prepare(
        `INSERT INTO alerts (id, device_id, kind, rule, severity, state, value, message, opened_at, acknowledged_at, resolved_at)
         VALUES (@id, @deviceId, @kind, @rule, @severity, @state, @value, @message, @openedAt, @acknowledgedAt, @resolvedAt)
         ON CONFLICT(id) DO UPDATE SET severity = excluded.severity, state = excluded.state, value = excluded.value,
           message = excluded.message, acknowledged_at = excluded.acknowledged_at, resolved_at = excluded.resolved_at`,
      )
      .run(a);
    const result = this.db.prepare('INSERT INTO alert_events (at, change) VALUES (?, ?)').run(change.at, JSON.stringify(change));
    // keep the event log bounded: resuming a week-old stream is not a use case
    if (Number(result.lastInsertRowid) % 1000 === 0) this.db.prepare('DELETE FROM alert_events WHERE seq <= ?').run(Number(result.lastInsertRowid) - 50_000);
    return Number(result.lastInsertRowid);
  }

  get(id: string): Alert | undefined {
    const row = this.db.prepare('SELECT * FROM alerts WHERE id = ?').get(id) as AlertRow | undefined;
    return row ? alertFromRow(row) : undefined;
  }

  list(filter: AlertFilter): Alert[] {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: filter.limit ?? 500 };
    if (filter.state) {
      where.push('state = @state');
      params.state = filter.state;
    }
    if (filter.kind) {
      where.push('kind = @kind');
      params.kind = filter.kind;
    }
    if (filter.deviceId) {
      where.push('device_id = @deviceId');
      params.deviceId = filter.deviceId;
    }
    if (filter.deviceIds) {
      where.push('device_id IN (SELECT value FROM json_each(@deviceIds))');
      params.deviceIds = JSON.stringify(filter.deviceIds);
    }
    const sql = `SELECT * FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY opened_at DESC LIMIT @limit`;
    return (this.db.prepare(sql).all(params) as AlertRow[]).map(alertFromRow);
  }

  eventsAfter(seq: number, limit = 1000): StoredEvent[] {
    const rows = this.db.prepare('SELECT seq, change FROM alert_events WHERE seq > ? ORDER BY seq LIMIT ?').all(seq, limit) as Array<{ seq: number; change: string }>;
    return rows.map((r) => ({ seq: r.seq, change: JSON.parse(r.change) as AlertChange }));
  }

  /** CAP (alerts/cap.ts): every stored event of one alert, oldest first. */
  alertEvents(alertId: string): StoredEvent[] {
    const rows = this.db.prepare("SELECT seq, change FROM alert_events WHERE json_extract(change, '$.alert.id') = ? ORDER BY seq").all(alertId) as Array<{ seq: number; change: string }>;
    return rows.map((r) => ({ seq: r.seq, change: JSON.parse(r.change) as AlertChange }));
  }

  /** CAP feed: every stored event of the alerts changed since `sinceMs` or still active, oldest first. */
  recentAlertEvents(sinceMs: number): StoredEvent[] {
    const rows = this.db
      .prepare(
        `SELECT seq, change FROM alert_events WHERE json_extract(change, '$.alert.id') IN (
           SELECT json_extract(change, '$.alert.id') FROM alert_events WHERE at >= ?
           UNION SELECT id FROM alerts WHERE state <> 'resolved') ORDER BY seq`,
      )
      .all(sinceMs) as Array<{ seq: number; change: string }>;
    return rows.map((r) => ({ seq: r.seq, change: JSON.parse(r.change) as AlertChange }));
  }
}

/** What the API and the live stream read: alerts and the recent event log. */
export interface AlertReader {
  list(filter: AlertFilter): Alert[] | Promise<Alert[]>;
  get(id: string): Alert | undefined | Promise<Alert | undefined>;
  eventsAfter(seq: number, limit?: number): StoredEvent[];
  alertEvents(alertId: string): StoredEvent[] | Promise<StoredEvent[]>;
  recentAlertEvents(sinceMs: number): StoredEvent[] | Promise<StoredEvent[]>;
}

/**
 * The cluster's alerts, read from PostgreSQL. `list` and `get` query it; the event log is mirrored in memory
 * (the newest `keep` events, fed by the owner's notifications through `apply`) so that every node's live stream
 * pushes and resumes alert events without a query per client.
 */
export class PgAlertStore implements AlertReader {
  private readonly recent: StoredEvent[] = [];

  constructor(private readonly pg: PgConnection, private readonly keep = 5000) {}

  async list(filter: AlertFilter): Promise<Alert[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (filter.state) add('state = ?', filter.state);
    if (filter.kind) add('kind = ?', filter.kind);
    if (filter.deviceId) add('device_id = ?', filter.deviceId);
    if (filter.deviceIds) add('device_id = ANY(?::text[])', filter.deviceIds);
    params.push(filter.limit ?? 500);
    const sql = `SELECT * FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY opened_at DESC LIMIT $${params.length}`;
    return (await this.pg.query<AlertRow>(sql, params)).rows.map(alertFromRow);
  }

  async get(id: string): Promise<Alert | undefined> {
    const row = (await this.pg.query<AlertRow>('SELECT * FROM alerts WHERE id = $1', [id])).rows[0];
    return row ? alertFromRow(row) : undefined;
  }

  async active(): Promise<Alert[]> {
    return (await this.pg.query<AlertRow>("SELECT * FROM alerts WHERE state <> 'resolved'")).rows.map(alertFromRow);
  }

  /** Events after `seq` from PostgreSQL, oldest first. */
  async fetchAfter(seq: number, limit = 1000): Promise<StoredEvent[]> {
    const rows = (await this.pg.query<{ seq: number; change: AlertChange }>('SELECT seq, change FROM alert_events WHERE seq > $1 ORDER BY seq LIMIT $2', [seq, limit])).rows;
    return rows.map((r) => ({ seq: r.seq, change: r.change }));
  }

  async alertEvents(alertId: string): Promise<StoredEvent[]> {
    const rows = (await this.pg.query<{ seq: number; change: AlertChange }>("SELECT seq, change FROM alert_events WHERE change->'alert'->>'id' = $1 ORDER BY seq", [alertId])).rows;
    return rows.map((r) => ({ seq: Number(r.seq), change: r.change }));
  }

  async recentAlertEvents(sinceMs: number): Promise<StoredEvent[]> {
    const rows = (
      await this.pg.query<{ seq: number; change: AlertChange }>(
        `SELECT seq, change FROM alert_events WHERE change->'alert'->>'id' IN (
           SELECT change->'alert'->>'id' FROM alert_events WHERE at >= $1
           UNION SELECT id FROM alerts WHERE state <> 'resolved') ORDER BY seq`,
        [sinceMs],
      )
    ).rows;
    return rows.map((r) => ({ seq: Number(r.seq), change: r.change }));
  }

  async lastSeq(): Promise<number> {
    return (await this.pg.query<{ seq: number | null }>('SELECT max(seq) AS seq FROM alert_events')).rows[0]?.seq ?? 0;
  }

  /** Remember an event for `eventsAfter` (called in seq order). */
  apply(event: StoredEvent): void {
    this.recent.push(event);
    if (this.recent.length > this.keep) this.recent.splice(0, this.recent.length - this.keep);
  }

  eventsAfter(seq: number, limit = 1000): StoredEvent[] {
    const out: StoredEvent[] = [];
    for (const e of this.recent) {
      if (e.seq <= seq) continue;
      out.push(e);
      if (out.length >= limit) break;
    }
    return out;
  }
}

export interface AlertRow {
  id: string;
  device_id: string;
  kind: Alert['kind'];
  rule: string;
  severity: Alert['severity'];
  state: Alert['state'];
  value: number;
  message: string;
  opened_at: number;
  acknowledged_at: number | null;
  resolved_at: number | null;
}

export function alertFromRow(r: AlertRow): Alert {
  return {
    id: r.id,
    deviceId: r.device_id,
    kind: r.kind,
    rule: r.rule,
    severity: r.severity,
    state: r.state,
    value: r.value,
    message: r.message,
    openedAt: r.opened_at,
    acknowledgedAt: r.acknowledged_at,
    resolvedAt: r.resolved_at,
  };
}
