// The registry's storage contract. The Registry (registry.ts) keeps devices and API keys in memory and answers
// every read from there, synchronously — the broker and ingest look a device up for each message. Every write
// goes through a RegistryStore first and reaches the memory only once the store has it:
//   - SqliteStore (sqlite-store.ts): the embedded default, one file in PANTAU_DATA_DIR;
//   - PgStore (pg-store.ts): PANTAU_REGISTRY_URL=postgres://…, shared by every node of a cluster, which hear of
//     each other's writes through LISTEN/NOTIFY.
// A new table is a method pair here, a statement in each backend and a migration in registry/schema.ts
// (PostgreSQL) / the SQLite schema — as the DevEUIs and configuration shadows of registry/device-extras.ts are.
import type { Role } from './device.js';
import type { Scope } from './scope.js';
import type { DeviceRecord } from './registry.js';

/** A device as the store keeps it: the registry's record plus its token hash (never leaves the registry). */
export type StoredDevice = DeviceRecord & { tokenHash: string };

export interface StoredKey {
  id: string;
  name: string;
  role: Role;
  keyHash: string;
  /** Cities and kinds it sees (registry/scope.ts); unscoped = both lists empty. */
  scope: Scope;
  /** Epoch ms; 0 when unknown. */
  createdAt?: number;
}

export interface AuditWrite {
  actor: string;
  action: string;
  target: string;
}

export interface AuditEntry {
  ts: string;
  actor: string;
  action: string;
  target: string;
}

export interface StatusWrite {
  id: string;
  status: string;
  lastSeen: number | null;
}

/** A device's LoRaWAN DevEUI (lower case; unique across the fleet). */
export interface DevEuiPair {
  deviceId: string;
  devEui: string;
}

/** A device's configuration shadow: the desired config an operator pushed and what the device reported it applied. */
export interface ConfigState {
  desired: Record<string, unknown> | null;
  /** 0 until a config is first pushed; +1 on every push. */
  version: number;
  updatedAt: number | null;
  reported: Record<string, unknown> | null;
  reportedVersion: number | null;
  reportedAt: number | null;
}

export const NO_CONFIG: ConfigState = Object.freeze({ desired: null, version: 0, updatedAt: null, reported: null, reportedVersion: null, reportedAt: null });

/** What a backend tells the registry about writes made elsewhere (other nodes). */
export interface StoreChange {
  table: 'devices' | 'api_keys' | 'device_dev_eui' | 'device_config';
  id: string;
  /** The row was deleted: applied at once, without reading it back. */
  deleted?: boolean;
}

export class ConflictError extends Error {}
/** The DevEUI belongs to another device (HTTP 409). */
export class DevEuiConflictError extends ConflictError {}
export class NotFoundError extends Error {}
/** The shared registry cannot be reached (PostgreSQL down or restarting): the API answers 503. */
export class RegistryUnavailableError extends Error {}

export interface RegistryStore {
  readonly backend: 'sqlite' | 'postgres';
  loadDevices(): Promise<StoredDevice[]>;
  loadKeys(): Promise<StoredKey[]>;
  fetchDevice(id: string): Promise<StoredDevice | undefined>;
  fetchKey(id: string): Promise<StoredKey | undefined>;
  /** Throws ConflictError when the id is taken. */
  insertDevice(device: StoredDevice, createdAt: number, audit: AuditWrite): Promise<void>;
  /** False when the device does not exist (any more). */
  updateDevice(device: StoredDevice, audit: AuditWrite): Promise<boolean>;
  deleteDevice(id: string, audit: AuditWrite): Promise<boolean>;
  setTokenHash(id: string, tokenHash: string, audit: AuditWrite): Promise<boolean>;
  insertKey(key: StoredKey, createdAt: number, audit: AuditWrite | null): Promise<void>;
  /** Insert or replace (the bootstrap key). */
  upsertKey(key: StoredKey, createdAt: number): Promise<void>;
  deleteKey(id: string, audit: AuditWrite): Promise<boolean>;
  /** Name, role and scope of a key (not its secret); false when it does not exist. */
  updateKey(key: StoredKey, audit: AuditWrite): Promise<boolean>;
  audit(entry: AuditWrite): Promise<void>;
  auditLog(limit: number): Promise<AuditEntry[]>;
  // ---- DevEUIs and configuration shadows (registry/device-extras.ts); a device's rows go with it on delete ----
  /**
   * Many devices (bulk import, fleet file) and their DevEUIs in one transaction: all or none. ConflictError when an
   * id or a DevEUI is taken.
   */
  insertDevices(devices: StoredDevice[], devEuis: DevEuiPair[], createdAt: number, actor: string): Promise<void>;
  loadDevEuis(): Promise<DevEuiPair[]>;
  fetchDevEui(deviceId: string): Promise<string | undefined>;
  /** The device a (lower-case) DevEUI belongs to. */
  fetchDevEuiOwner(devEui: string): Promise<string | undefined>;
  /** Set (null: remove) a device's DevEUI. DevEuiConflictError when another device has it; false when the device is gone. */
  setDevEui(deviceId: string, devEui: string | null, audit: AuditWrite): Promise<boolean>;
  loadConfigs(): Promise<Array<{ deviceId: string; state: ConfigState }>>;
  fetchConfig(deviceId: string): Promise<ConfigState | undefined>;
  /** A new desired config, its version one above the stored one (atomically); undefined when the device is gone. Audited. */
  putDesiredConfig(deviceId: string, desired: Record<string, unknown>, at: number, actor: string): Promise<ConfigState | undefined>;
  /** What the device applied; undefined (nothing written) unless 1 ≤ version ≤ the stored desired version. Audited. */
  putReportedConfig(deviceId: string, version: number, config: Record<string, unknown>, at: number): Promise<ConfigState | undefined>;
  getState(key: string): Promise<unknown>;
  setState(key: string, value: unknown): Promise<void>;
  flushStatus(rows: StatusWrite[]): Promise<void>;
  /** Last known reachability (no I/O). */
  usable(): boolean;
  close(): Promise<void>;
}
