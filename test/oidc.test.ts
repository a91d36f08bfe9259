// Console single sign-on (docs/console.md, Single sign-on) against a real OpenID provider: the npm package
// oidc-provider runs in this process on a free port, with its development sign-in form, and a real Pantau signs
// people in through it. Over HTTP with a cookie jar: the full code flow to a session with the mapped role and scope;
// a person without a mapping, a refusal at the provider, a tampered, missing or replayed state, an ID token for
// another audience (or otherwise wrong: issuer, lifetime, signature, algorithm) and a wrong nonce all end on the
// console's sign-in page with a reason, never with a session. Then the same in Chromium: the SSO button, the
// provider's page, and the console signed in.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, UnsecuredJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, type JWTPayload } from 'jose';
import Provider, { type Configuration } from 'oidc-provider';
import { type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsoleIfStale } from '../console/build/build.js';
import { UI } from '../console/src/i18n.js';
import { ConfigError, loadConfig } from '../platform/config.js';
import { startTestPlatform, type TestPlatform } from './support/platform.js';
import { launchChromium } from './support/browser.js';

const CLIENT_ID = 'pantau-console';
const CLIENT_SECRET = 'pantau-test-client-secret-0123456789';
const CALLBACK = '/api/v1/session/oidc/callback';

/** The provider's people; `pantau_role` is the claim Pantau maps. */
const PEOPLE: Record<string, Record<string, unknown>> = {
  siti: { name: 'Siti Rahmawati', preferred_username: 'siti.r', email: 'siti@bpbd.example', pantau_role: ['pegawai', 'bpbd-samarinda'] },
  budi: { name: 'Budi Santoso', preferred_username: 'budi.s', email: 'budi@dishub.example', pantau_role: 'dishub-balikpapan' },
};
const MAPPING = {
  'bpbd-samarinda': { role: 'operator', scope: { cities: ['Samarinda'], kinds: ['flood'] } },
  'diskominfo-admin': { role: 'admin' },
};

let tp: TestPlatform;
let base: string;
let idp: Server;
let issuer: string;
let signingKey: CryptoKey;
/** When set, the provider's token endpoint answers with this ID token instead of its own (from its own claims). */
let tamper: ((genuine: JWTPayload) => Promise<string>) | null = null;
/** When it says so for a path, the provider drops the connection (an outage). */
let outage: ((path: string) => boolean) | null = null;
/** How Pantau authenticated its last request to the token endpoint. */
let lastTokenRequest: { basic: boolean } | null = null;
/** The ID token the provider's token endpoint issued last. */
let lastIdToken = '';
const devices = { samarindaFlood: '', samarindaAir: '', balikpapanFlood: '' };

beforeAll(async () => {
  // the provider's address first: Pantau needs its issuer, the provider needs Pantau's redirect URI
  idp = createServer();
  await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
  tp = await startTestPlatform({
    PANTAU_OIDC_ISSUER: issuer,
    PANTAU_OIDC_CLIENT_ID: CLIENT_ID,
    PANTAU_OIDC_CLIENT_SECRET: CLIENT_SECRET,
    PANTAU_OIDC_MAPPING: JSON.stringify(MAPPING),
  });
  base = tp.platform.httpUrl;

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  signingKey = privateKey as CryptoKey;
  await startProvider([await jwk(signingKey, 'k1')]);

  devices.samarindaFlood = (await tp.register('flood', 'smd-flood-oidc', { thresholds: { waspada: 700, siaga: 775, awas: 825 } })).id;
  devices.samarindaAir = (await tp.register('air', 'smd-air-oidc')).id;
  devices.balikpapanFlood = (await tp.register('flood', 'bpn-flood-oidc', { city: 'Balikpapan', district: 'Balikpapan Kota' })).id;
}, 120_000);

/** A signing key as the provider publishes it. */
const jwk = async (key: CryptoKey, kid: string) => ({ ...(await exportJWK(key)), kid, alg: 'RS256', use: 'sig' });

/** The provider with these signing keys (the first one signs), answering on the provider's address from now on. */
async function startProvider(keys: Array<Awaited<ReturnType<typeof jwk>>>, clientAuth: 'client_secret_basic' | 'client_secret_post' = 'client_secret_basic'): Promise<void> {
  const configuration: Configuration = {
    clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [`${base}${CALLBACK}`], response_types: ['code'], grant_types: ['authorization_code'], token_endpoint_auth_method: clientAuth }],
    clientAuthMethods: [clientAuth],
    jwks: { keys: keys as never },
    findAccount: async (_ctx, id) => (PEOPLE[id] ? { accountId: id, claims: async () => ({ sub: id, ...PEOPLE[id] }) } : undefined),
    claims: { openid: ['sub'], profile: ['name', 'preferred_username', 'pantau_role'], email: ['email'] },
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ['oidc-test-cookie-key-0123456789'] },
    // Pantau is the province's own application: no consent screen, as a first-party client would have
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId });
      grant.addOIDCScope('openid profile email');
      await grant.save();
      return grant;
    },
  };
  const provider = new Provider(issuer, configuration);
  provider.use(async (ctx, next) => {
    if (ctx.path === '/token') lastTokenRequest = { basic: /^Basic /.test(ctx.get('authorization')) };
    await next();
    if (ctx.path !== '/token' || ctx.status !== 200) return;
    const body = ctx.body as { id_token: string };
    lastIdToken = body.id_token;
    if (tamper) ctx.body = { ...body, id_token: await tamper(decodeJwt(body.id_token)) };
  });
  const handle = provider.callback();
  idp.removeAllListeners('request');
  idp.on('request', (req, res) => (outage?.(new URL(req.url!, issuer).pathname) ? res.destroy() : handle(req, res)));
}

afterAll(async () => {
  await tp?.stop();
  idp?.closeAllConnections();
  await new Promise((resolve) => idp?.close(resolve));
});

/** A browser's cookies, enough for one host: name → value (both servers are 127.0.0.1, as in a browser). */
class Jar {
  readonly cookies = new Map<string, string>();
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const gone = value === '' || attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || /expires=thu, 01 jan 1970/i.test(line);
      if (gone) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  async go(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), cookie: this.header() } });
    this.take(res);
    return res;
  }
}

interface SignIn {
  /** Where Pantau's callback sent the browser. */
  location: string;
  jar: Jar;
  /** The callback URL as the browser requested it. */
  callback: string;
}

/**
 * The code flow as a browser walks it: Pantau's login route, the provider's sign-in form (posted like a person
 * would), back to Pantau's callback. `authUrl` and `callback` may change a request on the way (an attacker's
 * edits); `abort` takes the form's "cancel" link instead.
 */
async function ssoSignIn(account: string, opts: { authUrl?: (u: URL) => void; callback?: (u: URL, jar: Jar) => void; abort?: boolean } = {}): Promise<SignIn> {
  const jar = new Jar();
  const start = await jar.go(`${base}/api/v1/session/oidc/login`);
  expect(start.status).toBe(302);
  expect(jar.cookies.has('pantau_oidc')).toBe(true);
  const auth = new URL(start.headers.get('location')!);
  expect(auth.origin).toBe(issuer);
  opts.authUrl?.(auth);
  let url = auth;
  let init: RequestInit = {};
  for (let hop = 0; hop < 20; hop++) {
    if (url.href.startsWith(`${base}${CALLBACK}`)) {
      opts.callback?.(url, jar);
      const res = await jar.go(url);
      expect(res.status).toBe(303);
      return { location: res.headers.get('location')!, jar, callback: url.href };
    }
    const res = await jar.go(url, init);
    init = {};
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location')!, url);
      continue;
    }
    const html = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, '&');
    if (res.status !== 200 || !action || !html.includes('name="login"')) throw new Error(`unexpected page ${res.status} at ${url.href}: ${html.slice(0, 400)}`);
    if (opts.abort) {
      url = new URL(`${action}/abort`, url);
      continue;
    }
    url = new URL(action, url);
    init = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ prompt: 'login', login: account, password: 'rahasia' }).toString() };
  }
  throw new Error('the sign-in did not come back to Pantau within 20 hops');
}

/** A request to Pantau with the jar's cookies (the console session), no API key. */
async function asBrowser(jar: Jar, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, { headers: { cookie: jar.header(), accept: 'application/json' } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const sign = (payload: JWTPayload, header: { alg?: string; kid?: string } = {}, key: CryptoKey | Uint8Array = signingKey) =>
  new SignJWT(payload).setProtectedHeader({ alg: header.alg ?? 'RS256', ...(header.kid === '' ? {} : { kid: header.kid ?? 'k1' }) }).sign(key);

async function audit(action: string): Promise<Array<{ actor: string; action: string; target: string }>> {
  const items = (await tp.api('GET', '/api/v1/audit?limit=200')).body.items as Array<{ actor: string; action: string; target: string }>;
  return items.filter((i) => i.action === action);
}

describe('single sign-on over HTTP', () => {
  it('is announced to the signed-out console and documented as public routes', async () => {
    expect((await tp.api('GET', '/api/v1/session/oidc', { key: null })).body).toEqual({ enabled: true });
    const doc = (await tp.api('GET', '/openapi.json', { key: null })).body;
    for (const path of ['/api/v1/session/oidc', '/api/v1/session/oidc/login', '/api/v1/session/oidc/callback']) {
      expect(doc.paths[path]?.get?.security).toEqual([]);
    }
  });

  it('(a) signs a mapped person in: provider, callback, session cookie with the mapped role and scope', async () => {
    const { location, jar } = await ssoSignIn('siti');
    expect(location).toBe('/');
    expect(jar.cookies.has('pantau_session')).toBe(true);
    expect(jar.cookies.get('pantau_signed_in')).toBe('1');
    // the transaction cookie is spent
    expect(jar.cookies.has('pantau_oidc')).toBe(false);

    // a provider conforming to OIDC Core 5.4 sends profile claims only from userinfo: that is where the role came from
    expect(decodeJwt(lastIdToken).pantau_role).toBeUndefined();

    const session = await asBrowser(jar, '/api/v1/session');
    expect(session.status).toBe(200);
    expect(session.body).toMatchObject({ role: 'operator', keyName: 'Siti Rahmawati' });
    expect(session.body.scope).toEqual({ cities: ['Samarinda'], kinds: ['flood'] });
    expect((await asBrowser(jar, `/api/v1/devices/${devices.samarindaFlood}`)).status).toBe(200);
    expect((await asBrowser(jar, `/api/v1/devices/${devices.samarindaAir}`)).status).toBe(404);
    expect((await asBrowser(jar, `/api/v1/devices/${devices.balikpapanFlood}`)).status).toBe(404);

    const created = await audit('session.created');
    expect(created.some((e) => e.actor === 'user:siti.r (Siti Rahmawati)' && /operator/.test(e.target) && /single sign-on/.test(e.target))).toBe(true);
  });

  it('a person who signed in by single sign-on is a person of the registry: listed, and once disabled refused and signed out', async () => {
    const { jar } = await ssoSignIn('siti');
    const people = (await tp.api('GET', '/api/v1/users')).body.items as Array<{ id: string; username: string; role: string; scope: unknown; hasPassword: boolean }>;
    const siti = people.find((p) => p.id.startsWith('oidc:'))!;
    expect(siti).toMatchObject({ username: 'siti.r', role: 'operator', scope: { cities: ['Samarinda'], kinds: ['flood'] }, hasPassword: false });
    expect((await asBrowser(jar, '/api/v1/session')).status).toBe(200);
    expect((await tp.api('PATCH', `/api/v1/users/${encodeURIComponent(siti.id)}`, { body: { disabled: true } })).status).toBe(200);
    // the session ends at once, and the provider cannot sign a disabled person in again
    expect((await asBrowser(jar, '/api/v1/session')).status).toBe(401);
    const again = await ssoSignIn('siti');
    expect(again.location).toBe('/?sso_error=disabled');
    expect(again.jar.cookies.has('pantau_session')).toBe(false);
    expect((await audit('session.refused')).some((e) => e.actor === 'user:siti.r (Siti Rahmawati)' && /disabled/.test(e.target))).toBe(true);
    expect((await tp.api('PATCH', `/api/v1/users/${encodeURIComponent(siti.id)}`, { body: { disabled: false } })).status).toBe(200);
    expect((await ssoSignIn('siti')).location).toBe('/');
  });

  it('(b) refuses a person whose role claim has no mapping, and audits it', async () => {
    const { location, jar } = await ssoSignIn('budi');
    expect(location).toBe('/?sso_error=unmapped');
    expect(jar.cookies.has('pantau_session')).toBe(false);
    const refused = await audit('session.refused');
    expect(refused.some((e) => e.actor === 'user:budi.s (Budi Santoso)' && e.target.includes('dishub-balikpapan'))).toBe(true);
  });

  it('(c) refuses a tampered, missing, forged or replayed state, and a refusal at the provider', async () => {
    const tampered = await ssoSignIn('siti', { callback: (u) => u.searchParams.set('state', `${u.searchParams.get('state')}x`) });
    expect(tampered.location).toBe('/?sso_error=state');
    expect(tampered.jar.cookies.has('pantau_session')).toBe(false);

    const missingState = await ssoSignIn('siti', { callback: (u) => u.searchParams.delete('state') });
    expect(missingState.location).toBe('/?sso_error=state');

    // another browser's callback (login CSRF): this one never began a sign-in
    const noCookie = await ssoSignIn('siti', { callback: (_u, jar) => jar.cookies.delete('pantau_oidc') });
    expect(noCookie.location).toBe('/?sso_error=state');
    const forged = await ssoSignIn('siti', { callback: (_u, jar) => jar.cookies.set('pantau_oidc', Buffer.alloc(200, 7).toString('base64url')) });
    expect(forged.location).toBe('/?sso_error=state');

    // a finished sign-in cannot be finished again, even with its transaction cookie kept
    let kept = '';
    const first = await ssoSignIn('siti', { callback: (_u, jar) => (kept = jar.cookies.get('pantau_oidc')!) });
    expect(first.location).toBe('/');
    const replay = new Jar();
    replay.cookies.set('pantau_oidc', kept);
    const again = await replay.go(first.callback);
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toBe('/?sso_error=state');
    expect(replay.cookies.has('pantau_session')).toBe(false);

    // the person cancels at the provider: error=access_denied comes back
    const denied = await ssoSignIn('siti', { abort: true });
    expect(denied.location).toBe('/?sso_error=denied');
  });

  it('(d) refuses an ID token for another audience, and one wrong in issuer, lifetime, signature or algorithm', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: Array<[string, (t: JWTPayload) => Promise<string>, string]> = [
      // the control: the provider's own claims re-signed with its key pass, so each refusal below is its one change
      ['re-signed unchanged', (t) => sign(t), '/'],
      ['another audience', (t) => sign({ ...t, aud: 'another-client' }), '/?sso_error=token'],
      ['several audiences, no azp', (t) => sign({ ...t, aud: [CLIENT_ID, 'another-client'] }), '/?sso_error=token'],
      ['several audiences, azp another client', (t) => sign({ ...t, aud: [CLIENT_ID, 'another-client'], azp: 'another-client' }), '/?sso_error=token'],
      ['several audiences, azp Pantau', (t) => sign({ ...t, aud: [CLIENT_ID, 'another-client'], azp: CLIENT_ID }), '/'],
      ['another issuer', (t) => sign({ ...t, iss: 'http://127.0.0.1:1/elsewhere' }), '/?sso_error=token'],
      ['expired', (t) => sign({ ...t, iat: now - 7200, exp: now - 3600 }), '/?sso_error=token'],
      ['issued in the future', (t) => sign({ ...t, iat: now + 3600, exp: now + 7200 }), '/?sso_error=token'],
      ['unsigned (alg none)', async (t) => new UnsecuredJWT(t).encode(), '/?sso_error=token'],
      ['signed by a key the provider does not publish', async (t) => sign(t, { kid: 'k1' }, (await generateKeyPair('RS256')).privateKey as CryptoKey), '/?sso_error=token'],
      ['HS256 keyed with another secret', (t) => sign(t, { alg: 'HS256', kid: '' }, new TextEncoder().encode('not-the-client-secret-at-all-000')), '/?sso_error=token'],
      // OIDC Core 10.1: a MAC keyed with the client secret is the provider's signature too
      ['HS256 keyed with the client secret', (t) => sign(t, { alg: 'HS256', kid: '' }, new TextEncoder().encode(CLIENT_SECRET)), '/'],
    ];
    try {
      for (const [what, change, expected] of cases) {
        tamper = change;
        const { location, jar } = await ssoSignIn('siti');
        expect({ what, location }).toEqual({ what, location: expected });
        expect({ what, session: jar.cookies.has('pantau_session') }).toEqual({ what, session: expected === '/' });
      }
    } finally {
      tamper = null;
    }
  });

  it('takes the role claim from the ID token when it carries one', async () => {
    tamper = (t) => sign({ ...t, name: 'Siti Rahmawati', pantau_role: ['diskominfo-admin', 'bpbd-samarinda'] });
    try {
      const { location, jar } = await ssoSignIn('siti');
      expect(location).toBe('/');
      // the first value of the claim that the mapping names decides
      expect((await asBrowser(jar, '/api/v1/session')).body).toMatchObject({ role: 'admin', keyName: 'Siti Rahmawati' });
      expect((await asBrowser(jar, `/api/v1/devices/${devices.balikpapanFlood}`)).status).toBe(200);
    } finally {
      tamper = null;
    }
  });

  it('ends on the sign-in page when the provider is down, and fetches its configuration again afterwards', async () => {
    try {
      outage = (path) => path === '/token';
      expect((await ssoSignIn('siti')).location).toBe('/?sso_error=provider');
      // the failure made Pantau forget the provider's configuration: the next sign-in asks for it again
      outage = () => true;
      const start = await fetch(`${base}/api/v1/session/oidc/login`, { redirect: 'manual' });
      expect(start.status).toBe(303);
      expect(start.headers.get('location')).toBe('/?sso_error=provider');
    } finally {
      outage = null;
    }
    expect((await ssoSignIn('siti')).location).toBe('/');
  });

  it('(e) refuses an ID token whose nonce is not the one this sign-in sent', async () => {
    // an authorization request with someone else's nonce (a code injected from another sign-in)
    const wrong = await ssoSignIn('siti', { authUrl: (u) => u.searchParams.set('nonce', 'a-nonce-pantau-never-sent') });
    expect(wrong.location).toBe('/?sso_error=token');
    expect(wrong.jar.cookies.has('pantau_session')).toBe(false);
    const none = await ssoSignIn('siti', { authUrl: (u) => u.searchParams.delete('nonce') });
    expect(none.location).toBe('/?sso_error=token');
  });

  it('fetches the provider\'s keys again when an ID token names a key it has not seen (rotation)', async () => {
    // the provider rotates: a new key signs, the old one is still published
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    await startProvider([await jwk(privateKey as CryptoKey, 'k2'), await jwk(signingKey, 'k1')]);
    try {
      // Pantau fetched the keys at this file's first sign-in; it fetches again at most every 5 s
      await new Promise((r) => setTimeout(r, 5_100));
      const { location, jar } = await ssoSignIn('siti');
      expect(decodeProtectedHeader(lastIdToken).kid).toBe('k2');
      expect(location).toBe('/');
      expect(jar.cookies.has('pantau_session')).toBe(true);
    } finally {
      await startProvider([await jwk(signingKey, 'k1')]);
    }
  });

  it('authenticates with client_secret_basic, or client_secret_post when discovery offers only that', async () => {
    // Pantau reads the provider's configuration again after a failure: an outage makes it notice the change
    const relearn = async () => {
      outage = (path) => path === '/token';
      expect((await ssoSignIn('siti')).location).toBe('/?sso_error=provider');
      outage = null;
    };
    expect((await ssoSignIn('siti')).location).toBe('/');
    expect(lastTokenRequest).toEqual({ basic: true });
    await startProvider([await jwk(signingKey, 'k1')], 'client_secret_post');
    try {
      await relearn();
      const { location, jar } = await ssoSignIn('siti');
      expect(location).toBe('/');
      expect(jar.cookies.has('pantau_session')).toBe(true);
      expect(lastTokenRequest).toEqual({ basic: false });
    } finally {
      outage = null;
      await startProvider([await jwk(signingKey, 'k1')]);
    }
    await relearn();
    expect((await ssoSignIn('siti')).location).toBe('/');
    expect(lastTokenRequest).toEqual({ basic: true });
  });

  it('needs the issuer, client id, client secret and mapping together: the error names the missing one', () => {
    expect(() => loadConfig({ PANTAU_OIDC_ISSUER: 'https://sso.example' })).toThrow(ConfigError);
    expect(() => loadConfig({ PANTAU_OIDC_ISSUER: 'https://sso.example' })).toThrow(/^PANTAU_OIDC_CLIENT_ID: must be set with PANTAU_OIDC_ISSUER/);
    expect(() => loadConfig({ PANTAU_OIDC_ISSUER: 'https://sso.example', PANTAU_OIDC_CLIENT_ID: 'c', PANTAU_OIDC_MAPPING: '{}' })).toThrow(/^PANTAU_OIDC_CLIENT_SECRET: /);
    expect(() => loadConfig({ PANTAU_OIDC_CLIENT_SECRET: 's' })).toThrow(/^PANTAU_OIDC_ISSUER: /);
    expect(() => loadConfig({ PANTAU_OIDC_MAPPING: '{"g":{"role":"boss"}}' })).toThrow(/^PANTAU_OIDC_MAPPING: not a mapping .* at g\.role/);
    const config = loadConfig({ PANTAU_OIDC_ISSUER: 'https://sso.example', PANTAU_OIDC_CLIENT_ID: 'c', PANTAU_OIDC_CLIENT_SECRET: 's', PANTAU_OIDC_MAPPING: JSON.stringify(MAPPING) });
    expect(config.oidc).toMatchObject({ issuer: 'https://sso.example', roleClaim: 'pantau_role' });
    expect(config.oidc!.mapping.get('bpbd-samarinda')).toEqual({ role: 'operator', scope: { cities: ['Samarinda'], kinds: ['flood'] } });
    expect(config.oidc!.mapping.get('diskominfo-admin')).toEqual({ role: 'admin', scope: { cities: [], kinds: [] } });
    expect(loadConfig({}).oidc).toBeUndefined();
  });
});

describe('single sign-on in Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    await buildConsoleIfStale();
    browser = await launchChromium();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
  });

  /** The console's SSO button, then the provider's form filled in as `account`. */
  async function viaButton(account: string) {
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/`);
    const button = page.getByTestId('login-sso');
    await button.waitFor();
    expect(await button.textContent()).toBe(UI.signInSso.id);
    await button.click();
    await page.locator('input[name="login"]').fill(account);
    await page.locator('input[name="password"]').fill('rahasia');
    await page.locator('button[type="submit"]').click();
    return { context, page, errors };
  }

  it('(f) the SSO button signs a person in at the provider and lands on the console, signed in', async () => {
    const { context, page, errors } = await viaButton('siti');
    await page.getByTestId('nav-map').waitFor();
    expect(new URL(page.url()).pathname).toBe('/');
    expect(await page.locator('.who').textContent()).toBe('Siti Rahmawati · operator');
    const cookies = await context.cookies(base);
    expect(cookies.find((c) => c.name === 'pantau_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(cookies.find((c) => c.name === 'pantau_oidc')).toBeUndefined();
    expect(errors).toEqual([]);
    await context.close();
  });

  it('an ID token for another audience ends on the sign-in form with the reason, not signed in', async () => {
    tamper = (t) => sign({ ...t, aud: 'another-client' });
    try {
      const { context, page } = await viaButton('siti');
      const error = page.getByTestId('login-error');
      await error.waitFor();
      expect(await error.textContent()).toBe(UI.ssoToken.id);
      expect((await context.cookies(base)).find((c) => c.name === 'pantau_session')).toBeUndefined();
      await context.close();
    } finally {
      tamper = null;
    }
  });

  it('a person without a mapping lands on the sign-in form with the reason', async () => {
    const { context, page } = await viaButton('budi');
    const error = page.getByTestId('login-error');
    await error.waitFor();
    expect(await error.textContent()).toBe(UI.ssoUnmapped.id);
    // the reason is shown once: the address no longer carries it
    expect(new URL(page.url()).search).toBe('');
    expect((await context.cookies(base)).find((c) => c.name === 'pantau_session')).toBeUndefined();
    await context.close();
  });
});
