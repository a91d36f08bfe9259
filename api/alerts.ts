// Alerts (docs/contract.md §5): list with filters, and acknowledgement by an operator.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ALERT_STATES, alertSchema, type Alert } from '../alerts/engine.js';
import { formatAlert } from '../alerts/service.js';
import { AlertTrendSchema, type AlertTrend } from './alert-trend.js';
import type { AlertFilter } from '../alerts/store.js';
import { DeviceIdSchema, KindSchema } from '../registry/device.js';
import { actorOf } from './auth.js';
import { HttpProblem, notFound, ProblemSchema } from './problem.js';
import type { Registry } from '../registry/registry.js';
import { isUnscoped, scopeAllows, type Scope } from '../registry/scope.js';
import { callerScope } from './scope-guard.js';

/** docs/contract.md §5 Alert: the engine's alert with RFC 3339 timestamps; `trend` on the list and the alert's route. */
export const AlertSchema = alertSchema
  .extend({
    openedAt: z.string(),
    acknowledgedAt: z.string().nullable(),
    resolvedAt: z.string().nullable(),
    trend: AlertTrendSchema.nullable().optional().describe('river gauges: the rate of rise over 30 minutes and the time to the next threshold; null when it cannot be computed (not an open flood-level alert, fewer than two readings)'),
  })
  .meta({ id: 'Alert' });

export interface AlertsBackend {
  list(filter: AlertFilter): Alert[] | Promise<Alert[]>;
  get(id: string): Alert | undefined | Promise<Alert | undefined>;
  acknowledge(id: string, actor: string): Alert | null | Promise<Alert | null>;
  /** The river trends of these alerts by id (api/alert-trend.ts); without it, alerts carry no `trend`. */
  trends?(alerts: Alert[]): Promise<Map<string, AlertTrend | null>>;
}

const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema };

/** The ids of the devices a scoped caller sees; undefined for an unscoped one (every alert, deleted devices' too). */
export function visibleDeviceIds(registry: Registry, scope: Scope): string[] | undefined {
  if (isUnscoped(scope)) return undefined;
  return registry.listDevices().filter((d) => scopeAllows(scope, d)).map((d) => d.id);
}

/** True when the caller sees this alert: its device exists and lies inside the caller's scope. */
export function alertVisible(registry: Registry, scope: Scope, alert: { deviceId: string }): boolean {
  if (isUnscoped(scope)) return true;
  const device = registry.device(alert.deviceId);
  return device !== undefined && scopeAllows(scope, device);
}

export function alertsPlugin(backend: AlertsBackend, registry: Registry): FastifyPluginAsyncZod {
  const withTrends = async (alerts: Alert[]) => {
    const trends = backend.trends ? await backend.trends(alerts) : undefined;
    return alerts.map((a) => (trends ? { ...formatAlert(a), trend: trends.get(a.id) ?? null } : formatAlert(a)));
  };
  const idParams = z.object({ id: z.string().min(1).max(64).regex(/^[A-Za-z0-9-]+$/, 'not an alert id') });

  return async (app) => {
    app.get('/api/v1/alerts', {
      config: { role: 'viewer' },
      schema: {
        tags: ['alerts'],
        summary: 'Alerts, newest first',
        querystring: z.strictObject({
          state: z.enum(ALERT_STATES).optional(),
          kind: KindSchema.optional(),
          deviceId: DeviceIdSchema.optional(),
          limit: z.coerce.number().int().min(1).max(1000).optional(),
        }),
        response: { 200: z.object({ items: z.array(AlertSchema) }), ...errors },
      },
    }, async (request) => {
      const deviceIds = visibleDeviceIds(registry, callerScope(request));
      return { items: await withTrends(await backend.list({ ...request.query, ...(deviceIds ? { deviceIds } : {}) })) };
    });

    app.get('/api/v1/alerts/:id', {
      config: { role: 'viewer' },
      schema: {
        tags: ['alerts'],
        summary: 'One alert, with its river trend',
        params: idParams,
        response: { 200: AlertSchema, ...errors },
      },
    }, async (request) => {
      const alert = await backend.get(request.params.id);
      if (!alert || !alertVisible(registry, callerScope(request), alert)) throw notFound(`alert ${request.params.id} does not exist`);
      return (await withTrends([alert]))[0]!;
    });

    app.post('/api/v1/alerts/:id/ack', {
      config: { role: 'operator' },
      schema: {
        tags: ['alerts'],
        summary: 'Acknowledge an open alert',
        params: idParams,
        response: { 200: AlertSchema, 409: ProblemSchema, ...errors },
      },
    }, async (request) => {
      const existing = await backend.get(request.params.id);
      if (!existing || !alertVisible(registry, callerScope(request), existing)) throw notFound(`alert ${request.params.id} does not exist`);
      const acked = await backend.acknowledge(request.params.id, actorOf(request));
      if (!acked) throw new HttpProblem(409, `alert ${existing.id} is ${existing.state}; only an open alert can be acknowledged`, 'conflict');
      return formatAlert(acked);
    });
  };
}
