// The registry's devices: their records and token hashes held in memory (every read is answered from there,
// synchronously: the broker and ingest look a device up for each message), their writes (store first, then memory),
// device authentication by token, and the connection status the broker reports (written to the store in batches).
// A row changed through another node arrives through the registry's `refresh` and is applied here (`apply`).
import type { EventEmitter } from 'node:events';
import type { DeviceExtras } from './device-extras.js';
import type { DeviceFilter, DevicePatch, DeviceRecord, NewDevice } from './device.js';
import { GENERATED_COST, fingerprint, hashGenerated, hashSecret, newSecret, sameFingerprint, verifySecret } from './secrets.js';
import { ConflictError, NotFoundError, type ReadBack, type RegistryStore, type StoredDevice } from './store.js';

/**
 * Events on the registry: `device-changed` (DeviceRecord), `status` (DeviceRecord), `token-rotated` (id),
 * `device-removed` (id).
 */
export class Devices {
  private readonly records = new Map<string, DeviceRecord>();
  private readonly tokenHashes = new Map<string, string>();
  private readonly verifiedTokens = new Map<string, Buffer>();
  private readonly dirtyStatus = new Set<string>();

  constructor(
    private readonly store: RegistryStore,
    private readonly events: EventEmitter,
    private readonly readBack: ReadBack,
    private readonly extras: DeviceExtras,
    loaded: StoredDevice[],
  ) {
    for (const row of loaded) this.cache(row, true);
  }

  get(id: string): DeviceRecord | undefined {
    return this.records.get(id);
  }

  /**
   * The device, from memory or — shared registry, not cached yet (created through another node a moment ago) —
   * from PostgreSQL. Throws RegistryUnavailableError when it has to ask and cannot.
   */
  async lookup(id: string): Promise<DeviceRecord | undefined> {
    // a change announced a moment ago is being read back: decide on the outcome, not on what it replaces
    const pending = this.readBack.pending('devices', id);
    if (pending) await pending.catch(() => undefined);
    const cached = this.records.get(id);
    if (cached || this.store.backend === 'sqlite') return cached;
    await this.readBack.refresh({ table: 'devices', id });
    return this.records.get(id);
  }

  list(filter: DeviceFilter = {}): DeviceRecord[] {
    const out: DeviceRecord[] = [];
    for (const d of this.records.values()) {
      if (filter.kind && d.kind !== filter.kind) continue;
      if (filter.city && d.city !== filter.city) continue;
      if (filter.district && d.district !== filter.district) continue;
      if (filter.status && d.status !== filter.status) continue;
      out.push(d);
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  get count(): number {
    return this.records.size;
  }

  /** All ids, for a reload that compares what the store has with what is cached. */
  ids(): string[] {
    return [...this.records.keys()];
  }

  async create(input: NewDevice, actor: string, token = newSecret()): Promise<{ device: DeviceRecord; token: string }> {
    if (this.records.has(input.id)) throw new ConflictError(`device ${input.id} already exists`);
    const tokenHash = await hashSecret(token, GENERATED_COST);
    if (this.records.has(input.id)) throw new ConflictError(`device ${input.id} already exists`);
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
    const record = this.cache(row, false);
    this.events.emit('device-changed', record);
    return { device: record, token };
  }

  /**
   * Register many devices at once (bulk import, fleet file), with their DevEUIs (`input.devEui`): all in one store
   * transaction, or none.
   */
  async createMany(items: Array<{ input: NewDevice; token?: string }>, actor: string): Promise<Array<{ device: DeviceRecord; token: string }>> {
    for (const { input } of items) if (this.records.has(input.id)) throw new ConflictError(`device ${input.id} already exists`);
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
    const records = created.map(({ device, hash }) => this.cache({ ...device, tokenHash: hash }, false));
    this.extras.cacheDevEuis(devEuis);
    for (const record of records) this.events.emit('device-changed', record);
    return created.map(({ token }, i) => ({ device: records[i]!, token }));
  }

  async update(id: string, patch: DevicePatch, actor: string): Promise<DeviceRecord> {
    const current = this.require(id);
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
    this.records.set(id, next);
    this.events.emit('device-changed', next);
    return next;
  }

  async delete(id: string, actor: string): Promise<void> {
    this.require(id);
    const stored = await this.store.deleteDevice(id, { actor, action: 'device.deleted', target: id });
    if (!stored) return void this.gone(id);
    this.uncache(id);
  }

  async rotateToken(id: string, actor: string): Promise<string> {
    this.require(id);
    const token = newSecret();
    const tokenHash = await hashSecret(token, GENERATED_COST);
    if (!this.records.has(id)) throw new NotFoundError(`device ${id} does not exist`);
    const stored = await this.store.setTokenHash(id, tokenHash, { actor, action: 'device.token_rotated', target: id });
    if (!stored) return this.gone(id);
    this.tokenHashes.set(id, tokenHash);
    this.verifiedTokens.delete(id);
    this.events.emit('token-rotated', id);
    return token;
  }

  /** The device whose id and token these are, or null. */
  async authenticate(id: string, token: string): Promise<DeviceRecord | null> {
    if (!this.tokenHashes.has(id)) await this.lookup(id);
    const hash = this.tokenHashes.get(id);
    if (!hash) return null;
    const fp = fingerprint(token);
    const known = this.verifiedTokens.get(id);
    if (known) return sameFingerprint(known, fp) ? (this.records.get(id) ?? null) : null;
    if (!(await verifySecret(token, hash))) return null;
    // the token may have been rotated or the device removed while scrypt ran
    if (this.tokenHashes.get(id) !== hash) return null;
    this.verifiedTokens.set(id, fp);
    return this.records.get(id) ?? null;
  }

  /** True when `token` is the device's token as verified before (no scrypt needed to know it). */
  isVerifiedToken(id: string, token: string): boolean {
    const known = this.verifiedTokens.get(id);
    return known !== undefined && sameFingerprint(known, fingerprint(token));
  }

  // ---- connection status -----------------------------------------------------------------------------

  /** Connection state as the broker sees it. `lastSeen` moves on every message. */
  setStatus(id: string, status: 'online' | 'offline', at = Date.now()): void {
    const device = this.records.get(id);
    if (!device) return;
    const changed = device.status !== status;
    device.status = status;
    if (status === 'online') device.lastSeen = Math.max(device.lastSeen ?? 0, at);
    this.dirtyStatus.add(id);
    if (changed) this.events.emit('status', device);
  }

  touch(id: string, at: number): void {
    const device = this.records.get(id);
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
      const d = this.records.get(id);
      if (d) rows.push({ id, status: d.status, lastSeen: d.lastSeen });
    }
    return this.store.flushStatus(rows).catch((err) => {
      // kept for the next flush
      for (const id of ids) this.dirtyStatus.add(id);
      throw err;
    });
  }

  // ---- the cache -------------------------------------------------------------------------------------

  /** A device as the store has it now (undefined: deleted), with the events of a local change. */
  apply(id: string, row: StoredDevice | undefined): void {
    const current = this.records.get(id);
    if (!row) {
      if (current) this.uncache(id);
      return;
    }
    if (!current) {
      this.events.emit('device-changed', this.cache(row, false));
      return;
    }
    if (this.tokenHashes.get(id) !== row.tokenHash) {
      this.tokenHashes.set(id, row.tokenHash);
      this.verifiedTokens.delete(id);
      this.events.emit('token-rotated', id);
    }
    const same = current.name === row.name && current.city === row.city && current.district === row.district &&
      current.lat === row.lat && current.lon === row.lon && JSON.stringify(current.thresholds) === JSON.stringify(row.thresholds) &&
      current.public === row.public;
    if (same) return;
    // status and lastSeen are this node's view of the connection; keep them
    const next: DeviceRecord = { ...current, name: row.name, city: row.city, district: row.district, lat: row.lat, lon: row.lon, thresholds: row.thresholds, public: row.public };
    this.records.set(id, next);
    this.events.emit('device-changed', next);
  }

  private cache(row: StoredDevice, atStart: boolean): DeviceRecord {
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
    this.records.set(row.id, record);
    this.tokenHashes.set(row.id, row.tokenHash);
    return record;
  }

  private uncache(id: string): void {
    this.records.delete(id);
    this.tokenHashes.delete(id);
    this.verifiedTokens.delete(id);
    this.dirtyStatus.delete(id);
    this.events.emit('device-removed', id);
  }

  private require(id: string): DeviceRecord {
    const device = this.records.get(id);
    if (!device) throw new NotFoundError(`device ${id} does not exist`);
    return device;
  }

  /** The store no longer has a device the cache had: deleted through another node. */
  private gone(id: string): never {
    if (this.records.has(id)) this.uncache(id);
    throw new NotFoundError(`device ${id} does not exist`);
  }
}
