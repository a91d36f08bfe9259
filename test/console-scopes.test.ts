// The console for a scoped person (issue 20), in Debian's chromium (playwright-core; nothing downloads a browser):
// a Samarinda flood operator, signed in with username and password on node A of a cluster (two platforms on one
// PostgreSQL), sees only Samarinda's gauges and their alerts on the map, in the lists, the summary and the live
// updates; acknowledges one; and stays signed in on node B, whose answers keep to the same scope. When her scope
// is changed, both pages return to the sign-in form by themselves.
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsoleIfStale } from '../console/build/build.js';
import { UI } from '../console/src/i18n.js';
import { eventually, startTestPlatform, type TestPlatform } from './support/platform.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';
import { launchChromium } from './support/browser.js';
import { screenshotDir } from './support/screenshots.js';

const IMG = screenshotDir();
const GAUGE = { waspada: 700, siaga: 775, awas: 825 };
const PASSWORD = 'banjir karang mumus 2026';

let pg: PostgresServer;
let a: TestPlatform;
let b: TestPlatform;
let browser: Browser;
const clients: Record<string, MqttClient> = {};

const inside = ['smd-flood-segiri', 'smd-flood-gelatik'];
const outside = ['smd-air-sempaja', 'bpn-flood-ampal', 'btg-traffic-yani'];

beforeAll(async () => {
  await buildConsoleIfStale();
  pg = await startPostgres();
  // one-time links last 3 s on node A, so a test can find one expired
  a = await startTestPlatform({ PANTAU_REGISTRY_URL: pg.url, PANTAU_PASSWORD_LINK_TTL: '3s' });
  b = await startTestPlatform({ PANTAU_REGISTRY_URL: pg.url, PANTAU_ROLE: 'api' });
  const specs: Array<[string, 'flood' | 'air' | 'traffic', string, string, Record<string, unknown>]> = [
    ['smd-flood-segiri', 'flood', 'Samarinda', 'Karang Mumus Segiri', { location: { lat: -0.4948, lon: 117.1496 }, thresholds: GAUGE }],
    ['smd-flood-gelatik', 'flood', 'Samarinda', 'Karang Mumus Gelatik', { location: { lat: -0.4801, lon: 117.1602 }, thresholds: GAUGE }],
    ['smd-air-sempaja', 'air', 'Samarinda', 'Udara Sempaja', { location: { lat: -0.4561, lon: 117.1543 } }],
    ['bpn-flood-ampal', 'flood', 'Balikpapan', 'Sungai Ampal', { location: { lat: -1.2537, lon: 116.8666 }, thresholds: GAUGE }],
    ['btg-traffic-yani', 'traffic', 'Bontang', 'Simpang Ahmad Yani', { location: { lat: 0.1334, lon: 117.4921 }, thresholds: { freeFlowSpeed: 50, capacity: 1800 } }],
  ];
  for (const [id, kind, city, name, extra] of specs) {
    const dev = await a.register(kind, id, { city, name, district: `${city} Kota`, ...extra });
    clients[id] = await a.connect(dev.id, dev.token);
  }
  // every flood gauge over siaga (an alert each), the air monitor and the counter reporting
  for (const id of ['smd-flood-segiri', 'bpn-flood-ampal']) await clients[id]!.publishAsync(`sensors/flood/${id}/telemetry`, JSON.stringify({ waterLevel: 790 }), { qos: 1 });
  await clients['smd-flood-gelatik']!.publishAsync('sensors/flood/smd-flood-gelatik/telemetry', JSON.stringify({ waterLevel: 770 }), { qos: 1 });
  await clients['smd-air-sempaja']!.publishAsync('sensors/air/smd-air-sempaja/telemetry', JSON.stringify({ pm25: 40 }), { qos: 1 });
  await clients['btg-traffic-yani']!.publishAsync('sensors/traffic/btg-traffic-yani/telemetry', JSON.stringify({ vehicleCount: 30, avgSpeed: 35 }), { qos: 1 });
  await eventually(async () => (await a.api('GET', '/api/v1/alerts?state=open')).body.items.length >= 2);

  const made = await a.api('POST', '/api/v1/users', {
    body: { username: 'dewi.bpbd', name: 'Dewi Lestari', role: 'operator', scope: { cities: ['Samarinda'], kinds: ['flood'] } },
  });
  expect(made.status).toBe(201);
  expect((await a.api('POST', '/api/v1/password', { key: null, body: { token: made.body.passwordLink.token, password: PASSWORD } })).status).toBe(200);

  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(Object.values(clients).map((c) => c.endAsync(true).catch(() => undefined)));
  await b?.stop();
  await a?.stop();
  await pg?.stop();
});

const markerIds = (page: Page) => page.$$eval('.device-marker, [data-testid=device-row]', (els) => [...new Set(els.map((e) => e.getAttribute('data-device-id')))].sort());

describe('the console of a Samarinda flood operator', () => {
  it('an expired one-time link is refused on the password page with its reason', async () => {
    const made = await a.api('POST', '/api/v1/users', { body: { username: 'late.reader', name: 'Late Reader', role: 'viewer', scope: { cities: ['Samarinda'] } } });
    expect(made.status).toBe(201);
    await new Promise((r) => setTimeout(r, 3500));
    const context = await browser.newContext({ locale: 'id-ID' });
    const page = await context.newPage();
    await page.goto(`${a.platform.httpUrl}${made.body.passwordLink.url}`);
    await page.getByTestId('setpw-password').fill('a long enough password 1');
    await page.getByTestId('setpw-confirm').fill('a long enough password 1');
    await page.getByTestId('setpw-submit').click();
    await expect.poll(() => page.getByTestId('setpw-error').textContent(), { timeout: 15_000 }).toBe(UI.linkExpired.id);
    expect((await a.api('GET', `/api/v1/users/${made.body.person.id}`)).body.hasPassword).toBe(false);
    await context.close();
  });

  it('shows only Samarinda\'s gauges and their alerts, live; acknowledging works; node B keeps the session and the scope', async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'id-ID' });
    const errors: string[] = [];
    context.on('page', (p) => p.on('pageerror', (e) => errors.push(e.message)));
    const page = await context.newPage();
    await page.goto(`${a.platform.httpUrl}/`);
    await page.getByTestId('login-username').fill('dewi.bpbd');
    await page.getByTestId('login-password').fill(PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('nav-map').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('whoami').textContent()).toBe('Dewi Lestari · operator');

    // map and device list: the two Samarinda gauges, nothing else
    await expect.poll(() => markerIds(page), { timeout: 10_000 }).toEqual([...inside].sort());
    const text = await page.evaluate(() => document.body.innerText);
    for (const hidden of ['Sungai Ampal', 'Udara Sempaja', 'Simpang Ahmad Yani']) expect(text).not.toContain(hidden);
    // city names are on the base map as geography; outside it (lists, legend, counts) no other city appears
    const outsideMap = await page.evaluate(() => {
      const clone = document.body.cloneNode(true) as HTMLElement;
      for (const m of clone.querySelectorAll('.leaflet-container')) m.remove();
      return clone.textContent ?? '';
    });
    for (const hidden of ['Balikpapan', 'Bontang']) expect(outsideMap).not.toContain(hidden);
    await page.screenshot({ path: join(IMG, 'console-map-scoped.png') });

    // live: a Samarinda gauge rising shows; a Balikpapan one does not reach this page
    await page.evaluate(() => ((window as unknown as { unreloaded: boolean }).unreloaded = true));
    await clients['bpn-flood-ampal']!.publishAsync('sensors/flood/bpn-flood-ampal/telemetry', JSON.stringify({ waterLevel: 840 }), { qos: 1 });
    await clients['smd-flood-gelatik']!.publishAsync('sensors/flood/smd-flood-gelatik/telemetry', JSON.stringify({ waterLevel: 780 }), { qos: 1 });
    const gelatik = page.locator('[data-testid=device-row][data-device-id="smd-flood-gelatik"]');
    await expect.poll(() => gelatik.getAttribute('data-alert-severity'), { timeout: 10_000 }).toBe('siaga');
    expect(await markerIds(page)).toEqual([...inside].sort());
    expect(await page.evaluate(() => (window as unknown as { unreloaded?: boolean }).unreloaded)).toBe(true);

    // alerts: Samarinda's, acknowledged from the list
    await page.getByTestId('nav-alerts').click();
    const rows = page.getByTestId('alert-row');
    await expect.poll(async () => [...new Set(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-device-id'))))].sort(), { timeout: 10_000 }).toEqual([...inside].sort());
    const segiri = page.locator('[data-testid=alert-row][data-device-id="smd-flood-segiri"]').first();
    await segiri.getByTestId('alert-ack').click();
    await expect.poll(() => segiri.getAttribute('data-state')).toBe('acknowledged');
    const audit = (await a.api('GET', '/api/v1/audit?limit=50')).body.items as Array<{ actor: string; action: string }>;
    expect(audit.some((e) => e.action === 'alert.acknowledged' && e.actor === 'user:dewi.bpbd (Dewi Lestari)')).toBe(true);

    // summary: Samarinda / flood only, two gauges
    await page.getByTestId('nav-summary').click();
    const summary = page.getByTestId('summary-row');
    await expect.poll(() => summary.count()).toBe(1);
    expect(await summary.first().getAttribute('data-city')).toBe('Samarinda');
    expect(await summary.first().getAttribute('data-kind')).toBe('flood');
    await page.screenshot({ path: join(IMG, 'console-summary-scoped.png') });

    // node B (same host, another port: the browser sends the same cookie) serves the session with its scope
    const onB = await context.newPage();
    await onB.goto(`${b.platform.httpUrl}/`);
    await onB.getByTestId('nav-map').waitFor({ timeout: 15_000 });
    expect(await onB.getByTestId('whoami').textContent()).toBe('Dewi Lestari · operator');
    await expect.poll(() => markerIds(onB), { timeout: 10_000 }).toEqual([...inside].sort());
    const viaB = await onB.evaluate(async () => {
      const r = await fetch('/api/v1/devices');
      return { status: r.status, ids: ((await r.json()) as { items: Array<{ id: string }> }).items.map((d) => d.id).sort() };
    });
    expect(viaB).toEqual({ status: 200, ids: [...inside].sort() });
    for (const id of outside) {
      expect(await onB.evaluate(async (d) => (await fetch(`/api/v1/devices/${d}`)).status, id)).toBe(404);
    }

    // narrowing her scope ends the session: both pages go back to the sign-in form without a reload or a click
    const dewi = (await a.api('GET', '/api/v1/users')).body.items.find((p: { username: string }) => p.username === 'dewi.bpbd');
    await page.getByTestId('nav-map').click();
    await page.getByTestId('device-row').first().waitFor();
    expect((await a.api('PATCH', `/api/v1/users/${dewi.id}`, { body: { scope: { cities: ['Samarinda'], kinds: ['flood', 'air'] } } })).status).toBe(200);
    await Promise.all([page.getByTestId('login-username').waitFor({ timeout: 5000 }), onB.getByTestId('login-username').waitFor({ timeout: 5000 })]);
    expect(errors).toEqual([]);
    await context.close();
  });
});
