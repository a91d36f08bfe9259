// Device attributes added in round 2, beside the devices table: the LoRaWAN DevEUI of a device (integrations map a
// network server's uplink to a Pantau device by it) and its configuration shadow (desired config pushed by an
// operator, the config the device reports it applied).
//
// Like the Registry's devices, both live in the registry's store (SQLite tables device_dev_eui and device_config,
// or the same tables in PostgreSQL, shared by every node of a cluster) and are held in memory: reads answer from
// memory, synchronously (the integrations look a DevEUI up for each uplink); writes go to the store first and reach
// memory once stored (a store that cannot be reached: RegistryUnavailableError, 503). Another node's write arrives
// as a notification; the Registry reads the row back and hands it to `applyDevEui` / `applyConfig` here.
import { EventEmitter } from 'node:events';
import {
  DevEuiConflictError,
  NO_CONFIG,
  NotFoundError,
  type ConfigState,
  type DevEuiPair,
  type RegistryStore,
} from './store.js';

export { DevEuiConflictError, type ConfigState };

/** Where a new desired config came from: this node's API, or another node's (heard through the store). */
export type ConfigOrigin = 'local' | 'remote';

/**
 * Events: `desired` (deviceId, ConfigState, ConfigOrigin) once per new desired version this node learns of — its
 * own writes at once, other nodes' when their notification is read back — never an older version after a newer;
 * `reported` (deviceId, ConfigState) when a device's report is stored (here or elsewhere).
 */
export class DeviceExtras extends EventEmitter {
  private readonly euiById = new Map<string, string>();
  private readonly idByEui = new Map<string, string>();
  private readonly configs = new Map<string, ConfigState>();

  constructor(
    private readonly store: RegistryStore,
    registry: EventEmitter,
    loaded: { devEuis: DevEuiPair[]; configs: Array<{ deviceId: string; state: ConfigState }> },
  ) {
    super();
    for (const p of loaded.devEuis) this.remember(p.deviceId, p.devEui);
    for (const c of loaded.configs) this.configs.set(c.deviceId, c.state);
    // the store removed the device's rows with it (here or on another node): forget them
    registry.on('device-removed', (id: string) => {
      this.forgetEui(id);
      this.configs.delete(id);
    });
  }

  // ---- DevEUI ----------------------------------------------------------------------------------------

  devEui(deviceId: string): string | undefined {
    return this.euiById.get(deviceId);
  }

  /** The device id a DevEUI (any case) belongs to. */
  deviceIdByDevEui(devEui: string): string | undefined {
    return this.idByEui.get(devEui.toLowerCase());
  }

  /** DevEUIs the store has just written with their devices (Devices.createMany, devices.ts). */
  cacheDevEuis(pairs: DevEuiPair[]): void {
    for (const p of pairs) this.applyDevEui(p.deviceId, p.devEui);
  }

  async setDevEui(deviceId: string, devEui: string | null, actor: string): Promise<void> {
    const eui = devEui === null ? null : devEui.toLowerCase();
    const owner = eui === null ? undefined : this.idByEui.get(eui);
    if (owner && owner !== deviceId) throw new DevEuiConflictError(`devEui ${eui} already belongs to device ${owner}`);
    const stored = await this.store.setDevEui(deviceId, eui, { actor, action: 'device.dev_eui_set', target: `${deviceId} ${devEui ?? '(none)'}` });
    if (!stored) throw new NotFoundError(`device ${deviceId} does not exist`);
    this.applyDevEui(deviceId, eui ?? undefined);
  }

  /** A device's DevEUI as the store has it now (undefined: none). */
  applyDevEui(deviceId: string, eui: string | undefined): void {
    if (this.euiById.get(deviceId) === eui) return;
    this.forgetEui(deviceId);
    if (eui === undefined) return;
    // a DevEUI moved from one device to another: the store's read of the old owner may come later
    const previous = this.idByEui.get(eui);
    if (previous !== undefined) this.euiById.delete(previous);
    this.remember(deviceId, eui);
  }

  // ---- configuration shadow --------------------------------------------------------------------------

  config(deviceId: string): ConfigState {
    return this.configs.get(deviceId) ?? NO_CONFIG;
  }

  allConfigs(): Array<{ deviceId: string; state: ConfigState }> {
    return [...this.configs].map(([deviceId, state]) => ({ deviceId, state }));
  }

  /** A new desired config: the store raises the version by one; `desired` fires (publishers push it to the device). */
  async putDesired(deviceId: string, desired: Record<string, unknown>, actor: string, at = Date.now()): Promise<ConfigState> {
    const state = await this.store.putDesiredConfig(deviceId, desired, at, actor);
    if (!state) throw new NotFoundError(`device ${deviceId} does not exist`);
    this.applyConfig(deviceId, state, 'local');
    return state;
  }

  /**
   * What the device says it applied. Refused (returns a reason) for a version Pantau never pushed — judged by the
   * store, which knows pushes made through any node. Throws RegistryUnavailableError when the store is down.
   */
  async putReported(deviceId: string, version: number, config: Record<string, unknown>, at = Date.now()): Promise<{ ok: true; state: ConfigState } | { ok: false; detail: string }> {
    const state = version >= 1 ? await this.store.putReportedConfig(deviceId, version, config, at) : undefined;
    if (!state) {
      return { ok: false, detail: `reported version ${version} was never pushed; the latest desired version is ${this.config(deviceId).version}` };
    }
    this.applyConfig(deviceId, state, 'local');
    return { ok: true, state };
  }

  /**
   * A device's configuration as the store has it now (undefined: none). Versions only move forward: an older read
   * that lands after a newer write is ignored; `desired` fires when the version rises, `reported` when a report is new.
   */
  applyConfig(deviceId: string, state: ConfigState | undefined, origin: ConfigOrigin): void {
    const current = this.configs.get(deviceId);
    if (!state) {
      this.configs.delete(deviceId);
      return;
    }
    if (current && state.version < current.version) return;
    if (current && state.version === current.version && (state.reportedAt ?? 0) <= (current.reportedAt ?? 0)) return;
    this.configs.set(deviceId, state);
    if (!current || state.version > current.version) this.emit('desired', deviceId, state, origin);
    if (state.reportedAt !== null && state.reportedAt !== current?.reportedAt) this.emit('reported', deviceId, state);
  }

  /** Everything as the store has it (after notifications may have been missed). */
  resync(devEuis: DevEuiPair[], configs: Array<{ deviceId: string; state: ConfigState }>): void {
    const euis = new Map(devEuis.map((p) => [p.deviceId, p.devEui]));
    for (const id of [...this.euiById.keys()]) if (!euis.has(id)) this.applyDevEui(id, undefined);
    for (const [id, eui] of euis) this.applyDevEui(id, eui);
    const seen = new Set(configs.map((c) => c.deviceId));
    for (const id of [...this.configs.keys()]) if (!seen.has(id)) this.configs.delete(id);
    for (const c of configs) this.applyConfig(c.deviceId, c.state, 'remote');
  }

  private remember(deviceId: string, eui: string): void {
    this.euiById.set(deviceId, eui);
    this.idByEui.set(eui, deviceId);
  }

  private forgetEui(deviceId: string): void {
    const eui = this.euiById.get(deviceId);
    if (eui !== undefined && this.idByEui.get(eui) === deviceId) this.idByEui.delete(eui);
    this.euiById.delete(deviceId);
  }
}

/** The DevEUIs and configuration shadows of a registry (one per registry, so the broker, API and wiring share it). */
export function deviceExtras(registry: { readonly extras: DeviceExtras }): DeviceExtras {
  return registry.extras;
}
