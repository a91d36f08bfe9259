// The embedded registry backend: SQLite (better-sqlite3) in PANTAU_DATA_DIR/registry.sqlite. Synchronous
// underneath; the async methods of RegistryStore resolve at once.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Kind } from '../catalog/index.js';
import type { Role } from './device.js';
import { scopeFromStored } from './scope.js';
import { fromLinkRow, fromSessionRow, fromUserRow, type LinkRow, type SessionRow, type UserRow } from './people-rows.js';
import {
  ConflictError,
  DevEuiConflictError,
  type AuditEntry,
  type AuditWrite,
  type ConfigState,
  type DevEuiPair,
  type RegistryStore,
  type StatusWrite,
  type StoredDevice,
  type StoredKey,
  type StoredPasswordLink,
  type StoredSession,
  type StoredUser,
} from './store.js';

interface DeviceRow {
  id: string;
  kind: Kind;
  name: string;
  city: string;
  district: string;
  lat: number;
  lon: number;
  thresholds: string | null;
  /** 1 / 0, or NULL for the kind's default. */
  public: number | null;
  token_hash: string;
  status: string;
  last_seen: number | null;
}

export class SqliteStore implements RegistryStore {
  readonly backend = 'sqlite' as const;
  readonly db: Database.Database;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.db = new Database(join(dataDir, 'registry.sqlite'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS devices (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, city TEXT NOT NULL, district TEXT NOT NULL,
        lat REAL NOT NULL, lon REAL NOT NULL, thresholds TEXT, token_hash TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'never_seen', last_seen INTEGER, created_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS api_keys (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, key_hash TEXT NOT NULL, created_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
        target TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS device_dev_eui (
        device_id TEXT PRIMARY KEY, dev_eui TEXT NOT NULL UNIQUE
      );
      CREATE TABLE IF NOT EXISTS device_config (
        device_id TEXT PRIMARY KEY, version INTEGER NOT NULL, desired TEXT NOT NULL, updated_at INTEGER NOT NULL,
        reported TEXT, reported_version INTEGER, reported_at INTEGER
      );
    `);
    // issue 20: keys carry a scope (JSON; NULL = unscoped, as every key made before scopes existed)
    const keyColumns = (this.db.prepare('PRAGMA table_info(api_keys)').all() as Array<{ name: string }>).map((c) => c.name);
    if (!keyColumns.includes('scope')) this.db.exec('ALTER TABLE api_keys ADD COLUMN scope TEXT');
    // issue 22: a device's own public flag (1 / 0; NULL = its kind's default, catalog/public.ts)
    const deviceColumns = (this.db.prepare('PRAGMA table_info(devices)').all() as Array<{ name: string }>).map((c) => c.name);
    if (!deviceColumns.includes('public')) this.db.exec('ALTER TABLE devices ADD COLUMN public INTEGER');
    // issue 20: people, their one-time password links and console sessions (the same tables as PostgreSQL's
    // migration 4); links and sessions by the SHA-256 of their token or id, never the secret itself
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS users (
        id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, name TEXT NOT NULL, role TEXT NOT NULL, scope TEXT,
        language TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, password_hash TEXT, created_at INTEGER NOT NULL,
        failed_logins INTEGER NOT NULL DEFAULT 0, locked_until INTEGER
      );
      CREATE TABLE IF NOT EXISTS password_links (
        token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
        used_at INTEGER, voided_at INTEGER
      );
      CREATE INDEX IF NOT EXISTS password_links_user ON password_links (user_id);
      CREATE TABLE IF NOT EXISTS console_sessions (
        id_hash TEXT PRIMARY KEY, principal_type TEXT NOT NULL, principal_id TEXT NOT NULL, name TEXT NOT NULL,
        username TEXT, role TEXT NOT NULL, scope TEXT, csrf_token TEXT NOT NULL, created_at INTEGER NOT NULL,
        last_used_at INTEGER NOT NULL, expires_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS console_sessions_principal ON console_sessions (principal_type, principal_id);
    `);
  }

  // ---- people, password links, console sessions (issue 20) --------------------------------------------

  loadUsersSync(): StoredUser[] {
    return (this.db.prepare('SELECT * FROM users').all() as UserRow[]).map(fromUserRow);
  }

  async loadUsers(): Promise<StoredUser[]> {
    return this.loadUsersSync();
  }

  async fetchUser(id: string): Promise<StoredUser | undefined> {
    const row = this.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined;
    return row ? fromUserRow(row) : undefined;
  }

  async fetchUserByUsername(username: string): Promise<StoredUser | undefined> {
    const row = this.db.prepare('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined;
    return row ? fromUserRow(row) : undefined;
  }

  async insertUser(u: StoredUser, link: StoredPasswordLink | null, audit: AuditWrite): Promise<void> {
    this.db.transaction(() => {
      if (this.db.prepare('SELECT 1 FROM users WHERE username = ? OR id = ?').get(u.username, u.id)) throw new ConflictError(`username ${u.username} is taken`);
      this.db
        .prepare('INSERT INTO users (id, username, name, role, scope, language, disabled, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(u.id, u.username, u.name, u.role, JSON.stringify(u.scope), u.language, u.disabled ? 1 : 0, u.passwordHash, u.createdAt);
      if (link) this.insertLinkSync(link);
      this.auditSync(audit);
    })();
  }

  async updateUser(u: StoredUser, audit: AuditWrite, endSessions: boolean): Promise<boolean> {
    return this.db.transaction(() => {
      const r = this.db
        .prepare('UPDATE users SET name = ?, role = ?, scope = ?, language = ?, disabled = ? WHERE id = ?')
        .run(u.name, u.role, JSON.stringify(u.scope), u.language, u.disabled ? 1 : 0, u.id);
      if (r.changes === 0) return false;
      if (endSessions) this.db.prepare("DELETE FROM console_sessions WHERE principal_type = 'user' AND principal_id = ?").run(u.id);
      this.auditSync(audit);
      return true;
    })();
  }

  async deleteUser(id: string, audit: AuditWrite): Promise<boolean> {
    return this.db.transaction(() => {
      const r = this.db.prepare('DELETE FROM users WHERE id = ?').run(id);
      if (r.changes === 0) return false;
      this.db.prepare('DELETE FROM password_links WHERE user_id = ?').run(id);
      this.db.prepare("DELETE FROM console_sessions WHERE principal_type = 'user' AND principal_id = ?").run(id);
      this.auditSync(audit);
      return true;
    })();
  }

  private insertLinkSync(l: StoredPasswordLink): void {
    this.db.prepare('UPDATE password_links SET voided_at = ? WHERE user_id = ? AND used_at IS NULL AND voided_at IS NULL').run(l.createdAt, l.userId);
    this.db
      .prepare('INSERT INTO password_links (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)')
      .run(l.tokenHash, l.userId, l.createdAt, l.expiresAt);
  }

  async insertPasswordLink(link: StoredPasswordLink, audit: AuditWrite): Promise<boolean> {
    return this.db.transaction(() => {
      if (!this.db.prepare('SELECT 1 FROM users WHERE id = ?').get(link.userId)) return false;
      this.insertLinkSync(link);
      this.auditSync(audit);
      return true;
    })();
  }

  async fetchPasswordLink(tokenHash: string): Promise<StoredPasswordLink | undefined> {
    const row = this.db.prepare('SELECT * FROM password_links WHERE token_hash = ?').get(tokenHash) as LinkRow | undefined;
    return row ? fromLinkRow(row) : undefined;
  }

  async usePasswordLink(tokenHash: string, passwordHash: string, now: number, audit: AuditWrite): Promise<boolean> {
    return this.db.transaction(() => {
      const link = this.db
        .prepare('UPDATE password_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND voided_at IS NULL AND expires_at > ? RETURNING user_id')
        .get(now, tokenHash, now) as { user_id: string } | undefined;
      if (!link) return false;
      const r = this.db.prepare('UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL WHERE id = ?').run(passwordHash, link.user_id);
      if (r.changes === 0) return false;
      this.auditSync(audit);
      return true;
    })();
  }

  async recordLoginFailure(id: string, max: number, lockMs: number, now: number): Promise<{ failedLogins: number; lockedUntil: number | null }> {
    const row = this.db
      .prepare(
        `UPDATE users SET
           locked_until = CASE WHEN failed_logins + 1 >= ? THEN ? ELSE locked_until END,
           failed_logins = CASE WHEN failed_logins + 1 >= ? THEN 0 ELSE failed_logins + 1 END
         WHERE id = ? RETURNING failed_logins, locked_until`,
      )
      .get(max, now + lockMs, max, id) as { failed_logins: number; locked_until: number | null } | undefined;
    return { failedLogins: row?.failed_logins ?? 0, lockedUntil: row?.locked_until ?? null };
  }

  async recordLoginSuccess(id: string): Promise<void> {
    this.db.prepare('UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ? AND (failed_logins <> 0 OR locked_until IS NOT NULL)').run(id);
  }

  async putSession(s: StoredSession): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO console_sessions (id_hash, principal_type, principal_id, name, username, role, scope, csrf_token, created_at, last_used_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(s.idHash, s.principalType, s.principalId, s.name, s.username, s.role, JSON.stringify(s.scope), s.csrfToken, s.createdAt, s.lastUsedAt, s.expiresAt);
  }

  async getSession(idHash: string): Promise<StoredSession | undefined> {
    const row = this.db.prepare('SELECT * FROM console_sessions WHERE id_hash = ?').get(idHash) as SessionRow | undefined;
    return row ? fromSessionRow(row) : undefined;
  }

  async touchSession(idHash: string, at: number): Promise<void> {
    this.db.prepare('UPDATE console_sessions SET last_used_at = ? WHERE id_hash = ? AND last_used_at < ?').run(at, idHash, at);
  }

  async deleteSession(idHash: string): Promise<void> {
    this.db.prepare('DELETE FROM console_sessions WHERE id_hash = ?').run(idHash);
  }

  async deleteSessionsOf(principalType: 'key' | 'user', principalId: string): Promise<void> {
    this.db.prepare('DELETE FROM console_sessions WHERE principal_type = ? AND principal_id = ?').run(principalType, principalId);
  }

  async sweepSessions(now: number, idleMs: number): Promise<void> {
    this.db.prepare('DELETE FROM console_sessions WHERE expires_at <= ? OR last_used_at <= ?').run(now, now - idleMs);
  }

  loadDevEuisSync(): DevEuiPair[] {
    return (this.db.prepare('SELECT device_id, dev_eui FROM device_dev_eui').all() as Array<{ device_id: string; dev_eui: string }>)
      .map((r) => ({ deviceId: r.device_id, devEui: r.dev_eui }));
  }

  loadConfigsSync(): Array<{ deviceId: string; state: ConfigState }> {
    return (this.db.prepare('SELECT * FROM device_config').all() as ConfigRow[]).map((row) => ({ deviceId: row.device_id, state: fromConfigRow(row) }));
  }

  loadDevicesSync(): StoredDevice[] {
    return (this.db.prepare('SELECT * FROM devices').all() as DeviceRow[]).map(fromRow);
  }

  loadKeysSync(): StoredKey[] {
    return (this.db.prepare('SELECT id, name, role, key_hash, scope, created_at FROM api_keys').all() as KeyRow[]).map(fromKeyRow);
  }

  getStateSync(key: string): unknown {
    const row = this.db.prepare('SELECT value FROM state WHERE key = ?').get(key) as { value: string } | undefined;
    return row ? JSON.parse(row.value) : undefined;
  }

  setStateSync(key: string, value: unknown): void {
    this.db.prepare('INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, JSON.stringify(value));
  }

  auditSync(entry: AuditWrite): void {
    this.db.prepare('INSERT INTO audit (ts, actor, action, target) VALUES (?, ?, ?, ?)').run(Date.now(), entry.actor, entry.action, entry.target);
  }

  async loadDevices(): Promise<StoredDevice[]> {
    return this.loadDevicesSync();
  }

  async loadKeys(): Promise<StoredKey[]> {
    return this.loadKeysSync();
  }

  async fetchDevice(id: string): Promise<StoredDevice | undefined> {
    const row = this.db.prepare('SELECT * FROM devices WHERE id = ?').get(id) as DeviceRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  async fetchKey(id: string): Promise<StoredKey | undefined> {
    const row = this.db.prepare('SELECT id, name, role, key_hash, scope, created_at FROM api_keys WHERE id = ?').get(id) as KeyRow | undefined;
    return row ? fromKeyRow(row) : undefined;
  }

  async insertDevice(d: StoredDevice, createdAt: number, audit: AuditWrite): Promise<void> {
    this.db.transaction(() => {
      if (this.db.prepare('SELECT 1 FROM devices WHERE id = ?').get(d.id)) throw new ConflictError(`device ${d.id} already exists`);
      this.db
        .prepare(
          `INSERT INTO devices (id, kind, name, city, district, lat, lon, thresholds, token_hash, status, created_at, public)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'never_seen', ?, ?)`,
        )
        .run(d.id, d.kind, d.name, d.city, d.district, d.lat, d.lon, d.thresholds ? JSON.stringify(d.thresholds) : null, d.tokenHash, createdAt, publicColumn(d.public));
      this.auditSync(audit);
    })();
  }

  async updateDevice(d: StoredDevice, audit: AuditWrite): Promise<boolean> {
    return this.db.transaction(() => {
      const r = this.db
        .prepare('UPDATE devices SET name = ?, city = ?, district = ?, lat = ?, lon = ?, thresholds = ?, public = ? WHERE id = ?')
        .run(d.name, d.city, d.district, d.lat, d.lon, d.thresholds ? JSON.stringify(d.thresholds) : null, publicColumn(d.public), d.id);
      if (r.changes > 0) this.auditSync(audit);
      return r.changes > 0;
    })();
  }

  async insertDevices(devices: StoredDevice[], devEuis: DevEuiPair[], createdAt: number, actor: string): Promise<void> {
    const insert = this.db.prepare(
      `INSERT INTO devices (id, kind, name, city, district, lat, lon, thresholds, token_hash, status, created_at, public)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'never_seen', ?, ?)`,
    );
    const insertEui = this.db.prepare('INSERT INTO device_dev_eui (device_id, dev_eui) VALUES (?, ?)');
    this.db.transaction(() => {
      for (const d of devices) {
        if (this.db.prepare('SELECT 1 FROM devices WHERE id = ?').get(d.id)) throw new ConflictError(`device ${d.id} already exists`);
        insert.run(d.id, d.kind, d.name, d.city, d.district, d.lat, d.lon, d.thresholds ? JSON.stringify(d.thresholds) : null, d.tokenHash, createdAt, publicColumn(d.public));
        this.auditSync({ actor, action: 'device.created', target: d.id });
      }
      for (const p of devEuis) {
        const owner = this.devEuiOwner(p.devEui);
        if (owner !== undefined) throw new DevEuiConflictError(`devEui ${p.devEui} already belongs to device ${owner}`);
        insertEui.run(p.deviceId, p.devEui);
      }
    })();
  }

  async deleteDevice(id: string, audit: AuditWrite): Promise<boolean> {
    return this.db.transaction(() => {
      const r = this.db.prepare('DELETE FROM devices WHERE id = ?').run(id);
      if (r.changes > 0) {
        this.db.prepare('DELETE FROM device_dev_eui WHERE device_id = ?').run(id);
        this.db.prepare('DELETE FROM device_config WHERE device_id = ?').run(id);
        this.auditSync(audit);
      }
      return r.changes > 0;
    })();
  }

  async loadDevEuis(): Promise<DevEuiPair[]> {
    return this.loadDevEuisSync();
  }

  async fetchDevEui(deviceId: string): Promise<string | undefined> {
    return (this.db.prepare('SELECT dev_eui FROM device_dev_eui WHERE device_id = ?').get(deviceId) as { dev_eui: string } | undefined)?.dev_eui;
  }

  async fetchDevEuiOwner(devEui: string): Promise<string | undefined> {
    return this.devEuiOwner(devEui);
  }

  async setDevEui(deviceId: string, devEui: string | null, audit: AuditWrite): Promise<boolean> {
    return this.db.transaction(() => {
      if (!this.db.prepare('SELECT 1 FROM devices WHERE id = ?').get(deviceId)) return false;
      if (devEui === null) {
        this.db.prepare('DELETE FROM device_dev_eui WHERE device_id = ?').run(deviceId);
      } else {
        const owner = this.devEuiOwner(devEui);
        if (owner !== undefined && owner !== deviceId) throw new DevEuiConflictError(`devEui ${devEui} already belongs to device ${owner}`);
        this.db
          .prepare('INSERT INTO device_dev_eui (device_id, dev_eui) VALUES (?, ?) ON CONFLICT(device_id) DO UPDATE SET dev_eui = excluded.dev_eui')
          .run(deviceId, devEui);
      }
      this.auditSync(audit);
      return true;
    })();
  }

  async loadConfigs(): Promise<Array<{ deviceId: string; state: ConfigState }>> {
    return this.loadConfigsSync();
  }

  async fetchConfig(deviceId: string): Promise<ConfigState | undefined> {
    const row = this.db.prepare('SELECT * FROM device_config WHERE device_id = ?').get(deviceId) as ConfigRow | undefined;
    return row ? fromConfigRow(row) : undefined;
  }

  async putDesiredConfig(deviceId: string, desired: Record<string, unknown>, at: number, actor: string): Promise<ConfigState | undefined> {
    return this.db.transaction(() => {
      if (!this.db.prepare('SELECT 1 FROM devices WHERE id = ?').get(deviceId)) return undefined;
      const row = this.db
        .prepare(
          `INSERT INTO device_config (device_id, version, desired, updated_at) VALUES (?, 1, ?, ?)
           ON CONFLICT(device_id) DO UPDATE SET version = version + 1, desired = excluded.desired, updated_at = excluded.updated_at
           RETURNING *`,
        )
        .get(deviceId, JSON.stringify(desired), at) as ConfigRow;
      this.auditSync({ actor, action: 'device.config_updated', target: `${deviceId} v${row.version}` });
      return fromConfigRow(row);
    })();
  }

  async putReportedConfig(deviceId: string, version: number, config: Record<string, unknown>, at: number): Promise<ConfigState | undefined> {
    return this.db.transaction(() => {
      const row = this.db
        .prepare('UPDATE device_config SET reported = ?, reported_version = ?, reported_at = ? WHERE device_id = ? AND ? >= 1 AND version >= ? RETURNING *')
        .get(JSON.stringify(config), version, at, deviceId, version, version) as ConfigRow | undefined;
      if (!row) return undefined;
      this.auditSync({ actor: deviceId, action: 'device.config_reported', target: `${deviceId} v${version}` });
      return fromConfigRow(row);
    })();
  }

  private devEuiOwner(devEui: string): string | undefined {
    return (this.db.prepare('SELECT device_id FROM device_dev_eui WHERE dev_eui = ?').get(devEui) as { device_id: string } | undefined)?.device_id;
  }

  async setTokenHash(id: string, tokenHash: string, audit: AuditWrite): Promise<boolean> {
    return this.db.transaction(() => {
      const r = this.db.prepare('UPDATE devices SET token_hash = ? WHERE id = ?').run(tokenHash, id);
      if (r.changes > 0) this.auditSync(audit);
      return r.changes > 0;
    })();
  }

  async insertKey(k: StoredKey, createdAt: number, audit: AuditWrite | null): Promise<void> {
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO api_keys (id, name, role, key_hash, created_at, scope) VALUES (?, ?, ?, ?, ?, ?)').run(k.id, k.name, k.role, k.keyHash, createdAt, JSON.stringify(k.scope));
      if (audit) this.auditSync(audit);
    })();
  }

  async upsertKey(k: StoredKey, createdAt: number): Promise<void> {
    this.db
      .prepare('INSERT INTO api_keys (id, name, role, key_hash, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET key_hash = excluded.key_hash')
      .run(k.id, k.name, k.role, k.keyHash, createdAt);
  }

  async updateKey(k: StoredKey, audit: AuditWrite): Promise<boolean> {
    return this.db.transaction(() => {
      const r = this.db.prepare('UPDATE api_keys SET name = ?, role = ?, scope = ? WHERE id = ?').run(k.name, k.role, JSON.stringify(k.scope), k.id);
      if (r.changes > 0) this.auditSync(audit);
      return r.changes > 0;
    })();
  }

  async deleteKey(id: string, audit: AuditWrite): Promise<boolean> {
    return this.db.transaction(() => {
      const r = this.db.prepare('DELETE FROM api_keys WHERE id = ?').run(id);
      if (r.changes > 0) this.auditSync(audit);
      return r.changes > 0;
    })();
  }

  async audit(entry: AuditWrite): Promise<void> {
    this.auditSync(entry);
  }

  async auditLog(limit: number): Promise<AuditEntry[]> {
    const rows = this.db.prepare('SELECT ts, actor, action, target FROM audit ORDER BY seq DESC LIMIT ?').all(limit) as Array<{
      ts: number;
      actor: string;
      action: string;
      target: string;
    }>;
    return rows.map((r) => ({ ...r, ts: new Date(r.ts).toISOString() }));
  }

  async getState(key: string): Promise<unknown> {
    return this.getStateSync(key);
  }

  async setState(key: string, value: unknown): Promise<void> {
    this.setStateSync(key, value);
  }

  async flushStatus(rows: StatusWrite[]): Promise<void> {
    const stmt = this.db.prepare('UPDATE devices SET status = ?, last_seen = ? WHERE id = ?');
    this.db.transaction(() => {
      for (const r of rows) stmt.run(r.status, r.lastSeen, r.id);
    })();
  }

  usable(): boolean {
    try {
      this.db.prepare('SELECT 1').get();
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

interface KeyRow {
  id: string;
  name: string;
  role: Role;
  key_hash: string;
  scope: string | null;
  created_at: number | null;
}

interface ConfigRow {
  device_id: string;
  version: number;
  desired: string;
  updated_at: number;
  reported: string | null;
  reported_version: number | null;
  reported_at: number | null;
}

function fromConfigRow(row: ConfigRow): ConfigState {
  return {
    desired: JSON.parse(row.desired) as Record<string, unknown>,
    version: row.version,
    updatedAt: row.updated_at,
    reported: row.reported === null ? null : (JSON.parse(row.reported) as Record<string, unknown>),
    reportedVersion: row.reported_version,
    reportedAt: row.reported_at,
  };
}

const fromKeyRow = (r: KeyRow): StoredKey => ({ id: r.id, name: r.name, role: r.role, keyHash: r.key_hash, scope: scopeFromStored(r.scope), createdAt: r.created_at ?? 0 });

function fromRow(row: DeviceRow): StoredDevice {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    city: row.city,
    district: row.district,
    lat: row.lat,
    lon: row.lon,
    thresholds: row.thresholds ? (JSON.parse(row.thresholds) as Record<string, unknown>) : null,
    public: row.public === null || row.public === undefined ? null : row.public === 1,
    tokenHash: row.token_hash,
    status: row.status as StoredDevice['status'],
    lastSeen: row.last_seen,
  };
}

const publicColumn = (p: boolean | null): number | null => (p === null ? null : p ? 1 : 0);
