// `GET /api/v1/summary` (docs/contract.md §5): per city and kind — devices online/offline, open alerts by severity, and the
// worst current index (highest ISPU, highest flood alert level, worst level of service).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Alert } from '../alerts/engine.js';
import { FLOOD_LEVEL_ORDER } from '../catalog/flood-levels.js';
import { LOS_ORDER } from '../catalog/traffic-los.js';
import type { Registry } from '../registry/registry.js';
import type { Indices } from './indices.js';
import { ProblemSchema } from './problem.js';
import { visibleTo } from './scope-guard.js';

const Worst = z
  .object({
    deviceId: z.string(),
    ispu: z.object({ value: z.number(), category: z.string(), dominant: z.string() }).optional(),
    alertLevel: z.string().optional(),
    los: z.string().optional(),
  })
  .nullable();

const Item = z.object({
  city: z.string(),
  kind: z.string(),
  devices: z.object({ total: z.number(), online: z.number(), offline: z.number(), neverSeen: z.number() }),
  openAlerts: z.object({ total: z.number(), bySeverity: z.record(z.string(), z.number()) }),
  worstIndex: Worst,
});

export interface SummarySources {
  registry: Registry;
  activeAlerts(): Alert[];
  indices(deviceId: string): Indices | undefined;
}

export function summaryPlugin(src: SummarySources): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/api/v1/summary', {
      config: { role: 'viewer' },
      schema: {
        tags: ['alerts'],
        summary: 'Per city and kind: devices online/offline, open alerts by severity, worst current index',
        response: { 200: z.object({ generatedAt: z.string(), items: z.array(Item) }), 401: ProblemSchema, 403: ProblemSchema },
      },
    }, async (request) => {
      const groups = new Map<string, z.infer<typeof Item> & { score: number }>();
      const alertsByDevice = new Map<string, Alert[]>();
      for (const a of src.activeAlerts()) alertsByDevice.set(a.deviceId, [...(alertsByDevice.get(a.deviceId) ?? []), a]);
      // only the caller's cities and kinds: no group, count or alert of the others (docs/contract.md §5, Scopes)
      for (const d of src.registry.listDevices()) {
        if (!visibleTo(request, d)) continue;
        const key = `${d.city}\u0000${d.kind}`;
        let g = groups.get(key);
        if (!g) {
          g = { city: d.city, kind: d.kind, devices: { total: 0, online: 0, offline: 0, neverSeen: 0 }, openAlerts: { total: 0, bySeverity: {} }, worstIndex: null, score: -1 };
          groups.set(key, g);
        }
        g.devices.total++;
        if (d.status === 'online') g.devices.online++;
        else if (d.status === 'offline') g.devices.offline++;
        else g.devices.neverSeen++;
        for (const a of alertsByDevice.get(d.id) ?? []) {
          g.openAlerts.total++;
          g.openAlerts.bySeverity[a.severity] = (g.openAlerts.bySeverity[a.severity] ?? 0) + 1;
        }
        const idx = src.indices(d.id);
        if (!idx) continue;
        let score = -1;
        let worst: z.infer<typeof Worst> = null;
        if (idx.ispu) {
          score = idx.ispu.value;
          worst = { deviceId: d.id, ispu: { value: idx.ispu.value, category: idx.ispu.category, dominant: idx.ispu.dominant } };
        } else if (idx.alertLevel) {
          score = FLOOD_LEVEL_ORDER[idx.alertLevel];
          worst = { deviceId: d.id, alertLevel: idx.alertLevel };
        } else if (idx.los) {
          score = LOS_ORDER[idx.los];
          worst = { deviceId: d.id, los: idx.los };
        }
        if (worst && score > g.score) {
          g.score = score;
          g.worstIndex = worst;
        }
      }
      const items = [...groups.values()]
        .sort((a, b) => a.city.localeCompare(b.city) || a.kind.localeCompare(b.kind))
        .map(({ score: _score, ...item }) => item);
      return { generatedAt: new Date().toISOString(), items };
    });
  };
}
