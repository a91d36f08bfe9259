// Device attributes added in round 2, beside the devices table: the LoRaWAN DevEUI of a device (integrations map a
// network server's uplink to a Pantau device by it) and its configuration shadow (desired config pushed by an
// operator, the config the device reports it applied). Every SQL statement of these two tables is in this file,
// so a port of the registry to another database ports this file alone.
import { EventEmitter } from 'node:events';
import type Database from 'better-sqlite3';
import { ConflictError, type Registry } from './registry.js';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS device_dev_eui (
    device_id TEXT PRIMARY KEY, dev_eui TEXT NOT NULL UNIQUE
  );
  CREATE TABLE IF NOT EXISTS device_config (
    device_id TEXT PRIMARY KEY, version INTEGER NOT NULL, desired TEXT NOT NULL, updated_at INTEGER NOT NULL,
    reported TEXT, reported_version INTEGER, reported_at INTEGER
  );
`;

export interface ConfigState {
  desired: Record<string, unknown> | null;
  version: number;
  updatedAt: number | null;
  reported: Record<string, unknown> | null;
  reportedVersion: number | null;
  reportedAt: number | null;
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

export class DevEuiConflictError extends ConflictError {}

/** Events: `desired` (deviceId, ConfigState) after an operator's change; `reported` (deviceId, ConfigState). */
export class DeviceExtras extends EventEmitter {
  private readonly db: Database.Database;
  private readonly euiById = new Map<string, string>();
  private readonly idByEui = new Map<string, string>();
  private readonly stmts;

  constructor(private readonly registry: Registry) {
    super();
    this.db = registry.db;
    this.db.exec(SCHEMA);
    this.stmts = {
      insertEui: this.db.prepare('INSERT INTO device_dev_eui (device_id, dev_eui) VALUES (?, ?) ON CONFLICT(device_id) DO UPDATE SET dev_eui = excluded.dev_eui'),
      deleteEui: this.db.prepare('DELETE FROM device_dev_eui WHERE device_id = ?'),
      config: this.db.prepare('SELECT * FROM device_config WHERE device_id = ?'),
      allConfigs: this.db.prepare('SELECT * FROM device_config'),
      putDesired: this.db.prepare(
        `INSERT INTO device_config (device_id, version, desired, updated_at) VALUES (?, 1, ?, ?)
         ON CONFLICT(device_id) DO UPDATE SET version = version + 1, desired = excluded.desired, updated_at = excluded.updated_at
         RETURNING version`,
      ),
      putReported: this.db.prepare('UPDATE device_config SET reported = ?, reported_version = ?, reported_at = ? WHERE device_id = ?'),
      deleteConfig: this.db.prepare('DELETE FROM device_config WHERE device_id = ?'),
    };
    for (const row of this.db.prepare('SELECT device_id, dev_eui FROM device_dev_eui').all() as Array<{ device_id: string; dev_eui: string }>) {
      this.remember(row.device_id, row.dev_eui);
    }
    registry.on('device-removed', (id: string) => {
      this.stmts.deleteEui.run(id);
      this.stmts.deleteConfig.run(id);
      this.forgetEui(id);
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

  /** Store DevEUIs (already checked unique); call inside the registry's transaction when creating devices. */
  insertDevEuis(pairs: Array<{ deviceId: string; devEui: string }>): void {
    for (const p of pairs) this.stmts.insertEui.run(p.deviceId, p.devEui.toLowerCase());
    for (const p of pairs) this.remember(p.deviceId, p.devEui.toLowerCase());
  }

  setDevEui(deviceId: string, devEui: string | null, actor: string): void {
    if (devEui === null) {
      this.stmts.deleteEui.run(deviceId);
      this.forgetEui(deviceId);
    } else {
      const eui = devEui.toLowerCase();
      const owner = this.idByEui.get(eui);
      if (owner && owner !== deviceId) throw new DevEuiConflictError(`devEui ${eui} already belongs to device ${owner}`);
      this.stmts.insertEui.run(deviceId, eui);
      this.forgetEui(deviceId);
      this.remember(deviceId, eui);
    }
    this.registry.audit(actor, 'device.dev_eui_set', `${deviceId} ${devEui ?? '(none)'}`);
  }

  // ---- configuration shadow --------------------------------------------------------------------------

  config(deviceId: string): ConfigState {
    const row = this.stmts.config.get(deviceId) as ConfigRow | undefined;
    return row ? toState(row) : { desired: null, version: 0, updatedAt: null, reported: null, reportedVersion: null, reportedAt: null };
  }

  allConfigs(): Array<{ deviceId: string; state: ConfigState }> {
    return (this.stmts.allConfigs.all() as ConfigRow[]).map((row) => ({ deviceId: row.device_id, state: toState(row) }));
  }

  /** A new desired config: the version goes up by one; subscribers publish it to the device. */
  putDesired(deviceId: string, desired: Record<string, unknown>, actor: string, at = Date.now()): ConfigState {
    const { version } = this.stmts.putDesired.get(deviceId, JSON.stringify(desired), at) as { version: number };
    this.registry.audit(actor, 'device.config_updated', `${deviceId} v${version}`);
    const state = this.config(deviceId);
    this.emit('desired', deviceId, state);
    return state;
  }

  /** What the device says it applied. Refused (returns a reason) for a version Pantau never pushed. */
  putReported(deviceId: string, version: number, config: Record<string, unknown>, at = Date.now()): { ok: true; state: ConfigState } | { ok: false; detail: string } {
    const current = this.config(deviceId);
    if (version < 1 || version > current.version) {
      return { ok: false, detail: `reported version ${version} was never pushed; the latest desired version is ${current.version}` };
    }
    this.stmts.putReported.run(JSON.stringify(config), version, at, deviceId);
    this.registry.audit(deviceId, 'device.config_reported', `${deviceId} v${version}`);
    const state = this.config(deviceId);
    this.emit('reported', deviceId, state);
    return { ok: true, state };
  }

  private remember(deviceId: string, eui: string): void {
    this.euiById.set(deviceId, eui);
    this.idByEui.set(eui, deviceId);
  }

  private forgetEui(deviceId: string): void {
    const eui = this.euiById.get(deviceId);
    if (eui !== undefined) this.idByEui.delete(eui);
    this.euiById.delete(deviceId);
  }
}

function toState(row: ConfigRow): ConfigState {
  return {
    desired: JSON.parse(row.desired) as Record<string, unknown>,
    version: row.version,
    updatedAt: row.updated_at,
    reported: row.reported === null ? null : (JSON.parse(row.reported) as Record<string, unknown>),
    reportedVersion: row.reported_version,
    reportedAt: row.reported_at,
  };
}

const extrasByRegistry = new WeakMap<Registry, DeviceExtras>();

/** The one DeviceExtras of a registry (created on first use, so the broker, API and wiring share it). */
export function deviceExtras(registry: Registry): DeviceExtras {
  let extras = extrasByRegistry.get(registry);
  if (!extras) {
    extras = new DeviceExtras(registry);
    extrasByRegistry.set(registry, extras);
  }
  return extras;
}
