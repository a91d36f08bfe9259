// Health (docs/contract.md §5): `/healthz` while the process runs, `/readyz` when broker, InfluxDB and registry are usable
// (503 naming what is not), `/metrics` in Prometheus text format. All unauthenticated.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { redactUrlsDeep } from '../lib/redact.js';
import type { ApiContext } from './context.js';

export function healthPlugin(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/healthz', {
      schema: { tags: ['health'], summary: 'Liveness', response: { 200: z.object({ status: z.literal('ok') }) } },
    }, async () => ({ status: 'ok' as const }));

    const Ready = z.object({
      status: z.enum(['ready', 'not_ready']),
      checks: z.record(z.string(), z.object({ ok: z.boolean(), detail: z.string().optional() })),
      notReady: z.array(z.string()),
      details: z.record(z.string(), z.unknown()).optional(),
    });
    app.get('/readyz', {
      schema: { tags: ['health'], summary: 'Readiness of broker, InfluxDB and registry', response: { 200: Ready, 503: Ready } },
    }, async (_request, reply) => {
      // unauthenticated: an error message that names a URL (InfluxDB's, the broker's) must not show its credentials
      const checks = redactUrlsDeep(await ctx.readiness.checks());
      const notReady = Object.entries(checks).filter(([, c]) => !c.ok).map(([name]) => name);
      return reply.code(notReady.length ? 503 : 200).send({
        status: notReady.length ? 'not_ready' : 'ready',
        checks,
        notReady,
        details: redactUrlsDeep(ctx.status?.()),
      });
    });

    app.get('/metrics', {
      schema: { tags: ['health'], summary: 'Prometheus metrics', produces: ['text/plain'] },
    }, async (_request, reply) => {
      const text = await ctx.metrics.registry.metrics();
      return reply.type(ctx.metrics.registry.contentType).send(text);
    });
  };
}
