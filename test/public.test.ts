// The citizens' page and public API (docs/public.md) against a fleet of public and non-public devices in two cities,
// fed over real MQTT: what the page shows without JavaScript, that nothing of a non-public device, no token, key or
// person ever appears on a public route, ETag revalidation, answers while InfluxDB is unreachable, the embed card,
// page weight, axe and screenshots in Chromium; and the device `public` flag over the API, audited.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, eventually, startTestPlatform, type TestPlatform } from './support/platform.js';
import { launchChromium } from './support/browser.js';
import { screenshotDir } from './support/screenshots.js';

const IMG = screenshotDir();
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const HOUR = 3_600_000;

let tp: TestPlatform;
const secrets: string[] = [ADMIN_KEY];
const hiddenWords = ['smd-air-swasta', 'Monitor Pabrik Rahasia', 'smd-traffic-antasari', 'Penghitung Antasari', 'bpn-traffic-sudirman', 'Penghitung Sudirman', 'Siti Rahmawati', 'siti.rahma', 'Kunci Dinas Rahasia'];

beforeAll(async () => {
  tp = await startTestPlatform();
  const smd = { city: 'Samarinda', district: 'Samarinda Ulu', location: { lat: -0.49, lon: 117.15 } };
  const bpn = { city: 'Balikpapan', district: 'Balikpapan Kota', location: { lat: -1.27, lon: 116.83 } };
  const devices = [
    await tp.register('air', 'smd-air-segiri', { ...smd, name: 'Taman Lansia Segiri' }),
    await tp.register('air', 'smd-air-swasta', { ...smd, name: 'Monitor Pabrik Rahasia', public: false }),
    await tp.register('flood', 'smd-flood-lempake', { ...smd, name: 'Pos Lempake', thresholds: { waspada: 100, siaga: 150, awas: 200 } }),
    await tp.register('traffic', 'smd-traffic-antasari', { ...smd, name: 'Penghitung Antasari', thresholds: { freeFlowSpeed: 50, capacity: 1800 } }),
    await tp.register('air', 'bpn-air-plaza', { ...bpn, name: 'Plaza Balikpapan' }),
    await tp.register('traffic', 'bpn-traffic-sudirman', { ...bpn, name: 'Penghitung Sudirman', thresholds: { freeFlowSpeed: 50, capacity: 1800 } }),
  ];
  secrets.push(...devices.map((d) => d.token));
  const person = await tp.api('POST', '/api/v1/users', { body: { username: 'siti.rahma', name: 'Siti Rahmawati', role: 'operator' } });
  expect(person.status).toBe(201);
  secrets.push(person.body.passwordLink.token);
  const key = await tp.api('POST', '/api/v1/keys', { body: { name: 'Kunci Dinas Rahasia', role: 'viewer' } });
  expect(key.status).toBe(201);
  secrets.push(key.body.key);

  const now = Date.now();
  const send = async (id: string, kind: string, readings: object[]) => {
    const d = devices.find((x) => x.id === id)!;
    const client = await tp.connect(d.id, d.token);
    await client.publishAsync(`sensors/${kind}/${id}/telemetry`, JSON.stringify(readings), { qos: 1 });
  };
  // Tidak Sehat in Samarinda (PM2.5 100 µg/m³ → ISPU 147), worse still at the private monitor (which must not count)
  await send('smd-air-segiri', 'air', [{ ts: now - 2 * HOUR, pm25: 100 }, { ts: now - 60_000, pm25: 100 }]);
  await send('smd-air-swasta', 'air', [{ ts: now - 60_000, pm25: 400 }]);
  await send('bpn-air-plaza', 'air', [{ ts: now - 60_000, pm25: 10 }]);
  // the river rises through Waspada into Siaga over six hours
  await send('smd-flood-lempake', 'flood', Array.from({ length: 13 }, (_, i) => ({ ts: now - (6 * HOUR) + i * 30 * 60_000 - 60_000, waterLevel: 80 + i * 7.5 })));
  await send('smd-traffic-antasari', 'traffic', [{ ts: now - 60_000, vehicleCount: 40, avgSpeed: 12 }]);
  await tp.drained();
  // the ISPU rule is judged every minute from the indices (platform/derived.ts): judge it now, as that tick would
  for (const id of ['smd-air-segiri', 'smd-air-swasta', 'bpn-air-plaza']) {
    const latest = await tp.api('GET', `/api/v1/devices/${id}/latest`);
    tp.platform.alerts.onIspu(tp.platform.registry.device(id)!, latest.body.indices?.ispu?.value ?? null);
  }
  await eventually(() => {
    const rules = tp.platform.alerts.activeAlerts().map((a) => `${a.deviceId}:${a.rule.split(':')[0]}`);
    return rules.includes('smd-flood-lempake:flood_level') && rules.includes('smd-air-segiri:ispu');
  }, 20_000);
  await tp.platform.publicSnapshots.rebuild();
}, 120_000);
afterAll(async () => {
  await tp?.stop();
});

const get = (path: string, headers: Record<string, string> = {}) => tp.api('GET', path, { key: null, headers });

/** Every public route: the OpenAPI entries without security, plus the HTML ones. */
async function publicRoutes(): Promise<string[]> {
  const doc = (await tp.api('GET', '/openapi.json')).body as { paths: Record<string, Record<string, { security?: unknown[]; tags?: string[] }>> };
  // the sign-in routes (OpenID Connect) are unauthenticated too, but show no data: the public ones are tagged
  const api = Object.entries(doc.paths).filter(([, ops]) => ops.get?.security?.length === 0 && ops.get.tags?.includes('public')).map(([p]) => p);
  expect(api.sort()).toEqual(['/api/public/v1/air', '/api/public/v1/cities', '/api/public/v1/rivers', '/api/public/v1/warnings']);
  return [
    ...api.flatMap((p) => (p.endsWith('cities') ? [p] : [p, `${p}?city=Samarinda`, `${p}?city=balikpapan`])),
    '/publik', '/publik?lang=en', '/publik/samarinda', '/publik/Balikpapan?lang=en', '/publik/embed/samarinda', '/publik/embed/BALIKPAPAN?lang=en', '/publik/publik.css',
  ];
}

describe('public routes', () => {
  it('show nothing of a non-public device, no token, key or person', async () => {
    for (const path of await publicRoutes()) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      for (const word of [...hiddenWords, ...secrets]) expect(res.text, `${path} contains ${word}`).not.toContain(word);
    }
  });

  it('the page, fetched without JavaScript, holds the ISPU, its category and advice, the gauge level and the warnings', async () => {
    const id = await get('/publik');
    expect(id.headers.get('content-type')).toMatch(/text\/html/);
    expect(id.text).toContain('<html lang="id"');
    expect(id.text).toMatch(/>147<\/span>/);
    expect(id.text).toContain('Tidak Sehat');
    expect(id.text).toContain('Kelompok sensitif');
    expect(id.text).toContain('Siaga');
    expect(id.text).toContain('Peringatan banjir — Siaga: Pos Lempake');
    expect(id.text).toContain('Peringatan kabut asap');
    expect(id.text).toContain('<svg');
    expect(id.text).not.toContain('<script');
    expect(id.text).toContain('href="/publik?lang=en"');
    const en = await get('/publik?lang=en');
    expect(en.text).toContain('<html lang="en"');
    expect(en.text).toContain('Unhealthy');
    expect(en.text).toContain('Flood warning — Warning: Pos Lempake');
  });

  it('the JSON API gives the same figures, CORS open and cacheable', async () => {
    const air = await get('/api/public/v1/air?city=samarinda');
    expect(air.headers.get('access-control-allow-origin')).toBe('*');
    expect(air.headers.get('cache-control')).toBe('public, max-age=60');
    expect(air.body.items).toEqual([expect.objectContaining({ id: 'smd-air-segiri', ispu: expect.objectContaining({ value: 147, category: 'Tidak Sehat' }) })]);
    const rivers = await get('/api/public/v1/rivers');
    const gauge = rivers.body.items[0];
    expect(gauge).toMatchObject({ id: 'smd-flood-lempake', level: 'siaga', thresholds: { waspada: 100, siaga: 150, awas: 200 } });
    expect(gauge.last24h.length).toBeGreaterThanOrEqual(5);
    const warnings = await get('/api/public/v1/warnings?city=Samarinda');
    expect(warnings.body.items.map((w: { type: string }) => w.type).sort()).toEqual(['flood', 'haze']);
    expect((await get('/api/public/v1/warnings?city=Balikpapan')).body.items).toEqual([]);
    const cities = await get('/api/public/v1/cities');
    expect(cities.body.items.map((c: { city: string }) => c.city)).toEqual(['Balikpapan', 'Samarinda']);
    // the rest of the API keeps its own CORS policy
    expect((await tp.api('GET', '/api/v1/summary')).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers If-None-Match with 304', async () => {
    for (const path of ['/publik', '/api/public/v1/air', '/publik/embed/samarinda', '/publik/publik.css']) {
      const first = await get(path);
      const etag = first.headers.get('etag')!;
      expect(etag, path).toMatch(/^"[^"]+"$/);
      const again = await get(path, { 'if-none-match': etag });
      expect(again.status, path).toBe(304);
      expect(again.text).toBe('');
    }
  });

  it('the embed card may be framed by any site; the page by none', async () => {
    const embed = await get('/publik/embed/samarinda');
    expect(embed.headers.get('content-security-policy')).toContain('frame-ancestors *');
    expect(embed.headers.get('x-frame-options')).toBeNull();
    expect(embed.text).toContain('Pos Lempake');
    const page = await get('/publik');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const unknown = await get('/publik/embed/atlantis');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/problem\+json/);
    expect((await get('/publik?lang=fr')).status).toBe(400);
  });

  it('weighs under 100 KiB on first load (HTML + CSS)', async () => {
    const html = await get('/publik');
    const css = await get('/publik/publik.css');
    const bytes = Buffer.byteLength(html.text) + Buffer.byteLength(css.text);
    expect(bytes).toBeLessThan(100 * 1024);
  });

  it('gives times in WITA (UTC+8), the clock residents read, never UTC', async () => {
    const generatedAt = Date.parse((await get('/api/public/v1/cities')).body.generatedAt);
    const wita = new Date(generatedAt + 8 * HOUR);
    const hh = String(wita.getUTCHours()).padStart(2, '0');
    const mm = String(wita.getUTCMinutes()).padStart(2, '0');
    const id = (await get('/publik')).text;
    expect(id).toContain(`${hh}.${mm} WITA`);
    expect(id).not.toContain('UTC');
    const en = (await get('/publik/embed/samarinda?lang=en')).text;
    expect(en).toContain(`${hh}:${mm} WITA`);
    expect(en).not.toContain('UTC');
    // the chart's time axis ends at the last hourly point, in WITA too
    const last = (await get('/api/public/v1/rivers')).body.items[0].last24h.at(-1).ts as string;
    const end = new Date(Date.parse(last) + 8 * HOUR);
    expect(id).toContain(`text-anchor="end">${String(end.getUTCHours()).padStart(2, '0')}.${String(end.getUTCMinutes()).padStart(2, '0')} WITA</text>`);
  });

  it('is sent gzip-compressed to clients that take it, with its own validator', async () => {
    const { request } = await import('node:http');
    const { gunzipSync } = await import('node:zlib');
    const raw = (path: string, headers: Record<string, string>) => new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
      const req = request(new URL(path, tp.platform.httpUrl), { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end();
    });
    const plain = await raw('/publik', {});
    expect(plain.headers['content-encoding']).toBeUndefined();
    // gzip at quality 0 is a refusal (RFC 9110 §12.5.3), not a request
    const refused = await raw('/publik', { 'accept-encoding': 'gzip;q=0, br' });
    expect(refused.headers['content-encoding']).toBeUndefined();
    expect(refused.body.toString()).toBe(plain.body.toString());
    const gz = await raw('/publik', { 'accept-encoding': 'gzip, deflate' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toBe('accept-encoding');
    expect(gunzipSync(gz.body).toString()).toBe(plain.body.toString());
    expect(gz.body.length).toBeLessThan(plain.body.length / 2);
    expect(gz.headers.etag).not.toBe(plain.headers.etag);
    expect((await raw('/publik', { 'accept-encoding': 'gzip', 'if-none-match': gz.headers.etag as string })).status).toBe(304);
    // the identity body's validator does not stand for the gzip body
    expect((await raw('/publik', { 'accept-encoding': 'gzip', 'if-none-match': plain.headers.etag as string })).status).toBe(200);
  });

  it('answers made-up city names from one cache entry', async () => {
    const cache = (tp.platform.publicSnapshots as unknown as { cache: Map<string, unknown> }).cache;
    const airKeys = () => [...cache.keys()].filter((k) => k.startsWith('api:air:')).length;
    const before = airKeys();
    for (let i = 0; i < 50; i++) expect((await get(`/api/public/v1/air?city=nowhere-${i}`)).body.items).toEqual([]);
    expect(airKeys()).toBe(before + 1);
  });

  it('is answered from the snapshot while InfluxDB is unreachable', async () => {
    // every request to InfluxDB goes through queryEach (query() included)
    const influx = tp.platform.influx as unknown as { queryEach: (...a: unknown[]) => Promise<unknown> };
    const original = influx.queryEach;
    let calls = 0;
    influx.queryEach = async () => {
      calls++;
      throw new Error('InfluxDB unreachable (test)');
    };
    try {
      for (const path of ['/publik', '/publik?lang=en', '/api/public/v1/air', '/api/public/v1/rivers', '/publik/embed/samarinda']) {
        const res = await get(path);
        expect(res.status, path).toBe(200);
      }
      expect(calls).toBe(0);
      // a rebuild while InfluxDB is down keeps the gauges' last 24 hours
      await tp.platform.publicSnapshots.rebuild();
      expect((await get('/api/public/v1/rivers')).body.items[0].last24h.length).toBeGreaterThanOrEqual(5);
    } finally {
      influx.queryEach = original;
    }
  });
});

describe('device public flag', () => {
  it('is created, patched, listed and audited', async () => {
    const list = await tp.api('GET', '/api/v1/devices');
    const flags = Object.fromEntries(list.body.items.map((d: { id: string; public: boolean }) => [d.id, d.public]));
    expect(flags).toMatchObject({ 'smd-air-segiri': true, 'smd-air-swasta': false, 'smd-flood-lempake': true, 'smd-traffic-antasari': false });
    const patched = await tp.api('PATCH', '/api/v1/devices/smd-traffic-antasari', { body: { public: true } });
    expect(patched.status).toBe(200);
    expect(patched.body.public).toBe(true);
    const reset = await tp.api('PATCH', '/api/v1/devices/smd-traffic-antasari', { body: { public: null } });
    expect(reset.body.public).toBe(false);
    expect((await tp.api('PATCH', '/api/v1/devices/smd-traffic-antasari', { body: { public: 'yes' } })).status).toBe(400);
    const audit = await tp.api('GET', '/api/v1/audit?limit=20');
    expect(audit.body.items.filter((e: { action: string; target: string }) => e.action === 'device.updated' && e.target === 'smd-traffic-antasari').length).toBeGreaterThanOrEqual(2);
    // a JSON import may carry it; a non-public import stays off the public routes after the next rebuild
    const imported = await tp.api('POST', '/api/v1/devices/import', {
      body: [{ id: 'smd-air-impor', kind: 'air', name: 'Monitor Impor Tertutup', city: 'Samarinda', district: 'Samarinda Ulu', location: { lat: -0.49, lon: 117.15 }, public: false }],
    });
    expect(imported.status).toBe(201);
    expect(imported.body.items[0].device.public).toBe(false);
    const bad = await tp.api('POST', '/api/v1/devices/import', { body: [{ id: 'smd-air-impor2', kind: 'air', name: 'X', city: 'Samarinda', district: 'Samarinda Ulu', location: { lat: -0.49, lon: 117.15 }, public: 'no' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0]).toMatchObject({ row: 1, field: 'public' });
    await tp.platform.publicSnapshots.rebuild();
    expect((await get('/api/public/v1/air')).text).not.toContain('smd-air-impor');
    // the flag survives a reload from the store
    expect((await tp.platform.registry.store.fetchDevice('smd-air-swasta'))?.public).toBe(false);
  });
});

describe('in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  for (const lang of ['id', 'en'] as const) {
    it(`works without JavaScript, is axe-clean and is photographed (${lang})`, async () => {
      const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 390, height: 844 }, isMobile: true });
      const page = await context.newPage();
      const res = await page.goto(`${tp.platform.httpUrl}/publik${lang === 'en' ? '?lang=en' : ''}`);
      expect(res?.status()).toBe(200);
      const text = await page.evaluate(() => document.body.innerText).catch(async () => page.locator('body').innerText());
      expect(text).toContain(lang === 'id' ? 'Tidak Sehat' : 'Unhealthy');
          await page.screenshot({ path: join(IMG, `publik-${lang}.png`), fullPage: true });
      await context.close();
      // axe needs script: a second context with JavaScript on, injected through the DevTools protocol
      const withJs = await browser.newContext({ viewport: { width: 390, height: 844 } });
      const p2 = await withJs.newPage();
      await p2.goto(`${tp.platform.httpUrl}/publik${lang === 'en' ? '?lang=en' : ''}`);
      await p2.evaluate(AXE);
      const violations = await p2.evaluate(async () => {
        const r = await (window as unknown as { axe: { run(d: Document, o: object): Promise<{ violations: Array<{ id: string; nodes: unknown[] }> }> } }).axe.run(document, { resultTypes: ['violations'] });
        return r.violations.map((v) => ({ id: v.id, nodes: v.nodes.length, html: (v.nodes as Array<{ html: string }>).map((n) => n.html).join(' | ') }));
      });
      expect(violations).toEqual([]);
      await withJs.close();
    });
  }
});

describe('public rate limit', () => {
  it('counts per address and route on the public routes, apart from the API keys', async () => {
    const small = await startTestPlatform({ PANTAU_PUBLIC_RATE_LIMIT: '3' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await small.api('GET', '/api/public/v1/cities', { key: null })).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const limited = await small.api('GET', '/api/public/v1/cities', { key: null });
      expect(limited.status).toBe(429);
      expect(limited.headers.get('content-type')).toMatch(/problem\+json/);
      expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
      // each public route counts on its own
      expect((await small.api('GET', '/publik', { key: null })).status).toBe(200);
      // the admin key's own allowance is untouched
      expect((await small.api('GET', '/api/v1/devices')).status).toBe(200);
    } finally {
      await small.stop();
    }
  });
});
