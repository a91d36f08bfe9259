// People (docs/contract.md §5, docs/console.md "People and sessions"): admins create, list, change and delete the
// persons who sign in to the console, each with a role and a scope like an API key's. A new person gets a one-time
// password-setting link (`/set-password#<token>`: the token rides in the URL fragment, which browsers never send to
// a server or put in a Referer), shown only in the answer that made it. The person sets their password at
// `POST /api/v1/password` with it; nobody else ever sees the password.
//
// A scoped admin manages only people whose scope lies inside its own — others do not exist for it (404) — and can
// never grant a wider scope (checkGrant, 403); only an unscoped admin creates unscoped people. Every change is
// audited with its actor; a change of role or scope, disabling and deleting end the person's sessions at once.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { RoleSchema } from '../registry/device.js';
import {
  LanguageSchema,
  NewPersonSchema,
  PasswordLinkError,
  PasswordRuleError,
  PersonPatchSchema,
  type Person,
} from '../registry/people.js';
import { normalizeScope, scopeForApi, ScopeSchema, scopeWithin } from '../registry/scope.js';
import { actorOf } from './auth.js';
import type { ApiContext } from './context.js';
import { HttpProblem, notFound, ProblemSchema } from './problem.js';
import { callerScope, checkGrant } from './scope-guard.js';

// a person made in Pantau (12 hex digits), or one who signs in by single sign-on (`oidc:<the provider's subject>`)
const PersonIdParams = z.object({ id: z.string().regex(/^([0-9a-f]{12}|oidc:[\x21-\x7e]{1,190})$/, 'not a person id') });
const PersonSchema = z.object({
  id: z.string(),
  username: z.string(),
  name: z.string(),
  role: RoleSchema,
  scope: ScopeSchema.required(),
  language: LanguageSchema,
  disabled: z.boolean(),
  hasPassword: z.boolean().describe('false until the person has set a password through a link'),
  createdAt: z.string(),
}).meta({ id: 'Person' });
const PasswordLinkSchema = z.object({
  url: z.string().describe('path of the console page that sets the password, with the token in the fragment'),
  token: z.string().describe('shown only in this answer'),
  expiresAt: z.string(),
}).meta({ id: 'PasswordLink' });

const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema };

const apiPerson = (p: Person) => ({
  id: p.id, username: p.username, name: p.name, role: p.role, scope: scopeForApi(p.scope), language: p.language,
  disabled: p.disabled, hasPassword: p.hasPassword, createdAt: new Date(p.createdAt).toISOString(),
});
const apiLink = (link: { token: string; expiresAt: number }) => ({
  url: `/set-password#${link.token}`, token: link.token, expiresAt: new Date(link.expiresAt).toISOString(),
});

export function usersPlugin(ctx: ApiContext, options: { passwordLinkTtlMs: number }): FastifyPluginAsyncZod {
  return async (app) => {
    const { registry } = ctx;
    const people = registry.people;

    /** A person the caller manages: one whose scope lies inside its own. Others do not exist for it. */
    const manageable = (request: FastifyRequest, id: string): Person => {
      const p = people.get(id);
      if (!p || !scopeWithin(p.scope, callerScope(request))) throw notFound(`person ${id} does not exist`);
      return p;
    };
    const isSelf = (request: FastifyRequest, id: string) => request.principal?.type === 'user' && request.principal.id === id;

    app.post('/api/v1/users', {
      config: { role: 'admin' },
      schema: {
        tags: ['people'],
        summary: 'Create a person; the answer carries their one-time password-setting link, shown only here',
        description: `The link expires after PANTAU_PASSWORD_LINK_TTL (default 72 h) and works once. A scoped admin creates people inside its own scope only (the scope defaults to the admin's); only an unscoped admin creates unscoped people.`,
        body: NewPersonSchema,
        response: { 201: z.object({ person: PersonSchema, passwordLink: PasswordLinkSchema }), 409: ProblemSchema, ...errors },
      },
    }, async (request, reply) => {
      const scope = normalizeScope(request.body.scope ?? callerScope(request));
      checkGrant(request.principal, scope);
      const { person, link } = await people.create({ ...request.body, scope }, actorOf(request), options.passwordLinkTtlMs);
      reply.header('cache-control', 'no-store');
      return reply.code(201).send({ person: apiPerson(person), passwordLink: apiLink(link) });
    });

    app.get('/api/v1/users', {
      config: { role: 'admin' },
      schema: {
        tags: ['people'],
        summary: "People inside the caller's scope, by username",
        response: { 200: z.object({ items: z.array(PersonSchema), total: z.number().int() }), ...errors },
      },
    }, async (request) => {
      const own = callerScope(request);
      const items = people.list().filter((p) => scopeWithin(p.scope, own)).map(apiPerson);
      return { items, total: items.length };
    });

    app.get('/api/v1/users/:id', {
      config: { role: 'admin' },
      schema: { tags: ['people'], summary: 'One person', params: PersonIdParams, response: { 200: PersonSchema, ...errors } },
    }, async (request) => apiPerson(manageable(request, request.params.id)));

    app.patch('/api/v1/users/:id', {
      config: { role: 'admin' },
      schema: {
        tags: ['people'],
        summary: 'Change display name, role, scope, language or disabled; a change of role or scope, or disabling, ends their sessions at once',
        params: PersonIdParams,
        body: PersonPatchSchema,
        response: { 200: PersonSchema, 409: ProblemSchema, ...errors },
      },
    }, async (request) => {
      const current = manageable(request, request.params.id);
      const scope = request.body.scope === undefined ? undefined : normalizeScope(request.body.scope);
      if (scope) checkGrant(request.principal, scope);
      if (request.body.disabled === true && isSelf(request, current.id)) {
        throw new HttpProblem(409, 'you cannot disable yourself; ask another admin', 'conflict');
      }
      return apiPerson(await people.update(current.id, { ...request.body, scope }, actorOf(request)));
    });

    app.delete('/api/v1/users/:id', {
      config: { role: 'admin' },
      schema: {
        tags: ['people'],
        summary: 'Delete a person; their sessions end at once',
        params: PersonIdParams,
        response: { 204: z.null().describe('deleted'), 409: ProblemSchema, ...errors },
      },
    }, async (request, reply) => {
      const current = manageable(request, request.params.id);
      if (isSelf(request, current.id)) throw new HttpProblem(409, 'you cannot delete yourself; ask another admin', 'conflict');
      await people.remove(current.id, actorOf(request));
      return reply.code(204).send(null);
    });

    app.post('/api/v1/users/:id/password-link', {
      config: { role: 'admin' },
      schema: {
        tags: ['people'],
        summary: "A new one-time password-setting link for a person (shown only here); the person's earlier links stop working",
        params: PersonIdParams,
        response: { 201: PasswordLinkSchema, ...errors },
      },
    }, async (request, reply) => {
      const current = manageable(request, request.params.id);
      const link = await people.newLink(current.id, actorOf(request), options.passwordLinkTtlMs);
      reply.header('cache-control', 'no-store');
      return reply.code(201).send(apiLink(link));
    });

    app.post('/api/v1/password', {
      schema: {
        tags: ['people'],
        summary: "Set a person's password with their one-time link",
        description: `No authentication: the link's token is the credential. The password needs at least 12 characters and must not contain the username. An unknown token answers 400 (type …/link-invalid); a used, replaced or expired link 410 (…/link-used, …/link-replaced, …/link-expired).`,
        security: [],
        body: z.strictObject({ token: z.string().min(1).max(200), password: z.string().max(1024) }),
        response: { 200: z.object({ username: z.string(), name: z.string() }), 400: ProblemSchema, 410: ProblemSchema, 429: ProblemSchema },
      },
    }, async (request, reply) => {
      const ip = request.ip;
      const wait = registry.authThrottle.blockedFor(ip);
      if (wait > 0) throw new HttpProblem(429, `too many failed attempts from this address; retry in ${wait} s`, 'rate-limited', { 'retry-after': String(wait) });
      try {
        const person = await people.setPassword(request.body.token, request.body.password);
        reply.header('cache-control', 'no-store');
        return { username: person.username, name: person.name };
      } catch (err) {
        if (err instanceof PasswordLinkError) {
          if (err.status === 400) registry.authThrottle.fail(ip);
          throw new HttpProblem(err.status, err.message, `link-${err.reason}`);
        }
        if (err instanceof PasswordRuleError) throw new HttpProblem(400, err.message, 'weak-password');
        throw err;
      }
    });
  };
}
