// Bulk provisioning (issue 16): a 10,000-row CSV is judged whole — every bad row reported by its number, nothing
// created — then imported in one go; tokens work at once over MQTT and appear only in the import's answer; the
// fleet export carries no secrets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scryptSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCsv } from '../api/csv.js';
import { CHOSEN_COST, hashSecret, newSecret, verifySecret } from '../registry/secrets.js';
import { startTestPlatform, type TestPlatform } from './support/platform.js';

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform();
});
afterAll(async () => {
  await tp?.stop();
});

const HEADER = 'id,kind,name,city,district,lat,lon,thresholds,devEui';
const eui = (i: number) => `70b3d57ed0${i.toString(16).padStart(6, '0')}`;

function fleetCsv(n: number, prefix: string, edit: (i: number, cells: string[]) => void = () => undefined): string {
  const lines = [HEADER];
  for (let i = 1; i <= n; i++) {
    const kind = ['air', 'flood', 'traffic'][i % 3]!;
    const cells = [
      `${prefix}-${i}`, kind, `Sensor "${i}", Jl. Pahlawan`, 'Samarinda', 'Sungai Pinang', String(-0.5 + i / 1e5), String(117.1 + i / 1e5),
      kind === 'flood' ? '{"siaga":775,"awas":825}' : '', eui(i),
    ];
    edit(i, cells);
    lines.push(cells.map((c) => (/[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

async function post(body: string, type: string, accept?: string) {
  const res = await fetch(`${tp.platform.httpUrl}/api/v1/devices/import`, {
    method: 'POST',
    headers: { authorization: 'Bearer test-admin-key-0123456789', 'content-type': type, ...(accept ? { accept } : {}) },
    body,
  });
  const text = await res.text();
  return { status: res.status, text, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text, type: res.headers.get('content-type') };
}

describe('bulk import of 10,000 devices', () => {
  it('with bad rows lists every one of them by row number and field, and creates nothing', async () => {
    const bad: Record<number, string> = { 17: 'kind', 2500: 'location.lat', 4999: 'id', 7321: 'thresholds.awas', 9000: 'devEui', 10000: 'id' };
    const csv = fleetCsv(10_000, 'imp', (i, cells) => {
      if (i === 17) cells[1] = 'weather';
      if (i === 2500) cells[5] = 'north';
      if (i === 4999) cells[0] = 'Bad Id!';
      if (i === 7321) cells[7] = '{"siaga":775,"awas":"high"}';
      if (i === 9000) cells[8] = eui(12); // another row's devEui
      if (i === 10000) cells[0] = 'imp-3'; // another row's id
    });
    const before = (await tp.api('GET', '/api/v1/devices')).body.total;
    const res = await post(csv, 'text/csv');
    expect(res.status).toBe(400);
    expect(res.body.detail).toBe('6 of 10000 rows are invalid; nothing was imported');
    const rows = res.body.errors.map((e: { row: number; field: string }) => [e.row, e.field]);
    expect(rows).toEqual(Object.entries(bad).map(([row, field]) => [Number(row), field]));
    expect(res.body.errors.find((e: { row: number }) => e.row === 10000).detail).toBe('id imp-3 is also on row 3');
    expect((await tp.api('GET', '/api/v1/devices')).body.total).toBe(before);
  });

  it('without bad rows creates all of them in one go; their tokens work over MQTT and are shown only in that answer', async () => {
    const res = await post(fleetCsv(10_000, 'imp'), 'text/csv', 'text/csv');
    expect(res.status).toBe(201);
    expect(res.type).toMatch(/^text\/csv/);
    const table = parseCsv(res.text);
    expect(table[0]).toEqual(['id', 'token']);
    expect(table).toHaveLength(10_001);
    const tokens = new Map(table.slice(1).map(([id, token]) => [id!, token!]));
    expect(new Set(tokens.values()).size).toBe(10_000);

    for (const i of [1, 5000, 10000]) {
      const id = `imp-${i}`;
      const kind = ['air', 'flood', 'traffic'][i % 3];
      const client = await tp.connect(id, tokens.get(id)!);
      const payload = kind === 'air' ? { pm25: 12 } : kind === 'flood' ? { waterLevel: 500 } : { vehicleCount: 4 };
      await client.publishAsync(`sensors/${kind}/${id}/telemetry`, JSON.stringify(payload), { qos: 1 });
      await client.endAsync();
    }
    await expect(tp.connect('imp-2', 'not-the-token')).rejects.toThrow();

    const one = (await tp.api('GET', '/api/v1/devices/imp-4')).body;
    expect(one).toMatchObject({ id: 'imp-4', kind: 'flood', name: 'Sensor "4", Jl. Pahlawan', thresholds: { siaga: 775, awas: 825 }, devEui: eui(4) });
    expect(JSON.stringify(one)).not.toContain(tokens.get('imp-4'));

    const exported = await tp.api('GET', '/api/v1/devices?format=csv&kind=flood');
    expect(exported.status).toBe(200);
    expect(exported.headers.get('content-type')).toMatch(/^text\/csv/);
    const rows = parseCsv(exported.text);
    expect(rows[0]).toEqual(['id', 'kind', 'name', 'city', 'district', 'lat', 'lon', 'thresholds', 'devEui', 'status', 'lastSeen']);
    const row4 = rows.find((r) => r[0] === 'imp-4')!;
    expect(row4).toEqual(['imp-4', 'flood', 'Sensor "4", Jl. Pahlawan', 'Samarinda', 'Sungai Pinang', String(-0.5 + 4 / 1e5), String(117.1 + 4 / 1e5), '{"siaga":775,"awas":825}', eui(4), 'never_seen', '']);
    expect(rows.slice(1).every((r) => r[1] === 'flood')).toBe(true);
    for (const token of [...tokens.values()].slice(0, 50)) expect(exported.text).not.toContain(token);

    const audit = (await tp.api('GET', '/api/v1/audit?limit=5')).body.items;
    expect(audit[0]).toMatchObject({ action: 'device.created', actor: 'key:bootstrap (bootstrap admin)', target: 'imp-10000' });
  });

  it('a CSV with a column Pantau does not know is refused as a whole, naming the column', async () => {
    const res = await post('id,kind,name,city,district,lat,lon,status\nx-1,air,A,B,C,0,0,online\n', 'text/csv');
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/unknown column\(s\) "status"/);
  });
});

describe('import of a JSON array', () => {
  it('creates the devices and answers them with their tokens; a devEui taken by a device already registered is refused', async () => {
    const res = await tp.api('POST', '/api/v1/devices/import', {
      body: [
        { id: 'json-air-1', kind: 'air', name: 'Taman Samarendah', city: 'Samarinda', district: 'Samarinda Kota', location: { lat: -0.5, lon: 117.15 } },
        { id: 'json-flood-1', kind: 'flood', name: 'Karang Mumus', city: 'Samarinda', district: 'Sungai Pinang', location: { lat: -0.48, lon: 117.16 }, devEui: 'A84041000181C7F1' },
      ],
    });
    expect(res.status).toBe(201);
    expect(res.body.items.map((i: { device: { id: string } }) => i.device.id)).toEqual(['json-air-1', 'json-flood-1']);
    expect(res.body.items[1].device.devEui).toBe('a84041000181c7f1');
    expect(typeof res.body.items[0].token).toBe('string');

    const again = await tp.api('POST', '/api/v1/devices/import', {
      body: [
        { id: 'json-flood-2', kind: 'flood', name: 'X', city: 'Samarinda', district: 'Y', location: { lat: 0, lon: 0 }, devEui: 'a84041000181c7f1' },
        { id: 'json-air-1', kind: 'air', name: 'X', city: 'Samarinda', district: 'Y', location: { lat: 0, lon: 0 } },
        { id: 'json-air-3', kind: 'air', name: 'X', city: 'Samarinda', district: 'Y', location: { lat: 0, lon: 0 }, colour: 'red' },
      ],
    });
    expect(again.status).toBe(400);
    expect(again.body.errors).toEqual([
      { row: 1, field: 'devEui', detail: 'devEui a84041000181c7f1 already belongs to device json-flood-1' },
      { row: 2, field: 'id', detail: 'device json-air-1 already exists' },
      { row: 3, field: '(row)', detail: 'unknown field(s) colour' },
    ]);
    expect((await tp.api('GET', '/api/v1/devices/json-flood-2')).status).toBe(404);
  });

  it('refuses more than 10,000 rows, an empty list, other media types, and non-admin keys', async () => {
    const many = Array.from({ length: 10_001 }, (_, i) => ({ id: `m-${i}` }));
    expect((await tp.api('POST', '/api/v1/devices/import', { body: many })).body.detail).toBe('10001 rows; at most 10000 devices per import');
    expect((await tp.api('POST', '/api/v1/devices/import', { body: [] })).status).toBe(400);
    expect((await tp.api('POST', '/api/v1/devices/import', { body: { id: 'x' } })).status).toBe(400); // JSON, but not an array
    const viewer = (await tp.api('POST', '/api/v1/keys', { body: { name: 'v', role: 'operator' } })).body.key;
    expect((await tp.api('POST', '/api/v1/devices/import', { body: [], key: viewer })).status).toBe(403);
  });

  it('a single device may be registered and patched with a devEui, unique across the fleet', async () => {
    const a = await tp.register('flood', 'eui-a', { devEui: '0004A30B001C0530' });
    expect((await tp.api('GET', `/api/v1/devices/${a.id}`)).body.devEui).toBe('0004a30b001c0530');
    const dup = await tp.api('POST', '/api/v1/devices', {
      body: { id: 'eui-b', kind: 'flood', name: 'B', city: 'Samarinda', district: 'X', location: { lat: 0, lon: 0 }, devEui: '0004a30b001c0530' },
    });
    expect(dup.status).toBe(409);
    await tp.register('flood', 'eui-b');
    expect((await tp.api('PATCH', '/api/v1/devices/eui-b', { body: { devEui: '0004A30B001C0530' } })).status).toBe(409);
    expect((await tp.api('PATCH', '/api/v1/devices/eui-a', { body: { devEui: null } })).body.devEui).toBeUndefined();
    expect((await tp.api('PATCH', '/api/v1/devices/eui-b', { body: { devEui: '0004A30B001C0530' } })).body.devEui).toBe('0004a30b001c0530');
  });
});

describe('token hashes', () => {
  it('generated tokens (256 random bits) get a salted HMAC-SHA-256; chosen keys scrypt; round-1 scrypt hashes still verify', async () => {
    const token = newSecret();
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    const fast = await hashSecret(token);
    expect(fast).toMatch(/^hmac-sha256\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await hashSecret(token)).not.toBe(fast); // salted
    expect(await verifySecret(token, fast)).toBe(true);
    expect(await verifySecret(`${token}x`, fast)).toBe(false);
    expect(await hashSecret('a chosen admin key', CHOSEN_COST)).toMatch(/^scrypt\$32768\$/);
    // a hash as round 1 stored it: scrypt N=1024, r=8, p=1, 32 bytes, base64 salt and hash
    const salt = Buffer.from('0123456789abcdef');
    const round1 = `scrypt$1024$${salt.toString('base64')}$${scryptSync('old-device-token', salt, 32, { N: 1024, r: 8, p: 1 }).toString('base64')}`;
    expect(await verifySecret('old-device-token', round1)).toBe(true);
    expect(await verifySecret('other-token', round1)).toBe(false);
    expect(await verifySecret('old-device-token', round1.replace('$1024$', '$1073741824$'))).toBe(false);
  });
});

describe('the fleet file (PANTAU_FLEET_FILE)', () => {
  it('registers its devices in one go at start, with their tokens and devEuis', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pantau-fleet-'));
    const file = join(dir, 'fleet.json');
    const fleet = Array.from({ length: 500 }, (_, i) => ({
      id: `fleet-${i}`, kind: 'flood', name: `Gauge ${i}`, city: 'Samarinda', district: 'Sungai Pinang', location: { lat: -0.4, lon: 117.1 },
      token: `fleet-token-${i}-0123456789abcdef`, ...(i % 2 === 0 ? { devEui: eui(100_000 + i).toUpperCase() } : {}),
    }));
    writeFileSync(file, JSON.stringify(fleet));
    const other = await startTestPlatform({ PANTAU_FLEET_FILE: file });
    try {
      expect((await other.api('GET', '/api/v1/devices?kind=flood')).body.total).toBe(500);
      expect((await other.api('GET', '/api/v1/devices/fleet-10')).body.devEui).toBe(eui(100_010));
      expect((await other.api('GET', '/api/v1/devices/fleet-11')).body.devEui).toBeUndefined();
      const client = await other.connect('fleet-499', 'fleet-token-499-0123456789abcdef');
      expect(client.connected).toBe(true);
    } finally {
      await other.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
