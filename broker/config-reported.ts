// A device's answer on `sensors/{kind}/{id}/config/reported`: `{"version","config"}`, the config it applied. Stored
// in the device's configuration shadow (the registry's store: in a cluster, PostgreSQL, which also judges whether
// the version was pushed, through whichever node). A malformed answer, one for a version Pantau never pushed, or
// one that cannot be stored (PostgreSQL unreachable) is logged with its reason and otherwise ignored: it must not
// disconnect the device (its telemetry matters more). Resolves false then; never rejects.
import type { Logger } from 'pino';
import { ConfigMessageSchema } from '../catalog/device-config.js';
import type { DeviceExtras } from '../registry/device-extras.js';
import type { DeviceRecord } from '../registry/registry.js';

export async function acceptReportedConfig(extras: DeviceExtras, device: DeviceRecord, payload: Buffer, log: Logger): Promise<boolean> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    log.warn({ deviceId: device.id }, 'config/reported: payload is not JSON; expected {"version","config"}');
    return false;
  }
  const message = ConfigMessageSchema.safeParse(parsed);
  if (!message.success || payload.length > 4096) {
    log.warn({ deviceId: device.id }, 'config/reported: expected {"version": integer, "config": object} of at most 4 KiB');
    return false;
  }
  try {
    const result = await extras.putReported(device.id, message.data.version, message.data.config);
    if (!result.ok) log.warn({ deviceId: device.id, detail: result.detail }, 'config/reported: refused');
    return result.ok;
  } catch (err) {
    log.warn({ deviceId: device.id, err: (err as Error).message }, 'config/reported: not stored');
    return false;
  }
}
