// LoRaWAN network servers (issue 16): ChirpStack v4 HTTP-integration events and The Things Stack v3 webhook
// uplinks, shaped as those projects document them, become stored readings of the device with that devEui; a
// replayed uplink is stored once; each integration has its own secret; and a 200 means durable: with InfluxDB
// down the uplink waits in the spool and reaches InfluxDB after a restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { influxQuery } from './support/influxd.js';
import { startTestPlatform, type TestPlatform } from './support/platform.js';

const CHIRPSTACK_SECRET = 'chirpstack-secret-0123456789';
const TTN_SECRET = 'ttn-webhook-secret-0123456789';

/** A ChirpStack v4 `up` event as its documentation shows it (JSON marshaler), with the decoded object given. */
function chirpstackUp(devEui: string, time: string, object: Record<string, unknown> | undefined) {
  return {
    deduplicationId: '3ac7e3c4-4401-4b8d-9386-a5c902f9202d',
    time,
    deviceInfo: {
      tenantId: '52f14cd4-c6f1-4fbd-8f87-4025e1d49242',
      tenantName: 'ChirpStack',
      applicationId: '17c82e96-be03-4f38-aef3-f83d48582d97',
      applicationName: 'Test application',
      deviceProfileId: '14855bf7-d10d-4aee-b618-ebfcb64dc7ad',
      deviceProfileName: 'Test device-profile',
      deviceName: 'Test device',
      devEui,
      tags: {},
    },
    devAddr: '00189440',
    adr: true,
    dr: 1,
    fCnt: 10,
    fPort: 1,
    confirmed: false,
    data: 'AQIDBA==',
    ...(object ? { object } : {}),
    rxInfo: [{ gatewayId: '0016c001f153a14c', uplinkId: 4217106255, rssi: -36, snr: 10.5, context: 'E3OWOQ==', metadata: { region_name: 'as923', region_common_name: 'AS923' } }],
    txInfo: { frequency: 923200000, modulation: { lora: { bandwidth: 125000, spreadingFactor: 11, codeRate: 'CR_4_5' } } },
  };
}

/** A The Things Stack v3 uplink message as its data-formats documentation shows it. */
function ttnUplink(devEui: string, receivedAt: string, decoded: Record<string, unknown>) {
  return {
    end_device_ids: { device_id: 'dev1', application_ids: { application_id: 'app1' }, dev_eui: devEui, join_eui: '800000000000000C', dev_addr: '00BCB929' },
    correlation_ids: ['as:up:01E0WZGT6Y7657CPFPE5WEYDSQ', 'gs:conn:01E0WDEC6T5T4XXBAX7S1VMFKE'],
    received_at: new Date(Date.parse(receivedAt) + 250).toISOString(),
    uplink_message: {
      session_key_id: 'AXAGGYdQiAbyhTOm8JEulQ==',
      f_port: 1,
      f_cnt: 45,
      frm_payload: 'AQIDBA==',
      decoded_payload: decoded,
      rx_metadata: [{ gateway_ids: { gateway_id: 'gtw1', eui: '9C5C8E00001A05C4' }, time: receivedAt, timestamp: 2463457000, rssi: -35, channel_rssi: -35, snr: 5.2, location: { latitude: -0.5, longitude: 117.15, source: 'SOURCE_REGISTRY' }, uplink_token: 'ChIKEAoEZ3R3MRIIn...', channel_index: 1 }],
      settings: { data_rate: { lora: { bandwidth: 125000, spreading_factor: 7 } }, coding_rate: '4/5', frequency: '923200000', timestamp: 2463457000, time: receivedAt },
      received_at: receivedAt,
      consumed_airtime: '0.056576s',
      network_ids: { net_id: '000013', tenant_id: 'ttn', cluster_id: 'as1' },
    },
  };
}

async function post(tp: TestPlatform, path: string, body: unknown, secret: string | null) {
  const res = await fetch(`${tp.platform.httpUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(secret ? { authorization: `Bearer ${secret}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const countOf = async (tp: TestPlatform, field: string, kind: string, id: string) =>
  ((await tp.query(`SELECT count("${field}") FROM "${kind}" WHERE "device_id" = $d`, { d: id }))[0]?.values[0]?.[1] as number | undefined) ?? 0;

describe('LoRaWAN network-server integrations', () => {
  let tp: TestPlatform;
  beforeAll(async () => {
    tp = await startTestPlatform({ PANTAU_CHIRPSTACK_SECRET: CHIRPSTACK_SECRET, PANTAU_TTN_SECRET: TTN_SECRET });
  });
  afterAll(async () => {
    await tp?.stop();
  });

  it('a ChirpStack uplink is stored at its own time for the device with that devEui, and a replay is stored once', async () => {
    const dev = await tp.register('flood', 'smd-flood-lora', { devEui: '0101010101010101' });
    const time = new Date(Date.now() - 30_000).toISOString().replace('Z', '123456+00:00');
    const up = chirpstackUp('0101010101010101', time, { waterLevel: 742, rainfall: 12.5, battery: 91 });
    const first = await post(tp, '/api/v1/integrations/chirpstack?event=up', up, CHIRPSTACK_SECRET);
    expect(first).toEqual({ status: 200, body: { deviceId: dev.id, stored: 1, rejected: [] } });
    expect((await post(tp, '/api/v1/integrations/chirpstack?event=up', up, CHIRPSTACK_SECRET)).status).toBe(200);
    await tp.drained();
    const rows = (await tp.query('SELECT "waterLevel", "rainfall", "battery" FROM "flood" WHERE "device_id" = $d', { d: dev.id }))[0]!.values;
    expect(rows).toEqual([[Date.parse(time), 742, 12.5, 91]]);
    const latest = await tp.api('GET', `/api/v1/devices/${dev.id}/latest`);
    expect(latest.body).toMatchObject({ values: { waterLevel: 742 }, indices: { alertLevel: 'normal' } });
  });

  it('answers other ChirpStack events with 204 and stores nothing', async () => {
    for (const event of ['join', 'status', 'ack', 'txack', 'log', 'location']) {
      expect((await post(tp, `/api/v1/integrations/chirpstack?event=${event}`, { deviceInfo: { devEui: '0101010101010101' } }, CHIRPSTACK_SECRET)).status).toBe(204);
    }
  });

  it('refuses with the reasons when nothing of an uplink can be stored, and records each rejection for the device', async () => {
    const dev = await tp.register('air', 'smd-air-lora', { devEui: 'A84041000181C7F1' });
    const now = new Date().toISOString();
    // the decoded object of ChirpStack's documented example (a Cayenne LPP decoder), not Pantau's fields
    const cayenne = await post(tp, '/api/v1/integrations/chirpstack?event=up', chirpstackUp('a84041000181c7f1', now, { temperatureSensor: { '1': 25 }, humiditySensor: { '1': 32 } }), CHIRPSTACK_SECRET);
    expect(cayenne.status).toBe(422);
    expect(cayenne.body.rejected).toEqual([{ reason: 'unknown_field', detail: expect.stringMatching(/^unknown field "temperatureSensor", "humiditySensor" for kind air/) }]);
    const range = await post(tp, '/api/v1/integrations/chirpstack?event=up', chirpstackUp('A84041000181C7F1', now, { pm25: 5000 }), CHIRPSTACK_SECRET);
    expect(range.status).toBe(422);
    expect(range.body.rejected[0].reason).toBe('out_of_range');
    const stale = await post(tp, '/api/v1/integrations/chirpstack?event=up', chirpstackUp('A84041000181C7F1', '2022-07-18T09:34:15.775023242+00:00', { pm25: 5 }), CHIRPSTACK_SECRET);
    expect(stale.body.rejected[0].reason).toBe('stale_timestamp');
    const noCodec = await post(tp, '/api/v1/integrations/chirpstack?event=up', chirpstackUp('A84041000181C7F1', now, undefined), CHIRPSTACK_SECRET);
    expect(noCodec.status).toBe(422);
    expect(noCodec.body.detail).toMatch(/no decoded payload/);
    await tp.drained();
    const listed = (await tp.api('GET', `/api/v1/devices/${dev.id}/rejections`)).body.items.map((r: { reason: string }) => r.reason);
    expect(listed.sort()).toEqual(['out_of_range', 'stale_timestamp', 'unknown_field']);
  });

  it('answers 404 for a devEui no device has, and 400 for a body that is not an uplink', async () => {
    const unknown = await post(tp, '/api/v1/integrations/chirpstack?event=up', chirpstackUp('ffffffffffffffff', new Date().toISOString(), { pm25: 1 }), CHIRPSTACK_SECRET);
    expect(unknown.status).toBe(404);
    expect(unknown.body.detail).toMatch(/no device has devEui ffffffffffffffff/);
    expect((await post(tp, '/api/v1/integrations/chirpstack?event=up', { hello: 'world' }, CHIRPSTACK_SECRET)).status).toBe(400);
    expect((await post(tp, '/api/v1/integrations/chirpstack?event=up', chirpstackUp('0101', 'x', {}), CHIRPSTACK_SECRET)).status).toBe(400);
    expect((await post(tp, '/api/v1/integrations/ttn', [1, 2], TTN_SECRET)).status).toBe(400);
  });

  it('each integration takes only its own secret', async () => {
    const up = chirpstackUp('0101010101010101', new Date().toISOString(), { waterLevel: 700 });
    expect((await post(tp, '/api/v1/integrations/chirpstack?event=up', up, null)).status).toBe(401);
    expect((await post(tp, '/api/v1/integrations/chirpstack?event=up', up, TTN_SECRET)).status).toBe(401);
    expect((await post(tp, '/api/v1/integrations/chirpstack?event=up', up, 'test-admin-key-0123456789')).status).toBe(401);
    expect((await post(tp, '/api/v1/integrations/ttn', ttnUplink('0101010101010101', new Date().toISOString(), { waterLevel: 1 }), CHIRPSTACK_SECRET)).status).toBe(401);
  });

  it('a The Things Stack uplink is stored at uplink_message.received_at, once even when replayed; other messages get 204', async () => {
    const dev = await tp.register('traffic', 'bpn-traffic-lora', { devEui: '70b3d57ed005b89a' });
    const receivedAt = new Date(Date.now() - 10_000).toISOString().replace('Z', '935284Z');
    const up = ttnUplink('70B3D57ED005B89A', receivedAt, { vehicleCount: 37, avgSpeed: 41.5, intervalSeconds: 60 });
    const first = await post(tp, '/api/v1/integrations/ttn', up, TTN_SECRET);
    expect(first).toEqual({ status: 200, body: { deviceId: dev.id, stored: 1, rejected: [] } });
    expect((await post(tp, '/api/v1/integrations/ttn', up, TTN_SECRET)).status).toBe(200);
    await tp.drained();
    const rows = (await tp.query('SELECT "vehicleCount", "avgSpeed" FROM "traffic" WHERE "device_id" = $d', { d: dev.id }))[0]!.values;
    expect(rows).toEqual([[Date.parse(receivedAt), 37, 41.5]]);

    const { uplink_message: _, ...joinAccept } = { ...up, join_accept: { session_key_id: 'AXBSH1Pk6Z0G166RlH16CQ==', received_at: receivedAt } };
    expect((await post(tp, '/api/v1/integrations/ttn', joinAccept, TTN_SECRET)).status).toBe(204);
    // without uplink_message.received_at, the message's own received_at
    const { received_at: __, ...withoutTime } = up.uplink_message;
    const older = { ...up, received_at: new Date(Date.now() - 5_000).toISOString(), uplink_message: { ...withoutTime, decoded_payload: { vehicleCount: 40 } } };
    expect((await post(tp, '/api/v1/integrations/ttn', older, TTN_SECRET)).status).toBe(200);
    await tp.drained();
    expect(await countOf(tp, 'vehicleCount', 'traffic', dev.id)).toBe(2);
    const times = (await tp.query('SELECT "vehicleCount" FROM "traffic" WHERE "device_id" = $d', { d: dev.id }))[0]!.values.map((v) => v[0]);
    expect(times).toContain(Date.parse(older.received_at));
  });
});

describe('with InfluxDB down', () => {
  it('an uplink is answered 200 once it is in the spool, and reaches InfluxDB after Pantau restarts with InfluxDB back', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pantau-lora-down-'));
    const db = `t_lora_${randomBytes(4).toString('hex')}`;
    let tp = await startTestPlatform({
      PANTAU_DATA_DIR: dataDir, PANTAU_INFLUX_DB: db, PANTAU_INFLUX_URL: 'http://127.0.0.1:9', PANTAU_SHUTDOWN_TIMEOUT: '1s',
      PANTAU_CHIRPSTACK_SECRET: CHIRPSTACK_SECRET,
    });
    try {
      const dev = await tp.register('flood', 'smd-flood-down', { devEui: '0004a30b001c0530' });
      // the integration that has no secret configured is off
      expect((await post(tp, '/api/v1/integrations/ttn', ttnUplink('0004a30b001c0530', new Date().toISOString(), { waterLevel: 1 }), TTN_SECRET)).status).toBe(404);
      const time = new Date(Date.now() - 60_000).toISOString();
      const before = tp.platform.spool.pendingBytes;
      const res = await post(tp, '/api/v1/integrations/chirpstack?event=up', chirpstackUp('0004A30B001C0530', time, { waterLevel: 812 }), CHIRPSTACK_SECRET);
      expect(res.status).toBe(200);
      expect(tp.platform.spool.pendingBytes).toBeGreaterThan(before);
      // nothing reached InfluxDB (this platform cannot reach it): the reading is only in the spool
      const inInflux = await influxQuery(tp.influxUrl, db, 'SELECT "waterLevel" FROM "flood"').catch(() => []);
      expect(inInflux).toEqual([]);
      await tp.platform.stop();

      tp = await startTestPlatform({ PANTAU_DATA_DIR: dataDir, PANTAU_INFLUX_DB: db });
      await tp.drained(30_000);
      const rows = (await influxQuery(tp.influxUrl, db, 'SELECT "waterLevel" FROM "flood" WHERE "device_id" = $d', { d: dev.id }))[0]!.values;
      expect(rows).toEqual([[Date.parse(time), 812]]);
      await influxQuery(tp.influxUrl, db, `DROP DATABASE "${db}"`);
    } finally {
      await tp.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
