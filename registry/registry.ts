// The registry: devices, API keys, people, the audit log and small pieces of platform state. Stored in SQLite under
// PANTAU_DATA_DIR (the embedded default) or, with PANTAU_REGISTRY_URL=postgres://…, in PostgreSQL shared by every
// node of a cluster (registry/store.ts names the two backends).
//
// Devices and API keys are also held in memory and every read is answered from there, synchronously — the broker
// and ingest look a device up for each message, and a node keeps authenticating and ingesting from this cache
// while PostgreSQL restarts. Writes go to the store first and reach the memory once stored; a store that cannot
// be reached fails the write with RegistryUnavailableError (503). Writes made through other nodes arrive as
// notifications (PostgreSQL LISTEN/NOTIFY): the row is read again and the same events are emitted as for a local
// write, so the broker, caches and alert owner of every node react alike.
//
// This class is the registry's one face: each concern keeps its memory and its writes in a file of its own
// (devices.ts, api-keys.ts, people.ts, device-extras.ts), loading is load.ts's, and what stays here is what they
// share — the events, the audit log and state, and keeping every part in step with the store (`refresh`, `resync`).
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { ApiPrincipal, DeviceFilter, DevicePatch, DeviceRecord, NewDevice, Role } from './device.js';
import { ApiKeys, type KeyInfo } from './api-keys.js';
import { AuthThrottle } from './auth-throttle.js';
import { DeviceExtras } from './device-extras.js';
import { Devices } from './devices.js';
import { loadEmbedded, loadShared, type Loaded } from './load.js';
import { People } from './people.js';
import { PgStore } from './pg-store.js';
import type { PgConnection } from './postgres.js';
import type { Scope } from './scope.js';
import { SqliteStore } from './sqlite-store.js';
import {
  ConflictError,
  NotFoundError,
  RegistryUnavailableError,
  type AuditEntry,
  type AuditWrite,
  type ReadBack,
  type RegistryStore,
  type StoreChange,
} from './store.js';

export { ConflictError, NotFoundError, RegistryUnavailableError, type AuditEntry };
export { toApiDevice, type DeviceFilter, type DeviceRecord } from './device.js';

export interface RegistryOptions {
  authFailuresPerMinute?: number;
  log?: Logger;
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
  private readonly devices: Devices;
  private readonly keys: ApiKeys;
  private readonly log: Logger | undefined;
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
    const loaded = typeof source === 'string' ? loadEmbedded(source) : source;
    this.store = loaded.store;
    this.state = loaded.state;
    const readBack: ReadBack = {
      pending: (table, id) => this.refreshing.get(`${table}\u0000${id}`),
      refresh: (change) => this.refresh(change),
    };
    this.extras = new DeviceExtras(this.store, this, loaded);
    this.devices = new Devices(this.store, this, readBack, this.extras, loaded.devices);
    this.keys = new ApiKeys(this.store, this, readBack, loaded.keys);
    this.people = new People(this.store, this, loaded.users);
  }

  /** SQLite in `dataDir` when `url` is unset; PostgreSQL (migrated, listening for other nodes' writes) otherwise. */
  static async open(url: string | undefined, dataDir: string, options: RegistryOptions & { log: Logger }): Promise<Registry> {
    if (!url) return new Registry(dataDir, options);
    const loaded = await loadShared(url, dataDir, options.log);
    try {
      const registry = new Registry(loaded, options);
      await loaded.store.subscribe((change) => registry.refresh(change), () => void registry.resync());
      return registry;
    } catch (err) {
      await loaded.store.pg.close();
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

  // ---- devices (devices.ts) -------------------------------------------------------------------------

  device(id: string): DeviceRecord | undefined {
    return this.devices.get(id);
  }

  /** The device, from memory or, shared registry, from PostgreSQL (Devices.lookup). */
  lookupDevice(id: string): Promise<DeviceRecord | undefined> {
    return this.devices.lookup(id);
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
    return this.devices.list(filter);
  }

  get deviceCount(): number {
    return this.devices.count;
  }

  createDevice(input: NewDevice, actor: string, token?: string): Promise<{ device: DeviceRecord; token: string }> {
    return this.devices.create(input, actor, token);
  }

  /** Many devices and their DevEUIs in one store transaction, or none (Devices.createMany). */
  createDevices(items: Array<{ input: NewDevice; token?: string }>, actor: string): Promise<Array<{ device: DeviceRecord; token: string }>> {
    return this.devices.createMany(items, actor);
  }

  updateDevice(id: string, patch: DevicePatch, actor: string): Promise<DeviceRecord> {
    return this.devices.update(id, patch, actor);
  }

  deleteDevice(id: string, actor: string): Promise<void> {
    return this.devices.delete(id, actor);
  }

  rotateToken(id: string, actor: string): Promise<string> {
    return this.devices.rotateToken(id, actor);
  }

  /** The device whose id and token these are, or null. */
  authenticateDevice(id: string, token: string): Promise<DeviceRecord | null> {
    return this.devices.authenticate(id, token);
  }

  /** True when `token` is the device's token as verified before (no scrypt needed to know it). */
  isVerifiedToken(id: string, token: string): boolean {
    return this.devices.isVerifiedToken(id, token);
  }

  /** Connection state as the broker sees it. `lastSeen` moves on every message. */
  setStatus(id: string, status: 'online' | 'offline', at?: number): void {
    this.devices.setStatus(id, status, at);
  }

  touch(id: string, at: number): void {
    this.devices.touch(id, at);
  }

  /** Write status and lastSeen changes to the store (called periodically and at shutdown). */
  flushStatus(): Promise<void> {
    return this.devices.flushStatus();
  }

  // ---- API keys (api-keys.ts) ------------------------------------------------------------------------

  createKey(name: string, role: Role, actor: string, scope?: Scope): Promise<{ id: string; name: string; role: Role; scope: Scope; key: string }> {
    return this.keys.create(name, role, actor, scope);
  }

  /** The API keys (never their secrets), oldest first. */
  listKeys(): KeyInfo[] {
    return this.keys.list();
  }

  key(id: string): KeyInfo | undefined {
    return this.keys.get(id);
  }

  /** A key's name, role or scope; a change of role or scope ends what was granted under the old ones. */
  updateKey(id: string, patch: { name?: string; role?: Role; scope?: Scope }, actor: string): Promise<KeyInfo> {
    return this.keys.update(id, patch, actor);
  }

  deleteKey(id: string, actor: string): Promise<void> {
    return this.keys.delete(id, actor);
  }

  /** Make `key` the bootstrap admin key (PANTAU_ADMIN_KEY or a generated one). */
  setBootstrapKey(key: string): Promise<void> {
    return this.keys.setBootstrap(key);
  }

  hasBootstrapKey(): boolean {
    return this.keys.hasBootstrap();
  }

  /** True when `key` was verified before (no scrypt needed to know it). */
  isVerifiedKey(key: string): boolean {
    return this.keys.isVerified(key);
  }

  authenticateKey(key: string): Promise<ApiPrincipal | null> {
    return this.keys.authenticate(key);
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
      if (change.table === 'devices') this.devices.apply(change.id, undefined);
      else if (change.table === 'users') this.people.apply(change.id, undefined);
      else this.keys.apply(change.id, undefined);
    };
    if (change.deleted && !this.refreshing.has(key)) {
      // a deletion needs no read-back: applied at once
      removed();
      return Promise.resolve();
    }
    const next = previous.catch(() => undefined).then(async () => {
      if (change.deleted) return removed();
      switch (change.table) {
        case 'devices': return this.devices.apply(change.id, await this.store.fetchDevice(change.id));
        case 'api_keys': return this.keys.apply(change.id, await this.store.fetchKey(change.id));
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
      for (const d of devices) this.devices.apply(d.id, d);
      for (const id of this.devices.ids()) if (!seen.has(id)) this.devices.apply(id, undefined);
      const seenKeys = new Set(keys.map((k) => k.id));
      for (const k of keys) this.keys.apply(k.id, k);
      for (const id of this.keys.ids()) if (!seenKeys.has(id)) this.keys.apply(id, undefined);
      this.extras.resync(devEuis, configs);
      this.people.resync(users);
    } catch (err) {
      this.log?.warn({ err: (err as Error).message }, 'registry reload failed; retrying');
      setTimeout(() => void this.resync(), 1000).unref();
    }
  }
}
