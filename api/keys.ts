// API keys and the audit log (docs/contract.md §5): keys are shown once, stored hashed; every admin action is audited.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NewKeySchema, RoleSchema } from '../registry/device.js';
import { actorOf } from './auth.js';
import type { ApiContext } from './context.js';
import { HttpProblem, ProblemSchema } from './problem.js';

const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema };

export function keysPlugin(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    const { registry } = ctx;

    app.post('/api/v1/keys', {
      config: { role: 'admin' },
      schema: {
        tags: ['keys'],
        summary: 'Create an API key; the key is shown only in this answer',
        body: NewKeySchema,
        response: { 201: z.object({ id: z.string(), name: z.string(), role: RoleSchema, key: z.string() }), ...errors },
      },
    }, async (request, reply) => {
      const created = await registry.createKey(request.body.name, request.body.role, actorOf(request));
      return reply.code(201).send(created);
    });

    app.delete('/api/v1/keys/:id', {
      config: { role: 'admin' },
      schema: {
        tags: ['keys'],
        summary: 'Revoke an API key',
        params: z.object({ id: z.string().regex(/^([0-9a-f]{12}|bootstrap)$/, 'not a key id') }),
        response: { 204: z.null().describe('revoked'), ...errors },
      },
    }, async (request, reply) => {
      if (request.params.id === request.principal?.keyId) {
        throw new HttpProblem(409, 'a key cannot revoke itself; use another admin key', 'conflict');
      }
      await registry.deleteKey(request.params.id, actorOf(request));
      return reply.code(204).send(null);
    });

    app.get('/api/v1/audit', {
      config: { role: 'admin' },
      schema: {
        tags: ['keys'],
        summary: 'Audit log of device, token, key and alert changes, newest first',
        querystring: z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).optional() }),
        response: {
          200: z.object({ items: z.array(z.object({ ts: z.string(), actor: z.string(), action: z.string(), target: z.string() })) }),
          ...errors,
        },
      },
    }, async (request) => ({ items: await registry.auditLog(request.query.limit ?? 100) }));
  };
}
