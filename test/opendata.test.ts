// Open data (docs/opendata.md) against a real platform and InfluxDB: readings published over MQTT, rolled up, then
// harvested as a CKAN harvester would (status_show, package_list, package_search page by page, package_show, every
// resource downloaded), read as DCAT-AP JSON-LD and as the page for people. Every CSV equals the readings API's own
// hourly (daily) answer; nothing private — a token, a key, a person, a traffic counter — appears in any answer.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './support/browser.js';
import { fieldNames, type Kind } from '../catalog/index.js';
import { parseCsv } from '../api/csv.js';
import { dayStart } from '../catalog/time.js';
import { seedRollups } from './support/rollups.js';
import { ADMIN_KEY, startTestPlatform, type TestPlatform } from './support/platform.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const PRODUCER = 'Dinas Lingkungan Hidup Provinsi Kalimantan Timur';
const PUBLISHER = 'Dinas Komunikasi dan Informatika Provinsi Kalimantan Timur';
const CONTACT = 'satudata@kaltimprov.go.id';
const SECRET_PERSON = { username: 'rahasia.petugas', name: 'Petugas Rahasia Sekali' };

let tp: TestPlatform;
const tokens: string[] = [];
const secrets: string[] = [ADMIN_KEY];
/** Every answer of the open-data routes, for the leak check at the end. */
const answers: string[] = [];

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await tp.api('GET', path, { key: null, headers });
  answers.push(res.text);
  return res;
}

/** Hourly readings in each of six hours, two days ago (local), for one device. */
async function publish(device: { id: string; token: string; kind: Kind }, base: number, seed: number): Promise<void> {
  const client = await tp.connect(device.id, device.token);
  const batch: Array<Record<string, number>> = [];
  for (let h = 0; h < 6; h++) {
    for (let i = 0; i < 3; i++) {
      const v = seed + h * 10 + i * 1.5;
      const ts = base + h * HOUR + i * 600_000 + 60_000;
      batch.push(device.kind === 'air' ? { ts, pm25: v, pm10: v * 2, temperature: 28 + i } : device.kind === 'flood' ? { ts, waterLevel: 100 + v, rainfall: i } : { ts, vehicleCount: 10 + i, avgSpeed: 40 + v });
    }
  }
  await client.publishAsync(`sensors/${device.kind}/${device.id}/telemetry`, JSON.stringify(batch), { qos: 1 });
}

beforeAll(async () => {
  tp = await startTestPlatform({
    PANTAU_OPENDATA_PRODUCER: PRODUCER,
    PANTAU_OPENDATA_PUBLISHER: PUBLISHER,
    PANTAU_OPENDATA_CONTACT: CONTACT,
    PANTAU_OPENDATA_RATE_LIMIT: '5000',
  });
  const now = Date.now();
  const base = dayStart('Asia/Makassar', now) - 2 * DAY + 3 * HOUR;
  const devices = [
    await tp.register('air', 'od-smd-air-1'),
    await tp.register('air', 'od-smd-air-2', { district: 'Sungai Kunjang' }),
    await tp.register('flood', 'od-smd-flood-1'),
    await tp.register('air', 'od-bpn-air-1', { city: 'Balikpapan', district: 'Balikpapan Kota', location: { lat: -1.27, lon: 116.83 } }),
    await tp.register('traffic', 'od-secret-traffic-1'),
  ];
  for (const [i, d] of devices.entries()) {
    tokens.push(d.token);
    await publish(d, base, 5 + i * 7);
  }
  const key = await tp.api('POST', '/api/v1/keys', { body: { name: 'Kunci rahasia open data', role: 'viewer' } });
  secrets.push(key.body.key, key.body.id, 'Kunci rahasia open data');
  const person = await tp.api('POST', '/api/v1/users', { body: { ...SECRET_PERSON, role: 'viewer' } });
  expect(person.status).toBe(201);
  secrets.push(person.body.person.id, SECRET_PERSON.username, SECRET_PERSON.name, person.body.passwordLink.token);
  await tp.drained();
  await seedRollups(tp.influxUrl, tp.db, now, 4);
}, 60_000);

afterAll(async () => {
  await tp?.stop();
});

const NAMES = ['kualitas-udara-kota-balikpapan', 'kualitas-udara-kota-samarinda', 'pemantauan-banjir-kota-samarinda'];

/** A package dict as CKAN documents it (docs.ckan.org, package_show). */
function expectPackageShape(p: any): void {
  expect(p).toMatchObject({ state: 'active', private: false, type: 'dataset', license_id: 'CC-BY-4.0' });
  for (const k of ['id', 'name', 'title', 'notes', 'license_title', 'metadata_created', 'metadata_modified']) expect(typeof p[k], k).toBe('string');
  expect(p.organization).toMatchObject({ name: expect.any(String), title: PRODUCER, is_organization: true, type: 'organization' });
  expect(p.num_resources).toBe(p.resources.length);
  expect(p.num_tags).toBe(p.tags.length);
  for (const t of p.tags) expect(Object.keys(t)).toContain('name');
  for (const e of p.extras) expect(Object.keys(e).sort()).toEqual(['key', 'value']);
  const extras = Object.fromEntries(p.extras.map((e: any) => [e.key, e.value]));
  expect(extras).toMatchObject({ produsen_data: PRODUCER, walidata: PUBLISHER, frekuensi: 'Harian' });
  expect(extras.kode_wilayah).toMatch(/^64\.\d\d$/);
  expect(Date.parse(extras.temporal_start)).toBeLessThan(Date.parse(extras.temporal_end));
  expect(p.resources.length).toBeGreaterThanOrEqual(2);
  for (const r of p.resources) {
    expect(r).toMatchObject({ package_id: p.id, format: 'CSV', mimetype: 'text/csv' });
    for (const k of ['id', 'name', 'description', 'url', 'last_modified']) expect(typeof r[k], k).toBe('string');
    expect(r.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/opendata\//);
    for (const c of r.data_dictionary) {
      expect(Object.keys(c).sort()).toEqual(['description', 'name', 'type', 'unit']);
      expect(c.description.id && c.description.en).toBeTruthy();
    }
  }
}

describe('CKAN harvester', () => {
  const packages: any[] = [];

  it('status_show, package_list, package_search page by page (rows=2), package_show of every package', async () => {
    const status = await get('/api/3/action/status_show');
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ success: true, help: expect.stringContaining('/api/3/action/help_show?name=status_show'), result: { ckan_version: expect.any(String) } });

    const list = await get('/api/3/action/package_list');
    expect(list.body.success).toBe(true);
    expect([...list.body.result].sort()).toEqual(NAMES);

    const seen: string[] = [];
    let count = Infinity;
    for (let start = 0; start < count; start += 2) {
      const page = await get(`/api/3/action/package_search?rows=2&start=${start}&sort=name%20asc`);
      expect(page.status).toBe(200);
      expect(page.body.success).toBe(true);
      const r = page.body.result;
      expect(Object.keys(r).sort()).toEqual(['count', 'facets', 'results', 'search_facets', 'sort']);
      expect(r.sort).toBe('name asc');
      count = r.count;
      expect(r.results.length).toBe(Math.min(2, count - start));
      for (const p of r.results) {
        expectPackageShape(p);
        seen.push(p.name);
      }
    }
    expect(seen).toEqual(NAMES);

    for (const name of list.body.result) {
      const byName = await get(`/api/3/action/package_show?id=${name}`);
      expect(byName.status).toBe(200);
      expectPackageShape(byName.body.result);
      const byId = await get(`/api/3/action/package_show?id=${byName.body.result.id}`);
      expect(byId.body.result).toEqual(byName.body.result);
      packages.push(byName.body.result);
    }
    const smd = packages.find((p) => p.name === 'kualitas-udara-kota-samarinda');
    expect(smd.title).toBe('Kualitas udara Kota Samarinda, per jam');
    expect(smd.extras.find((e: any) => e.key === 'kode_wilayah').value).toBe('64.72');
  });

  it('fq on organization, tags, res_format, kode_wilayah and kind; sort; q', async () => {
    const org = (await get('/api/3/action/organization_list')).body.result[0];
    const names = async (query: string) => {
      const res = await get(`/api/3/action/package_search?${query}`);
      expect(res.status, res.text).toBe(200);
      return res.body.result.results.map((p: any) => p.name).sort();
    };
    expect(await names(`fq=${encodeURIComponent(`organization:${org}`)}`)).toEqual(NAMES);
    expect(await names(`fq=${encodeURIComponent('tags:"kualitas udara"')}`)).toEqual(NAMES.slice(0, 2));
    expect(await names(`fq=${encodeURIComponent('res_format:CSV kode_wilayah:64.72')}`)).toEqual(NAMES.slice(1));
    expect(await names(`fq=${encodeURIComponent('kind:flood AND organization:nobody')}`)).toEqual([]);
    expect(await names('q=banjir')).toEqual(['pemantauan-banjir-kota-samarinda']);
    const desc = await get('/api/3/action/package_search?sort=name%20desc&rows=1000');
    expect(desc.body.result.results.map((p: any) => p.name)).toEqual([...NAMES].reverse());
    const capped = await get('/api/3/action/package_search?rows=5000');
    expect(capped.body.result.results.length).toBe(3);
  });

  it('organization_list (all_fields) and organization_show', async () => {
    const all = await get('/api/3/action/organization_list?all_fields=true');
    expect(all.body.result).toEqual([expect.objectContaining({ title: PRODUCER, package_count: 3, is_organization: true })]);
    const show = await get(`/api/3/action/organization_show?id=${all.body.result[0].name}`);
    expect(show.body).toMatchObject({ success: true, result: { id: all.body.result[0].id, title: PRODUCER } });
    const missing = await get('/api/3/action/organization_show?id=tidak-ada');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ success: false, error: { __type: 'Not Found Error', message: 'Not found' } });
  });

  it('errors as CKAN answers them: unknown id 404 Not Found Error, bad parameters 409 Validation Error', async () => {
    const unknown = await get('/api/3/action/package_show?id=tidak-ada-dataset');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ help: expect.any(String), success: false, error: { __type: 'Not Found Error', message: 'Not found' } });
    for (const [query, field] of [['rows=abc', 'rows'], ['start=-1', 'start'], ['sort=secret%20asc', 'sort'], ['fq=token:x', 'fq']] as const) {
      const bad = await get(`/api/3/action/package_search?${query}`);
      expect(bad.status, query).toBe(409);
      expect(bad.body).toMatchObject({ success: false, error: { __type: 'Validation Error', message: expect.any(String), [field]: [expect.any(String)] } });
    }
    const noId = await get('/api/3/action/package_show');
    expect(noId.status).toBe(409);
    expect(noId.body.error).toMatchObject({ __type: 'Validation Error', id: ['Missing value'] });
  });

  it('every resource downloads a CSV whose header is its data dictionary and whose values are the readings API\'s every=1h (1d) answer', async () => {
    expect(packages.length).toBe(3);
    let compared = 0;
    for (const p of packages) {
      const kind = p.extras.find((e: any) => e.key === 'kind').value as Kind;
      for (const r of p.resources) {
        const res = await fetch(r.url);
        const text = await res.text();
        answers.push(text);
        expect(res.status, r.url).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
        const rows = parseCsv(text);
        expect(rows[0]).toEqual(r.data_dictionary.map((c: any) => c.name));
        expect(rows[0]).toEqual(['device_id', 'city', 'district', 'ts', ...fieldNames(kind)]);
        const every = r.url.includes('per-hari') ? '1d' : '1h';
        const byDevice = new Map<string, string[][]>();
        for (const row of rows.slice(1)) byDevice.set(row[0]!, [...(byDevice.get(row[0]!) ?? []), row]);
        if (r.url.endsWith(`per-jam-${new Date().getFullYear()}.csv`) || every === '1d') expect(byDevice.size, r.url).toBeGreaterThan(0);
        for (const [deviceId, deviceRows] of byDevice) {
          const from = deviceRows[0]![3]!;
          const to = new Date(Date.parse(deviceRows.at(-1)![3]!) + (every === '1d' ? DAY : HOUR)).toISOString();
          const api = await tp.api('GET', `/api/v1/devices/${deviceId}/readings?every=${every}&agg=mean&from=${from}&to=${to}`);
          expect(api.status, api.text).toBe(200);
          expect(api.body.points.length).toBe(deviceRows.length);
          for (const [i, row] of deviceRows.entries()) {
            const point = api.body.points[i];
            expect(row[3]).toBe(point.ts);
            fieldNames(kind).forEach((f, j) => {
              const cell = row[4 + j]!;
              if (point.values[f] === undefined) expect(cell).toBe('');
              else expect(Number(cell)).toBeCloseTo(point.values[f], 9);
            });
            compared++;
          }
        }
      }
    }
    // three air devices and a flood gauge, six hours each, plus their days
    expect(compared).toBeGreaterThanOrEqual(4 * 6);
  });

  it('a download carries Content-Disposition and a strong ETag; If-None-Match answers 304', async () => {
    const r = packages[0].resources[0];
    const first = await fetch(r.url);
    await first.text();
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(first.headers.get('content-disposition')).toMatch(/^attachment; filename="pantau_kualitas-udara-kota-balikpapan_per-jam-\d{4}\.csv"$/);
    const again = await fetch(r.url, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    const other = await fetch(r.url, { headers: { 'if-none-match': '"something-else"' } });
    expect(other.status).toBe(200);
    expect(other.headers.get('etag')).toBe(etag);
    await other.text();
    const missing = await get('/opendata/kualitas-udara-kota-samarinda/per-jam-1999.csv');
    expect(missing.status).toBe(404);
  });
});

describe('DCAT-AP JSON-LD', () => {
  it('one dcat:Dataset per CKAN package with the same download URLs and the DCAT-AP properties', async () => {
    const res = await get('/catalog.jsonld');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/ld\+json/);
    const catalog = JSON.parse(res.text);
    expect(catalog['@type']).toBe('dcat:Catalog');
    expect(catalog['@context']).toMatchObject({ dcat: 'http://www.w3.org/ns/dcat#', dct: 'http://purl.org/dc/terms/' });
    expect(catalog['dct:publisher']).toMatchObject({ '@type': 'foaf:Agent', 'foaf:name': PUBLISHER });
    const search = (await get('/api/3/action/package_search?rows=1000')).body.result.results;
    const datasets = catalog['dcat:dataset'];
    expect(datasets.map((d: any) => d['dct:identifier']).sort()).toEqual(search.map((p: any) => p.id).sort());
    for (const d of datasets) {
      const p = search.find((x: any) => x.id === d['dct:identifier']);
      expect(d['@type']).toBe('dcat:Dataset');
      expect(d['dct:title'].map((t: any) => t['@language']).sort()).toEqual(['en', 'id']);
      expect(d['dct:title'].find((t: any) => t['@language'] === 'id')['@value']).toBe(p.title);
      expect(d['dct:description'].length).toBe(2);
      expect(d['dct:publisher']['@type']).toBe('foaf:Agent');
      expect(d['dct:license']['@id']).toBe('https://creativecommons.org/licenses/by/4.0/');
      expect(d['dct:spatial']['dct:identifier']).toBe(p.extras.find((e: any) => e.key === 'kode_wilayah').value);
      expect(d['dct:temporal']).toMatchObject({ '@type': 'dct:PeriodOfTime', 'dcat:startDate': expect.any(Object), 'dcat:endDate': expect.any(Object) });
      expect(d['dct:accrualPeriodicity']['@id']).toMatch(/frequency\/DAILY$/);
      expect(d['dcat:contactPoint']).toMatchObject({ '@type': 'vcard:Organization', 'vcard:hasEmail': { '@id': `mailto:${CONTACT}` } });
      expect(d['dcat:keyword'].length).toBeGreaterThan(0);
      const urls = d['dcat:distribution'].map((x: any) => {
        expect(x['@type']).toBe('dcat:Distribution');
        expect(x['dcat:mediaType']['@id']).toBe('http://www.iana.org/assignments/media-types/text/csv');
        return x['dcat:downloadURL']['@id'];
      });
      expect(urls).toEqual(p.resources.map((r: any) => r.url));
    }
  });
});

describe('the page for people and the public surface', () => {
  it('/publik/data lists every dataset with its download links, without JavaScript, Indonesian with an English link', async () => {
    const res = await get('/publik/data');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.text).toContain('<html lang="id">');
    expect(res.text).not.toMatch(/<script/i);
    expect(res.text).toContain('href="/publik/data?lang=en"');
    const packages = (await get('/api/3/action/package_search?rows=1000')).body.result.results;
    for (const p of packages) {
      expect(res.text).toContain(`id="${p.name}"`);
      expect(res.text).toContain(p.title);
      for (const r of p.resources) expect(res.text).toContain(`href="${r.url}"`);
    }
    const en = await get('/publik/data?lang=en');
    expect(en.text).toContain('<html lang="en">');
    expect(en.text).toContain('Air quality, Kota Samarinda, hourly');
  });

  it('/publik/data in Chromium: the links work with JavaScript off, and axe-core finds nothing (both languages)', async () => {
    const browser = await launchChromium();
    try {
      const noScript = await browser.newContext({ javaScriptEnabled: false });
      const page = await noScript.newPage();
      await page.goto(`${tp.platform.httpUrl}/publik/data`);
      const packages = (await get('/api/3/action/package_search?rows=1000')).body.result.results;
      const hrefs = await page.locator('a[download]').evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href));
      expect(hrefs).toEqual(packages.flatMap((p: any) => p.resources.map((r: any) => r.url)));
      await page.getByRole('link', { name: 'English' }).click();
      await page.waitForURL(/lang=en/);
      await expect(page.locator('h1').textContent()).resolves.toBe('Pantau open data');
      await noScript.close();
      const axe = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
      const context = await browser.newContext();
      for (const lang of ['id', 'en']) {
        const p = await context.newPage();
        await p.goto(`${tp.platform.httpUrl}/publik/data?lang=${lang}`);
        await p.evaluate(axe);
        const violations = await p.evaluate(async () => {
          const r = await (window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: Array<{ id: string; help: string }> }> } }).axe.run(document, { resultTypes: ['violations'] });
          return r.violations.map((v) => `${v.id}: ${v.help}`);
        });
        expect(violations, lang).toEqual([]);
      }
    } finally {
      await browser.close();
    }
  }, 60_000);

  it('every open-data route is public in /openapi.json (security: []) and limited per address', async () => {
    const doc = (await tp.api('GET', '/openapi.json')).body;
    const routes = ['/api/3/action/status_show', '/api/3/action/package_list', '/api/3/action/package_show', '/api/3/action/package_search', '/api/3/action/organization_list', '/api/3/action/organization_show', '/catalog.jsonld', '/publik/data', '/opendata/{dataset}/{file}'];
    for (const r of routes) expect(doc.paths[r]?.get?.security, r).toEqual([]);
    const res = await get('/catalog.jsonld');
    expect(res.headers.get('x-ratelimit-limit')).toBe('5000');
  });

  it('bad input gets a clear 4xx answer, never a 5xx; CKAN routes keep CKAN\'s shape', async () => {
    const long = 'x'.repeat(3000);
    for (const path of [
      '/api/3/action/package_search?rows=99999999999', '/api/3/action/package_search?fq=tags%3A%22open', '/api/3/action/package_search?fq=%3A%3A%3A',
      '/api/3/action/package_search?q=%00%FF&sort=', '/api/3/action/package_show?id=a&id=b', `/api/3/action/package_show?id=${long}`,
      '/api/3/action/package_list?limit=-5', '/api/3/action/organization_list?all_fields=yes', '/api/3/action/organization_show',
    ]) {
      const res = await get(path);
      expect(res.status, path).toBeLessThan(500);
      expect(res.body.success, path).toBe(res.status === 200);
      if (res.status !== 200) expect(res.body.error.__type, path).toMatch(/^(Validation|Not Found) Error$/);
    }
    for (const path of ['/opendata/..%2F..%2Fetc/passwd', `/opendata/${long.slice(0, 500)}/x.csv`, '/opendata/kualitas-udara-kota-samarinda/..', '/publik/data?lang=fr', '/catalog.jsonld?x=1']) {
      const res = await get(path);
      expect(res.status, path).toBeLessThan(500);
    }
  });

  it('no token, key, person or non-public device in any answer', () => {
    expect(answers.length).toBeGreaterThan(20);
    const all = answers.join('\n');
    for (const s of [...tokens, ...secrets, 'od-secret-traffic-1', 'lalu-lintas', 'traffic']) expect(all, s).not.toContain(s);
  });
});
