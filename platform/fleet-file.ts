// Seed the registry from a fleet file (PANTAU_FLEET_FILE): a JSON array of devices in the API's create shape,
// each optionally with its `token`. Devices already registered are left as they are.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { z } from 'zod';
import { NewDeviceSchema } from '../registry/device.js';
import type { Registry } from '../registry/registry.js';

const FleetSchema = z.array(NewDeviceSchema.extend({ token: z.string().min(16).max(256).optional() }));

export async function seedFleet(registry: Registry, file: string, log: Logger): Promise<number> {
  let parsed: z.infer<typeof FleetSchema>;
  try {
    parsed = FleetSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch (err) {
    throw new Error(`PANTAU_FLEET_FILE: ${file} is not a valid fleet file: ${(err as Error).message.slice(0, 300)}`);
  }
  // one transaction for all new devices, their devEuis included (issue 16)
  const seen = new Set<string>();
  const fresh = parsed.filter((d) => !registry.device(d.id) && !seen.has(d.id) && seen.add(d.id));
  try {
    await registry.createDevices(fresh.map(({ token, ...input }) => ({ input, token })), 'fleet-file');
  } catch (err) {
    // e.g. a devEui that two devices share, or one a registered device already has
    throw new Error(`PANTAU_FLEET_FILE: ${file}: the devices could not be registered: ${(err as Error).message.slice(0, 300)}`);
  }
  const created = fresh.length;
  if (created > 0) log.info({ file, created }, 'registered devices from the fleet file');
  return created;
}
