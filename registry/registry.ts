// The registry: devices, API keys, the audit log and small pieces of platform state. Stored in SQLite under
// PANTAU_DATA_DIR (the embedded default) or, with PANTAU_REGISTRY_URL=postgres://…, in PostgreSQL shared by every
// node of a cluster (registry/store.ts names the two backends).
//
// Devices and API keys are also held in memory and every read is answered from there, synchronously — the broker
// and ingest look a device up for each message, and a node keeps authenticating and ingesting from this cache
// while PostgreSQL restarts. Writes go to the store first and reach the memory once stored; a store that cannot
// be reached fails the write with RegistryUnavailableError (503). Writes made through other nodes arrive as
// notifications (PostgreSQL LISTEN/NOTIFY): the row is read again and the same events are emitted as for a local
// write, so the broker, caches and alert owner of every node react alike.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
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
import { UNSCOPED, describeScope, sameScope, type Scope } from './scope.js';
import { isPublicDevice } from '../catalog/public.js';
import { SqliteStore } from './sqlite-store.js';
import { PgStore } from './pg-store.js';
import { PgConnection } from './postgres.js';
import { DeviceExtras } from './device-extras.js';
import { People } from './people.js';
import {
  ConflictError,
  NotFoundError,
  RegistryUnavailableError,
  type AuditEntry,
  type AuditWrite,
  type ConfigState,
  type DevEuiPair,
  type RegistryStore,
  type StoreChange,
  type StoredDevice,
  type StoredKey,
  type StoredUser,
} from './store.js';

export { ConflictError, NotFoundError, RegistryUnavailableError, type AuditEntry };

export interface DeviceRecord {
  id: string;
  kind: Kind;
  name: string;
  city: string;
  district: string;
  lat: number;
  lon: number;
  thresholds: Record<string, unknown> | null;
  /** Shown to the public (catalog/public.ts); null = the kind's default (air and flood yes, traffic no). */
  public: boolean | null;
  status: 'online' | 'offline' | 'never_seen';
  lastSeen: number | null;
}

export interface DeviceFilter {
  kind?: string;
  city?: string;
  district?: string;
  status?: string;
}

export interface RegistryOptions {
  authFailuresPerMinute?: number;
  log?: Logger;
}

interface Loaded {
  store: RegistryStore;
  devices: StoredDevice[];
  keys: StoredKey[];
  state: Map<string, unknown>;
  devEuis: DevEuiPair[];
  configs: Array<{ deviceId: string; state: ConfigState }>;
  users: StoredUser[];
}

/**
 * Events: `device-removed` (id), `token-rotated` (id), `key-revoked` (id, the scope it had), `key-changed` (id, the
 * scope it had: its role, scope or secret changed), `user-removed` (id), `user-changed` (id: a person's role or
 * scope changed, or they were disabled or enabled), `device-changed` (DeviceRecord), `status` (DeviceRecord).
 * Changes made through other nodes emit the same events here once their notification arrives.
 */
export class Registry extends EventEmitter {
  /** Failed logins per client address, shared by the API and the broker. */
  readonly authThrottle: AuthThrottle;
  readonly store: RegistryStore;
  /** DevEUIs and configuration shadows, kept in the same store (device-extras.ts). */
  readonly extras: DeviceExtras;
  /** People who sign in to the console with a password (people.ts). */
  readonly people: People;
  private readonly log: Logger | undefined;
  private readonly devices = new Map<string, DeviceRecord>();
  private readonly tokenHashes = new Map<string, string>();
  private readonly keys = new Map<string, StoredKey>();
  private readonly verifiedTokens = new Map<string, Buffer>();
  private readonly verifiedKeys = new Map<string, { fp: Buffer; principal: ApiPrincipal }>();
  private readonly dirtyStatus = new Set<string>();
  /** PostgreSQL only: state rows, read at start (SQLite reads them on demand). */
  private readonly state: Map<string, unknown>;
  /** Per-row refreshes in flight, chained so an older read never lands after a newer one. */
  private readonly refreshing = new Map<string, Promise<void>>();

  /** The embedded registry: SQLite in `dataDir`. For PostgreSQL use `Registry.open`. */
  constructor(source: string | Loaded, options: RegistryOptions = {}) {
    super();
    this.setMaxListeners(50);
    this.authThrottle = new AuthThrottle(options.authFailuresPerMinute ?? 60);
    this.log = options.log;
    let loaded: Loaded;
    if (typeof source === 'string') {
      const store = new SqliteStore(source);
      loaded = {
        store,
        devices: store.loadDevicesSync(),
        keys: store.loadKeysSync(),
        state: new Map(),
        devEuis: store.loadDevEuisSync(),
        configs: store.loadConfigsSync(),
        users: store.loadUsersSync(),
      };
    } else {
      loaded = source;
    }
    this.store = loaded.store;
    this.state = loaded.state;
    for (const row of loaded.devices) this.cacheDevice(row, true);
    for (const k of loaded.keys) this.keys.set(k.id, k);
    this.extras = new DeviceExtras(this.store, this, loaded);
    this.people = new People(this.store, this, loaded.users);
  }

  /** SQLite in `dataDir` when `url` is unset; PostgreSQL (migrated, listening for other nodes' writes) otherwise. */
  static async open(url: string | undefined, dataDir: string, options: RegistryOptions & { log: Logger }): Promise<Registry> {
    if (!url) return new Registry(dataDir, options);
    const pg = new PgConnection(url, options.log.child({ component: 'postgres' }));
    try {
      await pg.migrate();
      const store = new PgStore(pg);
      await adoptNodeLocalExtras(store, dataDir, options.log);
      const [devices, keys, stateRows, devEuis, configs, users] = await Promise.all([
        store.loadDevices(),
        store.loadKeys(),
        pg.query<{ key: string; value: unknown }>('SELECT key, value FROM state'),
        store.loadDevEuis(),
        store.loadConfigs(),
        store.loadUsers(),
      ]);
      const state = new Map(stateRows.rows.map((r) => [r.key, r.value]));
      const registry = new Registry({ store, devices, keys, state, devEuis, configs, users }, options);
      await store.subscribe((change) => registry.refresh(change), () => void registry.resync());
      return registry;
    } catch (err) {
      await pg.close();
      throw err;
    }
  }

  /** The SQLite database of the embedded registry (the alert store shares it). A shared registry has none. */
  get db(): SqliteStore['db'] {
    if (this.store instanceof SqliteStore) return this.store.db;
    throw new Error('the shared registry (PostgreSQL) has no SQLite database');
  }

  /** The PostgreSQL connection of a shared registry; undefined for SQLite. */
  get postgres(): PgConnection | undefined {
    return this.store instanceof PgStore ? this.store.pg : undefined;
  }

  // ---- devices ---------------------------------------------------------------------------------------

  device(id: string): DeviceRecord | undefined {
    return this.devices.get(id);
  }

  /**
   * The device, from memory or — shared registry, not cached yet (created through another node a moment ago) —
   * from PostgreSQL. Throws RegistryUnavailableError when it has to ask and cannot.
   */
  async lookupDevice(id: string): Promise<DeviceRecord | undefined> {
    // a change announced a moment ago is being read back: decide on the outcome, not on what it replaces
    const pending = this.refreshing.get(`devices\u0000${id}`);
    if (pending) await pending.catch(() => undefined);
    const cached = this.devices.get(id);
    if (cached || this.store.backend === 'sqlite') return cached;
    await this.refresh({ table: 'devices', id });
    return this.devices.get(id);
  }

  /**
   * The device a DevEUI (any case) belongs to, from memory or — shared registry, set through another node a moment
   * ago and not announced here yet — from the store. Throws RegistryUnavailableError when it has to ask and cannot.
   */
  async lookupDevEui(devEui: string): Promise<DeviceRecord | undefined> {
    const eui = devEui.toLowerCase();
    let id = this.extras.deviceIdByDevEui(eui);
    if (id === undefined && this.store.backend === 'postgres') {
      const owner = await this.store.fetchDevEuiOwner(eui);
      if (owner !== undefined) await this.refresh({ table: 'device_dev_eui', id: owner });
      id = this.extras.deviceIdByDevEui(eui);
    }
    return id === undefined ? undefined : this.lookupDevice(id);
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
    const row: StoredDevice = {
      id: input.id,
      kind: input.kind,
      name: input.name,
      city: input.city,
      district: input.district,
      lat: input.location.lat,
      lon: input.location.lon,
      thresholds: (input.thresholds ?? null) as Record<string, unknown> | null,
      public: input.public ?? null,
      tokenHash,
      status: 'never_seen',
      lastSeen: null,
    };
    try {
      await this.store.insertDevice(row, Date.now(), { actor, action: 'device.created', target: row.id });
    } catch (err) {
      if (err instanceof ConflictError) throw new ConflictError(`device ${input.id} already exists`);
      throw err;
    }
    const record = this.cacheDevice(row, false);
    this.emit('device-changed', record);
    return { device: record, token };
  }

  /**
   * Register many devices at once (bulk import, fleet file), with their DevEUIs (`input.devEui`): all in one store
   * transaction, or none.
   */
  async createDevices(items: Array<{ input: NewDevice; token?: string }>, actor: string): Promise<Array<{ device: DeviceRecord; token: string }>> {
    for (const { input } of items) if (this.devices.has(input.id)) throw new ConflictError(`device ${input.id} already exists`);
    const created = items.map(({ input, token = newSecret() }) => ({
      device: {
        id: input.id, kind: input.kind, name: input.name, city: input.city, district: input.district,
        lat: input.location.lat, lon: input.location.lon,
        thresholds: (input.thresholds ?? null) as Record<string, unknown> | null,
        public: input.public ?? null,
        status: 'never_seen' as const, lastSeen: null,
      },
      token,
      hash: hashGenerated(token),
    }));
    const devEuis = items.flatMap(({ input }) => (input.devEui === undefined ? [] : [{ deviceId: input.id, devEui: input.devEui.toLowerCase() }]));
    await this.store.insertDevices(created.map(({ device, hash }) => ({ ...device, tokenHash: hash })), devEuis, Date.now(), actor);
    const records = created.map(({ device, hash }) => this.cacheDevice({ ...device, tokenHash: hash }, false));
    this.extras.cacheDevEuis(devEuis);
    for (const record of records) this.emit('device-changed', record);
    return created.map(({ token }, i) => ({ device: records[i]!, token }));
  }

  async updateDevice(id: string, patch: DevicePatch, actor: string): Promise<DeviceRecord> {
    const current = this.requireDevice(id);
    const next: DeviceRecord = {
      ...current,
      name: patch.name ?? current.name,
      city: patch.city ?? current.city,
      district: patch.district ?? current.district,
      lat: patch.location?.lat ?? current.lat,
      lon: patch.location?.lon ?? current.lon,
      thresholds: patch.thresholds === undefined ? current.thresholds : ((patch.thresholds ?? null) as Record<string, unknown> | null),
      public: patch.public === undefined ? current.public : patch.public,
    };
    const stored = await this.store.updateDevice({ ...next, tokenHash: this.tokenHashes.get(id)! }, { actor, action: 'device.updated', target: id });
    if (!stored) return this.gone(id);
    this.devices.set(id, next);
    this.emit('device-changed', next);
    return next;
  }

  async deleteDevice(id: string, actor: string): Promise<void> {
    this.requireDevice(id);
    const stored = await this.store.deleteDevice(id, { actor, action: 'device.deleted', target: id });
    if (!stored) return void this.gone(id);
    this.uncacheDevice(id);
  }

  async rotateToken(id: string, actor: string): Promise<string> {
    this.requireDevice(id);
    const token = newSecret();
    const tokenHash = await hashSecret(token, GENERATED_COST);
    if (!this.devices.has(id)) throw new NotFoundError(`device ${id} does not exist`);
    const stored = await this.store.setTokenHash(id, tokenHash, { actor, action: 'device.token_rotated', target: id });
    if (!stored) return this.gone(id);
    this.tokenHashes.set(id, tokenHash);
    this.verifiedTokens.delete(id);
    this.emit('token-rotated', id);
    return token;
  }

  /** The device whose id and token these are, or null. */
  async authenticateDevice(id: string, token: string): Promise<DeviceRecord | null> {
    if (!this.tokenHashes.has(id)) await this.lookupDevice(id);
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

  /** Write status and lastSeen changes to the store (called periodically and at shutdown). */
  flushStatus(): Promise<void> {
    if (this.dirtyStatus.size === 0) return Promise.resolve();
    const ids = [...this.dirtyStatus];
    this.dirtyStatus.clear();
    const rows = [];
    for (const id of ids) {
      const d = this.devices.get(id);
      if (d) rows.push({ id, status: d.status, lastSeen: d.lastSeen });
    }
    return this.store.flushStatus(rows).catch((err) => {
      // kept for the next flush
      for (const id of ids) this.dirtyStatus.add(id);
      throw err;
    });
  }

  // ---- API keys --------------------------------------------------------------------------------------

  async createKey(name: string, role: Role, actor: string, scope: Scope = UNSCOPED): Promise<{ id: string; name: string; role: Role; scope: Scope; key: string }> {
    const id = randomBytes(6).toString('hex');
    const secret = newSecret();
    const key = `pk_${id}.${secret}`;
    const keyHash = await hashSecret(secret, GENERATED_COST);
    const createdAt = Date.now();
    const row: StoredKey = { id, name, role, keyHash, scope, createdAt };
    await this.store.insertKey(row, createdAt, { actor, action: 'key.created', target: `${id} (${role}, scope ${describeScope(scope)})` });
    this.keys.set(id, row);
    return { id, name, role, scope, key };
  }

  /** The API keys (never their secrets), oldest first. */
  listKeys(): Array<Omit<StoredKey, 'keyHash'>> {
    return [...this.keys.values()]
      .map(({ keyHash: _hash, ...k }) => k)
      .sort((a, b) => (a.createdAt ?? 0) - (b.createdAt ?? 0) || a.id.localeCompare(b.id));
  }

  key(id: string): Omit<StoredKey, 'keyHash'> | undefined {
    const k = this.keys.get(id);
    if (!k) return undefined;
    const { keyHash: _hash, ...rest } = k;
    return rest;
  }

  /**
   * A key's name, role or scope. A change of role or scope ends its console sessions and live streams (event
   * `key-changed`) so nothing keeps what the key no longer has.
   */
  async updateKey(id: string, patch: { name?: string; role?: Role; scope?: Scope }, actor: string): Promise<Omit<StoredKey, 'keyHash'>> {
    const current = this.keys.get(id);
    if (!current) throw new NotFoundError(`API key ${id} does not exist`);
    const next: StoredKey = { ...current, name: patch.name ?? current.name, role: patch.role ?? current.role, scope: patch.scope ?? current.scope };
    const what = [
      ...(next.name !== current.name ? [`name ${JSON.stringify(next.name)}`] : []),
      ...(next.role !== current.role ? [`role ${current.role} → ${next.role}`] : []),
      ...(!sameScope(next.scope, current.scope) ? [`scope ${describeScope(current.scope)} → ${describeScope(next.scope)}`] : []),
    ];
    const stored = await this.store.updateKey(next, { actor, action: 'key.updated', target: `${id}: ${what.join(', ') || 'unchanged'}` });
    if (!stored) {
      if (this.keys.has(id)) this.uncacheKey(id);
      throw new NotFoundError(`API key ${id} does not exist`);
    }
    this.applyKey(id, next);
    return this.key(id)!;
  }

  async deleteKey(id: string, actor: string): Promise<void> {
    const stored = await this.store.deleteKey(id, { actor, action: 'key.revoked', target: id });
    if (!stored) throw new NotFoundError(`API key ${id} does not exist`);
    this.uncacheKey(id);
  }

  /** Make `key` the bootstrap admin key (PANTAU_ADMIN_KEY or a generated one). */
  async setBootstrapKey(key: string): Promise<void> {
    const principal: ApiPrincipal = { type: 'key', id: 'bootstrap', name: 'bootstrap admin', role: 'admin', scope: UNSCOPED };
    const row = this.keys.get('bootstrap');
    if (row && (await verifySecret(key, row.keyHash))) {
      this.rememberKey(key, principal);
      return;
    }
    const stored: StoredKey = { id: 'bootstrap', name: 'bootstrap admin', role: 'admin', keyHash: await hashSecret(key, CHOSEN_COST), scope: UNSCOPED };
    await this.store.upsertKey(stored, Date.now());
    this.keys.set('bootstrap', stored);
    this.forgetVerifiedKeys('bootstrap');
    this.rememberKey(key, principal);
  }

  private rememberKey(key: string, principal: ApiPrincipal): void {
    const fp = fingerprint(key);
    if (this.verifiedKeys.size > 10_000) this.verifiedKeys.clear();
    this.verifiedKeys.set(fp.toString('base64'), { fp, principal });
  }

  hasBootstrapKey(): boolean {
    return this.keys.has('bootstrap');
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
    // a key created through another node a moment ago may not have been announced here yet
    if (!this.keys.has(id) && this.store.backend === 'postgres') await this.refresh({ table: 'api_keys', id });
    const row = this.keys.get(id);
    if (!row || !(await verifySecret(secret, row.keyHash))) return null;
    if (this.keys.get(id) !== row) return null; // revoked or replaced while scrypt ran
    const principal: ApiPrincipal = { type: 'key', id: row.id, name: row.name, role: row.role, scope: row.scope };
    this.rememberKey(key, principal);
    return principal;
  }

  // ---- audit and state -------------------------------------------------------------------------------

  /** Record an action; PostgreSQL: written in the background (a failure is logged). */
  audit(actor: string, action: string, target: string): void {
    const entry: AuditWrite = { actor, action, target };
    if (this.store instanceof SqliteStore) return this.store.auditSync(entry);
    this.store.audit(entry).catch((err) => this.log?.error({ err: (err as Error).message, action, target }, 'audit entry not stored'));
  }

  auditLog(limit: number): Promise<AuditEntry[]> {
    return this.store.auditLog(limit);
  }

  getState<T>(key: string): T | undefined {
    if (this.store instanceof SqliteStore) return this.store.getStateSync(key) as T | undefined;
    return this.state.get(key) as T | undefined;
  }

  /**
   * Saves a piece of state (the alert engine's snapshot). Never throws: it is called from timers, and a state that
   * cannot be saved now (SQLite on a full disk) is saved with the next change or at shutdown; logged meanwhile.
   */
  setState(key: string, value: unknown): void {
    if (this.store instanceof SqliteStore) {
      try {
        this.store.setStateSync(key, value);
      } catch (err) {
        this.log?.warn({ err: (err as Error).message, key }, 'state not stored');
      }
      return;
    }
    this.state.set(key, value);
    this.store.setState(key, value).catch((err) => this.log?.warn({ err: (err as Error).message, key }, 'state not stored'));
  }

  usable(): boolean {
    return this.store.usable();
  }

  async close(): Promise<void> {
    await this.flushStatus().catch(() => undefined);
    await this.store.close();
  }

  // ---- the cache -------------------------------------------------------------------------------------

  /** Re-read one row changed through another node (or this one) and apply it, with the usual events. */
  refresh(change: StoreChange): Promise<void> {
    const key = `${change.table}\u0000${change.id}`;
    const previous = this.refreshing.get(key) ?? Promise.resolve();
    const removed = () => {
      if (change.table === 'devices') this.applyDevice(change.id, undefined);
      else if (change.table === 'users') this.people.apply(change.id, undefined);
      else this.applyKey(change.id, undefined);
    };
    if (change.deleted && !this.refreshing.has(key)) {
      // a deletion needs no read-back: applied at once
      removed();
      return Promise.resolve();
    }
    const next = previous.catch(() => undefined).then(async () => {
      if (change.deleted) return removed();
      switch (change.table) {
        case 'devices': return this.applyDevice(change.id, await this.store.fetchDevice(change.id));
        case 'api_keys': return this.applyKey(change.id, await this.store.fetchKey(change.id));
        case 'device_dev_eui': return this.extras.applyDevEui(change.id, await this.store.fetchDevEui(change.id));
        case 'device_config': return this.extras.applyConfig(change.id, await this.store.fetchConfig(change.id), 'remote');
        case 'users': return this.people.apply(change.id, await this.store.fetchUser(change.id));
      }
    });
    this.refreshing.set(key, next);
    void next.finally(() => {
      if (this.refreshing.get(key) === next) this.refreshing.delete(key);
    }).catch(() => undefined);
    return next;
  }

  /** Reload everything (after notifications may have been missed: PostgreSQL restarted, connection lost). */
  async resync(): Promise<void> {
    try {
      const [devices, keys, devEuis, configs, users] = await Promise.all([
        this.store.loadDevices(),
        this.store.loadKeys(),
        this.store.loadDevEuis(),
        this.store.loadConfigs(),
        this.store.loadUsers(),
      ]);
      const seen = new Set(devices.map((d) => d.id));
      for (const d of devices) this.applyDevice(d.id, d);
      for (const id of [...this.devices.keys()]) if (!seen.has(id)) this.applyDevice(id, undefined);
      const seenKeys = new Set(keys.map((k) => k.id));
      for (const k of keys) this.applyKey(k.id, k);
      for (const id of [...this.keys.keys()]) if (!seenKeys.has(id)) this.applyKey(id, undefined);
      this.extras.resync(devEuis, configs);
      this.people.resync(users);
    } catch (err) {
      this.log?.warn({ err: (err as Error).message }, 'registry reload failed; retrying');
      setTimeout(() => void this.resync(), 1000).unref();
    }
  }

  private applyDevice(id: string, row: StoredDevice | undefined): void {
    const current = this.devices.get(id);
    if (!row) {
      if (current) this.uncacheDevice(id);
      return;
    }
    if (!current) {
      this.emit('device-changed', this.cacheDevice(row, false));
      return;
    }
    if (this.tokenHashes.get(id) !== row.tokenHash) {
      this.tokenHashes.set(id, row.tokenHash);
      this.verifiedTokens.delete(id);
      this.emit('token-rotated', id);
    }
    const same = current.name === row.name && current.city === row.city && current.district === row.district &&
      current.lat === row.lat && current.lon === row.lon && JSON.stringify(current.thresholds) === JSON.stringify(row.thresholds) &&
      current.public === row.public;
    if (same) return;
    // status and lastSeen are this node's view of the connection; keep them
    const next: DeviceRecord = { ...current, name: row.name, city: row.city, district: row.district, lat: row.lat, lon: row.lon, thresholds: row.thresholds, public: row.public };
    this.devices.set(id, next);
    this.emit('device-changed', next);
  }

  private applyKey(id: string, row: StoredKey | undefined): void {
    const current = this.keys.get(id);
    if (!row) {
      if (current) this.uncacheKey(id);
      return;
    }
    if (current && current.keyHash === row.keyHash && current.role === row.role && current.name === row.name && sameScope(current.scope, row.scope)) return;
    this.keys.set(id, row);
    if (!current) return;
    this.forgetVerifiedKeys(id);
    // what was granted under the old role or scope ends: sessions, live streams, city-system MQTT sessions
    if (current.role !== row.role || !sameScope(current.scope, row.scope) || current.keyHash !== row.keyHash) this.emit('key-changed', id, current.scope);
  }

  private cacheDevice(row: StoredDevice, atStart: boolean): DeviceRecord {
    const record: DeviceRecord = {
      id: row.id,
      kind: row.kind,
      name: row.name,
      city: row.city,
      district: row.district,
      lat: row.lat,
      lon: row.lon,
      thresholds: row.thresholds,
      public: row.public,
      // after a restart nobody is connected yet
      status: atStart && row.status !== 'never_seen' ? 'offline' : row.status,
      lastSeen: row.lastSeen,
    };
    this.devices.set(row.id, record);
    this.tokenHashes.set(row.id, row.tokenHash);
    return record;
  }

  private uncacheDevice(id: string): void {
    this.devices.delete(id);
    this.tokenHashes.delete(id);
    this.verifiedTokens.delete(id);
    this.dirtyStatus.delete(id);
    this.emit('device-removed', id);
  }

  private uncacheKey(id: string): void {
    const had = this.keys.get(id);
    this.keys.delete(id);
    this.forgetVerifiedKeys(id);
    this.emit('key-revoked', id, had?.scope);
  }

  private forgetVerifiedKeys(id: string): void {
    for (const [fp, entry] of this.verifiedKeys) if (entry.principal.id === id) this.verifiedKeys.delete(fp);
  }

  private requireDevice(id: string): DeviceRecord {
    const device = this.devices.get(id);
    if (!device) throw new NotFoundError(`device ${id} does not exist`);
    return device;
  }

  /** The store no longer has a device the cache had: deleted through another node. */
  private gone(id: string): never {
    if (this.devices.has(id)) this.uncacheDevice(id);
    throw new NotFoundError(`device ${id} does not exist`);
  }
}

/**
 * Upgrade of a cluster from a build that kept DevEUIs and configurations per node (in PANTAU_DATA_DIR's SQLite
 * file): moved into the shared registry once — taken where PostgreSQL has none yet, then removed from the file.
 */
async function adoptNodeLocalExtras(store: PgStore, dataDir: string, log: Logger): Promise<void> {
  if (!existsSync(join(dataDir, 'registry.sqlite'))) return;
  const local = new SqliteStore(dataDir);
  try {
    const devEuis = local.loadDevEuisSync();
    const configs = local.loadConfigsSync();
    if (devEuis.length + configs.length === 0) return;
    const taken = await store.adoptNodeLocal(devEuis, configs);
    local.db.exec('DELETE FROM device_dev_eui; DELETE FROM device_config;');
    log.info({ devEuis: devEuis.length, configs: configs.length, taken }, 'moved this node\'s DevEUIs and device configurations into the shared registry');
  } finally {
    await local.close();
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
    public: isPublicDevice(d),
    status: d.status,
    lastSeen: d.lastSeen === null ? null : new Date(d.lastSeen).toISOString(),
  };
}
