// API authentication (docs/contract.md §5): `Authorization: Bearer <api key>`; the stream route also takes
// `?access_token=` because a browser's EventSource cannot send headers. Each route states its role in
// `config.role`; routes without one are public. Missing or bad key → 401, insufficient role → 403.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiPrincipal, Role } from '../registry/device.js';
import { principalActor, roleAllows } from '../registry/device.js';
import { sameScope } from '../registry/scope.js';
import type { Registry } from '../registry/registry.js';
import { HttpProblem } from './problem.js';
import type { Sessions } from './session.js';
import { checkKey } from './credentials.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    role?: Role;
    queryToken?: boolean;
  }
  interface FastifyRequest {
    principal: ApiPrincipal | null;
    /**
     * Checks again that the request's credential (key or console session) still holds, with the same role and
     * scope: long-lived answers (the SSE stream) call it while they run. Null for routes without authentication.
     */
    stillValid: (() => Promise<boolean>) | null;
  }
}

export function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match ? match[1] : '';
  }
  if (request.routeOptions.config.queryToken) {
    const token = (request.query as Record<string, unknown> | undefined)?.access_token;
    if (typeof token === 'string') return token;
  }
  return undefined;
}

export function installAuth(app: FastifyInstance, registry: Registry, sessions?: Sessions): void {
  app.decorateRequest('principal', null);
  app.decorateRequest('stillValid', null);
  // preParsing, not onRequest: the rate limiter's route-level onRequest hook must count a request before its key
  // is checked, or made-up keys would never be limited; the body is still not read before authentication.
  app.addHook('preParsing', async (request) => {
    const needed = request.routeOptions.config.role;
    if (!needed) return;
    const key = presentedKey(request);
    const unauthorized = (detail: string) =>
      new HttpProblem(401, detail, 'unauthorized', { 'www-authenticate': 'Bearer realm="pantau"' });
    const principal = key === undefined ? await sessions?.authenticate(request) : await checkKey(registry, request, key);
    if (!principal) {
      // no key: the console's session cookie (docs/contract.md §8), with its CSRF check for state-changing requests
      if (key === undefined) throw unauthorized('this route needs an API key (Authorization: Bearer <key>) or a console session');
      throw unauthorized('the API key is not valid (unknown, revoked or mistyped)');
    }
    if (!roleAllows(principal.role, needed)) {
      throw new HttpProblem(403, `this route needs the ${needed} role; the ${principal.type === 'user' ? 'person' : 'key'} "${principal.name}" has ${principal.role}`, 'forbidden');
    }
    request.principal = principal;
    const same = (p: ApiPrincipal | null | undefined) => !!p && p.id === principal.id && p.role === principal.role && sameScope(p.scope, principal.scope);
    request.stillValid = key === undefined
      ? async () => same(await sessions?.revalidate(request))
      : async () => same(await registry.authenticateKey(key));
  });
}

/** Who did it, for the audit log: `key:<id> (<name>)` or `user:<username> (<display name>)`. */
export function actorOf(request: FastifyRequest): string {
  const p = request.principal;
  return p ? principalActor(p) : 'anonymous';
}
