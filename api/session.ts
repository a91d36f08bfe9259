// Console sessions (docs/contract.md §5, docs/console.md "People and sessions"): a person's username and password,
// or an API key, are exchanged once for a session cookie, so the browser never keeps a credential (not in
// localStorage, not in a URL). The cookie is HttpOnly, SameSite=Strict, Path=/ and, over HTTPS (directly or behind
// a trusted proxy, PANTAU_TRUST_PROXY), `Secure` and named `__Host-pantau_session`, which browsers bind to this
// host alone; over plain http (the demo on 127.0.0.1) browsers refuse a `__Host-` cookie, so it is
// `pantau_session` there. Both names are read. A state-changing request authenticated by the cookie must carry the
// session's CSRF token in `X-CSRF-Token` (synchroniser token), and a request whose `Origin` is not Pantau's own is
// refused outright.
//
// Storage: the registry (SQLite table console_sessions, or the same table in PostgreSQL shared by every node), by
// the SHA-256 of the session id, never the id itself, so a leaked table cannot be replayed as cookies. Any API node
// serves any session. A lookup reads the store again once its cached copy is a second old, and checks the session's
// key or person against the registry's memory on every request (updated on every node by the registry's
// notifications): a session ended on another node, or whose person was disabled or re-scoped, ends here within
// two seconds at most — at once on the node that made the change.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalActor, RoleSchema, type ApiPrincipal } from '../registry/device.js';
import { LanguageSchema, secretHash } from '../registry/people.js';
import { sameScope, scopeForApi, ScopeSchema } from '../registry/scope.js';
import { RegistryUnavailableError, type Registry } from '../registry/registry.js';
import type { StoredSession } from '../registry/store.js';
import { checkKey } from './credentials.js';
import { HttpProblem, ProblemSchema } from './problem.js';

/** The cookie over plain http (browsers refuse `__Host-` cookies without Secure). */
export const SESSION_COOKIE = 'pantau_session';
/** The cookie over HTTPS: Secure, Path=/, no Domain — bound to this host, never set by a sibling subdomain. */
export const SECURE_SESSION_COOKIE = '__Host-pantau_session';
/**
 * A companion cookie without any secret, readable by the page: it only tells the console that a session may
 * exist, so a signed-out page shows the sign-in form without first asking (and being refused).
 */
export const SIGNED_IN_COOKIE = 'pantau_signed_in';
export const CSRF_HEADER = 'x-csrf-token';

/** A session as the store keeps it (registry/store.ts), without its key. */
export type Session = Omit<StoredSession, 'idHash'>;

/** How long a looked-up session is believed before the store is asked again. */
const CACHE_MS = 1000;

declare module 'fastify' {
  interface FastifyInstance {
    /** The console sessions: `app.sessions.stillValid(request.sessionIdHash)` for a live connection. */
    sessions: Sessions;
  }
  interface FastifyRequest {
    /** SHA-256 of the session id when the request was signed in by the session cookie; else null. */
    sessionIdHash: string | null;
  }
}

/** The session id in the request's cookie header (either name; the `__Host-` one first), if any. */
export function sessionCookie(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  let plain: string | undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name !== SECURE_SESSION_COOKIE && name !== SESSION_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    if (!/^[A-Za-z0-9_-]{20,100}$/.test(value)) continue;
    if (name === SECURE_SESSION_COOKIE) return value;
    plain ??= value;
  }
  return plain;
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * A request whose `Origin` (sent by browsers on every cross-origin request and on same-origin POSTs) names another
 * origin than the one it was sent to is refused: a page elsewhere must not act with this browser's session.
 */
export function checkOrigin(request: FastifyRequest): void {
  const origin = request.headers.origin;
  if (origin === undefined) return;
  const host = request.headers.host;
  let originHost: string;
  try {
    originHost = origin === 'null' ? 'null' : new URL(origin).host;
  } catch {
    originHost = 'invalid';
  }
  if (!host || originHost !== host) {
    throw new HttpProblem(403, `cross-site request refused: Origin ${origin.slice(0, 100)} is not this server`, 'forbidden');
  }
}

export interface SessionLimits {
  /** Absolute lifetime (PANTAU_SESSION_TTL). */
  ttlMs: number;
  /** Ends when unused this long (PANTAU_SESSION_IDLE). */
  idleMs: number;
}

export class Sessions {
  private readonly sweeper: NodeJS.Timeout;
  private readonly cache = new Map<string, { session: Session | undefined; readAt: number }>();
  /** How stale `lastUsedAt` may get before it is written again: one write a minute, not one per request. */
  private readonly touchEveryMs: number;

  constructor(
    private readonly registry: Registry,
    readonly limits: SessionLimits,
  ) {
    this.touchEveryMs = Math.min(60_000, Math.max(1000, Math.floor(limits.idleMs / 10)));
    this.sweeper = setInterval(() => void registry.store.sweepSessions(Date.now(), limits.idleMs).catch(() => undefined), 60_000);
    this.sweeper.unref();
  }

  get ttlMs(): number {
    return this.limits.ttlMs;
  }

  async create(principal: ApiPrincipal): Promise<{ id: string; session: Session }> {
    const id = randomBytes(32).toString('base64url');
    const now = Date.now();
    const session: Session = {
      principalType: principal.type,
      principalId: principal.id,
      name: principal.name,
      username: principal.username ?? null,
      role: principal.role,
      scope: principal.scope,
      csrfToken: randomBytes(24).toString('base64url'),
      createdAt: now,
      lastUsedAt: now,
      expiresAt: now + this.limits.ttlMs,
    };
    const idHash = secretHash(id);
    await this.registry.store.putSession({ idHash, ...session });
    this.remember(idHash, session, now);
    return { id, session };
  }

  /** The live session of this id, or undefined (unknown, ended, expired, idle too long, or its principal changed). */
  async lookup(id: string): Promise<Session | undefined> {
    return this.lookupHash(secretHash(id));
  }

  /**
   * For a live connection (the SSE stream) opened with a session: true while the session of this SHA-256 id hash
   * (`request.sessionIdHash`) is still valid — not signed out, not expired or idle, its key or person neither
   * deleted, disabled nor changed in role or scope, on this node or any other (within 2 s). Does not count as use.
   */
  async stillValid(idHash: string | null | undefined): Promise<boolean> {
    if (!idHash) return false;
    return (await this.lookupHash(idHash)) !== undefined;
  }

  /** When the session ends at the latest if unused: the earlier of its absolute and idle limits (epoch ms). */
  endsAt(session: Session): number {
    return Math.min(session.expiresAt, session.lastUsedAt + this.limits.idleMs);
  }

  async end(id: string): Promise<void> {
    const idHash = secretHash(id);
    this.cache.delete(idHash);
    await this.registry.store.deleteSession(idHash);
  }

  /** Ends every session of a key or person, in the store and in this node's cache. */
  async endAllOf(type: ApiPrincipal['type'], principalId: string): Promise<void> {
    for (const [h, e] of this.cache) if (e.session?.principalType === type && e.session.principalId === principalId) this.cache.delete(h);
    await this.registry.store.deleteSessionsOf(type, principalId);
  }

  /**
   * Authenticates a request by its session cookie; null when it has none. A state-changing request must carry the
   * session's CSRF token, and no request may come from another origin.
   */
  async authenticate(request: FastifyRequest): Promise<ApiPrincipal | null> {
    const id = sessionCookie(request);
    if (!id) return null;
    const idHash = secretHash(id);
    const session = await this.lookupHash(idHash);
    if (!session) return null;
    checkOrigin(request);
    if (STATE_CHANGING.has(request.method)) {
      const presented = request.headers[CSRF_HEADER];
      if (typeof presented !== 'string' || !sameToken(presented, session.csrfToken)) {
        throw new HttpProblem(403, 'a request signed in by the console session must carry its CSRF token in X-CSRF-Token', 'forbidden');
      }
    }
    this.touch(idHash, session);
    request.sessionIdHash = idHash;
    return { type: session.principalType, id: session.principalId, name: session.name, ...(session.username ? { username: session.username } : {}), role: session.role, scope: session.scope };
  }

  /**
   * The principal of the request's session as it stands now (no CSRF or origin check, and not counted as use: for
   * a connection already accepted, such as a live stream); null when the session has ended.
   */
  async revalidate(request: FastifyRequest): Promise<ApiPrincipal | null> {
    const session = request.sessionIdHash ? await this.lookupHash(request.sessionIdHash) : undefined;
    if (!session) return null;
    return { type: session.principalType, id: session.principalId, name: session.name, ...(session.username ? { username: session.username } : {}), role: session.role, scope: session.scope };
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private async lookupHash(idHash: string): Promise<Session | undefined> {
    const now = Date.now();
    let entry = this.cache.get(idHash);
    if (!entry || now - entry.readAt >= CACHE_MS) {
      try {
        entry = { session: await this.registry.store.getSession(idHash), readAt: now };
        this.remember(idHash, entry.session, now);
      } catch (err) {
        // PostgreSQL unreachable: a session this node served before goes on from its copy (its principal is still
        // checked against the registry's memory below), as keys and devices do; the store is asked again next time
        if (!(err instanceof RegistryUnavailableError) || !entry) throw err;
      }
    }
    const session = entry.session;
    if (!session) return undefined;
    if (this.endsAt(session) <= now) {
      this.cache.delete(idHash);
      await this.registry.store.deleteSession(idHash).catch(() => undefined);
      return undefined;
    }
    if (!this.principalHolds(session)) {
      // this node's copy of the key or person may lag a change made through another node by a few milliseconds:
      // ask the store before refusing (a session that really lost its grant was deleted with the change)
      if (this.registry.store.backend === 'postgres') {
        await this.registry.refresh({ table: session.principalType === 'key' ? 'api_keys' : 'users', id: session.principalId }).catch(() => undefined);
      }
      if (!this.principalHolds(session)) {
        this.cache.delete(idHash);
        return undefined;
      }
    }
    return session;
  }

  /** The key or person still exists, is enabled, and has the role and scope the session was granted. */
  private principalHolds(s: Session): boolean {
    if (s.principalType === 'key') {
      const key = this.registry.key(s.principalId);
      return key !== undefined && key.role === s.role && sameScope(key.scope, s.scope);
    }
    const person = this.registry.people.get(s.principalId);
    return person !== undefined && !person.disabled && person.role === s.role && sameScope(person.scope, s.scope);
  }

  private touch(idHash: string, session: Session): void {
    const now = Date.now();
    if (now - session.lastUsedAt < this.touchEveryMs) return;
    session.lastUsedAt = now;
    void this.registry.store.touchSession(idHash, now).catch(() => undefined);
  }

  private remember(idHash: string, session: Session | undefined, now: number): void {
    if (this.cache.size >= 10_000) {
      for (const [h, e] of this.cache) if (now - e.readAt >= CACHE_MS) this.cache.delete(h);
      if (this.cache.size >= 10_000) this.cache.clear();
    }
    this.cache.set(idHash, { session, readAt: now });
  }
}

/** True when the request came over TLS, directly or (PANTAU_TRUST_PROXY) as `X-Forwarded-Proto: https` from a trusted proxy. */
const isTls = (request: FastifyRequest) => request.protocol === 'https';

function cookie(name: string, value: string, maxAgeSeconds: number, secure: boolean): string {
  return [
    `${name}=${value}`,
    'Path=/',
    ...(name === SIGNED_IN_COOKIE ? [] : ['HttpOnly']),
    'SameSite=Strict',
    `Max-Age=${maxAgeSeconds}`,
    ...(maxAgeSeconds > 0 ? [`Expires=${new Date(Date.now() + maxAgeSeconds * 1000).toUTCString()}`] : ['Expires=Thu, 01 Jan 1970 00:00:00 GMT']),
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

/** The session cookie and its companion, named and flagged for this request's protocol (also for api/oidc.ts). */
export function sessionCookies(request: FastifyRequest, value: string, maxAgeSeconds: number): string[] {
  const secure = isTls(request);
  return [cookie(secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE, value, maxAgeSeconds, secure), cookie(SIGNED_IN_COOKIE, maxAgeSeconds > 0 ? '1' : '', maxAgeSeconds, secure)];
}

const SessionInfo = z.object({
  type: z.enum(['key', 'user']),
  name: z.string(),
  username: z.string().nullable(),
  role: RoleSchema,
  scope: ScopeSchema.required(),
  language: LanguageSchema.nullable(),
  expiresAt: z.string(),
  csrfToken: z.string(),
  /** The name again, under the name round 2's clients read. */
  keyName: z.string(),
}).meta({ id: 'Session' });

const SignIn = z.strictObject({
  key: z.string().min(1).max(512).optional(),
  username: z.string().min(1).max(64).optional(),
  password: z.string().min(1).max(1024).optional(),
});

const LockedProblem = ProblemSchema.extend({ lockedUntil: z.string() });

/** `POST /api/v1/session` (sign in), `GET` (who is signed in), `DELETE` (sign out). */
export function sessionPlugin(sessions: Sessions, registry: Registry): FastifyPluginAsyncZod {
  const info = (s: Session) => {
    const person = s.principalType === 'user' ? registry.people.get(s.principalId) : undefined;
    return {
      type: s.principalType,
      name: person?.name ?? s.name,
      username: s.username,
      role: s.role,
      scope: scopeForApi(s.scope),
      language: person?.language ?? null,
      expiresAt: new Date(sessions.endsAt(s)).toISOString(),
      csrfToken: s.csrfToken,
      keyName: person?.name ?? s.name,
    };
  };

  return async (app) => {
    app.post('/api/v1/session', {
      schema: {
        tags: ['session'],
        summary: 'Sign in to the console: a username and password, or an API key, exchanged for a session cookie',
        description:
          'Body `{"username","password"}` or `{"key"}`. Sets the cookie `__Host-pantau_session` over HTTPS (`pantau_session` over plain http): HttpOnly, SameSite=Strict. ' +
          'State-changing requests made with the cookie must send `X-CSRF-Token`. A wrong username and a wrong password are one answer (401); ' +
          'after 10 consecutive failures the account locks for 15 minutes (423, with `lockedUntil`); a disabled person gets 403.',
        security: [],
        body: SignIn,
        response: { 200: SessionInfo, 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 423: LockedProblem, 429: ProblemSchema },
      },
    }, async (request, reply) => {
      checkOrigin(request);
      const { key, username, password } = request.body;
      let principal: ApiPrincipal | null;
      if (key !== undefined && username === undefined && password === undefined) {
        principal = await checkKey(registry, request, key);
        if (!principal) throw new HttpProblem(401, 'the API key is not valid (unknown, revoked or mistyped)', 'unauthorized');
      } else if (key === undefined && username !== undefined && password !== undefined) {
        principal = await checkPassword(registry, request, username, password);
      } else {
        throw new HttpProblem(400, 'send either {"username","password"} or {"key"}', 'bad-request');
      }
      const { id, session } = await sessions.create(principal);
      registry.audit(principalActor(principal), 'session.created', `console (${principal.role})`);
      reply.header('set-cookie', sessionCookies(request, id, Math.floor(sessions.ttlMs / 1000)));
      reply.header('cache-control', 'no-store');
      return info(session);
    });

    app.get('/api/v1/session', {
      config: { role: 'viewer' },
      schema: {
        tags: ['session'],
        summary: 'Who is signed in by this cookie: type, name, username, role, scope, language, expiry and the CSRF token (for a reloaded page)',
        response: { 200: SessionInfo, 401: ProblemSchema },
      },
    }, async (request, reply) => {
      const id = sessionCookie(request);
      const session = id ? await sessions.lookup(id) : undefined;
      if (!session) throw new HttpProblem(401, 'not signed in: no console session', 'unauthorized');
      reply.header('cache-control', 'no-store');
      return info(session);
    });

    app.delete('/api/v1/session', {
      config: { role: 'viewer' },
      schema: { tags: ['session'], summary: 'Sign out: end the console session', response: { 401: ProblemSchema, 403: ProblemSchema } },
    }, async (request, reply: FastifyReply) => {
      const id = sessionCookie(request);
      if (id) await sessions.end(id);
      reply.header('set-cookie', sessionCookies(request, '', 0));
      return reply.code(204).send();
    });
  };
}

/**
 * A person's username and password, throttled per client address like API keys (each check is a full-cost
 * scrypt) and per account (registry/people.ts). Wrong username and wrong password: one answer.
 */
async function checkPassword(registry: Registry, request: FastifyRequest, username: string, password: string): Promise<ApiPrincipal> {
  if (!registry.authThrottle.reserve(request.ip)) {
    const wait = registry.authThrottle.blockedFor(request.ip);
    throw new HttpProblem(429, `too many failed sign-ins from this address; retry in ${wait} s`, 'rate-limited', { 'retry-after': String(wait) });
  }
  const result = await registry.people.signIn(username, password);
  switch (result.outcome) {
    case 'ok':
      registry.authThrottle.succeeded(request.ip);
      return result.principal;
    case 'wrong':
      throw new HttpProblem(401, 'wrong username or password', 'unauthorized');
    case 'locked': {
      const until = new Date(result.until).toISOString();
      const wait = Math.max(1, Math.ceil((result.until - Date.now()) / 1000));
      throw new HttpProblem(423, `this account is locked after too many failed sign-ins, until ${until}`, 'account-locked', { 'retry-after': String(wait) }, { lockedUntil: until });
    }
    case 'disabled':
      registry.authThrottle.succeeded(request.ip);
      throw new HttpProblem(403, 'this account is disabled; ask an admin', 'account-disabled');
  }
}

/**
 * Decorates the app with its sessions (`app.sessions`) and the request with `sessionIdHash`; ends the sessions of
 * revoked or changed keys and of deleted, disabled or changed people at once (on every node: the registry emits the
 * same events for changes heard from other nodes).
 */
export function installSessions(app: FastifyInstance, registry: Registry, sessions: Sessions): void {
  app.decorate('sessions', sessions);
  app.decorateRequest('sessionIdHash', null);
  const end = (type: ApiPrincipal['type']) => (id: string) =>
    void sessions.endAllOf(type, id).catch((err) => app.log.warn({ err }, `could not end the sessions of a ${type === 'key' ? 'revoked key' : 'changed person'}`));
  const onKey = end('key');
  const onUser = end('user');
  const events = [['key-revoked', onKey], ['key-changed', onKey], ['user-removed', onUser], ['user-changed', onUser]] as const;
  for (const [event, fn] of events) registry.on(event, fn);
  app.addHook('onClose', async () => {
    for (const [event, fn] of events) registry.off(event, fn);
    sessions.close();
  });
}
