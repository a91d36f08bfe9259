// Console sessions (docs/contract.md §5, §8): an API key is exchanged once for a session cookie, so the browser never keeps the
// key (not in localStorage, not in a URL). The cookie `pantau_session` is HttpOnly, SameSite=Strict, Path=/, Secure
// under TLS, and expires with the session. A state-changing request authenticated by the cookie must carry the
// session's CSRF token in `X-CSRF-Token` (synchroniser token), and a request whose `Origin` is not Pantau's own is
// refused outright.
//
// Storage: `SessionStore` is an interface. `MemorySessionStore` keeps sessions in this process (they end when it
// restarts, and nodes of a cluster do not see each other's); a store backed by the shared registry database
// implements the same five methods. Stores see only the SHA-256 of a session id, never the id itself, so a leaked
// store cannot be replayed as cookies.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalActor, type ApiPrincipal, type Role } from '../registry/device.js';
import type { Scope } from '../registry/scope.js';
import type { Registry } from '../registry/registry.js';
import { checkKey } from './auth.js';
import { HttpProblem, ProblemSchema } from './problem.js';

export const SESSION_COOKIE = 'pantau_session';
/**
 * A companion cookie without any secret, readable by the page: it only tells the console that a session may
 * exist, so a signed-out page shows the sign-in form without first asking (and being refused).
 */
export const SIGNED_IN_COOKIE = 'pantau_signed_in';
export const CSRF_HEADER = 'x-csrf-token';

export interface Session {
  /** Who signed in: an API key or (issue 20) a person. */
  principalType: ApiPrincipal['type'];
  principalId: string;
  keyName: string;
  username?: string;
  role: Role;
  scope: Scope;
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
}

export interface SessionStore {
  /** Stores a session under the hash of its id. */
  put(idHash: string, session: Session): Promise<void>;
  /** The session, or undefined when unknown or expired. */
  get(idHash: string): Promise<Session | undefined>;
  delete(idHash: string): Promise<void>;
  /** Ends every session of an API key (the key was revoked). */
  deleteByKey(keyId: string): Promise<void>;
  /** Forgets expired sessions. */
  sweep(now: number): Promise<void>;
}

export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, Session>();
  constructor(private readonly maxSessions = 10_000) {}

  get size(): number {
    return this.sessions.size;
  }

  async put(idHash: string, session: Session): Promise<void> {
    if (this.sessions.size >= this.maxSessions) {
      await this.sweep(Date.now());
      // still full: the oldest session makes room (Map keeps insertion order)
      if (this.sessions.size >= this.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
    }
    this.sessions.set(idHash, session);
  }

  async get(idHash: string): Promise<Session | undefined> {
    const s = this.sessions.get(idHash);
    if (s && s.expiresAt <= Date.now()) {
      this.sessions.delete(idHash);
      return undefined;
    }
    return s;
  }

  async delete(idHash: string): Promise<void> {
    this.sessions.delete(idHash);
  }

  async deleteByKey(keyId: string): Promise<void> {
    for (const [h, s] of this.sessions) if (s.principalType === 'key' && s.principalId === keyId) this.sessions.delete(h);
  }

  async sweep(now: number): Promise<void> {
    for (const [h, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(h);
  }
}

const hashId = (id: string) => createHash('sha256').update(id).digest('base64url');

/** The session id in the request's cookie header, if any. */
export function sessionCookie(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{20,100}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
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

export class Sessions {
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    readonly store: SessionStore,
    readonly ttlMs: number,
  ) {
    this.sweeper = setInterval(() => void store.sweep(Date.now()).catch(() => undefined), 60_000);
    this.sweeper.unref();
  }

  async create(principal: ApiPrincipal): Promise<{ id: string; session: Session }> {
    const id = randomBytes(32).toString('base64url');
    const now = Date.now();
    const session: Session = {
      principalType: principal.type,
      principalId: principal.id,
      keyName: principal.name,
      ...(principal.username ? { username: principal.username } : {}),
      role: principal.role,
      scope: principal.scope,
      csrfToken: randomBytes(24).toString('base64url'),
      createdAt: now,
      expiresAt: now + this.ttlMs,
    };
    await this.store.put(hashId(id), session);
    return { id, session };
  }

  async lookup(id: string): Promise<Session | undefined> {
    return this.store.get(hashId(id));
  }

  async end(id: string): Promise<void> {
    await this.store.delete(hashId(id));
  }

  /**
   * Authenticates a request by its session cookie; null when it has none. A state-changing request must carry the
   * session's CSRF token, and no request may come from another origin.
   */
  async authenticate(request: FastifyRequest): Promise<ApiPrincipal | null> {
    const id = sessionCookie(request);
    if (!id) return null;
    const session = await this.lookup(id);
    if (!session) return null;
    checkOrigin(request);
    if (STATE_CHANGING.has(request.method)) {
      const presented = request.headers[CSRF_HEADER];
      if (typeof presented !== 'string' || !sameToken(presented, session.csrfToken)) {
        throw new HttpProblem(403, 'a request signed in by the console session must carry its CSRF token in X-CSRF-Token', 'forbidden');
      }
    }
    return { type: session.principalType, id: session.principalId, name: session.keyName, ...(session.username ? { username: session.username } : {}), role: session.role, scope: session.scope };
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}

function cookie(value: string, maxAgeSeconds: number, secure: boolean, name = SESSION_COOKIE): string {
  return [
    `${name}=${value}`,
    'Path=/',
    ...(name === SESSION_COOKIE ? ['HttpOnly'] : []),
    'SameSite=Strict',
    `Max-Age=${maxAgeSeconds}`,
    ...(maxAgeSeconds > 0 ? [`Expires=${new Date(Date.now() + maxAgeSeconds * 1000).toUTCString()}`] : ['Expires=Thu, 01 Jan 1970 00:00:00 GMT']),
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

const isTls = (request: FastifyRequest) => request.protocol === 'https';

const SessionInfo = z.object({ role: z.string(), keyName: z.string(), expiresAt: z.string(), csrfToken: z.string() });

/** `POST /api/v1/session` (sign in), `GET` (who is signed in), `DELETE` (sign out). */
export function sessionPlugin(sessions: Sessions, registry: Registry): FastifyPluginAsyncZod {
  return async (app) => {
    app.post('/api/v1/session', {
      schema: {
        tags: ['session'],
        summary: 'Sign in to the console: exchange an API key for a session cookie',
        description: 'Sets the cookie `pantau_session` (HttpOnly, SameSite=Strict, Secure under TLS). State-changing requests made with the cookie must send `X-CSRF-Token`.',
        security: [],
        body: z.strictObject({ key: z.string().min(1).max(512) }),
        response: { 200: SessionInfo.omit({ keyName: true }).extend({ keyName: z.string() }), 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 429: ProblemSchema },
      },
    }, async (request, reply) => {
      checkOrigin(request);
      const principal = await checkKey(registry, request, request.body.key);
      if (!principal) {
        throw new HttpProblem(401, 'the API key is not valid (unknown, revoked or mistyped)', 'unauthorized');
      }
      const { id, session } = await sessions.create(principal);
      registry.audit(principalActor(principal), 'session.created', `console (${principal.role})`);
      const maxAge = Math.floor(sessions.ttlMs / 1000);
      reply.header('set-cookie', [cookie(id, maxAge, isTls(request)), cookie('1', maxAge, isTls(request), SIGNED_IN_COOKIE)]);
      reply.header('cache-control', 'no-store');
      return { role: session.role, keyName: session.keyName, expiresAt: new Date(session.expiresAt).toISOString(), csrfToken: session.csrfToken };
    });

    app.get('/api/v1/session', {
      config: { role: 'viewer' },
      schema: {
        tags: ['session'],
        summary: 'The console session of this cookie (with its CSRF token, for a reloaded page)',
        response: { 200: SessionInfo, 401: ProblemSchema },
      },
    }, async (request, reply) => {
      const session = await sessionOf(sessions, request);
      reply.header('cache-control', 'no-store');
      return { role: session.role, keyName: session.keyName, expiresAt: new Date(session.expiresAt).toISOString(), csrfToken: session.csrfToken };
    });

    app.delete('/api/v1/session', {
      config: { role: 'viewer' },
      schema: { tags: ['session'], summary: 'Sign out: end the console session', response: { 401: ProblemSchema, 403: ProblemSchema } },
    }, async (request, reply: FastifyReply) => {
      const id = sessionCookie(request);
      if (id) await sessions.end(id);
      reply.header('set-cookie', [cookie('', 0, isTls(request)), cookie('', 0, isTls(request), SIGNED_IN_COOKIE)]);
      return reply.code(204).send();
    });
  };
}

async function sessionOf(sessions: Sessions, request: FastifyRequest): Promise<Session> {
  const id = sessionCookie(request);
  const session = id ? await sessions.lookup(id) : undefined;
  if (!session) throw new HttpProblem(401, 'not signed in: no console session', 'unauthorized');
  return session;
}

/** Sessions of revoked keys end at once. */
export function endSessionsOnRevoke(app: FastifyInstance, registry: Registry, sessions: Sessions): void {
  const onRevoke = (keyId: string) => void sessions.store.deleteByKey(keyId).catch((err) => app.log.warn({ err }, 'could not end the sessions of a revoked key'));
  registry.on('key-revoked', onRevoke);
  registry.on('key-changed', onRevoke);
  app.addHook('onClose', async () => {
    registry.off('key-revoked', onRevoke);
    registry.off('key-changed', onRevoke);
    sessions.close();
  });
}

/** The Set-Cookie values that start a console session `id` (also for api/oidc.ts's single sign-on). */
export function sessionCookies(id: string, ttlMs: number, request: FastifyRequest): string[] {
  const maxAge = Math.floor(ttlMs / 1000);
  return [cookie(id, maxAge, isTls(request)), cookie('1', maxAge, isTls(request), SIGNED_IN_COOKIE)];
}
