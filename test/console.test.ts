// The console (docs/contract.md §8) in a real browser: Debian's chromium driven by playwright-core (nothing downloads a
// browser), against a real platform with real MQTT devices. Sign-in and its cookie, CSRF and cross-site refusal,
// the map and its live update from an MQTT reading, acknowledgement by role, the device chart's thresholds and
// the ISPU colour, the language switch, the network log (nothing but Pantau), console errors, an axe-core pass,
// and screenshots of every view for the docs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ISPU_COLORS, ispuCategory } from '../catalog/ispu.js';
import { buildConsoleIfStale } from '../console/build/build.js';
import { UI } from '../console/src/i18n.js';
import { eventually, startTestPlatform, type TestPlatform } from './support/platform.js';
import { launchChromium } from './support/browser.js';
import { screenshotDir } from './support/screenshots.js';

const IMG = screenshotDir();
const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

let tp: TestPlatform;
let browser: Browser;
let base: string;
let viewerKey: string;
let operatorKey: string;
const devices = {
  flood: { id: 'smd-flood-karang-mumus', token: '' },
  air: { id: 'bpn-air-klandasan', token: '' },
  traffic: { id: 'btg-traffic-ahmad-yani', token: '' },
  quiet: { id: 'ikn-flood-sepaku', token: '' },
};
const clients: MqttClient[] = [];
let floodClient: MqttClient;

/** Everything the browser asked for and every console error, per context. */
interface Watch {
  requests: string[];
  errors: string[];
}

async function newContext(options: { viewport?: { width: number; height: number }; isMobile?: boolean } = {}): Promise<{ context: BrowserContext; watch: Watch }> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1920, height: 1080 }, isMobile: options.isMobile, locale: 'en-US', timezoneId: 'Europe/Berlin' });
  const watch: Watch = { requests: [], errors: [] };
  context.on('request', (r) => watch.requests.push(r.url()));
  context.on('page', (page) => {
    page.on('console', (m) => {
      if (m.type() === 'error') watch.errors.push(m.text());
    });
    page.on('pageerror', (e) => watch.errors.push(`pageerror: ${e.message}`));
  });
  return { context, watch };
}

async function signIn(page: Page, key: string): Promise<void> {
  await page.goto(`${base}/`);
  await page.getByTestId('login-use-key').click();
  await page.getByTestId('login-key').fill(key);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('nav-map').waitFor();
}

async function axeSerious(page: Page): Promise<Array<{ id: string; impact: string; nodes: number; help: string }>> {
  // evaluated through the DevTools protocol, which the page's CSP does not govern
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const r = await (window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: Array<{ id: string; impact: string; nodes: unknown[]; help: string }> }> } }).axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
  });
}

/** Visible text of the page. */
const visibleText = (page: Page) => page.evaluate(() => document.body.innerText);

beforeAll(async () => {
  await buildConsoleIfStale();
  tp = await startTestPlatform();
  base = tp.platform.httpUrl;
  viewerKey = (await tp.api('POST', '/api/v1/keys', { body: { name: 'ruang kendali', role: 'viewer' } })).body.key;
  operatorKey = (await tp.api('POST', '/api/v1/keys', { body: { name: 'operator BPBD', role: 'operator' } })).body.key;
  devices.flood.token = (await tp.register('flood', devices.flood.id, { name: 'Karang Mumus Segiri', location: { lat: -0.4948, lon: 117.1496 }, thresholds: { waspada: 700, siaga: 775, awas: 825 } })).token;
  devices.air.token = (await tp.register('air', devices.air.id, { name: 'Klandasan', city: 'Balikpapan', district: 'Balikpapan Kota', location: { lat: -1.2718, lon: 116.8312 } })).token;
  devices.traffic.token = (await tp.register('traffic', devices.traffic.id, { name: 'Simpang Ahmad Yani', city: 'Bontang', district: 'Bontang Utara', location: { lat: 0.1334, lon: 117.4921 }, thresholds: { freeFlowSpeed: 50, capacity: 1800 } })).token;
  devices.quiet.token = (await tp.register('flood', devices.quiet.id, { name: 'Sungai Sepaku', city: 'Nusantara', district: 'Sepaku', location: { lat: -0.9706, lon: 116.7083 }, thresholds: { siaga: 400, awas: 500 } })).token;

  // a morning of readings, so the device view has a chart
  const now = Date.now();
  const backlog = (values: (i: number) => Record<string, number>) => JSON.stringify(Array.from({ length: 36 }, (_, i) => ({ ts: now - (36 - i) * 10 * 60_000, ...values(i) })));
  floodClient = await tp.connect(devices.flood.id, devices.flood.token);
  const air = await tp.connect(devices.air.id, devices.air.token);
  const traffic = await tp.connect(devices.traffic.id, devices.traffic.token);
  clients.push(floodClient, air, traffic);
  await floodClient.publishAsync(`sensors/flood/${devices.flood.id}/telemetry`, backlog((i) => ({ waterLevel: 640 + i, rainfall: 4 })), { qos: 1 });
  await air.publishAsync(`sensors/air/${devices.air.id}/telemetry`, backlog((i) => ({ pm25: 70 + (i % 5), pm10: 90, temperature: 29, humidity: 80 })), { qos: 1 });
  await traffic.publishAsync(`sensors/traffic/${devices.traffic.id}/telemetry`, backlog((i) => ({ vehicleCount: 20 + i, avgSpeed: 38 - (i % 7), intervalSeconds: 60 })), { qos: 1 });
  // one firmware mistake, for the rejections list
  await air.publishAsync(`sensors/air/${devices.air.id}/telemetry`, JSON.stringify({ pm2_5: 40 }), { qos: 1 });
  await tp.drained();
  // the air monitor's ISPU is known before the browser looks
  await eventually(async () => (await tp.api('GET', `/api/v1/devices/${devices.air.id}/latest`)).body?.indices?.ispu?.category);

  // playwright gives the browser a fresh, temporary --user-data-dir of its own
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  await tp?.stop();
});

describe('console in Chromium', () => {
  it('refuses a wrong key, signs a viewer in with a strict session cookie, and signs out', async () => {
    const { context, watch } = await newContext();
    const page = await context.newPage();
    await page.goto(`${base}/`);
    expect(await page.getAttribute('html', 'lang')).toBe('id');
    await page.screenshot({ path: join(IMG, 'console-signin.png') });
    await page.getByTestId('login-use-key').click();
    await page.getByTestId('login-key').fill('pk_000000000000.not-a-key');
    await page.getByTestId('login-submit').click();
    await expect.poll(() => page.getByTestId('login-error').isVisible()).toBe(true);
    expect(await page.getByTestId('login-error').textContent()).toBe(UI.badKey.id);
    expect(await context.cookies()).toHaveLength(0);

    await page.getByTestId('login-key').fill(viewerKey);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('nav-map').waitFor();
    const cookies = await context.cookies();
    const cookie = cookies.find((c) => c.name === 'pantau_session');
    // its companion tells the page a session exists, and holds nothing else
    expect(cookies.find((c) => c.name === 'pantau_signed_in')).toMatchObject({ value: '1', httpOnly: false, sameSite: 'Strict' });
    expect(cookie).toMatchObject({ name: 'pantau_session', httpOnly: true, sameSite: 'Strict', secure: false, path: '/' });
    expect(cookie!.expires * 1000).toBeGreaterThan(Date.now() + 3_600_000);
    // the key is nowhere the page's scripts can read it
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie + location.href);
    expect(stored).not.toContain(viewerKey);
    expect(watch.requests.some((u) => u.includes(viewerKey))).toBe(false);

    // a key is named as a key, never as a person
    expect(await page.getByTestId('whoami').textContent()).toMatch(/^Kunci API: ruang kendali · /);
    // the session answers as docs/contract.md §8 says; after sign-out, the cookie no longer works
    const me = await page.evaluate(async () => (await fetch('/api/v1/session')).json());
    expect(me).toMatchObject({ role: 'viewer', keyName: 'ruang kendali' });
    await page.getByTestId('logout').click();
    await page.getByTestId('login-username').waitFor();
    expect(await context.cookies()).toEqual([]);
    // the one error the browser logs is the refused sign-in's 401
    expect(watch.errors).toEqual(['Failed to load resource: the server responded with a status of 401 (Unauthorized)']);
    expect(await page.evaluate(async () => (await fetch('/api/v1/session')).status)).toBe(401);
    await context.close();
  });

  it('a person sets their password from the link, signs in with it and sees their name; wrong, locked and disabled are said so', async () => {
    const password = 'sungai-mahakam-2026';
    // each password check is a full-cost scrypt, one at a time: on a busy machine an answer can take seconds
    const SLOW = { timeout: 15_000 };
    const created = (await tp.api('POST', '/api/v1/users', { body: { username: 'rahmat', name: 'Rahmat Hidayat', role: 'operator', language: 'id' } })).body;
    const { context, watch } = await newContext();
    const page = await context.newPage();
    await page.goto(`${base}${created.passwordLink.url}`);
    await page.getByTestId('setpw-password').waitFor();
    // the token leaves the address bar at once
    expect(page.url()).toBe(`${base}/set-password`);
    expect(await axeSerious(page)).toEqual([]);
    await page.getByTestId('setpw-password').fill(password);
    await page.getByTestId('setpw-confirm').fill('sungai-mahakam-2027');
    await page.getByTestId('setpw-submit').click();
    expect(await page.getByTestId('setpw-error').textContent()).toBe(UI.passwordMismatch.id);
    await page.getByTestId('setpw-confirm').fill(password);
    await page.getByTestId('setpw-submit').click();
    await page.getByTestId('setpw-done').waitFor();
    expect(await page.getByTestId('setpw-done').textContent()).toBe(UI.passwordSet.id);
    await page.screenshot({ path: join(IMG, 'console-set-password.png') });
    // the link works once
    await page.goto(`${base}${created.passwordLink.url}`);
    await page.getByTestId('setpw-password').fill(password);
    await page.getByTestId('setpw-confirm').fill(password);
    await page.getByTestId('setpw-submit').click();
    await expect.poll(() => page.getByTestId('setpw-error').textContent(), SLOW).toBe(UI.linkUsed.id);

    const attempt = async (username: string, pw: string) => {
      await page.goto(`${base}/`);
      await page.getByTestId('login-username').fill(username);
      await page.getByTestId('login-password').fill(pw);
      await page.getByTestId('login-submit').click();
    };
    await attempt('rahmat', 'not-my-password-at-all');
    await expect.poll(() => page.getByTestId('login-error').textContent(), SLOW).toBe(UI.badPassword.id);
    await attempt('Rahmat', password);
    await page.getByTestId('nav-map').waitFor();
    expect(await page.getByTestId('whoami').textContent()).toBe('Rahmat Hidayat · operator');
    expect(await visibleText(page)).not.toContain('bootstrap admin');
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie + location.href);
    expect(stored).not.toContain(password);
    await page.getByTestId('logout').click();
    await page.getByTestId('login-username').waitFor();

    // ten failures lock an account; the page says until when
    const lina = (await tp.api('POST', '/api/v1/users', { body: { username: 'lina', name: 'Lina', role: 'viewer' } })).body;
    expect((await tp.api('POST', '/api/v1/password', { key: null, body: { token: lina.passwordLink.token, password } })).status).toBe(200);
    for (let i = 0; i < 10; i++) await tp.api('POST', '/api/v1/session', { key: null, body: { username: 'lina', password: `wrong-password-${i}` } });
    await attempt('lina', password);
    await expect.poll(() => page.getByTestId('login-error').textContent(), SLOW).toMatch(new RegExp(`^${UI.locked.id} .+ WITA\\.$`));
    await page.getByTestId('lang-toggle').click();
    await attempt('lina', password);
    await expect.poll(() => page.getByTestId('login-error').textContent(), SLOW).toMatch(new RegExp(`^${UI.locked.en} .+ WITA\\.$`));
    // a disabled person is told so (with the right password only)
    await tp.api('PATCH', `/api/v1/users/${created.person.id}`, { body: { disabled: true } });
    await attempt('rahmat', password);
    await expect.poll(() => page.getByTestId('login-error').textContent(), SLOW).toBe(UI.disabled.en);
    await page.getByTestId('lang-toggle').click();
    expect(watch.errors.every((e) => /^Failed to load resource: the server responded with a status of (401|403|410|423)/.test(e))).toBe(true);
    await context.close();
  });

  it('marks the cookie Secure under TLS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pantau-console-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'pipe' });
    const tls = await startTestPlatform({ PANTAU_TLS_CERT: join(dir, 'c.pem'), PANTAU_TLS_KEY: join(dir, 'k.pem'), PANTAU_MQTT_TLS_PORT: '0' });
    try {
      const setCookies = await new Promise<string[]>((resolve, reject) => {
        const req = httpsRequest(`${tls.platform.httpUrl}/api/v1/session`, { method: 'POST', ca: readFileSync(join(dir, 'c.pem')), headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          resolve(res.headers['set-cookie'] ?? []);
        });
        req.on('error', reject);
        req.end(JSON.stringify({ key: 'test-admin-key-0123456789' }));
      });
      // over HTTPS the cookie is __Host-: Secure, Path=/, no Domain — browsers bind it to this host alone
      const session = setCookies.find((c) => c.startsWith('__Host-pantau_session='))!;
      expect(session).toMatch(/^__Host-pantau_session=[A-Za-z0-9_-]{40,};/);
      for (const flag of ['HttpOnly', 'SameSite=Strict', 'Path=/', 'Secure', 'Max-Age=86400']) expect(session.split('; ')).toContain(flag);
      expect(session).not.toMatch(/Domain=/i);
      expect(setCookies.find((c) => c.startsWith('pantau_signed_in=1;'))!.split('; ')).toContain('Secure');
    } finally {
      await tls.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shows one row and one marker per device with its state, and an MQTT reading over siaga turns it live, with an alert row', async () => {
    const { context, watch } = await newContext();
    const map = await context.newPage();
    await signIn(map, viewerKey);
    const rows = map.getByTestId('device-row');
    await expect.poll(() => rows.count()).toBe(4);
    const states = await map.$$eval('[data-testid=device-row]', (els) => Object.fromEntries(els.map((e) => [e.getAttribute('data-device-id'), e.getAttribute('data-state')])));
    expect(states).toEqual({ [devices.flood.id]: 'online', [devices.air.id]: 'online', [devices.traffic.id]: 'online', [devices.quiet.id]: 'never_seen' });
    const markers = () => map.$$eval('.device-marker', (els) => Object.fromEntries(els.map((e) => [e.getAttribute('data-device-id'), { state: e.getAttribute('data-state'), severity: e.getAttribute('data-alert-severity'), fill: e.getAttribute('fill') }])));
    await expect.poll(async () => Object.keys(await markers()).sort()).toEqual(Object.values(devices).map((d) => d.id).sort());
    expect((await markers())[devices.quiet.id]!.state).toBe('never_seen');
    expect((await markers())[devices.flood.id]).toMatchObject({ state: 'online', severity: '' });
    const fillBefore = (await markers())[devices.flood.id]!.fill;
    // zoomed out, the devices gather into clusters that count them all
    const zoomOut = map.locator('.leaflet-control-zoom-out');
    for (let i = 0; i < 8 && (await map.locator('.cluster').count()) === 0; i++) {
      await zoomOut.click();
      await map.waitForTimeout(500); // the zoom animation; clicks during it are dropped
    }
    await map.locator('.cluster').first().waitFor();
    const counted = await map.evaluate(() => [...document.querySelectorAll<HTMLElement>('.cluster')].reduce((n, c) => n + Number(c.dataset.count), 0) + document.querySelectorAll('.device-marker').length);
    expect(counted).toBe(4);
    for (let i = 0; i < 8 && Object.keys(await markers()).length < 4; i++) {
      await map.locator('.leaflet-control-zoom-in').click();
      await map.waitForTimeout(500);
    }
    expect(Object.keys(await markers()).length).toBe(4);

    const alerts = await context.newPage();
    await alerts.goto(`${base}/alerts`);
    await alerts.getByTestId('nav-alerts').waitFor();
    await alerts.getByTestId('alert-row').first().waitFor(); // the air monitor's ISPU alert (Tidak Sehat)
    expect(await alerts.locator(`[data-testid=alert-row][data-device-id="${devices.flood.id}"]`).count()).toBe(0);
    // a page that reloads loses this
    await map.evaluate(() => ((window as unknown as { unreloaded: boolean }).unreloaded = true));
    await alerts.evaluate(() => ((window as unknown as { unreloaded: boolean }).unreloaded = true));

    const t0 = Date.now();
    await floodClient.publishAsync(`sensors/flood/${devices.flood.id}/telemetry`, JSON.stringify({ waterLevel: 790 }), { qos: 1 });
    const pubackAt = Date.now();
    const row = map.locator(`[data-testid=device-row][data-device-id="${devices.flood.id}"]`);
    const alertRow = alerts.locator(`[data-testid=alert-row][data-device-id="${devices.flood.id}"]`);
    await Promise.all([
      expect.poll(() => row.getAttribute('data-alert-severity'), { timeout: 10_000, interval: 50 }).toBe('siaga'),
      expect.poll(async () => (await markers())[devices.flood.id]?.severity, { timeout: 10_000, interval: 50 }).toBe('siaga'),
      alertRow.waitFor({ timeout: 10_000 }),
    ]);
    const seenAfterPuback = Date.now() - pubackAt;
    console.log(`console: siaga reading → marker and alert row visible ${seenAfterPuback} ms after PUBACK (publish took ${pubackAt - t0} ms)`);
    const after = (await markers())[devices.flood.id]!;
    expect(after.fill).not.toBe(fillBefore);
    expect(after.fill).toBe('#f08c00'); // siaga orange
    expect(await alertRow.getAttribute('data-severity')).toBe('siaga');
    expect(await alertRow.getAttribute('data-state')).toBe('open');
    expect(await alertRow.getAttribute('class')).toContain('fresh');
    // a viewer gets no button
    expect(await alerts.getByTestId('alert-ack').count()).toBe(0);
    expect(await map.evaluate(() => (window as unknown as { unreloaded?: boolean }).unreloaded)).toBe(true);
    expect(await alerts.evaluate(() => (window as unknown as { unreloaded?: boolean }).unreloaded)).toBe(true);

    // the API refuses a viewer's forged acknowledgement, even with the session's CSRF token
    const alertId = (await alertRow.getAttribute('data-alert-id'))!;
    const forged = await alerts.evaluate(async (id) => {
      const { csrfToken } = (await (await fetch('/api/v1/session')).json()) as { csrfToken: string };
      const res = await fetch(`/api/v1/alerts/${id}/ack`, { method: 'POST', headers: { 'x-csrf-token': csrfToken } });
      return res.status;
    }, alertId);
    expect(forged).toBe(403);
    expect(watch.errors.filter((e) => !/403/.test(e))).toEqual([]);
    await context.close();
  });

  it('refuses a cross-site POST and a cookie request without the CSRF token; an operator acknowledges with one click', async () => {
    const alert = (await tp.api('GET', `/api/v1/alerts?state=open&deviceId=${devices.flood.id}`)).body.items[0];
    expect(alert).toBeTruthy();
    const { context, watch } = await newContext();
    const page = await context.newPage();
    await signIn(page, operatorKey);

    // a page of another origin on the same host (so the browser even sends the SameSite cookie) posts a form
    const evil: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><form id="f" method="POST" action="${base}/api/v1/alerts/${alert.id}/ack"></form><script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    const evilUrl = `http://127.0.0.1:${(evil.address() as { port: number }).port}/`;
    const answer = page.waitForResponse((r) => r.url().includes(`/alerts/${alert.id}/ack`));
    await page.goto(evilUrl);
    expect((await answer).status()).toBe(403);
    evil.close();
    // and the console's own origin without the token
    await page.goto(`${base}/alerts`);
    await page.getByTestId('alert-row').first().waitFor();
    const noToken = await page.evaluate(async (id) => (await fetch(`/api/v1/alerts/${id}/ack`, { method: 'POST' })).status, alert.id);
    expect(noToken).toBe(403);
    expect((await tp.api('GET', `/api/v1/alerts?deviceId=${devices.flood.id}`)).body.items[0].state).toBe('open');

    const row = page.locator(`[data-testid=alert-row][data-alert-id="${alert.id}"]`);
    await row.getByTestId('alert-ack').click();
    await expect.poll(() => row.getAttribute('data-state')).toBe('acknowledged');
    expect(await row.getByTestId('alert-ack').count()).toBe(0);
    const stored = (await tp.api('GET', `/api/v1/alerts?deviceId=${devices.flood.id}`)).body.items[0];
    expect(stored).toMatchObject({ id: alert.id, state: 'acknowledged' });
    const audit = (await tp.api('GET', '/api/v1/audit?limit=20')).body.items;
    expect(audit.some((e: { actor: string; action: string }) => e.actor.includes('operator BPBD') && e.action.includes('ack'))).toBe(true);
    // requests other than to the evil page went to Pantau only
    expect(watch.requests.filter((u) => !u.startsWith(evilUrl)).filter((u) => !u.startsWith(`${base}/`))).toEqual([]);
    await context.close();
  });

  it('draws the gauge thresholds on the device chart and the ISPU category in its official colour', async () => {
    const { context, watch } = await newContext();
    const page = await context.newPage();
    await signIn(page, viewerKey);

    await page.goto(`${base}/devices/${devices.flood.id}`);
    const chart = page.getByTestId('device-chart');
    await expect.poll(() => chart.getAttribute('data-thresholds'), { timeout: 15_000 }).toBeTruthy();
    const lines = JSON.parse((await chart.getAttribute('data-thresholds'))!) as Array<{ name: string; value: number; color: string; y: number }>;
    expect(lines.map((l) => l.value)).toEqual([700, 775, 825]);
    // each line is really on the canvas, in its colour, at its height (sampled at 90 % of the plot's width)
    const plotBox = JSON.parse((await chart.getAttribute('data-plot'))!) as { left: number; width: number };
    for (const l of lines) {
      const pixel = await page.evaluate(({ y, x }) => {
        const canvas = document.querySelector('[data-testid=device-chart] canvas') as HTMLCanvasElement;
        const ratio = canvas.width / canvas.clientWidth;
        const ctx = canvas.getContext('2d')!;
        const [r, g, b] = ctx.getImageData(Math.round(x * ratio), Math.round(y * ratio), 1, 1).data;
        return `#${[r, g, b].map((c) => c!.toString(16).padStart(2, '0')).join('')}`;
      }, { y: l.y, x: plotBox.left + plotBox.width * 0.9 });
      expect(pixel).toBe(l.color);
    }
    // the thresholds are named in the chart's legend with their colours, and their labels sit apart in the gutter
    // right of the plot, where neither the y axis (left) nor the data can meet them
    const legendNames = await page.locator('[data-testid=device-chart] .u-legend .u-series th').allInnerTexts();
    for (const l of lines) expect(legendNames.join('|')).toContain(l.name);
    expect(legendNames.join('|')).toContain(UI.timeWita.id);
    const labelled = JSON.parse((await chart.getAttribute('data-thresholds'))!) as Array<{ labelY: number }>;
    const ys = labelled.map((l) => l.labelY).sort((a, b) => a - b);
    for (let i = 1; i < ys.length; i++) expect(ys[i]! - ys[i - 1]!).toBeGreaterThanOrEqual(14);
    expect(await page.getByTestId('device-index').getAttribute('data-category')).toBe('siaga');
    expect(await page.getByTestId('device-latest').innerText()).toMatch(/790\s+cm/);

    await page.goto(`${base}/devices/${devices.air.id}`);
    const index = page.getByTestId('device-index');
    await index.waitFor();
    const latest = (await tp.api('GET', `/api/v1/devices/${devices.air.id}/latest`)).body;
    const category = latest.indices.ispu.category as keyof typeof ISPU_COLORS;
    expect(category).toBe(ispuCategory(latest.indices.ispu.value));
    expect(await index.getAttribute('data-category')).toBe(category);
    const bg = await index.evaluate((e) => getComputedStyle(e).backgroundColor);
    const hex = ISPU_COLORS[category];
    expect(bg).toBe(`rgb(${parseInt(hex.slice(1, 3), 16)}, ${parseInt(hex.slice(3, 5), 16)}, ${parseInt(hex.slice(5, 7), 16)})`);
    await expect.poll(() => page.getByTestId('device-chart').getAttribute('data-bands'), { timeout: 15_000 }).toBeTruthy();
    const bands = JSON.parse((await page.getByTestId('device-chart').getAttribute('data-bands'))!) as Array<{ color: string }>;
    expect(bands.map((b) => b.color)).toEqual(Object.values(ISPU_COLORS));
    expect(await page.getByTestId('rejection-row').count()).toBeGreaterThan(0);
    expect(await page.getByTestId('rejection-row').first().innerText()).toContain('unknown_field');
    expect(watch.errors).toEqual([]);
    await context.close();
  });

  it('shows the summary per city and kind', async () => {
    const { context, watch } = await newContext();
    const page = await context.newPage();
    await signIn(page, viewerKey);
    await page.getByTestId('nav-summary').click();
    await expect.poll(() => page.getByTestId('summary-row').count()).toBe(4);
    const flood = page.locator('[data-testid=summary-row][data-city=Samarinda][data-kind=flood]');
    expect(await flood.innerText()).toMatch(/Siaga: 1/);
    expect(await page.locator('[data-testid=summary-row][data-city=Nusantara][data-kind=flood]').innerText()).toMatch(/Nusantara\s+Banjir\s+1\s+0\s+0\s+1/);
    expect(watch.errors).toEqual([]);
    await context.close();
  });

  it('switches every visible label to English and back, remembered across a reload', async () => {
    const { context, watch } = await newContext();
    const page = await context.newPage();
    await signIn(page, operatorKey);
    const differing = Object.values(UI).filter((l) => l.id !== l.en);
    // Indonesian words that are not also English words of the page, checked as whole phrases
    const leftovers = (text: string, from: 'id' | 'en') =>
      differing.map((l) => l[from]).filter((w) => w.length > 3 && new RegExp(`(^|[^\\p{L}])${w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\p{L}])`, 'u').test(text));
    for (const path of ['/', '/alerts', '/summary', `/devices/${devices.flood.id}`]) {
      await page.goto(`${base}${path}`);
      await page.getByTestId('nav-map').waitFor();
      await page.waitForTimeout(300);
      expect(await page.getAttribute('html', 'lang')).toBe('id');
      const before = await visibleText(page);
      expect(leftovers(before, 'en')).toEqual([]);
      await page.getByTestId('lang-toggle').click();
      expect(await page.getAttribute('html', 'lang')).toBe('en');
      const after = await visibleText(page);
      expect(leftovers(after, 'id'), `${path} in English`).toEqual([]);
      expect(after).toContain(UI.navMap.en);
      await page.reload();
      await page.getByTestId('nav-map').waitFor();
      expect(await page.getAttribute('html', 'lang')).toBe('en');
      await page.getByTestId('lang-toggle').click();
      expect(await page.getAttribute('html', 'lang')).toBe('id');
    }
    expect(watch.errors).toEqual([]);
    await context.close();
  });

  it('loads nothing from any other host, logs no errors and passes axe-core on every view, on a wall screen, a tablet in portrait and a phone', async () => {
    for (const screen of [{ viewport: { width: 1920, height: 1080 } }, { viewport: { width: 768, height: 1024 }, isMobile: true }, { viewport: { width: 390, height: 844 }, isMobile: true }]) {
      const { context, watch } = await newContext(screen);
      const page = await context.newPage();
      await page.goto(`${base}/`);
      await page.getByTestId('login-username').waitFor();
      expect(await axeSerious(page)).toEqual([]);
      await page.getByTestId('login-use-key').click();
      await page.getByTestId('login-key').waitFor();
      expect(await axeSerious(page)).toEqual([]);
      await signIn(page, operatorKey);
      for (const path of ['/', '/alerts', '/summary', `/devices/${devices.air.id}`]) {
        await page.goto(`${base}${path}`);
        await page.getByTestId('nav-map').waitFor();
        await page.waitForLoadState('networkidle').catch(() => undefined);
        await page.waitForTimeout(500);
        expect(await axeSerious(page), `${path} at ${screen.viewport.width}px`).toEqual([]);
        // nothing wider than the screen
        expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), `${path} fits ${screen.viewport.width}px`).toBe(true);
      }
      if (screen.isMobile) {
        await page.goto(`${base}/`);
        await page.getByTestId('device-row').first().waitFor();
        await page.waitForTimeout(500);
        // stacked: the map across the screen, the legend and the list below it
        const box = async (sel: string) => (await page.locator(sel).first().boundingBox())!;
        const [mapBox, sideBox] = [await box('[data-testid=map]'), await box('aside.side')];
        expect(mapBox.width).toBeGreaterThan(screen.viewport.width * 0.85);
        expect(sideBox.y).toBeGreaterThanOrEqual(mapBox.y + mapBox.height - 1);
        await page.screenshot({ path: join(IMG, screen.viewport.width === 768 ? 'console-tablet.png' : 'console-phone.png') });
        if (screen.viewport.width === 768) {
          await page.goto(`${base}/devices/${devices.flood.id}`);
          await page.getByTestId('device-chart').locator('canvas').waitFor();
          const chartBox = await box('[data-testid=device-chart]');
          expect(chartBox.x + chartBox.width).toBeLessThanOrEqual(screen.viewport.width);
          await page.screenshot({ path: join(IMG, 'console-tablet-device.png'), fullPage: true });
        }
      }
      const foreign = watch.requests.filter((u) => !u.startsWith(`${base}/`));
      expect(foreign).toEqual([]);
      expect(watch.errors).toEqual([]);
      await context.close();
    }
  }, 180_000); // three screens × every view with axe: minutes on a busy CI machine

  it('serves hashed assets for a year, the page under a strict CSP, and refuses sessions from another origin', async () => {
    const page = await fetch(`${base}/`);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("default-src 'none'");
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const html = await page.text();
    const script = /src="(\/assets\/index-[A-Za-z0-9_-]+\.js)"/.exec(html)![1]!;
    const asset = await fetch(`${base}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-encoding')).toBe('gzip');
    for (const route of ['/alerts', '/summary', `/devices/${devices.air.id}`]) expect((await fetch(`${base}${route}`)).status).toBe(200);
    const crossOrigin = await fetch(`${base}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'http://evil.example' }, body: JSON.stringify({ key: viewerKey }) });
    expect(crossOrigin.status).toBe(403);
    expect(crossOrigin.headers.get('set-cookie')).toBeNull();
    // a revoked key's sessions end at once
    const key = (await tp.api('POST', '/api/v1/keys', { body: { name: 'short-lived', role: 'viewer' } })).body;
    const signIn = await fetch(`${base}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: key.key }) });
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    expect((await fetch(`${base}/api/v1/devices`, { headers: { cookie } })).status).toBe(200);
    expect((await tp.api('DELETE', `/api/v1/keys/${key.id}`)).status).toBe(204);
    expect((await fetch(`${base}/api/v1/devices`, { headers: { cookie } })).status).toBe(401);
  });

  it('is driven by the keyboard: Tab reaches the map, a cluster zooms on Enter, a device marker opens its view on Enter; every control has a name', async () => {
    const { context, watch } = await newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(page, operatorKey);
    await page.getByTestId('device-row').first().waitFor();
    await page.waitForTimeout(500);
    // every control a person can reach has a name a screen reader says
    const unnamed = await page.evaluate(() => [...document.querySelectorAll<HTMLElement>('a[href], button, select, input, [tabindex="0"], [role=button], [role=link]')]
      .filter((e) => {
        const labelled = e.getAttribute('aria-labelledby')?.split(' ').map((id) => document.getElementById(id)?.textContent ?? '').join('') ?? '';
        const labels = 'labels' in e ? [...((e as HTMLInputElement).labels ?? [])].map((l) => l.textContent).join('') : '';
        return !(e.getAttribute('aria-label') || labelled || labels || e.textContent?.trim() || e.getAttribute('title'));
      })
      .map((e) => e.outerHTML.slice(0, 120)));
    expect(unnamed).toEqual([]);
    // zoom out until the devices gather, then Tab to a cluster and press Enter
    for (let i = 0; i < 8 && (await page.locator('.cluster').count()) === 0; i++) {
      await page.locator('.leaflet-control-zoom-out').click();
      await page.waitForTimeout(500);
    }
    const tabTo = async (selector: string): Promise<boolean> => {
      await page.getByTestId('map').focus();
      for (let i = 0; i < 40; i++) {
        await page.keyboard.press('Tab');
        if (await page.evaluate((sel) => document.activeElement?.matches(sel) ?? false, selector)) return true;
      }
      return false;
    };
    expect(await tabTo('.cluster')).toBe(true);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toMatch(/^\d+ perangkat/);
    const markersBefore = await page.locator('.device-marker').count();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('.device-marker').count()).toBeGreaterThan(markersBefore);
    expect(await tabTo('.device-marker')).toBe(true);
    const id = await page.evaluate(() => document.activeElement?.getAttribute('data-device-id'));
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toMatch(/buka perangkat/);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/devices/${encodeURIComponent(id!)}`);
    await page.getByTestId('device-latest').waitFor();
    expect(watch.errors).toEqual([]);
    await context.close();
  });

  it('takes a screenshot of every view in both languages for the docs', async () => {
    const { context, watch } = await newContext({ viewport: { width: 1600, height: 1000 } });
    const page = await context.newPage();
    await signIn(page, operatorKey);
    const views: Array<[string, string, () => Promise<unknown>]> = [
      ['map', '/', () => page.getByTestId('device-row').first().waitFor()],
      ['alerts', '/alerts', () => page.getByTestId('alert-row').first().waitFor()],
      ['device-flood', `/devices/${devices.flood.id}`, () => page.getByTestId('device-chart').locator('canvas').waitFor()],
      ['device-air', `/devices/${devices.air.id}`, () => page.getByTestId('device-chart').locator('canvas').waitFor()],
      ['device-traffic', `/devices/${devices.traffic.id}`, () => page.getByTestId('device-chart').locator('canvas').waitFor()],
      ['summary', '/summary', () => page.getByTestId('summary-row').first().waitFor()],
    ];
    for (const language of ['id', 'en'] as const) {
      for (const [name, path, ready] of views) {
        await page.goto(`${base}${path}`);
        await page.getByTestId('nav-map').waitFor();
        if ((await page.getAttribute('html', 'lang')) !== language) await page.getByTestId('lang-toggle').click();
        await ready();
        await page.waitForLoadState('networkidle').catch(() => undefined);
        await page.waitForTimeout(600);
        await page.screenshot({ path: join(IMG, `console-${name}${language === 'en' ? '-en' : ''}.png`), fullPage: name.startsWith('device') });
      }
    }
    await page.getByTestId('lang-toggle').click();
    expect(watch.errors).toEqual([]);
    await context.close();
  });
});
