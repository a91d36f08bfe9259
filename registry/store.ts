// The registry's storage contract. The Registry (registry.ts) keeps devices and API keys in memory and answers
// every read from there, synchronously — the broker and ingest look a device up for each message. Every write
// goes through a RegistryStore first and reaches the memory only once the store has it:
//   - SqliteStore (sqlite-store.ts): the embedded default, one file in PANTAU_DATA_DIR;
//   - PgStore (pg-store.ts): PANTAU_REGISTRY_URL=postgres://…, shared by every node of a cluster, which hear of
//     each other's writes through LISTEN/NOTIFY.
// A new table is a method pair here, a statement in each backend and a migration in registry/schema.ts
// (PostgreSQL) / the SQLite schema — as the DevEUIs and configuration shadows of registry/device-extras.ts are.
import type { DeviceRecord, Role } from './device.js';
import type { Scope } from './scope.js';

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

/** A person who signs in to the console (issue 20, "people"): never holds the password, only its scrypt hash. */
export interface StoredUser {
  id: string;
  /** Lowercase letters, digits, `.`, `_`, `-`; unique. */
  username: string;
  /** Display name. */
  name: string;
  role: Role;
  scope: Scope;
  language: 'id' | 'en';
  disabled: boolean;
  /** Null until the person sets a password through a link. */
  passwordHash: string | null;
  createdAt: number;
  /** Consecutive failed sign-ins since the last success or lock. */
  failedLogins: number;
  /** Epoch ms until which sign-in is refused; null when not locked. */
  lockedUntil: number | null;
}

/** A one-time password-setting link: stored by the SHA-256 of its token, never the token itself. */
export interface StoredPasswordLink {
  tokenHash: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  /** A newer link replaced it. */
  voidedAt: number | null;
}

/** A console session as the registry keeps it, under the SHA-256 of its id (never the id itself). */
export interface StoredSession {
  idHash: string;
  principalType: 'key' | 'user';
  principalId: string;
  /** The key's name or the person's display name, when signed in. */
  name: string;
  username: string | null;
  role: Role;
  scope: Scope;
  csrfToken: string;
  createdAt: number;
  lastUsedAt: number;
  /** Absolute expiry (PANTAU_SESSION_TTL after sign-in); the idle limit is applied on top by the reader. */
  expiresAt: number;
}

/**
 * People, their password links and console sessions (issue 20). Every write that changes what a person may do
 * (disabled, role, scope, deleted) ends their sessions in the same transaction, so no node keeps serving one.
 */
export interface PeopleStore {
  loadUsers(): Promise<StoredUser[]>;
  fetchUser(id: string): Promise<StoredUser | undefined>;
  fetchUserByUsername(username: string): Promise<StoredUser | undefined>;
  /** The person and their first link; ConflictError when the username is taken. */
  /** `link` null: a person who signs in only through single sign-on (no password to set). */
  insertUser(user: StoredUser, link: StoredPasswordLink | null, audit: AuditWrite): Promise<void>;
  /** Display name, role, scope, language, disabled; `endSessions` ends the person's sessions too. False when gone. */
  updateUser(user: StoredUser, audit: AuditWrite, endSessions: boolean): Promise<boolean>;
  /** The person, their links and their sessions. */
  deleteUser(id: string, audit: AuditWrite): Promise<boolean>;
  /** A new link; the person's earlier unused links are voided. False when the person is gone. */
  insertPasswordLink(link: StoredPasswordLink, audit: AuditWrite): Promise<boolean>;
  fetchPasswordLink(tokenHash: string): Promise<StoredPasswordLink | undefined>;
  /**
   * Consumes a link (unused, not voided, not expired at `now`) and sets the person's password, clearing any lock;
   * false (nothing written) when the link was used, voided or expired meanwhile.
   */
  usePasswordLink(tokenHash: string, passwordHash: string, now: number, audit: AuditWrite): Promise<boolean>;
  /** Counts a failed sign-in; at `max` consecutive ones the account locks until `now + lockMs` and the count restarts. */
  recordLoginFailure(id: string, max: number, lockMs: number, now: number): Promise<{ failedLogins: number; lockedUntil: number | null }>;
  recordLoginSuccess(id: string): Promise<void>;
  // ---- console sessions ----
  putSession(session: StoredSession): Promise<void>;
  getSession(idHash: string): Promise<StoredSession | undefined>;
  touchSession(idHash: string, at: number): Promise<void>;
  deleteSession(idHash: string): Promise<void>;
  deleteSessionsOf(principalType: 'key' | 'user', principalId: string): Promise<void>;
  /** Forgets sessions past their absolute expiry or idle longer than `idleMs`. */
  sweepSessions(now: number, idleMs: number): Promise<void>;
}

/** What a backend tells the registry about writes made elsewhere (other nodes). */
export interface StoreChange {
  table: 'devices' | 'api_keys' | 'device_dev_eui' | 'device_config' | 'users';
  id: string;
  /** The row was deleted: applied at once, without reading it back. */
  deleted?: boolean;
}

/**
 * How the devices and keys read a row back through the registry (registry.ts `refresh`), which chains the reads of
 * one row so that an older read never lands after a newer one.
 */
export interface ReadBack {
  /** The read-back of this row in flight, if any. */
  pending(table: StoreChange['table'], id: string): Promise<void> | undefined;
  refresh(change: StoreChange): Promise<void>;
}

export class ConflictError extends Error {}
/** The DevEUI belongs to another device (HTTP 409). */
export class DevEuiConflictError extends ConflictError {}
export class NotFoundError extends Error {}
/** The shared registry cannot be reached (PostgreSQL down or restarting): the API answers 503. */
export class RegistryUnavailableError extends Error {}

export interface RegistryStore extends PeopleStore {
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
