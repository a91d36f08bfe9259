// The notifications of one alert (docs/contract.md §5, docs/notifications.md "Deliveries"): every outbox row —
// which channel, why, its status, each attempt with the provider's answer (secrets masked) and when the next one
// comes. Scoped like the alert: an alert outside the caller's scope does not exist for it (404).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Alert } from '../alerts/engine.js';
import { REASONS, STATUSES } from '../notify/plan.js';
import type { NotifyStore } from '../notify/store.js';
import type { Registry } from '../registry/registry.js';
import { alertVisible } from './alerts.js';
import { notFound, ProblemSchema } from './problem.js';
import { callerScope } from './scope-guard.js';

const DeliverySchema = z
  .object({
    id: z.string(),
    channel: z.object({ id: z.string(), name: z.string(), type: z.string() }),
    reason: z.enum(REASONS),
    changeAt: z.string(),
    status: z.enum(STATUSES),
    attempts: z.array(z.object({ at: z.string(), ok: z.boolean(), status: z.number().int().nullable(), error: z.string().nullable() })),
    nextAttemptAt: z.string().nullable(),
    sentAt: z.string().nullable(),
    /** Sent (or to be sent) within the channel's digest. */
    digest: z.boolean(),
  })
  .meta({ id: 'Delivery', description: 'One message of an alert to one channel (an outbox row)' });

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function deliveriesPlugin(options: { store: NotifyStore; get: (id: string) => Alert | undefined | Promise<Alert | undefined>; registry: Registry }): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/api/v1/alerts/:id/deliveries', {
      config: { role: 'viewer' },
      schema: {
        tags: ['alerts', 'notifications'],
        summary: 'The notifications of an alert: per channel and change, its status, every attempt and the next one',
        params: z.object({ id: z.string().min(1).max(64).regex(/^[A-Za-z0-9-]+$/, 'not an alert id') }),
        response: { 200: z.object({ deliveries: z.array(DeliverySchema) }), 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema },
      },
    }, async (request) => {
      const alert = await options.get(request.params.id);
      if (!alert || !alertVisible(options.registry, callerScope(request), alert)) throw notFound(`alert ${request.params.id} does not exist`);
      const [rows, channels] = await Promise.all([options.store.deliveries(alert.id), options.store.listChannels()]);
      const byId = new Map(channels.map((c) => [c.id, c]));
      return {
        deliveries: rows.map((r) => {
          const c = byId.get(r.channelId);
          return {
            id: r.id,
            channel: { id: r.channelId, name: c?.name ?? '(deleted)', type: c?.type ?? 'deleted' },
            reason: r.reason,
            changeAt: iso(r.changeAt)!,
            status: r.status,
            attempts: r.attemptList.map((a) => ({ at: iso(a.at)!, ok: a.ok, status: a.status, error: a.error })),
            nextAttemptAt: r.status === 'held' || r.status === 'queued' || r.status === 'failed' ? iso(r.dueAt) : null,
            sentAt: iso(r.sentAt),
            digest: r.inDigest,
          };
        }),
      };
    });
  };
}
