// Checking an API key presented to the API (a request's Bearer key, or the console's sign-in with a key), with the
// per-address throttle of failed logins. Used by api/auth.ts (every route) and api/session.ts (sign-in); kept apart
// from both so neither imports the other.
import type { FastifyRequest } from 'fastify';
import type { ApiPrincipal } from '../registry/device.js';
import type { Registry } from '../registry/registry.js';
import { HttpProblem } from './problem.js';

/**
 * The principal of an API key, or null (counted as a failed login of the client's address). An address with too
 * many recent failures gets 429 for keys not verified before, without their being checked.
 */
export async function checkKey(registry: Registry, request: FastifyRequest, key: string): Promise<ApiPrincipal | null> {
  // an unknown key costs a hash check: counted against the address before the check, given back if it passes
  const unverified = key !== '' && !registry.isVerifiedKey(key);
  if (unverified && !registry.authThrottle.reserve(request.ip)) {
    const wait = registry.authThrottle.blockedFor(request.ip);
    throw new HttpProblem(429, `too many failed logins from this address; retry in ${wait} s`, 'rate-limited', { 'retry-after': String(wait) });
  }
  const principal = key ? await registry.authenticateKey(key) : null;
  if (!principal) {
    if (!unverified) registry.authThrottle.fail(request.ip);
    return null;
  }
  if (unverified) registry.authThrottle.succeeded(request.ip);
  return principal;
}
