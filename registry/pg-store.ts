// The shared registry backend: PostgreSQL. Every write commits its audit entry in the same transaction and
// NOTIFYs `pantau_registry` with `{"t":"devices"|"api_keys","id":…}`; each node's Registry re-reads that row
// into its memory (registry.ts), so a change through any node holds on every node within milliseconds.
import type { Kind } from '../catalog/index.js';
import type { Role } from './device.js';
import type { PgConnection } from './postgres.js';
import type { AuditEntry, AuditWrite, RegistryStore, StatusWrite, StoreChange, StoredDevice, StoredKey } from './store.js';
import type pg from 'pg';

export const REGISTRY_CHANNEL = 'pantau_registry';

interface DeviceRow {
  id: string;
  kind: Kind;
  name: string;
  city: string;
  district: string;
  lat: number;
  lon: number;
  thresholds: Record<string, unknown> | null;
  token_hash: string;
  status: string;
  last_seen: number | null;
}

const DEVICE_COLUMNS = 'id, kind, name, city, district, lat, lon, thresholds, token_hash, status, last_seen';

export class PgStore implements RegistryStore {
  readonly backend = 'postgres' as const;

  constructor(readonly pg: PgConnection) {}

  /** Hear of rows changed through other nodes (and through this one: harmless, the row is re-read). */
  async subscribe(onChange: (change: StoreChange) => void, onResync: () => void): Promise<void> {
    this.pg.onReconnect(onResync);
    await this.pg.listen(REGISTRY_CHANNEL, (n) => {
      try {
        const m = JSON.parse(n.payload) as { t: StoreChange['table']; id: string; op?: string };
        if ((m.t === 'devices' || m.t === 'api_keys') && typeof m.id === 'string') onChange({ table: m.t, id: m.id, deleted: m.op === 'delete' });
      } catch {
        // not ours
      }
    });
  }

  async loadDevices(): Promise<StoredDevice[]> {
    return (await this.pg.query<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices`)).rows.map(fromRow);
  }

  async loadKeys(): Promise<StoredKey[]> {
    return (await this.pg.query<KeyRow>('SELECT id, name, role, key_hash FROM api_keys')).rows.map(fromKeyRow);
  }

  async fetchDevice(id: string): Promise<StoredDevice | undefined> {
    const row = (await this.pg.query<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = $1`, [id])).rows[0];
    return row ? fromRow(row) : undefined;
  }

  async fetchKey(id: string): Promise<StoredKey | undefined> {
    const row = (await this.pg.query<KeyRow>('SELECT id, name, role, key_hash FROM api_keys WHERE id = $1', [id])).rows[0];
    return row ? fromKeyRow(row) : undefined;
  }

  async insertDevice(d: StoredDevice, createdAt: number, audit: AuditWrite): Promise<void> {
    await this.write('devices', d.id, audit, (c) =>
      c.query(
        `INSERT INTO devices (id, kind, name, city, district, lat, lon, thresholds, token_hash, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'never_seen', $10)`,
        [d.id, d.kind, d.name, d.city, d.district, d.lat, d.lon, d.thresholds === null ? null : JSON.stringify(d.thresholds), d.tokenHash, createdAt],
      ),
    );
  }

  /** Many devices in one transaction (bulk import, fleet file): all or none. */
  async insertDevices(devices: StoredDevice[], createdAt: number, actor: string): Promise<void> {
    if (devices.length === 0) return;
    await this.pg.transaction(async (c) => {
      await c.query(
        `INSERT INTO devices (id, kind, name, city, district, lat, lon, thresholds, token_hash, status, created_at)
         SELECT d.id, d.kind, d.name, d.city, d.district, d.lat, d.lon, d.thresholds, d."tokenHash", 'never_seen', $2
         FROM jsonb_to_recordset($1::jsonb) AS d(id text, kind text, name text, city text, district text, lat double precision,
           lon double precision, thresholds jsonb, "tokenHash" text)`,
        [JSON.stringify(devices), createdAt],
      );
      await c.query(
        `INSERT INTO audit (ts, actor, action, target) SELECT $1, $2, 'device.created', id FROM unnest($3::text[]) AS id`,
        [createdAt, actor, devices.map((d) => d.id)],
      );
      await c.query(`SELECT pg_notify($1, json_build_object('t', 'devices', 'id', id)::text) FROM unnest($2::text[]) AS id`, [REGISTRY_CHANNEL, devices.map((d) => d.id)]);
    });
  }

  async updateDevice(d: StoredDevice, audit: AuditWrite): Promise<boolean> {
    return this.write('devices', d.id, audit, (c) =>
      c.query('UPDATE devices SET name = $2, city = $3, district = $4, lat = $5, lon = $6, thresholds = $7 WHERE id = $1', [
        d.id, d.name, d.city, d.district, d.lat, d.lon, d.thresholds === null ? null : JSON.stringify(d.thresholds),
      ]),
    );
  }

  async deleteDevice(id: string, audit: AuditWrite): Promise<boolean> {
    return this.write('devices', id, audit, (c) => c.query('DELETE FROM devices WHERE id = $1', [id]), 'delete');
  }

  async setTokenHash(id: string, tokenHash: string, audit: AuditWrite): Promise<boolean> {
    return this.write('devices', id, audit, (c) => c.query('UPDATE devices SET token_hash = $2 WHERE id = $1', [id, tokenHash]));
  }

  async insertKey(k: StoredKey, createdAt: number, audit: AuditWrite | null): Promise<void> {
    await this.write('api_keys', k.id, audit, (c) =>
      c.query('INSERT INTO api_keys (id, name, role, key_hash, created_at) VALUES ($1, $2, $3, $4, $5)', [k.id, k.name, k.role, k.keyHash, createdAt]),
    );
  }

  async upsertKey(k: StoredKey, createdAt: number): Promise<void> {
    await this.write('api_keys', k.id, null, (c) =>
      c.query(
        'INSERT INTO api_keys (id, name, role, key_hash, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET key_hash = excluded.key_hash',
        [k.id, k.name, k.role, k.keyHash, createdAt],
      ),
    );
  }

  async deleteKey(id: string, audit: AuditWrite): Promise<boolean> {
    return this.write('api_keys', id, audit, (c) => c.query('DELETE FROM api_keys WHERE id = $1', [id]), 'delete');
  }

  async audit(entry: AuditWrite): Promise<void> {
    await this.pg.query('INSERT INTO audit (ts, actor, action, target) VALUES ($1, $2, $3, $4)', [Date.now(), entry.actor, entry.action, entry.target]);
  }

  async auditLog(limit: number): Promise<AuditEntry[]> {
    const rows = (await this.pg.query<{ ts: number; actor: string; action: string; target: string }>(
      'SELECT ts, actor, action, target FROM audit ORDER BY seq DESC LIMIT $1',
      [limit],
    )).rows;
    return rows.map((r) => ({ ...r, ts: new Date(r.ts).toISOString() }));
  }

  async getState(key: string): Promise<unknown> {
    return (await this.pg.query<{ value: unknown }>('SELECT value FROM state WHERE key = $1', [key])).rows[0]?.value;
  }

  async setState(key: string, value: unknown): Promise<void> {
    await this.pg.query('INSERT INTO state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, JSON.stringify(value)]);
  }

  async flushStatus(rows: StatusWrite[]): Promise<void> {
    if (rows.length === 0) return;
    // several nodes see the same device: lastSeen only moves forward
    await this.pg.query(
      `UPDATE devices d SET status = u.status, last_seen = GREATEST(d.last_seen, u.last_seen)
       FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(id, status, last_seen) WHERE d.id = u.id`,
      [rows.map((r) => r.id), rows.map((r) => r.status), rows.map((r) => r.lastSeen)],
    );
  }

  usable(): boolean {
    return this.pg.usable;
  }

  async close(): Promise<void> {
    await this.pg.close();
  }

  /** One write: the statement, its audit entry and the notification, in one transaction. */
  private async write(table: StoreChange['table'], id: string, audit: AuditWrite | null, statement: (c: pg.PoolClient) => Promise<pg.QueryResult>, op?: 'delete'): Promise<boolean> {
    return this.pg.transaction(async (c) => {
      const r = await statement(c);
      if ((r.rowCount ?? 0) === 0) return false;
      if (audit) await c.query('INSERT INTO audit (ts, actor, action, target) VALUES ($1, $2, $3, $4)', [Date.now(), audit.actor, audit.action, audit.target]);
      await c.query('SELECT pg_notify($1, $2)', [REGISTRY_CHANNEL, JSON.stringify(op ? { t: table, id, op } : { t: table, id })]);
      return true;
    });
  }
}

interface KeyRow {
  id: string;
  name: string;
  role: Role;
  key_hash: string;
}

const fromKeyRow = (r: KeyRow): StoredKey => ({ id: r.id, name: r.name, role: r.role, keyHash: r.key_hash });

function fromRow(row: DeviceRow): StoredDevice {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    city: row.city,
    district: row.district,
    lat: row.lat,
    lon: row.lon,
    thresholds: row.thresholds,
    tokenHash: row.token_hash,
    status: row.status as StoredDevice['status'],
    lastSeen: row.last_seen,
  };
}
