// API keys and the audit log (docs/contract.md §5): keys are shown once, stored hashed; every admin action is audited.
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { KeyPatchSchema, NewKeySchema, RoleSchema } from '../registry/device.js';
import { isUnscoped, normalizeScope, scopeAllows, scopeForApi, ScopeSchema, scopeWithin } from '../registry/scope.js';
import { principalActor, type ApiPrincipal } from '../registry/device.js';
import type { AuditEntry, Registry } from '../registry/registry.js';
import { actorOf } from './auth.js';
import type { ApiContext } from './context.js';
import { HttpProblem, notFound, ProblemSchema } from './problem.js';
import { callerScope, checkGrant } from './scope-guard.js';

const KeyIdParams = z.object({ id: z.string().regex(/^([0-9a-f]{12}|bootstrap)$/, 'not a key id') });
const KeySchema = z.object({
  id: z.string(),
  name: z.string(),
  role: RoleSchema,
  scope: ScopeSchema.required(),
  createdAt: z.string().nullable(),
}).meta({ id: 'ApiKey' });

const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema };

export function keysPlugin(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    const { registry } = ctx;

    app.post('/api/v1/keys', {
      config: { role: 'admin' },
      schema: {
        tags: ['keys'],
        summary: 'Create an API key; the key is shown only in this answer',
        description: 'A scoped admin creates keys inside its own scope only; only an unscoped admin creates unscoped keys.',
        body: NewKeySchema,
        response: { 201: z.object({ id: z.string(), name: z.string(), role: RoleSchema, scope: ScopeSchema.required(), key: z.string() }), ...errors },
      },
    }, async (request, reply) => {
      const scope = normalizeScope(request.body.scope ?? callerScope(request));
      checkGrant(request.principal, scope);
      const created = await registry.createKey(request.body.name, request.body.role, actorOf(request), scope);
      return reply.code(201).send({ ...created, scope: scopeForApi(created.scope) });
    });

    /** Keys a (scoped) admin manages: those whose scope lies inside its own. Others do not exist for it. */
    const manageable = (request: FastifyRequest, id: string) => {
      const k = registry.key(id);
      if (!k || !scopeWithin(k.scope, callerScope(request))) throw notFound(`API key ${id} does not exist`);
      return k;
    };
    const apiKey = (k: NonNullable<ReturnType<typeof registry.key>>) => ({
      id: k.id, name: k.name, role: k.role, scope: scopeForApi(k.scope), createdAt: k.createdAt ? new Date(k.createdAt).toISOString() : null,
    });

    app.get('/api/v1/keys', {
      config: { role: 'admin' },
      schema: {
        tags: ['keys'],
        summary: 'API keys (never their secrets) inside the caller\'s scope, oldest first',
        response: { 200: z.object({ items: z.array(KeySchema), total: z.number().int() }), ...errors },
      },
    }, async (request) => {
      const own = callerScope(request);
      const items = registry.listKeys().filter((k) => scopeWithin(k.scope, own)).map(apiKey);
      return { items, total: items.length };
    });

    app.get('/api/v1/keys/:id', {
      config: { role: 'admin' },
      schema: { tags: ['keys'], summary: 'One API key (never its secret)', params: KeyIdParams, response: { 200: KeySchema, ...errors } },
    }, async (request) => apiKey(manageable(request, request.params.id)));

    app.patch('/api/v1/keys/:id', {
      config: { role: 'admin' },
      schema: {
        tags: ['keys'],
        summary: 'Rename a key or change its role or scope; its console sessions, live streams and MQTT sessions end at once',
        params: KeyIdParams,
        body: KeyPatchSchema,
        response: { 200: KeySchema, 409: ProblemSchema, ...errors },
      },
    }, async (request) => {
      manageable(request, request.params.id);
      if (request.params.id === 'bootstrap') throw new HttpProblem(409, 'the bootstrap key is always an unscoped admin; create another key instead', 'conflict');
      const scope = request.body.scope === undefined ? undefined : normalizeScope(request.body.scope);
      if (scope) checkGrant(request.principal, scope);
      return apiKey(await registry.updateKey(request.params.id, { name: request.body.name, role: request.body.role, scope }, actorOf(request)));
    });

    app.delete('/api/v1/keys/:id', {
      config: { role: 'admin' },
      schema: {
        tags: ['keys'],
        summary: 'Revoke an API key',
        params: KeyIdParams,
        response: { 204: z.null().describe('revoked'), ...errors },
      },
    }, async (request, reply) => {
      manageable(request, request.params.id);
      if (request.principal?.type === 'key' && request.params.id === request.principal.id) {
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
    }, async (request) => {
      const limit = request.query.limit ?? 100;
      const own = callerScope(request);
      if (isUnscoped(own)) return { items: await registry.auditLog(limit) };
      // a scoped admin sees the entries about what lies inside its scope, and its own: read further back to fill the page
      const items = (await registry.auditLog(Math.min(limit * 10, 10_000))).filter((e) => auditVisible(registry, request.principal!, e));
      return { items: items.slice(0, limit) };
    });
  };
}

/**
 * Whether a scoped admin sees an audit entry: one about a device inside its scope (device.*, alert.* name the
 * device), about a key or person inside its scope (key.*, user.*), or one it made itself. Entries about anything else — other cities'
 * devices, wider keys, deleted devices whose city is no longer known — do not exist for it.
 */
export function auditVisible(registry: Registry, caller: ApiPrincipal, entry: AuditEntry): boolean {
  if (entry.actor === principalActor(caller)) return true;
  const scope = caller.scope;
  if (entry.action.startsWith('alert.')) {
    const m = /\(device ([a-z0-9-]+)\)/.exec(entry.target);
    const device = m ? registry.device(m[1]!) : undefined;
    return device !== undefined && scopeAllows(scope, device);
  }
  const first = entry.target.split(/[\s:]/, 1)[0] ?? '';
  if (entry.action.startsWith('device.')) {
    const device = registry.device(first);
    return device !== undefined && scopeAllows(scope, device);
  }
  if (entry.action.startsWith('key.')) {
    const key = registry.key(first);
    return key !== undefined && scopeWithin(key.scope, scope);
  }
  if (entry.action.startsWith('user.')) {
    const person = registry.people.get(first);
    return person !== undefined && scopeWithin(person.scope, scope);
  }
  return false;
}
