// Alerts kept for the API and for restarts: every alert (resolved ones too) in SQLite, and every change as an
// event with a sequence number — the SSE stream's `id`, so a client resumes with `Last-Event-ID`.
import type Database from 'better-sqlite3';
import type { Alert, AlertChange } from './engine.js';

export interface AlertFilter {
  state?: string;
  kind?: string;
  deviceId?: string;
  limit?: number;
}

export interface StoredEvent {
  seq: number;
  change: AlertChange;
}

export class AlertStore {
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
    const row = this.db.prepare('SELECT * FROM alerts WHERE id = ?').get(id) as Row | undefined;
    return row ? fromRow(row) : undefined;
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
    const sql = `SELECT * FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY opened_at DESC LIMIT @limit`;
    return (this.db.prepare(sql).all(params) as Row[]).map(fromRow);
  }

  eventsAfter(seq: number, limit = 1000): StoredEvent[] {
    const rows = this.db.prepare('SELECT seq, change FROM alert_events WHERE seq > ? ORDER BY seq LIMIT ?').all(seq, limit) as Array<{ seq: number; change: string }>;
    return rows.map((r) => ({ seq: r.seq, change: JSON.parse(r.change) as AlertChange }));
  }
}

interface Row {
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

function fromRow(r: Row): Alert {
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
