// The shared registry backend: PostgreSQL. Every write commits its audit entry in the same transaction and
// NOTIFYs `pantau_registry` with `{"t":<table>,"id":…}` (devices, api_keys, device_dev_eui, device_config, users;
// the id is the device's for device_dev_eui and device_config; a password set announces its person); password
// links, sign-in counters and console sessions are read from PostgreSQL when needed and announce nothing; each node's Registry re-reads that row into its memory (registry.ts), so
// a change through any node holds on every node within milliseconds.
import type { Kind } from '../catalog/index.js';
import type { Role } from './device.js';
import type { PgConnection } from './postgres.js';
import { scopeFromStored } from './scope.js';
import { DevEuiConflictError } from './store.js';
import type {
  AuditEntry, AuditWrite, ConfigState, DevEuiPair, RegistryStore, StatusWrite, StoreChange, StoredDevice, StoredKey, StoredPasswordLink, StoredSession, StoredUser,
} from './store.js';
import { fromLinkRow, fromSessionRow, fromUserRow, type LinkRow, type SessionRow, type UserRow } from './people-rows.js';
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
  public: boolean | null;
  token_hash: string;
  status: string;
  last_seen: number | null;
}

const TABLES = new Set<string>(['devices', 'api_keys', 'device_dev_eui', 'device_config', 'users'] satisfies Array<StoreChange['table']>);

interface ConfigRow {
  device_id: string;
  version: number;
  desired: Record<string, unknown>;
  updated_at: number;
  reported: Record<string, unknown> | null;
  reported_version: number | null;
  reported_at: number | null;
}

const fromConfigRow = (r: ConfigRow): ConfigState => ({
  desired: r.desired,
  version: r.version,
  updatedAt: r.updated_at,
  reported: r.reported,
  reportedVersion: r.reported_version,
  reportedAt: r.reported_at,
});

const DEVICE_COLUMNS = 'id, kind, name, city, district, lat, lon, thresholds, public, token_hash, status, last_seen';

export class PgStore implements RegistryStore {
  readonly backend = 'postgres' as const;

  constructor(readonly pg: PgConnection) {}

  /** Hear of rows changed through other nodes (and through this one: harmless, the row is re-read). */
  async subscribe(onChange: (change: StoreChange) => void, onResync: () => void): Promise<void> {
    this.pg.onReconnect(onResync);
    await this.pg.listen(REGISTRY_CHANNEL, (n) => {
      try {
        const m = JSON.parse(n.payload) as { t: StoreChange['table']; id: string; op?: string };
        if (TABLES.has(m.t) && typeof m.id === 'string') onChange({ table: m.t, id: m.id, deleted: m.op === 'delete' });
      } catch {
        // not ours
      }
    });
  }

  async loadDevices(): Promise<StoredDevice[]> {
    return (await this.pg.query<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices`)).rows.map(fromRow);
  }

  async loadKeys(): Promise<StoredKey[]> {
    return (await this.pg.query<KeyRow>('SELECT id, name, role, key_hash, scope, created_at FROM api_keys')).rows.map(fromKeyRow);
  }

  async fetchDevice(id: string): Promise<StoredDevice | undefined> {
    const row = (await this.pg.query<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = $1`, [id])).rows[0];
    return row ? fromRow(row) : undefined;
  }

  async fetchKey(id: string): Promise<StoredKey | undefined> {
    const row = (await this.pg.query<KeyRow>('SELECT id, name, role, key_hash, scope, created_at FROM api_keys WHERE id = $1', [id])).rows[0];
    return row ? fromKeyRow(row) : undefined;
  }

  async insertDevice(d: StoredDevice, createdAt: number, audit: AuditWrite): Promise<void> {
    await this.write('devices', d.id, audit, (c) =>
      c.query(
        `INSERT INTO devices (id, kind, name, city, district, lat, lon, thresholds, token_hash, status, created_at, public)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'never_seen', $10, $11)`,
        [d.id, d.kind, d.name, d.city, d.district, d.lat, d.lon, d.thresholds === null ? null : JSON.stringify(d.thresholds), d.tokenHash, createdAt, d.public],
      ),
    );
  }

  async insertDevices(devices: StoredDevice[], devEuis: DevEuiPair[], createdAt: number, actor: string): Promise<void> {
    if (devices.length === 0) return;
    await this.pg.transaction(async (c) => {
      if (devEuis.length > 0) {
        const taken = (await c.query<{ device_id: string; dev_eui: string }>('SELECT device_id, dev_eui FROM device_dev_eui WHERE dev_eui = ANY($1::text[])', [devEuis.map((p) => p.devEui)])).rows[0];
        if (taken) throw new DevEuiConflictError(`devEui ${taken.dev_eui} already belongs to device ${taken.device_id}`);
      }
      await c.query(
        `INSERT INTO devices (id, kind, name, city, district, lat, lon, thresholds, token_hash, status, created_at, public)
         SELECT d.id, d.kind, d.name, d.city, d.district, d.lat, d.lon, d.thresholds, d."tokenHash", 'never_seen', $2, d.public
         FROM jsonb_to_recordset($1::jsonb) AS d(id text, kind text, name text, city text, district text, lat double precision,
           lon double precision, thresholds jsonb, "tokenHash" text, public boolean)`,
        [JSON.stringify(devices), createdAt],
      );
      await c.query(
        `INSERT INTO audit (ts, actor, action, target) SELECT $1, $2, 'device.created', id FROM unnest($3::text[]) AS id`,
        [createdAt, actor, devices.map((d) => d.id)],
      );
      await c.query(`SELECT pg_notify($1, json_build_object('t', 'devices', 'id', id)::text) FROM unnest($2::text[]) AS id`, [REGISTRY_CHANNEL, devices.map((d) => d.id)]);
      if (devEuis.length > 0) {
        await c.query('INSERT INTO device_dev_eui (device_id, dev_eui) SELECT * FROM unnest($1::text[], $2::text[])', [devEuis.map((p) => p.deviceId), devEuis.map((p) => p.devEui)]);
        await c.query(`SELECT pg_notify($1, json_build_object('t', 'device_dev_eui', 'id', id)::text) FROM unnest($2::text[]) AS id`, [REGISTRY_CHANNEL, devEuis.map((p) => p.deviceId)]);
      }
    });
  }

  /**
   * Upgrade: DevEUIs and configurations an earlier build kept in a node's own SQLite file, taken for devices the
   * shared registry has, where it has no such DevEUI (first node wins) or an older configuration version.
   * Returns how many rows were taken.
   */
  async adoptNodeLocal(devEuis: DevEuiPair[], configs: Array<{ deviceId: string; state: ConfigState }>): Promise<number> {
    return this.pg.transaction(async (c) => {
      const euis = await c.query<{ device_id: string }>(
        `INSERT INTO device_dev_eui (device_id, dev_eui) SELECT u.id, u.eui FROM unnest($1::text[], $2::text[]) AS u(id, eui)
         WHERE EXISTS (SELECT 1 FROM devices d WHERE d.id = u.id) ON CONFLICT DO NOTHING RETURNING device_id`,
        [devEuis.map((p) => p.deviceId), devEuis.map((p) => p.devEui)],
      );
      const shadows = await c.query<{ device_id: string }>(
        `INSERT INTO device_config (device_id, version, desired, updated_at, reported, reported_version, reported_at)
         SELECT u."deviceId", u.version, u.desired, u."updatedAt", u.reported, u."reportedVersion", u."reportedAt"
         FROM jsonb_to_recordset($1::jsonb) AS u("deviceId" text, version integer, desired jsonb, "updatedAt" bigint, reported jsonb,
           "reportedVersion" integer, "reportedAt" bigint)
         WHERE EXISTS (SELECT 1 FROM devices d WHERE d.id = u."deviceId")
         ON CONFLICT (device_id) DO UPDATE SET version = excluded.version, desired = excluded.desired, updated_at = excluded.updated_at,
           reported = excluded.reported, reported_version = excluded.reported_version, reported_at = excluded.reported_at
         WHERE excluded.version > device_config.version
         RETURNING device_id`,
        [JSON.stringify(configs.map((k) => ({ deviceId: k.deviceId, ...k.state })))],
      );
      for (const [table, r] of [['device_dev_eui', euis], ['device_config', shadows]] as const) {
        await c.query(`SELECT pg_notify($1, json_build_object('t', $2::text, 'id', id)::text) FROM unnest($3::text[]) AS id`, [REGISTRY_CHANNEL, table, r.rows.map((x) => x.device_id)]);
      }
      return euis.rows.length + shadows.rows.length;
    });
  }

  async loadDevEuis(): Promise<DevEuiPair[]> {
    return (await this.pg.query<{ device_id: string; dev_eui: string }>('SELECT device_id, dev_eui FROM device_dev_eui')).rows.map((r) => ({ deviceId: r.device_id, devEui: r.dev_eui }));
  }

  async fetchDevEui(deviceId: string): Promise<string | undefined> {
    return (await this.pg.query<{ dev_eui: string }>('SELECT dev_eui FROM device_dev_eui WHERE device_id = $1', [deviceId])).rows[0]?.dev_eui;
  }

  async fetchDevEuiOwner(devEui: string): Promise<string | undefined> {
    return (await this.pg.query<{ device_id: string }>('SELECT device_id FROM device_dev_eui WHERE dev_eui = $1', [devEui])).rows[0]?.device_id;
  }

  async setDevEui(deviceId: string, devEui: string | null, audit: AuditWrite): Promise<boolean> {
    return this.write('device_dev_eui', deviceId, audit, async (c) => {
      // the device row locked: a concurrent delete waits for this transaction (or this one finds it gone)
      const exists = await c.query('SELECT 1 FROM devices WHERE id = $1 FOR SHARE', [deviceId]);
      if (exists.rowCount === 0) return exists;
      if (devEui === null) {
        await c.query('DELETE FROM device_dev_eui WHERE device_id = $1', [deviceId]);
        return exists;
      }
      const owner = (await c.query<{ device_id: string }>('SELECT device_id FROM device_dev_eui WHERE dev_eui = $1', [devEui])).rows[0]?.device_id;
      if (owner !== undefined && owner !== deviceId) throw new DevEuiConflictError(`devEui ${devEui} already belongs to device ${owner}`);
      return c.query(
        'INSERT INTO device_dev_eui (device_id, dev_eui) VALUES ($1, $2) ON CONFLICT (device_id) DO UPDATE SET dev_eui = excluded.dev_eui',
        [deviceId, devEui],
      );
    });
  }

  async loadConfigs(): Promise<Array<{ deviceId: string; state: ConfigState }>> {
    return (await this.pg.query<ConfigRow>('SELECT * FROM device_config')).rows.map((r) => ({ deviceId: r.device_id, state: fromConfigRow(r) }));
  }

  async fetchConfig(deviceId: string): Promise<ConfigState | undefined> {
    const row = (await this.pg.query<ConfigRow>('SELECT * FROM device_config WHERE device_id = $1', [deviceId])).rows[0];
    return row ? fromConfigRow(row) : undefined;
  }

  async putDesiredConfig(deviceId: string, desired: Record<string, unknown>, at: number, actor: string): Promise<ConfigState | undefined> {
    let row: ConfigRow | undefined;
    const stored = await this.write('device_config', deviceId, null, async (c) => {
      // concurrent pushes through two nodes: the row lock of the upsert serialises them, each gets its own version
      const r = await c.query<ConfigRow>(
        `INSERT INTO device_config (device_id, version, desired, updated_at) SELECT id, 1, $2::jsonb, $3 FROM devices WHERE id = $1
         ON CONFLICT (device_id) DO UPDATE SET version = device_config.version + 1, desired = excluded.desired, updated_at = excluded.updated_at
         RETURNING *`,
        [deviceId, JSON.stringify(desired), at],
      );
      row = r.rows[0];
      if (row) await c.query('INSERT INTO audit (ts, actor, action, target) VALUES ($1, $2, $3, $4)', [at, actor, 'device.config_updated', `${deviceId} v${row.version}`]);
      return r;
    });
    return stored && row ? fromConfigRow(row) : undefined;
  }

  async putReportedConfig(deviceId: string, version: number, config: Record<string, unknown>, at: number): Promise<ConfigState | undefined> {
    if (version < 1) return undefined;
    let row: ConfigRow | undefined;
    await this.write('device_config', deviceId, { actor: deviceId, action: 'device.config_reported', target: `${deviceId} v${version}` }, async (c) => {
      const r = await c.query<ConfigRow>(
        'UPDATE device_config SET reported = $2, reported_version = $3, reported_at = $4 WHERE device_id = $1 AND version >= $3 RETURNING *',
        [deviceId, JSON.stringify(config), version, at],
      );
      row = r.rows[0];
      return r;
    });
    return row ? fromConfigRow(row) : undefined;
  }

  async updateDevice(d: StoredDevice, audit: AuditWrite): Promise<boolean> {
    return this.write('devices', d.id, audit, (c) =>
      c.query('UPDATE devices SET name = $2, city = $3, district = $4, lat = $5, lon = $6, thresholds = $7, public = $8 WHERE id = $1', [
        d.id, d.name, d.city, d.district, d.lat, d.lon, d.thresholds === null ? null : JSON.stringify(d.thresholds), d.public,
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
      c.query('INSERT INTO api_keys (id, name, role, key_hash, created_at, scope) VALUES ($1, $2, $3, $4, $5, $6)', [k.id, k.name, k.role, k.keyHash, createdAt, JSON.stringify(k.scope)]),
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

  async updateKey(k: StoredKey, audit: AuditWrite): Promise<boolean> {
    return this.write('api_keys', k.id, audit, (c) =>
      c.query('UPDATE api_keys SET name = $2, role = $3, scope = $4 WHERE id = $1', [k.id, k.name, k.role, JSON.stringify(k.scope)]),
    );
  }

  async deleteKey(id: string, audit: AuditWrite): Promise<boolean> {
    return this.write('api_keys', id, audit, (c) => c.query('DELETE FROM api_keys WHERE id = $1', [id]), 'delete');
  }

  // ---- people, password links, console sessions (issue 20) --------------------------------------------

  async loadUsers(): Promise<StoredUser[]> {
    return (await this.pg.query<UserRow>('SELECT * FROM users')).rows.map(fromUserRow);
  }

  async fetchUser(id: string): Promise<StoredUser | undefined> {
    const row = (await this.pg.query<UserRow>('SELECT * FROM users WHERE id = $1', [id])).rows[0];
    return row ? fromUserRow(row) : undefined;
  }

  async fetchUserByUsername(username: string): Promise<StoredUser | undefined> {
    const row = (await this.pg.query<UserRow>('SELECT * FROM users WHERE username = $1', [username])).rows[0];
    return row ? fromUserRow(row) : undefined;
  }

  async insertUser(u: StoredUser, link: StoredPasswordLink | null, audit: AuditWrite): Promise<void> {
    await this.write('users', u.id, audit, async (c) => {
      const r = await c.query(
        'INSERT INTO users (id, username, name, role, scope, language, disabled, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
        [u.id, u.username, u.name, u.role, JSON.stringify(u.scope), u.language, u.disabled, u.passwordHash, u.createdAt],
      );
      if (link) await insertLink(c, link);
      return r;
    });
  }

  async updateUser(u: StoredUser, audit: AuditWrite, endSessions: boolean): Promise<boolean> {
    return this.write('users', u.id, audit, async (c) => {
      const r = await c.query('UPDATE users SET name = $2, role = $3, scope = $4, language = $5, disabled = $6 WHERE id = $1', [
        u.id, u.name, u.role, JSON.stringify(u.scope), u.language, u.disabled,
      ]);
      if (endSessions && (r.rowCount ?? 0) > 0) await c.query("DELETE FROM console_sessions WHERE principal_type = 'user' AND principal_id = $1", [u.id]);
      return r;
    });
  }

  async deleteUser(id: string, audit: AuditWrite): Promise<boolean> {
    return this.write('users', id, audit, async (c) => {
      // its password links go with it (ON DELETE CASCADE)
      const r = await c.query('DELETE FROM users WHERE id = $1', [id]);
      await c.query("DELETE FROM console_sessions WHERE principal_type = 'user' AND principal_id = $1", [id]);
      return r;
    }, 'delete');
  }

  async insertPasswordLink(link: StoredPasswordLink, audit: AuditWrite): Promise<boolean> {
    return this.pg.transaction(async (c) => {
      // the person's row locked: a concurrent delete waits, or this finds it gone
      const exists = await c.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [link.userId]);
      if (exists.rowCount === 0) return false;
      await insertLink(c, link);
      await c.query('INSERT INTO audit (ts, actor, action, target) VALUES ($1, $2, $3, $4)', [Date.now(), audit.actor, audit.action, audit.target]);
      return true;
    });
  }

  async fetchPasswordLink(tokenHash: string): Promise<StoredPasswordLink | undefined> {
    const row = (await this.pg.query<LinkRow>('SELECT * FROM password_links WHERE token_hash = $1', [tokenHash])).rows[0];
    return row ? fromLinkRow(row) : undefined;
  }

  async usePasswordLink(tokenHash: string, passwordHash: string, now: number, audit: AuditWrite): Promise<boolean> {
    return this.pg.transaction(async (c) => {
      const link = (await c.query<{ user_id: string }>(
        'UPDATE password_links SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND voided_at IS NULL AND expires_at > $2 RETURNING user_id',
        [tokenHash, now],
      )).rows[0];
      if (!link) return false;
      const r = await c.query('UPDATE users SET password_hash = $2, failed_logins = 0, locked_until = NULL WHERE id = $1', [link.user_id, passwordHash]);
      if ((r.rowCount ?? 0) === 0) return false;
      await c.query('INSERT INTO audit (ts, actor, action, target) VALUES ($1, $2, $3, $4)', [now, audit.actor, audit.action, audit.target]);
      // every node's list shows that the person now has a password
      await c.query('SELECT pg_notify($1, $2)', [REGISTRY_CHANNEL, JSON.stringify({ t: 'users', id: link.user_id })]);
      return true;
    });
  }

  async recordLoginFailure(id: string, max: number, lockMs: number, now: number): Promise<{ failedLogins: number; lockedUntil: number | null }> {
    // one statement: failures through two nodes at once are both counted
    const row = (await this.pg.query<{ failed_logins: number; locked_until: number | null }>(
      `UPDATE users SET
         locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END,
         failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END
       WHERE id = $1 RETURNING failed_logins, locked_until`,
      [id, max, now + lockMs],
    )).rows[0];
    return { failedLogins: row?.failed_logins ?? 0, lockedUntil: row?.locked_until ?? null };
  }

  async recordLoginSuccess(id: string): Promise<void> {
    await this.pg.query('UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1 AND (failed_logins <> 0 OR locked_until IS NOT NULL)', [id]);
  }

  async putSession(s: StoredSession): Promise<void> {
    await this.pg.query(
      `INSERT INTO console_sessions (id_hash, principal_type, principal_id, name, username, role, scope, csrf_token, created_at, last_used_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [s.idHash, s.principalType, s.principalId, s.name, s.username, s.role, JSON.stringify(s.scope), s.csrfToken, s.createdAt, s.lastUsedAt, s.expiresAt],
    );
  }

  async getSession(idHash: string): Promise<StoredSession | undefined> {
    const row = (await this.pg.query<SessionRow>('SELECT * FROM console_sessions WHERE id_hash = $1', [idHash])).rows[0];
    return row ? fromSessionRow(row) : undefined;
  }

  async touchSession(idHash: string, at: number): Promise<void> {
    await this.pg.query('UPDATE console_sessions SET last_used_at = $2 WHERE id_hash = $1 AND last_used_at < $2', [idHash, at]);
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.pg.query('DELETE FROM console_sessions WHERE id_hash = $1', [idHash]);
  }

  async deleteSessionsOf(principalType: 'key' | 'user', principalId: string): Promise<void> {
    await this.pg.query('DELETE FROM console_sessions WHERE principal_type = $1 AND principal_id = $2', [principalType, principalId]);
  }

  async sweepSessions(now: number, idleMs: number): Promise<void> {
    await this.pg.query('DELETE FROM console_sessions WHERE expires_at <= $1 OR last_used_at <= $2', [now, now - idleMs]);
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

/** A new link; the person's earlier unused links are voided (a newer link replaces them). */
async function insertLink(c: pg.PoolClient, l: StoredPasswordLink): Promise<void> {
  await c.query('UPDATE password_links SET voided_at = $2 WHERE user_id = $1 AND used_at IS NULL AND voided_at IS NULL', [l.userId, l.createdAt]);
  await c.query('INSERT INTO password_links (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)', [l.tokenHash, l.userId, l.createdAt, l.expiresAt]);
}

interface KeyRow {
  id: string;
  name: string;
  role: Role;
  key_hash: string;
  scope: unknown;
  created_at: string | number | null;
}

const fromKeyRow = (r: KeyRow): StoredKey => ({ id: r.id, name: r.name, role: r.role, keyHash: r.key_hash, scope: scopeFromStored(r.scope), createdAt: Number(r.created_at ?? 0) });

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
    public: row.public ?? null,
    tokenHash: row.token_hash,
    status: row.status as StoredDevice['status'],
    lastSeen: row.last_seen,
  };
}
