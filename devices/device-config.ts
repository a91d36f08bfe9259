// What a simulated device does with the configuration Pantau pushes (issue 16): it reports at
// `reportIntervalSeconds`, adds its calibration `offsets` to what it measures, and answers on config/reported with
// the version and the part of the config it applied. It has no siren, so on-device `thresholds` are not applied
// and not reported as applied.
import { deviceConfigSchema, ConfigMessageSchema } from '../catalog/device-config.js';
import type { Kind } from '../catalog/index.js';

export interface AppliedConfig {
  version: number;
  /** Reading interval; undefined keeps the simulator's --rate. */
  intervalMs: number | undefined;
  offsets: Record<string, number>;
  /** What the device reports back: `{"version","config"}` with the applied keys only. */
  report: { version: number; config: Record<string, unknown> };
}

/** The config message → what the device applies; null for a malformed message or one not newer than `lastVersion`. */
export function applyConfig(kind: Kind, payload: Buffer, lastVersion: number): AppliedConfig | null {
  let message;
  try {
    message = ConfigMessageSchema.parse(JSON.parse(payload.toString('utf8')));
  } catch {
    return null;
  }
  if (message.version <= lastVersion) return null;
  const config = deviceConfigSchema(kind).safeParse(message.config);
  if (!config.success) return null;
  const { reportIntervalSeconds, offsets } = config.data;
  const applied: Record<string, unknown> = {};
  if (reportIntervalSeconds !== undefined) applied.reportIntervalSeconds = reportIntervalSeconds;
  const cleanOffsets = Object.fromEntries(Object.entries(offsets ?? {}).filter((e): e is [string, number] => typeof e[1] === 'number'));
  if (offsets !== undefined) applied.offsets = cleanOffsets;
  return {
    version: message.version,
    intervalMs: reportIntervalSeconds === undefined ? undefined : reportIntervalSeconds * 1000,
    offsets: cleanOffsets,
    report: { version: message.version, config: applied },
  };
}

/** A reading with the calibration offsets added (to two decimals, as the sensor models round). */
export function withOffsets<T extends Record<string, number>>(reading: T, offsets: Record<string, number>): T {
  const out: Record<string, number> = { ...reading };
  for (const [field, offset] of Object.entries(offsets)) {
    if (out[field] !== undefined) out[field] = Math.round((out[field] + offset) * 100) / 100;
  }
  return out as T;
}
