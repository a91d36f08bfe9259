// CAP messages of a cluster (PostgreSQL alert store, PgAlertStore) are the messages of a single node (SQLite
// AlertStore) for the same alert changes: the same identifiers and bytes, whichever store the node reads.
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capMessages } from '../alerts/cap.js';
import type { Alert, AlertChange } from '../alerts/engine.js';
import { AlertStore, PgAlertStore } from '../alerts/store.js';
import { PgConnection } from '../registry/postgres.js';
import { CAP_XSD, xmllint } from './support/cap.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';

let server: PostgresServer;
let pg: PgConnection;

beforeAll(async () => {
  server = await startPostgres();
  pg = new PgConnection(server.url, pino({ level: 'silent' }));
  await pg.migrate();
}, 60_000);

afterAll(async () => {
  await pg?.close();
  await server?.stop();
});

const T0 = Date.UTC(2026, 11, 5, 1, 0, 0);
const alert = (over: Partial<Alert>): Alert => ({
  id: 'pg-alert-1', deviceId: 'flood-smd-01', kind: 'flood', rule: 'flood_level', severity: 'waspada', state: 'open', value: 120,
  message: '', openedAt: T0, acknowledgedAt: null, resolvedAt: null, ...over,
});
const changes: AlertChange[] = [
  { type: 'opened', at: T0, alert: alert({}) },
  { type: 'opened', at: T0 + 1, alert: alert({ id: 'other-alert', deviceId: 'flood-bpn-01', severity: 'awas', value: 230 }) },
  { type: 'escalated', at: T0 + 60_000, alert: alert({ severity: 'siaga', value: 170 }), previousSeverity: 'waspada' },
  { type: 'resolved', at: T0 + 120_000, alert: alert({ severity: 'siaga', value: 40, state: 'resolved', resolvedAt: T0 + 120_000 }) },
];

describe('CAP from the PostgreSQL alert store', () => {
  it('gives the same events, hence the same messages, as the SQLite store; the feed query finds recent and active alerts', async () => {
    const sqlite = new AlertStore(new Database(':memory:'));
    for (const c of changes) sqlite.record(c);
    for (const c of changes) {
      await pg.query('INSERT INTO alert_events (at, change) VALUES ($1, $2)', [c.at, JSON.stringify(c)]);
      const a = c.alert;
      await pg.query(
        `INSERT INTO alerts (id, device_id, kind, rule, severity, state, value, message, opened_at, acknowledged_at, resolved_at)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT (id) DO UPDATE SET state = excluded.state`,
        [a.id, a.deviceId, a.kind, a.rule, a.severity, a.state, a.value, a.message, a.openedAt, a.acknowledgedAt, a.resolvedAt],
      );
    }
    const store = new PgAlertStore(pg);
    const fromPg = await store.alertEvents('pg-alert-1');
    expect(fromPg).toEqual(sqlite.alertEvents('pg-alert-1'));
    expect(fromPg.map((e) => e.seq)).toEqual([1, 3, 4]);
    const ctx = { sender: 'pantau@cluster', baseUrl: 'https://pantau.test', device: { name: 'Pos A', district: 'Samarinda Ulu', city: 'Samarinda', lat: -0.5, lon: 117.1 } };
    const messages = capMessages(fromPg, ctx);
    expect(messages).toEqual(capMessages(sqlite.alertEvents('pg-alert-1'), ctx));
    expect(messages.map((m) => m.msgType)).toEqual(['Alert', 'Update', 'Cancel']);
    for (const m of messages) expect(xmllint(m.xml, CAP_XSD)).toBe('');

    // long after: only the still active alert is "current"; within the window both are
    expect((await store.recentAlertEvents(T0 + 86_400_000)).map((e) => e.change.alert.id)).toEqual(['other-alert']);
    expect(await store.recentAlertEvents(T0)).toEqual(sqlite.recentAlertEvents(T0));
    expect(sqlite.recentAlertEvents(T0 + 86_400_000).map((e) => e.change.alert.id)).toEqual(['other-alert']);
  });
});
