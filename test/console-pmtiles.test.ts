// PANTAU_MAP_TILES=<file>.pmtiles (docs/console.md "The map"): a closed network's base layer from a local PMTiles
// archive, served by Pantau itself at /api/v1/console/tiles/{z}/{x}/{y} and drawn by the console in Chromium. The
// archive is written here to the v3 spec with gzipped tiles, as tippecanoe and `pmtiles convert` write them: a client
// that takes gzip gets them as stored, one that refuses it (`gzip;q=0`) gets the PNG; only a signed-in viewer may ask.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsoleIfStale } from '../console/build/build.js';
import { launchChromium, shareOfColour, signInWithKey } from './support/browser.js';
import { startTestPlatform, type TestPlatform } from './support/platform.js';
import { pmtilesArchive, solidPng } from './support/tiles.js';

const COLOUR: [number, number, number] = [214, 196, 160];
const dir = mkdtempSync(join(tmpdir(), 'pantau-pmtiles-http-'));
let tp: TestPlatform;
let browser: Browser;
let base: string;
let viewerKey: string;

/** Web Mercator tile of a point at zoom z. */
function tileOf(lat: number, lon: number, z: number): [number, number] {
  const n = 2 ** z;
  const r = (lat * Math.PI) / 180;
  return [Math.floor(((lon + 180) / 360) * n), Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n)];
}

/** Raw GET (fetch would unpack gzip and hide what was sent). */
function raw(path: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  await buildConsoleIfStale();
  // East Kalimantan and its neighbours, zooms 5 – 8 (the console scales zoom 8 up beyond it)
  const png = solidPng(COLOUR);
  const tiles = new Map<string, Buffer>();
  for (let z = 5; z <= 8; z++) {
    const [x0, y0] = tileOf(5, 110, z);
    const [x1, y1] = tileOf(-5, 122, z);
    for (let x = x0; x <= x1; x++) for (let y = y0; y <= y1; y++) tiles.set(`${z}/${x}/${y}`, png);
  }
  const file = join(dir, 'kaltim.pmtiles');
  writeFileSync(file, pmtilesArchive(tiles, { gzipTiles: true }));
  tp = await startTestPlatform({ PANTAU_MAP_TILES: file, PANTAU_MAP_TILES_ATTRIBUTION: 'Peta dasar © Diskominfo Kaltim' });
  base = tp.platform.httpUrl;
  viewerKey = (await tp.api('POST', '/api/v1/keys', { body: { name: 'ruang kendali', role: 'viewer' } })).body.key;
  await tp.register('flood', 'smd-flood-lempake', { name: 'Lempake', location: { lat: -0.429, lon: 117.1683 }, thresholds: { siaga: 775, awas: 825 } });
  await tp.register('air', 'bpn-air-rapak', { name: 'Rapak Plaza', city: 'Balikpapan', district: 'Balikpapan Tengah', location: { lat: -1.25, lon: 116.86 } });
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await tp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the console map on a local PMTiles archive', () => {
  it('names the platform\'s own tile route with the archive\'s zooms', async () => {
    const { status, body } = await tp.api('GET', '/api/v1/console/map', { key: viewerKey });
    expect(status).toBe(200);
    expect(body).toEqual({ tiles: { url: '/api/v1/console/tiles/{z}/{x}/{y}', attribution: 'Peta dasar © Diskominfo Kaltim', minZoom: 5, maxZoom: 8 } });
  });

  it('serves a tile gzipped as stored to a client that takes gzip, unpacked to one that refuses it; 404 where there is none; 401 without a key', async () => {
    const [x, y] = tileOf(-0.5, 117.15, 8);
    const auth = { authorization: `Bearer ${viewerKey}` };
    const gz = await raw(`/api/v1/console/tiles/8/${x}/${y}`, { ...auth, 'accept-encoding': 'gzip, deflate' });
    expect(gz.status).toBe(200);
    expect(gz.headers['content-type']).toBe('image/png');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toBe('accept-encoding');
    expect(gunzipSync(gz.body)).toEqual(solidPng(COLOUR));
    for (const refusal of [{}, { 'accept-encoding': 'gzip;q=0, identity' }] as Array<Record<string, string>>) {
      const plain = await raw(`/api/v1/console/tiles/8/${x}/${y}`, { ...auth, ...refusal });
      expect(plain.status).toBe(200);
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(plain.body).toEqual(solidPng(COLOUR));
    }
    const none = await raw('/api/v1/console/tiles/8/0/0', auth);
    expect(none.status).toBe(404);
    expect(JSON.parse(none.body.toString()).detail).toBe('no tile 8/0/0 in the map archive');
    expect((await raw(`/api/v1/console/tiles/8/${x}/${y}`, {})).status).toBe(401);
  });

  it('draws the archive\'s tiles under the devices in Chromium, the attribution shown', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const tileAnswers: number[] = [];
    page.on('response', (r) => r.url().includes('/api/v1/console/tiles/') && tileAnswers.push(r.status()));
    await signInWithKey(page, base, viewerKey);
    const loaded = page.locator('img.leaflet-tile-loaded');
    await expect.poll(() => loaded.count(), { timeout: 15_000 }).toBeGreaterThan(0);
    expect(tileAnswers.length).toBeGreaterThan(0);
    expect(tileAnswers.filter((s) => s !== 200)).toEqual([]);
    const share = await shareOfColour(page, await page.locator('[data-testid=map]').screenshot(), COLOUR);
    expect(share).toBeGreaterThan(0.3);
    expect(await page.locator('.leaflet-control-attribution').innerText()).toContain('Peta dasar © Diskominfo Kaltim');
    expect(errors).toEqual([]);
    await page.context().close();
  });
});
