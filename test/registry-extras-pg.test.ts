// DevEUIs and configuration shadows in the shared registry (issue 15): two registries on one real PostgreSQL, as two
// nodes of a cluster would hold them (Registry.open, LISTEN/NOTIFY), plus the upgrade from the earlier build that
// kept them in each node's own SQLite file. The cluster of real processes is test/cluster.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import Database from 'better-sqlite3';
import { Registry, RegistryUnavailableError, toApiDevice } from '../registry/registry.js';
import { DevEuiConflictError, type ConfigState } from '../registry/device-extras.js';
import type { NewDevice } from '../registry/device.js';
import { eventually } from './support/platform.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';

const log = pino({ level: 'silent' });
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'pantau-extras-pg-'));
  dirs.push(d);
  return d;
};
const gauge = (id: string, devEui?: string): NewDevice => ({
  id, kind: 'flood', name: `Gauge ${id}`, city: 'Samarinda', district: 'Sungai Pinang', location: { lat: -0.43, lon: 117.17 },
  ...(devEui ? { devEui } : {}),
});

let pg: PostgresServer;
let one: Registry;
let two: Registry;

beforeAll(async () => {
  pg = await startPostgres();
  one = await Registry.open(pg.url, tempDir(), { log });
  two = await Registry.open(pg.url, tempDir(), { log });
}, 60_000);

afterAll(async () => {
  await one?.close().catch(() => undefined);
  await two?.close().catch(() => undefined);
  await pg?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('DevEUIs and configuration shadows shared through PostgreSQL', () => {
  it('a DevEUI set on one node is known to the other; a clash is a DevEuiConflictError; a device removed takes its rows everywhere', async () => {
    await one.createDevices([{ input: gauge('x-lora-1', 'AABBCCDDEEFF0011') }, { input: gauge('x-lora-2') }], 'test');
    expect(one.extras.devEui('x-lora-1')).toBe('aabbccddeeff0011');
    await eventually(() => two.extras.deviceIdByDevEui('AABBCCDDEEFF0011') === 'x-lora-1', 2000, 10);
    await eventually(() => two.device('x-lora-2') !== undefined, 2000, 10);
    await expect(two.extras.setDevEui('x-lora-2', 'aabbccddeeff0011', 'test')).rejects.toBeInstanceOf(DevEuiConflictError);
    await two.extras.setDevEui('x-lora-2', '0011223344556677', 'test');
    // before the notification arrives, the other node finds it in PostgreSQL
    expect((await one.lookupDevEui('0011223344556677'))?.id).toBe('x-lora-2');
    await two.extras.setDevEui('x-lora-1', null, 'test');
    await eventually(() => one.extras.devEui('x-lora-1') === undefined, 2000, 10);
    expect(await one.lookupDevEui('aabbccddeeff0011')).toBeUndefined();

    await one.extras.putDesired('x-lora-2', { reportIntervalSeconds: 60 }, 'test');
    await eventually(() => two.extras.config('x-lora-2').version === 1, 2000, 10);
    await one.deleteDevice('x-lora-2', 'test');
    await eventually(() => two.extras.devEui('x-lora-2') === undefined && two.extras.config('x-lora-2').version === 0, 2000, 10);
    expect(one.extras.deviceIdByDevEui('0011223344556677')).toBeUndefined();
    expect((await pg.sql("SELECT (SELECT count(*) FROM device_dev_eui WHERE device_id = 'x-lora-2') + (SELECT count(*) FROM device_config WHERE device_id = 'x-lora-2')")).trim()).toBe('0');
  });

  it('pushes through two nodes at once get distinct versions; each node sees every version once, in order; reports are judged by the store', async () => {
    await one.createDevices([{ input: gauge('x-cfg-1') }], 'test');
    await eventually(() => two.device('x-cfg-1') !== undefined, 2000, 10);
    const seen = { one: [] as number[], two: [] as number[] };
    const onOne = (id: string, s: ConfigState) => id === 'x-cfg-1' && seen.one.push(s.version);
    const onTwo = (id: string, s: ConfigState) => id === 'x-cfg-1' && seen.two.push(s.version);
    one.extras.on('desired', onOne);
    two.extras.on('desired', onTwo);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? one : two).extras.putDesired('x-cfg-1', { reportIntervalSeconds: 60 + i }, 'test')));
    expect(answers.map((a) => a.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await eventually(() => one.extras.config('x-cfg-1').version === 10 && two.extras.config('x-cfg-1').version === 10, 2000, 10);
    one.extras.off('desired', onOne);
    two.extras.off('desired', onTwo);
    for (const versions of [seen.one, seen.two]) {
      expect(versions.at(-1)).toBe(10);
      expect([...versions].sort((a, b) => a - b)).toEqual(versions); // never an older version after a newer
      expect(new Set(versions).size).toBe(versions.length); // each once
    }
    const latest = answers.find((a) => a.version === 10)!;
    expect(two.extras.config('x-cfg-1').desired).toEqual(latest.desired);

    // a report taken by node one for a push it has not heard of yet is still accepted: the store knows it
    const pushed = await two.extras.putDesired('x-cfg-1', { reportIntervalSeconds: 900 }, 'test');
    const report = await one.extras.putReported('x-cfg-1', pushed.version, { reportIntervalSeconds: 900 });
    expect(report.ok).toBe(true);
    await eventually(() => two.extras.config('x-cfg-1').reportedVersion === pushed.version, 2000, 10);
    const refused = await two.extras.putReported('x-cfg-1', pushed.version + 5, {});
    expect(refused).toMatchObject({ ok: false, detail: expect.stringMatching(/never pushed/) });
    expect((await pg.sql("SELECT reported_version FROM device_config WHERE device_id = 'x-cfg-1'")).trim()).toBe(String(pushed.version));
  });

  it('PostgreSQL down: writes throw RegistryUnavailableError, reads answer from memory; back up, writes work again', async () => {
    await one.createDevices([{ input: gauge('x-down-1', '1122334455667788') }], 'test');
    await one.extras.putDesired('x-down-1', { reportIntervalSeconds: 120 }, 'test');
    await eventually(() => two.extras.config('x-down-1').version === 1, 2000, 10);
    await pg.down();
    try {
      await expect(two.extras.putDesired('x-down-1', { reportIntervalSeconds: 300 }, 'test')).rejects.toBeInstanceOf(RegistryUnavailableError);
      await expect(two.extras.setDevEui('x-down-1', null, 'test')).rejects.toBeInstanceOf(RegistryUnavailableError);
      await expect(two.extras.putReported('x-down-1', 1, {})).rejects.toBeInstanceOf(RegistryUnavailableError);
      expect(two.extras.deviceIdByDevEui('1122334455667788')).toBe('x-down-1');
      expect(two.extras.config('x-down-1').version).toBe(1);
    } finally {
      await pg.start();
    }
    await eventually(async () => {
      try {
        return (await two.extras.putDesired('x-down-1', { reportIntervalSeconds: 300 }, 'test')).version === 2;
      } catch {
        return false;
      }
    }, 30_000, 250);
    await eventually(() => one.extras.config('x-down-1').version === 2, 10_000, 20);
  }, 60_000);

  it('upgrade: DevEUIs and configurations a node kept in its own SQLite file move into the shared registry once', async () => {
    // what the earlier build left in a node's data dir: the same tables, in registry.sqlite
    const dataDir = tempDir();
    const local = new Registry(dataDir);
    await local.createDevices([{ input: gauge('x-up-1', 'CAFE0000CAFE0001') }, { input: gauge('x-up-2') }], 'test');
    await local.extras.putDesired('x-up-2', { reportIntervalSeconds: 600 }, 'test');
    await local.extras.putDesired('x-up-2', { reportIntervalSeconds: 700 }, 'test');
    await local.extras.putReported('x-up-2', 2, { reportIntervalSeconds: 700 });
    await local.close();
    // the shared registry has the devices (from the fleet file, say) but not their extras
    await one.createDevices([{ input: gauge('x-up-1') }, { input: gauge('x-up-2') }], 'test');

    const upgraded = await Registry.open(pg.url, dataDir, { log });
    try {
      expect(upgraded.extras.devEui('x-up-1')).toBe('cafe0000cafe0001');
      expect(upgraded.extras.config('x-up-2')).toMatchObject({ version: 2, desired: { reportIntervalSeconds: 700 }, reportedVersion: 2 });
      await eventually(() => one.extras.devEui('x-up-1') === 'cafe0000cafe0001' && one.extras.config('x-up-2').version === 2, 2000, 10);
      const file = new Database(join(dataDir, 'registry.sqlite'), { readonly: true });
      expect(file.prepare('SELECT (SELECT count(*) FROM device_dev_eui) + (SELECT count(*) FROM device_config) AS n').get()).toEqual({ n: 0 });
      file.close();
    } finally {
      await upgraded.close();
    }
    // once: a DevEUI removed afterwards does not come back at the next start
    await one.extras.setDevEui('x-up-1', null, 'test');
    const again = await Registry.open(pg.url, dataDir, { log });
    expect(again.extras.devEui('x-up-1')).toBeUndefined();
    await again.close();
  });
});

// issue 22: the device `public` flag (migration 5), changed on one node and seen on the other
const publicDevice = (id: string, kind: NewDevice['kind'], flag?: boolean | null): NewDevice => ({
  id, kind, name: `Device ${id}`, city: 'Samarinda', district: 'Sungai Pinang', location: { lat: -0.43, lon: 117.17 },
  ...(flag === undefined ? {} : { public: flag }),
});

describe('device public flag in PostgreSQL', () => {
  it('is stored on create and import, changed on one node, seen on the other, and audited', async () => {
    await one.createDevice(publicDevice('p-air-private', 'air', false), 'test');
    await one.createDevices([{ input: publicDevice('p-traffic-open', 'traffic', true) }, { input: publicDevice('p-flood-default', 'flood') }], 'test');
    await eventually(() => two.device('p-flood-default') !== undefined && two.device('p-air-private') !== undefined, 2000, 10);
    expect(two.device('p-air-private')!.public).toBe(false);
    expect(two.device('p-traffic-open')!.public).toBe(true);
    expect(two.device('p-flood-default')!.public).toBeNull();
    expect(toApiDevice(two.device('p-flood-default')!).public).toBe(true);

    await one.updateDevice('p-air-private', { public: null }, 'key:admin (test)');
    await eventually(() => two.device('p-air-private')!.public === null, 2000, 10);
    expect(toApiDevice(two.device('p-air-private')!).public).toBe(true);
    await two.updateDevice('p-flood-default', { public: false }, 'key:admin (test)');
    await eventually(() => one.device('p-flood-default')!.public === false, 2000, 10);

    const audit = await one.auditLog(50);
    expect(audit.filter((e) => e.action === 'device.updated' && e.target.startsWith('p-')).map((e) => e.target).sort()).toEqual(['p-air-private', 'p-flood-default']);

    // a third node started afresh reads the flags from the table
    const three = await Registry.open(pg.url, tempDir(), { log });
    try {
      expect([three.device('p-air-private')!.public, three.device('p-traffic-open')!.public, three.device('p-flood-default')!.public]).toEqual([null, true, false]);
    } finally {
      await three.close();
    }
  });
});
