// Scope enforcement (docs/contract.md §5, Scopes): one rule on every path — a resource outside the caller's scope
// does not exist for it. Routes with a device in their path (`/…/devices/:id…`) are checked here, for every such
// route present and future, before their handler runs: a device outside the scope answers the same 404 as a device
// that does not exist. Lists and aggregates filter with `visibleTo` / `callerScope`.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiPrincipal } from '../registry/device.js';
import type { DeviceRecord, Registry } from '../registry/registry.js';
import { UNSCOPED, describeScope, isUnscoped, scopeAllows, scopeWithin, type Scope } from '../registry/scope.js';
import { HttpProblem, notFound } from './problem.js';

/** The scope of the request's caller; unscoped for routes without authentication. */
export function callerScope(request: FastifyRequest): Scope {
  return request.principal?.scope ?? UNSCOPED;
}

/** True when the caller may see this device. */
export function visibleTo(request: FastifyRequest, device: { city: string; kind: string }): boolean {
  return scopeAllows(callerScope(request), device);
}

/** The device, or a 404 when it does not exist or lies outside the caller's scope (the same answer for both). */
export async function visibleDevice(registry: Registry, request: FastifyRequest, id: string): Promise<DeviceRecord> {
  const device = await registry.lookupDevice(id);
  if (!device || !visibleTo(request, device)) throw notFound(`device ${id} does not exist`);
  return device;
}

/** A device an import or create would make must lie inside the caller's scope. */
export function outsideScopeReason(request: FastifyRequest, device: { city: string; kind: string }): string | null {
  const scope = callerScope(request);
  if (scopeAllows(scope, device)) return null;
  return `a ${device.kind} device in ${device.city} is outside your scope (${describeScope(scope)})`;
}

/**
 * A scoped admin grants only a scope inside its own (any role: only admins grant, and no role is above admin); only
 * an unscoped admin makes unscoped keys and people. 403 otherwise.
 */
export function checkGrant(granter: ApiPrincipal | null, scope: Scope): void {
  const own = granter?.scope ?? UNSCOPED;
  if (isUnscoped(own)) return;
  if (!scopeWithin(scope, own)) {
    throw new HttpProblem(403, `a scope of ${describeScope(scope)} is wider than your own (${describeScope(own)}); only an unscoped admin grants it`, 'forbidden');
  }
}

/** The `:id` routes under `/devices/` whose device the guard checks. */
const DEVICE_ROUTE = /\/devices\/:id(\/|$)/;

export function installScopeGuard(app: FastifyInstance, registry: Registry): void {
  app.addHook('preHandler', async (request) => {
    const url = request.routeOptions.url;
    if (!url || !request.principal || !DEVICE_ROUTE.test(url)) return;
    if (isUnscoped(request.principal.scope)) return;
    const id = (request.params as { id?: unknown } | undefined)?.id;
    if (typeof id !== 'string') return;
    await visibleDevice(registry, request, id);
  });
}
