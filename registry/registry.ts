// The registry: devices, API keys, the audit log and small pieces of platform state, in SQLite under
// PANTAU_DATA_DIR. Devices are also held in memory — the broker looks one up for every publish.
import Database from 'better-sqlite3';
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Kind } from '../catalog/index.js';
import {
  CHOSEN_COST,
  GENERATED_COST,
  fingerprint,
  hashGenerated,
  hashSecret,
  newSecret,
  sameFingerprint,
  verifySecret,
} from './secrets.js';
import type { ApiPrincipal, Device, DevicePatch, NewDevice, Role } from './device.js';
import { AuthThrottle } from './auth-throttle.js';

export interface DeviceRecord {
  id: string;
  kind: Kind;
  name: string;
  city: string;
  district: string;
  lat: number;
  lon: number;
  thresholds: Record<string, unknown> | null;
  status: 'online' | 'offline' | 'never_seen';
  lastSeen: number | null;
}

export interface DeviceFilter {
  kind?: string;
  city?: string;
  district?: string;
  status?: string;
}

export interface AuditEntry {
  ts: string;
  actor: string;
  action: string;
  target: string;
}

export class ConflictError extends Error {}
export class NotFoundError extends Error {}

interface DeviceRow {
  id: string;
  kind: Kind;
  name: string;
  city: string;
  district: string;
  lat: number;
  lon: number;
  thresholds: string | null;
  token_hash: string;
  status: string;
  last_seen: number | null;
}

/** Events: `device-removed` (id), `token-rotated` (id), `key-revoked` (id), `device-changed` (DeviceRecord), `status` (DeviceRecord). */
export class Registry extends EventEmitter {
  readonly db: Database.Database;
  /** Failed logins per client address, shared by the API and the broker. */
  readonly authThrottle: AuthThrottle;
  private readonly devices = new Map<string, DeviceRecord>();
  private readonly tokenHashes = new Map<string, string>();
  private readonly verifiedTokens = new Map<string, Buffer>();
  private readonly verifiedKeys = new Map<string, { fp: Buffer; principal: ApiPrincipal }>();
  private readonly dirtyStatus = new Set<string>();

  constructor(dataDir: string, options: { authFailuresPerMinute?: number } = {}) {
    super();
    this.authThrottle = new AuthThrottle(options.authFailuresPerMinute ?? 60);
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
    `);
    for (const row of this.db.prepare('SELECT * FROM devices').all() as DeviceRow[]) {
      this.devices.set(row.id, fromRow(row));
      this.tokenHashes.set(row.id, row.token_hash);
    }
  }

  // ---- devices ---------------------------------------------------------------------------------------

  device(id: string): DeviceRecord | undefined {
    return this.devices.get(id);
  }

  listDevices(filter: DeviceFilter = {}): DeviceRecord[] {
    const out: DeviceRecord[] = [];
    for (const d of this.devices.values()) {
      if (filter.kind && d.kind !== filter.kind) continue;
      if (filter.city && d.city !== filter.city) continue;
      if (filter.district && d.district !== filter.district) continue;
      if (filter.status && d.status !== filter.status) continue;
      out.push(d);
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  get deviceCount(): number {
    return this.devices.size;
  }

  async createDevice(input: NewDevice, actor: string, token = newSecret()): Promise<{ device: DeviceRecord; token: string }> {
    if (this.devices.has(input.id)) throw new ConflictError(`device ${input.id} already exists`);
    const tokenHash = await hashSecret(token, GENERATED_COST);
    if (this.devices.has(input.id)) throw new ConflictError(`device ${input.id} already exists`);
    const record: DeviceRecord = {
      id: input.id,
      kind: input.kind,
      name: input.name,
      city: input.city,
      district: input.district,
      lat: input.location.lat,
      lon: input.location.lon,
      thresholds: (input.thresholds ?? null) as Record<string, unknown> | null,
      status: 'never_seen',
      lastSeen: null,
    };
    this.db
      .prepare(
        `INSERT INTO devices (id, kind, name, city, district, lat, lon, thresholds, token_hash, status, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'never_seen', ?)`,
      )
      .run(record.id, record.kind, record.name, record.city, record.district, record.lat, record.lon,
        record.thresholds ? JSON.stringify(record.thresholds) : null, tokenHash, Date.now());
    this.devices.set(record.id, record);
    this.tokenHashes.set(record.id, tokenHash);
    this.audit(actor, 'device.created', record.id);
    this.emit('device-changed', record);
    return { device: record, token };
  }

  /**
   * Register many devices at once (bulk import, issue 16): all in one transaction, or none. `withinTransaction`
   * lets an additive store (DevEUIs) write its rows in that same transaction.
   */
  createDevices(
    items: Array<{ input: NewDevice; token?: string }>,
    actor: string,
    withinTransaction?: (records: DeviceRecord[]) => void,
  ): Array<{ device: DeviceRecord; token: string }> {
    for (const { input } of items) if (this.devices.has(input.id)) throw new ConflictError(`device ${input.id} already exists`);
    const created = items.map(({ input, token = newSecret() }) => ({
      device: {
        id: input.id, kind: input.kind, name: input.name, city: input.city, district: input.district,
        lat: input.location.lat, lon: input.location.lon,
        thresholds: (input.thresholds ?? null) as Record<string, unknown> | null,
        status: 'never_seen' as const, lastSeen: null,
      },
      token,
      hash: hashGenerated(token),
    }));
    const insert = this.db.prepare(
      `INSERT INTO devices (id, kind, name, city, district, lat, lon, thresholds, token_hash, status, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'never_seen', ?)`,
    );
    const audit = this.db.prepare('INSERT INTO audit (ts, actor, action, target) VALUES (?, ?, ?, ?)');
    const now = Date.now();
    this.db.transaction(() => {
      for (const { device: d, hash } of created) {
        insert.run(d.id, d.kind, d.name, d.city, d.district, d.lat, d.lon, d.thresholds ? JSON.stringify(d.thresholds) : null, hash, now);
        audit.run(now, actor, 'device.created', d.id);
      }
      withinTransaction?.(created.map((c) => c.device));
    })();
    for (const { device, hash } of created) {
      this.devices.set(device.id, device);
      this.tokenHashes.set(device.id, hash);
    }
    for (const { device } of created) this.emit('device-changed', device);
    return created.map(({ device, token }) => ({ device, token }));
  }

  updateDevice(id: string, patch: DevicePatch, actor: string): DeviceRecord {
    const current = this.requireDevice(id);
    const next: DeviceRecord = {
      ...current,
      name: patch.name ?? current.name,
      city: patch.city ?? current.city,
      district: patch.district ?? current.district,
      lat: patch.location?.lat ?? current.lat,
      lon: patch.location?.lon ?? current.lon,
      thresholds: patch.thresholds === undefined ? current.thresholds : ((patch.thresholds ?? null) as Record<string, unknown> | null),
    };
    this.db
      .prepare('UPDATE devices SET name = ?, city = ?, district = ?, lat = ?, lon = ?, thresholds = ? WHERE id = ?')
      .run(next.name, next.city, next.district, next.lat, next.lon, next.thresholds ? JSON.stringify(next.thresholds) : null, id);
    this.devices.set(id, next);
    this.audit(actor, 'device.updated', id);
    this.emit('device-changed', next);
    return next;
  }

  deleteDevice(id: string, actor: string): void {
    this.requireDevice(id);
    this.db.prepare('DELETE FROM devices WHERE id = ?').run(id);
    this.devices.delete(id);
    this.tokenHashes.delete(id);
    this.verifiedTokens.delete(id);
    this.audit(actor, 'device.deleted', id);
    this.emit('device-removed', id);
  }

  async rotateToken(id: string, actor: string): Promise<string> {
    this.requireDevice(id);
    const token = newSecret();
    const tokenHash = await hashSecret(token, GENERATED_COST);
    if (!this.devices.has(id)) throw new NotFoundError(`device ${id} does not exist`);
    this.db.prepare('UPDATE devices SET token_hash = ? WHERE id = ?').run(tokenHash, id);
    this.tokenHashes.set(id, tokenHash);
    this.verifiedTokens.delete(id);
    this.audit(actor, 'device.token_rotated', id);
    this.emit('token-rotated', id);
    return token;
  }

  /** The device whose id and token these are, or null. */
  async authenticateDevice(id: string, token: string): Promise<DeviceRecord | null> {
    const hash = this.tokenHashes.get(id);
    if (!hash) return null;
    const fp = fingerprint(token);
    const known = this.verifiedTokens.get(id);
    if (known) return sameFingerprint(known, fp) ? (this.devices.get(id) ?? null) : null;
    if (!(await verifySecret(token, hash))) return null;
    // the token may have been rotated or the device removed while scrypt ran
    if (this.tokenHashes.get(id) !== hash) return null;
    this.verifiedTokens.set(id, fp);
    return this.devices.get(id) ?? null;
  }

  /** Connection state as the broker sees it. `lastSeen` moves on every message. */
  setStatus(id: string, status: 'online' | 'offline', at = Date.now()): void {
    const device = this.devices.get(id);
    if (!device) return;
    const changed = device.status !== status;
    device.status = status;
    if (status === 'online') device.lastSeen = Math.max(device.lastSeen ?? 0, at);
    this.dirtyStatus.add(id);
    if (changed) this.emit('status', device);
  }

  touch(id: string, at: number): void {
    const device = this.devices.get(id);
    if (!device) return;
    if (device.lastSeen === null || at > device.lastSeen) device.lastSeen = at;
    this.dirtyStatus.add(id);
  }

  /** Write status and lastSeen changes to disk (called periodically and at shutdown). */
  flushStatus(): void {
    if (this.dirtyStatus.size === 0) return;
    const stmt = this.db.prepare('UPDATE devices SET status = ?, last_seen = ? WHERE id = ?');
    const ids = [...this.dirtyStatus];
    this.dirtyStatus.clear();
    this.db.transaction(() => {
      for (const id of ids) {
        const d = this.devices.get(id);
        if (d) stmt.run(d.status, d.lastSeen, id);
      }
    })();
  }

  // ---- API keys --------------------------------------------------------------------------------------

  async createKey(name: string, role: Role, actor: string): Promise<{ id: string; name: string; role: Role; key: string }> {
    const id = randomBytes(6).toString('hex');
    const secret = newSecret();
    const key = `pk_${id}.${secret}`;
    const keyHash = await hashSecret(secret, GENERATED_COST);
    this.db.prepare('INSERT INTO api_keys (id, name, role, key_hash, created_at) VALUES (?, ?, ?, ?, ?)').run(id, name, role, keyHash, Date.now());
    this.audit(actor, 'key.created', `${id} (${role})`);
    return { id, name, role, key };
  }

  deleteKey(id: string, actor: string): void {
    const result = this.db.prepare('DELETE FROM api_keys WHERE id = ?').run(id);
    if (result.changes === 0) throw new NotFoundError(`API key ${id} does not exist`);
    for (const [fp, entry] of this.verifiedKeys) if (entry.principal.keyId === id) this.verifiedKeys.delete(fp);
    this.audit(actor, 'key.revoked', id);
    this.emit('key-revoked', id);
  }

  /** Make `key` the bootstrap admin key (PANTAU_ADMIN_KEY or a generated one). */
  async setBootstrapKey(key: string): Promise<void> {
    const row = this.db.prepare("SELECT key_hash FROM api_keys WHERE id = 'bootstrap'").get() as { key_hash: string } | undefined;
    if (row && (await verifySecret(key, row.key_hash))) {
      this.rememberKey(key, { keyId: 'bootstrap', name: 'bootstrap admin', role: 'admin' });
      return;
    }
    const keyHash = await hashSecret(key, CHOSEN_COST);
    this.db
      .prepare("INSERT INTO api_keys (id, name, role, key_hash, created_at) VALUES ('bootstrap', 'bootstrap admin', 'admin', ?, ?) ON CONFLICT(id) DO UPDATE SET key_hash = excluded.key_hash")
      .run(keyHash, Date.now());
    for (const [fp, entry] of this.verifiedKeys) if (entry.principal.keyId === 'bootstrap') this.verifiedKeys.delete(fp);
    this.rememberKey(key, { keyId: 'bootstrap', name: 'bootstrap admin', role: 'admin' });
  }

  private rememberKey(key: string, principal: ApiPrincipal): void {
    const fp = fingerprint(key);
    if (this.verifiedKeys.size > 10_000) this.verifiedKeys.clear();
    this.verifiedKeys.set(fp.toString('base64'), { fp, principal });
  }

  hasBootstrapKey(): boolean {
    return this.db.prepare("SELECT 1 FROM api_keys WHERE id = 'bootstrap'").get() !== undefined;
  }

  /**
   * Whose rate-limit allowance a presented key draws on, without checking its secret: a key verified before, or a
   * `pk_<id>.…` key whose id exists. Null for anything else (made-up keys share their client address's allowance).
   */
  rateLimitIdentity(key: string): string | null {
    const cached = this.verifiedKeys.get(fingerprint(key).toString('base64'));
    if (cached) return cached.principal.keyId;
    const match = /^pk_([0-9a-f]{12})\./.exec(key);
    if (match && this.db.prepare('SELECT 1 FROM api_keys WHERE id = ?').get(match[1])) return match[1]!;
    return null;
  }

  /** True when `key` was verified before (no scrypt needed to know it). */
  isVerifiedKey(key: string): boolean {
    const cached = this.verifiedKeys.get(fingerprint(key).toString('base64'));
    return cached !== undefined;
  }

  /** True when `token` is the device's token as verified before (no scrypt needed to know it). */
  isVerifiedToken(id: string, token: string): boolean {
    const known = this.verifiedTokens.get(id);
    return known !== undefined && sameFingerprint(known, fingerprint(token));
  }

  async authenticateKey(key: string): Promise<ApiPrincipal | null> {
    if (key.length === 0 || key.length > 512) return null;
    const fp = fingerprint(key);
    const cacheKey = fp.toString('base64');
    const cached = this.verifiedKeys.get(cacheKey);
    if (cached && sameFingerprint(cached.fp, fp)) return cached.principal;
    const match = /^pk_([0-9a-f]{12})\.(.+)$/.exec(key);
    const id = match ? match[1]! : 'bootstrap';
    const secret = match ? match[2]! : key;
    const row = this.db.prepare('SELECT id, name, role, key_hash FROM api_keys WHERE id = ?').get(id) as
      | { id: string; name: string; role: Role; key_hash: string }
      | undefined;
    if (!row || !(await verifySecret(secret, row.key_hash))) return null;
    const principal: ApiPrincipal = { keyId: row.id, name: row.name, role: row.role };
    this.rememberKey(key, principal);
    return principal;
  }

  // ---- audit and state -------------------------------------------------------------------------------

  audit(actor: string, action: string, target: string): void {
    this.db.prepare('INSERT INTO audit (ts, actor, action, target) VALUES (?, ?, ?, ?)').run(Date.now(), actor, action, target);
  }

  auditLog(limit: number): AuditEntry[] {
    const rows = this.db.prepare('SELECT ts, actor, action, target FROM audit ORDER BY seq DESC LIMIT ?').all(limit) as Array<{
      ts: number;
      actor: string;
      action: string;
      target: string;
    }>;
    return rows.map((r) => ({ ...r, ts: new Date(r.ts).toISOString() }));
  }

  getState<T>(key: string): T | undefined {
    const row = this.db.prepare('SELECT value FROM state WHERE key = ?').get(key) as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  setState(key: string, value: unknown): void {
    this.db.prepare('INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, JSON.stringify(value));
  }

  usable(): boolean {
    try {
      this.db.prepare('SELECT 1').get();
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    this.flushStatus();
    this.db.close();
  }

  private requireDevice(id: string): DeviceRecord {
    const device = this.devices.get(id);
    if (!device) throw new NotFoundError(`device ${id} does not exist`);
    return device;
  }
}

export function toApiDevice(d: DeviceRecord): Device {
  return {
    id: d.id,
    kind: d.kind,
    name: d.name,
    city: d.city,
    district: d.district,
    location: { lat: d.lat, lon: d.lon },
    thresholds: (d.thresholds ?? null) as Device['thresholds'],
    status: d.status,
    lastSeen: d.lastSeen === null ? null : new Date(d.lastSeen).toISOString(),
  };
}

function fromRow(row: DeviceRow): DeviceRecord {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    city: row.city,
    district: row.district,
    lat: row.lat,
    lon: row.lon,
    thresholds: row.thresholds ? (JSON.parse(row.thresholds) as Record<string, unknown>) : null,
    // after a restart nobody is connected yet
    status: row.status === 'never_seen' ? 'never_seen' : 'offline',
    lastSeen: row.last_seen,
  };
}
