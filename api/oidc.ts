// Console sign-in through the province's single sign-on, OpenID Connect (docs/console.md, Single sign-on):
// authorization code with PKCE (S256), `state` and `nonce`; the ID token's signature is checked against the
// provider's published keys, its issuer, audience, lifetime and nonce against what Pantau asked for. The person's
// role and scope come from PANTAU_OIDC_MAPPING (api/oidc-mapping.ts); nobody without a mapping gets in.
//
// The transaction (state, nonce, PKCE verifier, redirect URI) lives ten minutes in a cookie encrypted and
// authenticated with a key derived from the client secret, so every node of a cluster can finish a sign-in another
// node began, and the browser that began it is the only one that can finish it (login CSRF). A state is used once:
// the callback clears the cookie and this process remembers the states it finished until they expire.
//
// Every failure ends on the console's sign-in page with a short reason (`/?sso_error=…`), never a 5xx; the log says
// why, but never holds a code, a token or the client secret.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Logger } from 'pino';
import { z } from 'zod';
import { principalActor, type ApiPrincipal } from '../registry/device.js';
import type { Registry } from '../registry/registry.js';
import { UNSCOPED, describeScope } from '../registry/scope.js';
import { claimValues, grantFor, type OidcSettings } from './oidc-mapping.js';
import { notFound } from './problem.js';
import { sessionCookies, type Sessions } from './session.js';
import { principalOf } from '../registry/people.js';

export const OIDC_ROUTES = {
  status: '/api/v1/session/oidc',
  login: '/api/v1/session/oidc/login',
  callback: '/api/v1/session/oidc/callback',
} as const;

/** What the console shows for `/?sso_error=…` (console/src/i18n.ts has the words). */
export type SsoErrorCode = 'denied' | 'state' | 'token' | 'unmapped' | 'provider' | 'disabled';

class SsoRefusal extends Error {
  constructor(
    readonly code: SsoErrorCode,
    /** For the log: why, without any secret. */
    readonly reason: string,
  ) {
    super(reason);
  }
}

const TX_COOKIE = 'pantau_oidc';
const TX_TTL_MS = 10 * 60_000;
const CLOCK_SKEW_S = 60;
const FETCH_TIMEOUT_MS = 10_000;
const DISCOVERY_MAX_AGE_MS = 24 * 3_600_000;
/**
 * A token naming a key Pantau has not seen makes it fetch the provider's keys again (a rotation), at most this
 * often. Short: ID tokens come only from the token endpoint, so no stranger can make Pantau refetch.
 */
const JWKS_COOLDOWN_MS = 5_000;
/** Asymmetric algorithms checked against the provider's keys; HS* only with the client secret as key (OIDC Core 10.1). */
const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const SYMMETRIC = ['HS256', 'HS384', 'HS512'];

const DiscoverySchema = z.object({
  issuer: z.string().url(),
  authorization_endpoint: z.string().url(),
  token_endpoint: z.string().url(),
  jwks_uri: z.string().url(),
  userinfo_endpoint: z.string().url().optional(),
  token_endpoint_auth_methods_supported: z.array(z.string()).optional(),
  code_challenge_methods_supported: z.array(z.string()).optional(),
});
type Discovery = z.infer<typeof DiscoverySchema>;

const TokenResponseSchema = z.object({ id_token: z.string().min(1), access_token: z.string().optional(), token_type: z.string().optional() });

interface Transaction {
  state: string;
  nonce: string;
  verifier: string;
  redirectUri: string;
  expiresAt: number;
}

const b64url = (bytes = 32) => randomBytes(bytes).toString('base64url');
const sameText = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** Text from the provider for a session or the log: printable, trimmed, bounded. */
const clean = (v: unknown, max = 100): string | undefined => {
  if (typeof v !== 'string') return undefined;
  const s = v.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, max);
  return s === '' ? undefined : s;
};

/** The provider's endpoints and keys, fetched once and again after a failure or a day. */
export class OidcProvider {
  private discovery: { value: Discovery; at: number } | undefined;
  private jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  private readonly txKey: Buffer;
  private readonly finished = new Map<string, number>();

  constructor(readonly settings: OidcSettings) {
    this.txKey = Buffer.from(hkdfSync('sha256', settings.clientSecret, 'pantau', 'oidc transaction cookie', 32));
  }

  /** Forgets the provider's configuration and keys: the next sign-in fetches them anew. */
  forget(): void {
    this.discovery = undefined;
    this.jwks = undefined;
  }

  async metadata(): Promise<Discovery> {
    if (this.discovery && Date.now() - this.discovery.at < DISCOVERY_MAX_AGE_MS) return this.discovery.value;
    const url = `${this.settings.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const res = await fetchProvider(url, { headers: { accept: 'application/json' } }, 'discovery');
    const parsed = DiscoverySchema.safeParse(await res.json().catch(() => null));
    if (!res.ok || !parsed.success) throw new SsoRefusal('provider', `discovery at ${url} answered ${res.status}${parsed.success ? '' : ' without a usable configuration'}`);
    // the issuer the provider names is the one its tokens carry; it must be the configured one (a trailing slash aside)
    if (parsed.data.issuer.replace(/\/+$/, '') !== this.settings.issuer.replace(/\/+$/, '')) {
      throw new SsoRefusal('provider', `discovery names the issuer ${parsed.data.issuer.slice(0, 200)}, not PANTAU_OIDC_ISSUER`);
    }
    if (parsed.data.code_challenge_methods_supported && !parsed.data.code_challenge_methods_supported.includes('S256')) {
      throw new SsoRefusal('provider', 'the provider does not offer PKCE with S256');
    }
    this.discovery = { value: parsed.data, at: Date.now() };
    // a new key set object for new metadata; it refetches by itself when a token names a key it does not know
    this.jwks = createRemoteJWKSet(new URL(parsed.data.jwks_uri), { timeoutDuration: FETCH_TIMEOUT_MS, cooldownDuration: JWKS_COOLDOWN_MS, cacheMaxAge: 600_000 });
    return parsed.data;
  }

  /** A new transaction and the provider's authorization URL for it. */
  async begin(redirectUri: string): Promise<{ url: string; cookie: string }> {
    const meta = await this.metadata();
    const tx: Transaction = { state: b64url(), nonce: b64url(), verifier: b64url(48), redirectUri, expiresAt: Date.now() + TX_TTL_MS };
    const url = new URL(meta.authorization_endpoint);
    url.search = new URLSearchParams({
      ...Object.fromEntries(url.searchParams),
      response_type: 'code',
      client_id: this.settings.clientId,
      redirect_uri: redirectUri,
      scope: 'openid profile email',
      state: tx.state,
      nonce: tx.nonce,
      code_challenge: createHash('sha256').update(tx.verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    return { url: url.toString(), cookie: this.seal(tx) };
  }

  /** The transaction of this browser's cookie for the returned state; used once. */
  take(cookie: string | undefined, state: string | undefined): Transaction {
    if (!cookie) throw new SsoRefusal('state', 'no sign-in in progress in this browser (no transaction cookie)');
    const tx = this.open(cookie);
    if (!tx) throw new SsoRefusal('state', 'the transaction cookie is not one Pantau made');
    if (tx.expiresAt <= Date.now()) throw new SsoRefusal('state', 'the sign-in took longer than 10 minutes');
    if (!state || !sameText(state, tx.state)) throw new SsoRefusal('state', 'the state returned is not the one sent');
    const now = Date.now();
    for (const [s, exp] of this.finished) if (exp <= now) this.finished.delete(s);
    if (this.finished.has(tx.state)) throw new SsoRefusal('state', 'this sign-in was already finished (state used twice)');
    if (this.finished.size < 100_000) this.finished.set(tx.state, tx.expiresAt);
    return tx;
  }

  /** The code for tokens at the token endpoint, authenticated as discovery allows. */
  async exchange(code: string, tx: Transaction): Promise<z.infer<typeof TokenResponseSchema>> {
    const meta = await this.metadata();
    const { clientId, clientSecret } = this.settings;
    const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: tx.redirectUri, code_verifier: tx.verifier });
    const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' };
    const methods = meta.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
    if (methods.includes('client_secret_basic')) {
      // RFC 6749 2.3.1: both parts form-encoded before Basic
      const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
      headers.authorization = `Basic ${Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`).toString('base64')}`;
    } else if (methods.includes('client_secret_post')) {
      form.set('client_id', clientId);
      form.set('client_secret', clientSecret);
    } else {
      throw new SsoRefusal('provider', `the token endpoint offers neither client_secret_basic nor client_secret_post (${methods.join(', ').slice(0, 200)})`);
    }
    const res = await fetchProvider(meta.token_endpoint, { method: 'POST', headers, body: form.toString() }, 'token endpoint');
    const body = (await res.json().catch(() => null)) as Record<string, unknown> | null;
    if (!res.ok) {
      // the provider's error name only: its description may quote what was sent
      throw new SsoRefusal('token', `the token endpoint refused the code: ${res.status} ${clean(body?.error, 60) ?? ''}`.trim());
    }
    const parsed = TokenResponseSchema.safeParse(body);
    if (!parsed.success) throw new SsoRefusal('token', 'the token endpoint answered without an ID token');
    return parsed.data;
  }

  /** The ID token's claims once its signature, issuer, audience, lifetime and nonce are right. */
  async verify(idToken: string, nonce: string): Promise<JWTPayload> {
    const meta = await this.metadata();
    const remote = this.jwks!;
    const secret = new TextEncoder().encode(this.settings.clientSecret);
    const key: JWTVerifyGetKey = (header, token) => (SYMMETRIC.includes(header.alg) ? secret : remote(header, token));
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, key, {
        algorithms: [...ASYMMETRIC, ...SYMMETRIC],
        issuer: meta.issuer,
        audience: this.settings.clientId,
        clockTolerance: CLOCK_SKEW_S,
        maxTokenAge: TX_TTL_MS / 1000,
        requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWKSTimeout || !(err instanceof joseErrors.JOSEError)) {
        this.forget();
        throw new SsoRefusal('provider', `the provider's keys could not be fetched: ${(err as Error).message.slice(0, 200)}`);
      }
      // jose's messages name the claim or check, never the token
      throw new SsoRefusal('token', `the ID token was refused: ${(err as joseErrors.JOSEError).code} ${(err as Error).message.slice(0, 200)}`);
    }
    if (typeof payload.sub !== 'string' || clean(payload.sub, 255) === undefined) throw new SsoRefusal('token', 'the ID token was refused: no usable sub');
    // OIDC Core 3.1.3.7: with several audiences the token must name Pantau as the party it was issued to
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if ((audiences.length > 1 || payload.azp !== undefined) && payload.azp !== this.settings.clientId) {
      throw new SsoRefusal('token', `the ID token was refused: it was issued to ${clean(payload.azp, 100) ?? 'no authorized party'} (azp), not this client`);
    }
    if (typeof payload.nonce !== 'string' || !sameText(payload.nonce, nonce)) {
      throw new SsoRefusal('token', 'the ID token was refused: its nonce is not the one this sign-in sent');
    }
    return payload;
  }

  /**
   * Claims the ID token does not carry, from the userinfo endpoint (providers that conform to OIDC Core 5.4 put
   * profile claims only there); its `sub` must be the ID token's.
   */
  async userinfo(accessToken: string | undefined, sub: string): Promise<Record<string, unknown>> {
    const meta = await this.metadata();
    if (!accessToken || !meta.userinfo_endpoint) return {};
    const res = await fetchProvider(meta.userinfo_endpoint, { headers: { accept: 'application/json', authorization: `Bearer ${accessToken}` } }, 'userinfo');
    const body = (await res.json().catch(() => null)) as Record<string, unknown> | null;
    if (!res.ok || !body || typeof body !== 'object') throw new SsoRefusal('token', `the userinfo endpoint answered ${res.status}`);
    if (body.sub !== sub) throw new SsoRefusal('token', 'the userinfo answer is about another person (sub differs from the ID token)');
    return body;
  }

  private seal(tx: Transaction): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.txKey, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(tx), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  private open(sealed: string): Transaction | undefined {
    try {
      const raw = Buffer.from(sealed, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', this.txKey, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
      return JSON.parse(text) as Transaction;
    } catch {
      return undefined;
    }
  }
}

/** A request to the provider; a network failure or timeout is the provider's problem, not a 5xx. */
async function fetchProvider(url: string, init: RequestInit, what: string): Promise<Response> {
  try {
    return await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (err) {
    throw new SsoRefusal('provider', `the provider's ${what} could not be reached: ${(err as Error).message.slice(0, 200)}`);
  }
}

/** The transaction cookie from the request, if any. */
function txCookie(request: FastifyRequest): string | undefined {
  const match = new RegExp(`(?:^|;\\s*)${TX_COOKIE}=([A-Za-z0-9_-]{1,4096})(?:;|$)`).exec(request.headers.cookie ?? '');
  return match?.[1];
}

function txSetCookie(value: string, request: FastifyRequest, maxAgeSeconds: number): string {
  // SameSite=Lax: the provider sends the browser back with a top-level GET from its own site
  return [`${TX_COOKIE}=${value}`, `Path=${OIDC_ROUTES.status}`, 'HttpOnly', 'SameSite=Lax', `Max-Age=${maxAgeSeconds}`, ...(request.protocol === 'https' ? ['Secure'] : [])].join('; ');
}

/** Where the provider sends the browser back: PANTAU_PUBLIC_URL, else this request's own scheme and Host. */
function redirectUri(settings: OidcSettings, request: FastifyRequest): string {
  if (settings.publicUrl) return `${settings.publicUrl}${OIDC_ROUTES.callback}`;
  const host = request.headers.host ?? '';
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host)) throw new SsoRefusal('provider', 'the request has no usable Host header; set PANTAU_PUBLIC_URL');
  return `${request.protocol}://${host}${OIDC_ROUTES.callback}`;
}

/** The person the provider vouched for, as a Pantau principal without role yet. */
function identity(claims: Record<string, unknown>): Pick<ApiPrincipal, 'id' | 'name' | 'username'> {
  const sub = clean(claims.sub, 255)!;
  const username = clean(claims.preferred_username) ?? clean(claims.email) ?? sub.slice(0, 100);
  return { id: `oidc:${sub}`, name: clean(claims.name) ?? clean(claims.preferred_username) ?? clean(claims.email) ?? username, username };
}

const CallbackQuery = z.object({
  code: z.string().max(4096).optional(),
  state: z.string().max(512).optional(),
  error: z.string().max(256).optional(),
  iss: z.string().max(1024).optional(),
});

const notConfigured = () => notFound('single sign-on is not configured (PANTAU_OIDC_ISSUER, PANTAU_OIDC_CLIENT_ID, PANTAU_OIDC_CLIENT_SECRET, PANTAU_OIDC_MAPPING)');

export interface OidcPluginOptions {
  sessions: Sessions;
  registry: Registry;
  settings: OidcSettings | undefined;
  log: Logger;
}

/** `GET /api/v1/session/oidc` (is it on?), `…/login` (to the provider) and `…/callback` (back from it). */
export function oidcPlugin({ sessions, registry, settings, log }: OidcPluginOptions): FastifyPluginAsyncZod {
  return async (app) => {
    const provider = settings ? new OidcProvider(settings) : undefined;

    const refuse = (request: FastifyRequest, reply: FastifyReply, err: unknown) => {
      const refusal = err instanceof SsoRefusal ? err : new SsoRefusal('provider', `unexpected: ${(err as Error).message.slice(0, 200)}`);
      if (refusal.code === 'provider') provider?.forget();
      log.warn({ component: 'oidc', reason: refusal.reason, ip: request.ip }, `single sign-on refused (${refusal.code})`);
      return reply.header('cache-control', 'no-store').redirect(`/?sso_error=${refusal.code}`, 303);
    };

    app.get(OIDC_ROUTES.status, {
      schema: {
        tags: ['session'],
        summary: 'Whether the console offers single sign-on (OpenID Connect)',
        security: [],
        response: { 200: z.object({ enabled: z.boolean() }) },
      },
    }, async () => ({ enabled: provider !== undefined }));

    app.get(OIDC_ROUTES.login, {
      schema: {
        tags: ['session'],
        summary: 'Single sign-on: go to the OpenID provider',
        description: 'Redirects (302) to the provider\'s authorization endpoint (code flow, PKCE S256, state, nonce) and sets a 10-minute transaction cookie `pantau_oidc` (HttpOnly, SameSite=Lax). A failure redirects to `/?sso_error=…`. 404 when single sign-on is off.',
        security: [],
      },
    }, async (request, reply) => {
      if (!provider) throw notConfigured();
      try {
        const { url, cookie } = await provider.begin(redirectUri(provider.settings, request));
        reply.header('set-cookie', txSetCookie(cookie, request, TX_TTL_MS / 1000));
        return reply.header('cache-control', 'no-store').redirect(url, 302);
      } catch (err) {
        return refuse(request, reply, err);
      }
    });

    app.get(OIDC_ROUTES.callback, {
      // fastify's request lines (info) carry the URL, and this one's query holds the authorization code
      logLevel: 'warn',
      schema: {
        tags: ['session'],
        summary: 'Single sign-on: back from the OpenID provider',
        description: 'Checks `state` against the transaction cookie, exchanges the code, verifies the ID token (signature, iss, aud/azp, exp/iat, nonce), maps the role claim (PANTAU_OIDC_ROLE_CLAIM) through PANTAU_OIDC_MAPPING, sets the console session cookies and redirects (303) to `/`. Any refusal redirects to `/?sso_error=denied|state|token|unmapped|provider|disabled`. 404 when single sign-on is off.',
        security: [],
        querystring: CallbackQuery,
      },
    }, async (request, reply) => {
      if (!provider) throw notConfigured();
      // the transaction is over whatever happens next
      reply.header('set-cookie', txSetCookie('', request, 0));
      try {
        const { code, state, error, iss } = request.query;
        if (error) {
          // refused at the provider (access_denied: the person said no, or the provider would not let them)
          provider.take(txCookie(request), state);
          throw new SsoRefusal('denied', `the provider answered error=${clean(error, 60)}`);
        }
        const tx = provider.take(txCookie(request), state);
        if (!code) throw new SsoRefusal('token', 'the provider sent no code');
        // RFC 9207: a provider that names itself must be the one asked (mix-up defence)
        if (iss !== undefined && iss !== (await provider.metadata()).issuer) throw new SsoRefusal('token', 'the callback names another issuer (iss)');
        const tokens = await provider.exchange(code, tx);
        const idClaims = await provider.verify(tokens.id_token, tx.nonce);
        const sub = idClaims.sub!;
        const claims = claimValues(idClaims, provider.settings.roleClaim).length === 0 ? { ...(await provider.userinfo(tokens.access_token, sub)), ...idClaims } : idClaims;
        const who = identity(claims);
        const values = claimValues(claims, provider.settings.roleClaim);
        const mapped = grantFor(provider.settings.mapping, values);
        if (!mapped) {
          // the actor's form does not depend on the role it would have had
          const actor = principalActor({ type: 'user', ...who, role: 'viewer', scope: UNSCOPED });
          const shown = values.length > 0 ? values.map((v) => clean(v, 60)).join(', ').slice(0, 200) : 'none';
          registry.audit(actor, 'session.refused', `console by single sign-on: no PANTAU_OIDC_MAPPING entry for ${provider.settings.roleClaim} (${shown})`);
          throw new SsoRefusal('unmapped', `${who.username} has no mapped ${provider.settings.roleClaim} (${shown})`);
        }
        // the person in the registry: listed, re-scoped and disabled by admins like anyone else (registry/people.ts)
        const asPerson = principalActor({ type: 'user', ...who, role: mapped.grant.role, scope: mapped.grant.scope });
        const outcome = await registry.people.external(who.id, { username: who.username!, name: who.name }, mapped.grant, asPerson);
        if ('disabled' in outcome) {
          registry.audit(asPerson, 'session.refused', 'console by single sign-on: the person is disabled in Pantau');
          throw new SsoRefusal('disabled', `${who.username} is disabled in Pantau`);
        }
        const principal: ApiPrincipal = principalOf(outcome.person);
        const { id } = await sessions.create(principal);
        registry.audit(principalActor(principal), 'session.created', `console (${principal.role}, ${describeScope(principal.scope)}) by single sign-on as ${provider.settings.roleClaim}=${clean(mapped.value, 60)}`);
        reply.header('set-cookie', [txSetCookie('', request, 0), ...sessionCookies(request, id, Math.floor(sessions.ttlMs / 1000))]);
        return reply.header('cache-control', 'no-store').redirect('/', 303);
      } catch (err) {
        return refuse(request, reply, err);
      }
    });
  };
}
