// The console's map in Chromium (issue 25) against a real platform with real MQTT devices: the base layer from
// PANTAU_MAP_TILES (XYZ tiles from a local tile server started here, requested and drawn, the attribution shown, the
// CSP allowing exactly that origin), place names that no device dot covers, a legend of only what is on screen, and
// device status pushed through the stream: a device that disconnects, and one whose connection just dies (Last Will),
// turns offline in the list and on the map within 2 s, with no reload and no re-read of the device list.
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildConsoleIfStale } from '../console/build/build.js';
import { launchChromium, shareOfColour } from './support/browser.js';
import { startTestPlatform, type TestPlatform } from './support/platform.js';
import { startTileServer, type TileServer } from './support/tiles.js';

let tp: TestPlatform;
let tiles: TileServer;
let browser: Browser;
let base: string;
let viewerKey: string;
const gauge = { id: 'smd-flood-lempake', token: '' };
const counter = { id: 'smd-traffic-sempaja', token: '' };
const air = { id: 'bpn-air-rapak', token: '' };

/** Uncaught errors of any page of these tests: none is allowed. */
const pageErrors: string[] = [];

async function signIn(page: Page): Promise<void> {
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${base}/`);
  await page.getByTestId('login-use-key').click();
  await page.getByTestId('login-key').fill(viewerKey);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('nav-map').waitFor();
}

beforeAll(async () => {
  await buildConsoleIfStale();
  tiles = await startTileServer([170, 211, 223]);
  tp = await startTestPlatform({ PANTAU_MAP_TILES: tiles.template, PANTAU_MAP_TILES_ATTRIBUTION: '© Peta Uji <b>' });
  base = tp.platform.httpUrl;
  viewerKey = (await tp.api('POST', '/api/v1/keys', { body: { name: 'ruang kendali', role: 'viewer' } })).body.key;
  // DOMAIN.md's places: Lempake on the upper Karang Mumus, Simpang Sempaja, Rapak Plaza in Balikpapan
  gauge.token = (await tp.register('flood', gauge.id, { name: 'Lempake', location: { lat: -0.429, lon: 117.1683 }, thresholds: { siaga: 775, awas: 825 } })).token;
  counter.token = (await tp.register('traffic', counter.id, { name: 'Simpang Sempaja', location: { lat: -0.4579, lon: 117.1554 }, thresholds: { freeFlowSpeed: 50, capacity: 1800 } })).token;
  air.token = (await tp.register('air', air.id, { name: 'Rapak Plaza', city: 'Balikpapan', district: 'Balikpapan Tengah', location: { lat: -1.25, lon: 116.86 } })).token;
  browser = await launchChromium();
}, 240_000);

afterEach(() => {
  expect(pageErrors.splice(0)).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await tp?.stop();
  await tiles?.close();
});

describe('console map in Chromium', () => {
  it('draws the base layer from PANTAU_MAP_TILES: tiles requested from the tile server and drawn, its attribution shown', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    const csp = (await fetch(`${base}/`)).headers.get('content-security-policy')!;
    expect(csp).toContain(`img-src 'self' data: ${tiles.origin};`);
    await signIn(page);
    const loaded = page.locator('img.leaflet-tile-loaded');
    await expect.poll(() => loaded.count(), { timeout: 15_000 }).toBeGreaterThan(0);
    expect(tiles.requests.filter((r) => /^\/tiles\/\d+\/\d+\/\d+\.png$/.test(r)).length).toBeGreaterThan(0);
    // drawn: decoded at full size, and on screen in the tiles' colour where nothing else is
    const decoded = await loaded.evaluateAll((imgs) => (imgs as HTMLImageElement[]).map((i) => i.complete && i.naturalWidth === 256 && i.src.includes('/tiles/')));
    expect(decoded.every(Boolean)).toBe(true);
    // the first tile loaded is not all of them, and Leaflet fades each in: the share grows to its value
    const share = async () => shareOfColour(page, await page.locator('[data-testid=map]').screenshot(), [170, 211, 223]);
    await expect.poll(share, { timeout: 15_000 }).toBeGreaterThan(0.3);
    // the offline coast gives way to the tiles; the attribution is the configured text, as text
    expect(await page.locator('.leaflet-control-attribution').innerText()).toContain('© Peta Uji <b>');
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('turns a device offline in the list and on the map within 2 s of its DISCONNECT, and of its connection dying (Last Will), with no reload', async () => {
    const clients: Record<string, MqttClient> = {};
    for (const d of [gauge, counter]) {
      clients[d.id] = await tp.connect(d.id, d.token, { will: { topic: `sensors/${d.id === gauge.id ? 'flood' : 'traffic'}/${d.id}/status`, payload: Buffer.from('offline'), qos: 1, retain: true } });
    }
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const listReads: number[] = [];
    page.on('request', (r) => r.url().endsWith('/api/v1/console/devices') && listReads.push(Date.now()));
    await signIn(page);
    const row = (id: string) => page.locator(`[data-testid=device-row][data-device-id="${id}"]`);
    const marker = (id: string) => page.evaluate((id) => document.querySelector(`.device-marker[data-device-id="${id}"]`)?.getAttribute('data-state') ?? null, id);
    await expect.poll(() => row(gauge.id).getAttribute('data-state'), { timeout: 10_000 }).toBe('online');
    await expect.poll(() => row(counter.id).getAttribute('data-state')).toBe('online');
    expect(await row(air.id).getAttribute('data-state')).toBe('never_seen');
    // close enough to see single markers
    for (let i = 0; i < 8 && (await marker(gauge.id)) === null; i++) {
      await page.locator('.leaflet-control-zoom-in').click();
      await page.waitForTimeout(400);
    }
    expect(await marker(gauge.id)).toBe('online');
    await page.evaluate(() => ((window as unknown as { unreloaded: boolean }).unreloaded = true));

    const within2s = { timeout: 2_000, interval: 25 };
    // a clean DISCONNECT
    let t0 = Date.now();
    const readsBefore = listReads.length;
    await clients[gauge.id]!.endAsync();
    await expect.poll(() => row(gauge.id).getAttribute('data-state'), within2s).toBe('offline');
    await expect.poll(() => marker(gauge.id), within2s).toBe('offline');
    console.log(`console: DISCONNECT → offline on screen in ${Date.now() - t0} ms`);
    // the connection dies without a word: the broker sees the socket close and publishes the Last Will
    t0 = Date.now();
    (clients[counter.id] as unknown as { stream: { destroy(): void } }).stream.destroy();
    await expect.poll(() => row(counter.id).getAttribute('data-state'), within2s).toBe('offline');
    console.log(`console: dead connection → offline on screen in ${Date.now() - t0} ms`);
    // and back: a new connection is online again
    t0 = Date.now();
    const again = await tp.connect(gauge.id, gauge.token);
    await expect.poll(() => row(gauge.id).getAttribute('data-state'), within2s).toBe('online');
    console.log(`console: CONNECT → online on screen in ${Date.now() - t0} ms`);
    expect(await page.getByTestId('device-row').filter({ has: page.locator(`a[href="/devices/${gauge.id}"]`) }).innerText()).not.toContain('belum pernah');
    // no reload, no re-read of the list: the stream said it
    expect(await page.evaluate(() => (window as unknown as { unreloaded?: boolean }).unreloaded)).toBe(true);
    expect(listReads.length).toBe(readsBefore);
    await again.endAsync();
    await page.context().close();
  });

  it('keeps every place name clear of the device dots at every zoom, and lists in the legend only the colours on screen', async () => {
    // one device online, one offline (the test before), one never seen
    const online = await tp.connect(gauge.id, gauge.token);
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await signIn(page);
    await page.locator('.device-marker, .cluster').first().waitFor();
    await expect.poll(() => page.locator(`[data-testid=device-row][data-device-id="${gauge.id}"]`).getAttribute('data-state')).toBe('online');
    const look = () => page.evaluate(() => {
      const hex = (c: string) => (c.startsWith('#') ? c.toLowerCase() : `#${(c.match(/\d+/g) ?? []).slice(0, 3).map((n) => Number(n).toString(16).padStart(2, '0')).join('')}`);
      const dots = [...document.querySelectorAll<HTMLElement>('.cluster, .device-marker')].map((e) => {
        const r = e.getBoundingClientRect();
        return { x: r.left + r.width / 2, y: r.top + r.height / 2, r: r.width / 2, color: hex(e.getAttribute('fill') ?? e.style.background) };
      });
      const shown = [...document.querySelectorAll<HTMLElement>('.place-label')].filter((l) => !l.hidden);
      const covered = shown.filter((l) => {
        const b = l.getBoundingClientRect();
        return dots.some((d) => {
          const nx = Math.max(b.left, Math.min(d.x, b.right));
          const ny = Math.max(b.top, Math.min(d.y, b.bottom));
          return (d.x - nx) ** 2 + (d.y - ny) ** 2 < d.r * d.r;
        });
      });
      const legend = [...document.querySelectorAll<HTMLElement>('[data-testid=legend-item]')];
      return {
        shown: shown.map((l) => l.dataset.place!),
        covered: covered.map((l) => l.dataset.place!),
        dots,
        dotColours: [...new Set(dots.map((d) => d.color))].sort(),
        legendColours: [...new Set(legend.map((l) => l.dataset.color!))].sort(),
        legendTexts: legend.map((l) => l.innerText),
      };
    });
    const first = await look();
    expect(first.shown).toEqual(expect.arrayContaining(['Samarinda', 'Balikpapan']));
    expect(first.legendColours).toContain('#ffffff'); // Balikpapan's monitor, never seen
    for (let step = 0; step < 6; step++) {
      const o = await look();
      expect(o.covered, `names under dots at zoom step ${step}`).toEqual([]);
      expect(o.legendColours, `legend at zoom step ${step}`).toEqual(o.dotColours);
      expect(new Set(o.legendTexts).size, `legend without repeats: ${o.legendTexts.join(', ')}`).toBe(o.legendTexts.length);
      // zoom in with the wheel over the northernmost dot (Samarinda's devices)
      const north = o.dots.sort((x, y) => x.y - y.y)[0]!;
      await page.mouse.move(north.x, north.y);
      await page.mouse.wheel(0, -300);
      await page.waitForTimeout(700);
    }
    const last = await look();
    expect(last.covered).toEqual([]);
    // zoomed in on Samarinda: Balikpapan's monitor is off screen, and so is its colour in the legend
    expect(last.legendColours).not.toContain('#ffffff');
    expect(last.legendColours).toEqual(last.dotColours);
    await online.endAsync();
    await page.context().close();
  });
});
