// People and sessions (issue 20) against a real platform: an admin creates a person, the person sets a password
// through their one-time link and signs in; scoped admins stay inside their scope; wrong passwords, the account
// lock, expired, used and replaced links; a disabled, re-scoped, re-roled or deleted person's session ends at
// once. Then two platforms on one real PostgreSQL: a session made on node A is served by node B, and ends on B
// within 2 s when the person is disabled through A; behind a trusted proxy the cookie is `__Host-` and Secure.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestPlatform, type TestPlatform } from './support/platform.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';

const PASSWORD = 'kopi-tubruk-samarinda-42';

interface Person {
  id: string;
  username: string;
  link: { url: string; token: string; expiresAt: string };
}

/** An admin makes a person; their link as the answer gave it. */
async function createPerson(tp: TestPlatform, body: Record<string, unknown>, key?: string | null, headers?: Record<string, string>): Promise<Person> {
  const res = await tp.api('POST', '/api/v1/users', { body: { role: 'viewer', ...body }, ...(key === undefined ? {} : { key }), ...(headers ? { headers } : {}) });
  if (res.status !== 201) throw new Error(`create ${JSON.stringify(body)}: ${res.status} ${res.text}`);
  return { id: res.body.person.id, username: res.body.person.username, link: res.body.passwordLink };
}

const setPassword = (tp: TestPlatform, token: string, password = PASSWORD) => tp.api('POST', '/api/v1/password', { key: null, body: { token, password } });

/** Signs in over plain http; the cookie header to send back, and the session's CSRF token. */
async function signIn(tp: TestPlatform, username: string, password = PASSWORD, headers: Record<string, string> = {}) {
  const res = await fetch(`${tp.platform.httpUrl}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ username, password }) });
  const body = (await res.json()) as any;
  const setCookie = res.headers.getSetCookie();
  const cookie = setCookie.find((c) => /^(__Host-)?pantau_session=/.test(c))?.split(';')[0];
  return { status: res.status, body, setCookie, cookie: cookie ?? '', csrf: body?.csrfToken as string, retryAfter: res.headers.get('retry-after') };
}

const withCookie = (tp: TestPlatform, method: string, path: string, s: { cookie: string; csrf?: string }, body?: unknown) =>
  tp.api(method, path, { key: null, body, headers: { cookie: s.cookie, ...(s.csrf && method !== 'GET' ? { 'x-csrf-token': s.csrf } : {}) } });

/** A person with a password, signed in. */
async function signedInPerson(tp: TestPlatform, body: Record<string, unknown>) {
  const person = await createPerson(tp, body);
  expect((await setPassword(tp, person.link.token)).status).toBe(200);
  const session = await signIn(tp, person.username);
  expect(session.status).toBe(200);
  return { person, session };
}

describe('people and password sign-in (SQLite)', () => {
  let tp: TestPlatform;
  beforeAll(async () => {
    tp = await startTestPlatform({ PANTAU_PASSWORD_LINK_TTL: '3s' });
  });
  afterAll(async () => {
    await tp?.stop();
  });

  it('create → one-time link → set password → sign in; the session says who it is; nothing secret is stored', async () => {
    const created = await tp.api('POST', '/api/v1/users', { body: { username: 'siti.rahma', name: 'Siti Rahma', role: 'operator', scope: { cities: ['Samarinda'] }, language: 'en' } });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const { person, passwordLink } = created.body;
    expect(person).toMatchObject({ username: 'siti.rahma', name: 'Siti Rahma', role: 'operator', scope: { cities: ['Samarinda'], kinds: [] }, language: 'en', disabled: false, hasPassword: false });
    expect(passwordLink.url).toBe(`/set-password#${passwordLink.token}`);
    expect(Date.parse(passwordLink.expiresAt) - Date.now()).toBeLessThanOrEqual(3000);
    // the username is unique; a bad one is a clear 400
    expect((await tp.api('POST', '/api/v1/users', { body: { username: 'siti.rahma', name: 'Other', role: 'viewer' } })).status).toBe(409);
    const bad = await tp.api('POST', '/api/v1/users', { body: { username: 'Siti Rahma', name: 'Siti', role: 'viewer' } });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toMatch(/username/);

    // the password rules: 12 characters at least, not the username
    expect((await setPassword(tp, passwordLink.token, 'short')).body.detail).toMatch(/at least 12 characters/);
    const withName = await setPassword(tp, passwordLink.token, 'xx-SITI.RAHMA-2026');
    expect(withName.status).toBe(400);
    expect(withName.body.detail).toMatch(/must not contain the username/);
    const set = await setPassword(tp, passwordLink.token);
    expect(set).toMatchObject({ status: 200, body: { username: 'siti.rahma', name: 'Siti Rahma' } });
    // single use
    const again = await setPassword(tp, passwordLink.token, 'another-long-password');
    expect(again.status).toBe(410);
    expect(again.body.detail).toMatch(/already used/);
    expect((await setPassword(tp, 'A'.repeat(43))).status).toBe(400);

    const s = await signIn(tp, 'siti.rahma');
    expect(s.status).toBe(200);
    expect(s.body).toMatchObject({ type: 'user', name: 'Siti Rahma', username: 'siti.rahma', role: 'operator', scope: { cities: ['Samarinda'], kinds: [] }, language: 'en' });
    expect(s.cookie).toMatch(/^pantau_session=/);
    // 24 h at most (PANTAU_SESSION_TTL), 8 h unused (PANTAU_SESSION_IDLE)
    expect(s.setCookie[0]).toContain('Max-Age=86400');
    expect(Date.parse(s.body.expiresAt) - Date.now()).toBeGreaterThan(7.9 * 3_600_000);
    expect(Date.parse(s.body.expiresAt) - Date.now()).toBeLessThanOrEqual(8 * 3_600_000);
    const me = await withCookie(tp, 'GET', '/api/v1/session', s);
    expect(me.body).toMatchObject({ type: 'user', name: 'Siti Rahma', username: 'siti.rahma', role: 'operator', language: 'en', csrfToken: s.csrf });

    const db = tp.platform.registry.db;
    const user = db.prepare('SELECT password_hash FROM users WHERE username = ?').get('siti.rahma') as { password_hash: string };
    expect(user.password_hash).toMatch(/^scrypt\$32768\$/);
    const dump = JSON.stringify([db.prepare('SELECT * FROM password_links').all(), db.prepare('SELECT * FROM console_sessions').all(), db.prepare('SELECT * FROM audit').all()]);
    for (const secret of [PASSWORD, passwordLink.token, s.cookie.split('=')[1]!]) expect(dump).not.toContain(secret);
    expect(dump).toContain(createHash('sha256').update(s.cookie.split('=')[1]!).digest('base64url'));
    const audit = (await tp.api('GET', '/api/v1/audit?limit=50')).body.items as Array<{ actor: string; action: string; target: string }>;
    expect(audit.find((a) => a.action === 'user.created')).toMatchObject({ actor: 'key:bootstrap (bootstrap admin)' });
    expect(audit.find((a) => a.action === 'user.password_set')).toMatchObject({ actor: 'user:siti.rahma (Siti Rahma)' });
    expect(audit.find((a) => a.action === 'session.created' && a.actor.startsWith('user:siti.rahma'))).toBeDefined();

    // an API key still signs in the old way
    const byKey = await fetch(`${tp.platform.httpUrl}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'test-admin-key-0123456789' }) });
    expect(byKey.status).toBe(200);
    expect(await byKey.json()).toMatchObject({ type: 'key', name: 'bootstrap admin', keyName: 'bootstrap admin', role: 'admin', language: null });
    expect((await tp.api('POST', '/api/v1/session', { key: null, body: { key: 'x', username: 'siti.rahma', password: PASSWORD } })).status).toBe(400);
  });

  it('a new link voids the old one; an expired link is refused with its reason', async () => {
    const person = await createPerson(tp, { username: 'budi', name: 'Budi Santoso' });
    const second = await tp.api('POST', `/api/v1/users/${person.id}/password-link`);
    expect(second.status).toBe(201);
    const old = await setPassword(tp, person.link.token);
    expect(old.status).toBe(410);
    expect(old.body.detail).toMatch(/replaced by a newer one/);
    await new Promise((r) => setTimeout(r, 3200));
    const expired = await setPassword(tp, second.body.token);
    expect(expired.status).toBe(410);
    expect(expired.body.detail).toMatch(/expired at/);
    expect((await signIn(tp, 'budi')).status).toBe(401);
  });

  it('a scoped admin manages only people inside its scope and cannot grant a wider one', async () => {
    const { session: admin } = await signedInPerson(tp, { username: 'admin.smd', name: 'Admin Samarinda', role: 'admin', scope: { cities: ['Samarinda'] } });
    const outside = await createPerson(tp, { username: 'rina.bpn', name: 'Rina', scope: { cities: ['Balikpapan'] } });
    // without the CSRF token a cookie request cannot change anything
    expect((await tp.api('POST', '/api/v1/users', { key: null, body: { username: 'x1', name: 'X', role: 'viewer' }, headers: { cookie: admin.cookie } })).status).toBe(403);
    for (const scope of [{ cities: ['Balikpapan'] }, { cities: ['Samarinda', 'Bontang'] }, {}]) {
      const wider = await withCookie(tp, 'POST', '/api/v1/users', admin, { username: 'wider', name: 'Wider', role: 'viewer', scope });
      expect(wider.status, JSON.stringify(scope)).toBe(403);
      expect(wider.body.detail).toMatch(/wider than your own/);
    }
    const inside = await withCookie(tp, 'POST', '/api/v1/users', admin, { username: 'andi.smd', name: 'Andi', role: 'operator', scope: { cities: ['samarinda'], kinds: ['flood'] } });
    expect(inside.status).toBe(201);
    // no scope given: the admin's own
    const own = await withCookie(tp, 'POST', '/api/v1/users', admin, { username: 'dewi.smd', name: 'Dewi', role: 'viewer' });
    expect(own.body.person.scope).toEqual({ cities: ['Samarinda'], kinds: [] });
    const list = await withCookie(tp, 'GET', '/api/v1/users', admin);
    expect(list.body.items.map((p: { username: string }) => p.username).sort()).toEqual(['admin.smd', 'andi.smd', 'dewi.smd', 'siti.rahma']);
    expect(list.body.total).toBe(4);
    expect((await withCookie(tp, 'GET', `/api/v1/users/${outside.id}`, admin)).status).toBe(404);
    expect((await withCookie(tp, 'PATCH', `/api/v1/users/${outside.id}`, admin, { name: 'R' })).status).toBe(404);
    expect((await withCookie(tp, 'DELETE', `/api/v1/users/${outside.id}`, admin)).status).toBe(404);
    expect((await withCookie(tp, 'PATCH', `/api/v1/users/${inside.body.person.id}`, admin, { scope: { cities: ['Bontang'] } })).status).toBe(403);
    expect((await withCookie(tp, 'PATCH', `/api/v1/users/${inside.body.person.id}`, admin, { language: 'en' })).body.language).toBe('en');
    // the unscoped admin sees everyone
    expect((await tp.api('GET', '/api/v1/users')).body.total).toBeGreaterThanOrEqual(6);
  });

  it('a wrong password and an unknown username are one answer; ten failures lock the account, and the lock says until when', async () => {
    await signedInPerson(tp, { username: 'joko', name: 'Joko' });
    const wrong = await signIn(tp, 'joko', 'not-the-password-at-all');
    const unknown = await signIn(tp, 'nobody.here', 'not-the-password-at-all');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.setCookie).toEqual([]);
    for (let i = 2; i <= 9; i++) expect((await signIn(tp, 'joko', `wrong-password-${i}`)).status).toBe(401);
    const tenth = await signIn(tp, 'joko', 'wrong-password-10');
    expect(tenth.status).toBe(423);
    expect(tenth.body.type).toMatch(/account-locked/);
    expect(Date.parse(tenth.body.lockedUntil) - Date.now()).toBeGreaterThan(14 * 60_000);
    expect(Number(tenth.retryAfter)).toBeGreaterThan(14 * 60);
    // locked: even the right password gets the same answer, and no session
    const right = await signIn(tp, 'joko');
    expect(right.status).toBe(423);
    expect(right.body.lockedUntil).toBe(tenth.body.lockedUntil);
    expect(right.setCookie).toEqual([]);
    const audit = (await tp.api('GET', '/api/v1/audit?limit=20')).body.items as Array<{ action: string; target: string }>;
    expect(audit.find((a) => a.action === 'user.locked')!.target).toMatch(/joko: 10 failed sign-ins, locked until/);
  });

  it("a disabled person's session ends at once and they cannot sign in; so does a scope, role change or deletion", async () => {
    const { person, session } = await signedInPerson(tp, { username: 'wati', name: 'Wati', role: 'operator' });
    expect((await withCookie(tp, 'GET', '/api/v1/devices', session)).status).toBe(200);
    const hash = createHash('sha256').update(session.cookie.split('=')[1]!).digest('base64url');
    expect(await tp.platform.api.sessions.stillValid(hash)).toBe(true);
    expect((await tp.api('PATCH', `/api/v1/users/${person.id}`, { body: { disabled: true } })).body.disabled).toBe(true);
    expect((await withCookie(tp, 'GET', '/api/v1/devices', session)).status).toBe(401);
    expect(await tp.platform.api.sessions.stillValid(hash)).toBe(false);
    const refused = await signIn(tp, 'wati');
    expect(refused.status).toBe(403);
    expect(refused.body.type).toMatch(/account-disabled/);
    // with a wrong password, a disabled person is told nothing more than anyone else
    expect((await signIn(tp, 'wati', 'not-the-password-at-all')).status).toBe(401);
    await tp.api('PATCH', `/api/v1/users/${person.id}`, { body: { disabled: false } });

    const scoped = await signIn(tp, 'wati');
    expect((await withCookie(tp, 'GET', '/api/v1/devices', scoped)).status).toBe(200);
    await tp.api('PATCH', `/api/v1/users/${person.id}`, { body: { scope: { kinds: ['air'] } } });
    expect((await withCookie(tp, 'GET', '/api/v1/devices', scoped)).status).toBe(401);
    const audit = (await tp.api('GET', '/api/v1/audit?limit=5')).body.items as Array<{ action: string; target: string }>;
    expect(audit.find((a) => a.action === 'user.updated')!.target).toMatch(/scope all → kinds=air/);

    const roled = await signIn(tp, 'wati');
    expect(roled.body.scope).toEqual({ cities: [], kinds: ['air'] });
    await tp.api('PATCH', `/api/v1/users/${person.id}`, { body: { role: 'viewer' } });
    expect((await withCookie(tp, 'GET', '/api/v1/devices', roled)).status).toBe(401);
    // a name change leaves the session be, and the session answers with the new name
    const renamed = await signIn(tp, 'wati');
    await tp.api('PATCH', `/api/v1/users/${person.id}`, { body: { name: 'Wati Lestari' } });
    expect((await withCookie(tp, 'GET', '/api/v1/session', renamed)).body.name).toBe('Wati Lestari');
    expect((await tp.api('DELETE', `/api/v1/users/${person.id}`)).status).toBe(204);
    expect((await withCookie(tp, 'GET', '/api/v1/devices', renamed)).status).toBe(401);
    expect((await tp.api('GET', `/api/v1/users/${person.id}`)).status).toBe(404);
    // sign-out ends a session too
    const { session: other } = await signedInPerson(tp, { username: 'eko', name: 'Eko' });
    expect((await withCookie(tp, 'DELETE', '/api/v1/session', other)).status).toBe(204);
    expect((await withCookie(tp, 'GET', '/api/v1/session', other)).status).toBe(401);
  });
});

describe('sessions shared by two nodes on one PostgreSQL', () => {
  let pg: PostgresServer;
  let a: TestPlatform;
  let b: TestPlatform;
  beforeAll(async () => {
    pg = await startPostgres();
    a = await startTestPlatform({ PANTAU_REGISTRY_URL: pg.url, PANTAU_TRUST_PROXY: '127.0.0.1' });
    b = await startTestPlatform({ PANTAU_REGISTRY_URL: pg.url });
  }, 120_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await pg?.stop();
  });

  it('a session made on node A is served by node B, and ends on B within 2 s when the person is disabled through A', async () => {
    const person = await createPerson(a, { username: 'ketut', name: 'Ketut', role: 'operator' });
    // the link works on the other node, and node A hears that the person has a password now
    expect((await setPassword(b, person.link.token)).status).toBe(200);
    await eventually(async () => (await a.api('GET', `/api/v1/users/${person.id}`)).body.hasPassword === true, 2000, 20);
    const s = await signIn(a, 'ketut');
    expect(s.status).toBe(200);
    expect((await withCookie(b, 'GET', '/api/v1/session', s)).body).toMatchObject({ name: 'Ketut', username: 'ketut', role: 'operator' });
    expect((await withCookie(b, 'GET', '/api/v1/devices', s)).status).toBe(200);
    expect((await pg.sql('SELECT count(*) FROM console_sessions')).trim()).toBe('1');

    expect((await a.api('PATCH', `/api/v1/users/${person.id}`, { body: { disabled: true } })).status).toBe(200);
    const t0 = Date.now();
    let status = 200;
    while (Date.now() - t0 < 3000) {
      status = (await withCookie(b, 'GET', '/api/v1/devices', s)).status;
      if (status === 401) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe(401);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect((await signIn(b, 'ketut')).status).toBe(403);
  });

  it('the account lock holds on every node', async () => {
    const person = await createPerson(a, { username: 'made', name: 'Made' });
    expect((await setPassword(a, person.link.token)).status).toBe(200);
    for (let i = 0; i < 9; i++) expect((await signIn(i % 2 ? a : b, 'made', `wrong-password-${i}`)).status).toBe(401);
    expect((await signIn(b, 'made', 'wrong-password-9')).status).toBe(423);
    expect((await signIn(a, 'made')).status).toBe(423);
  });

  it('while PostgreSQL is down, a node goes on serving the sessions it served; signing in answers 503 until it is back', async () => {
    const person = await createPerson(a, { username: 'wayan', name: 'Wayan' });
    expect((await setPassword(a, person.link.token)).status).toBe(200);
    const s = await signIn(a, 'wayan');
    expect((await withCookie(a, 'GET', '/api/v1/session', s)).status).toBe(200);
    await pg.down();
    try {
      await new Promise((r) => setTimeout(r, 1100)); // past the second a looked-up session is believed
      expect((await withCookie(a, 'GET', '/api/v1/session', s)).body.username).toBe('wayan');
      const refused = await signIn(a, 'wayan');
      expect(refused.status).toBe(503);
      expect(refused.retryAfter).not.toBeNull();
    } finally {
      await pg.start();
    }
    await eventually(async () => (await signIn(a, 'wayan')).status === 200, 20_000, 250);
  });

  it('behind a trusted proxy that says https, the cookie is __Host-pantau_session and Secure; the other node reads it', async () => {
    const person = await createPerson(a, { username: 'nyoman', name: 'Nyoman' });
    expect((await setPassword(a, person.link.token)).status).toBe(200);
    const s = await signIn(a, 'nyoman', PASSWORD, { 'x-forwarded-proto': 'https' });
    expect(s.status).toBe(200);
    const cookie = s.setCookie.find((c) => c.startsWith('__Host-pantau_session='))!;
    expect(cookie.split('; ')).toEqual(expect.arrayContaining(['Path=/', 'HttpOnly', 'SameSite=Strict', 'Secure']));
    expect(cookie).not.toMatch(/Domain=/i);
    expect(s.setCookie.find((c) => c.startsWith('pantau_signed_in=1;'))!.split('; ')).toContain('Secure');
    expect((await withCookie(b, 'GET', '/api/v1/session', s)).body.username).toBe('nyoman');
    // node B trusts no proxy: the same header from a client is ignored, the cookie stays the plain-http one
    const plain = await signIn(b, 'nyoman', PASSWORD, { 'x-forwarded-proto': 'https' });
    expect(plain.cookie).toMatch(/^pantau_session=/);
    expect(plain.setCookie.join('\n')).not.toContain('Secure');
  });
});

describe('session limits', () => {
  let tp: TestPlatform;
  beforeAll(async () => {
    tp = await startTestPlatform({ PANTAU_SESSION_IDLE: '3s', PANTAU_SESSION_TTL: '7s' });
  });
  afterAll(async () => {
    await tp?.stop();
  });

  it('a session unused for PANTAU_SESSION_IDLE ends; a busy one lasts until PANTAU_SESSION_TTL and no longer', async () => {
    const signInWithKey = async () => {
      const res = await fetch(`${tp.platform.httpUrl}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'test-admin-key-0123456789' }) });
      expect(res.status).toBe(200);
      return { cookie: res.headers.getSetCookie()[0]!.split(';')[0]!, setCookie: res.headers.getSetCookie()[0]! };
    };
    const idle = await signInWithKey();
    const busy = await signInWithKey();
    expect(busy.setCookie).toContain('Max-Age=7');
    const started = Date.now();
    const status = async (s: { cookie: string }) => (await withCookie(tp, 'GET', '/api/v1/session', s)).status;
    // the busy session is used every 0.8 s; the idle one not at all
    while (Date.now() - started < 4500) {
      expect(await status(busy)).toBe(200);
      await new Promise((r) => setTimeout(r, 800));
    }
    expect(await status(idle)).toBe(401);
    expect(await status(busy)).toBe(200);
    while (Date.now() - started < 7200) {
      await status(busy);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(await status(busy)).toBe(401);
  });
});
