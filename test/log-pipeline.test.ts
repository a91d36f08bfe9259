// The acknowledgement path holds only durability: a log consumer that throws (here the alert engine) neither
// disconnects a device nor keeps its publishes from being acknowledged and stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, eventually, type TestPlatform } from './support/platform.js';

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform();
});
afterAll(async () => {
  await tp?.stop();
});

describe('a consumer of the log that throws', () => {
  it('the alert engine failing on every reading disconnects no device and holds back no acknowledgement', async () => {
    const original = tp.platform.alerts.onReadings.bind(tp.platform.alerts);
    let calls = 0;
    tp.platform.alerts.onReadings = () => {
      calls++;
      throw new Error('alert rule failed');
    };
    try {
      const device = await tp.register('flood', undefined, { thresholds: { waspada: 100, siaga: 150, awas: 200 } });
      const client = await tp.connect(device.id, device.token);
      let closed = 0;
      client.on('close', () => closed++);
      const base = Date.now() - 60_000;
      await Promise.all(Array.from({ length: 100 }, (_, i) => client.publishAsync(`sensors/flood/${device.id}/telemetry`, JSON.stringify({ ts: base + i, waterLevel: 250 }), { qos: 1 })));
      await tp.drained();
      const series = await tp.query('SELECT COUNT("waterLevel") FROM "flood" WHERE "device_id" = $d', { d: device.id });
      expect(series[0]!.values[0]![1]).toBe(100);
      await eventually(() => calls > 0);
      expect(closed).toBe(0);
      expect(client.connected).toBe(true);
      // the other consumers went on: latest has the reading
      const latest = await tp.api('GET', `/api/v1/devices/${device.id}/latest`);
      expect(latest.status).toBe(200);
      expect(latest.body.values.waterLevel).toBe(250);
      const metrics = await tp.api('GET', '/metrics', { key: null });
      expect(metrics.text).toMatch(/pantau_log_consumer_errors_total\{consumer="alerts"\} [1-9]/);
    } finally {
      tp.platform.alerts.onReadings = original;
    }
  });
});

describe('the status topic', () => {
  it('ignores (and counts) anything but "online"/"offline", flips faster than one a second beyond a burst of 10, and batches its device_state points', async () => {
    const device = await tp.register('air');
    const client = await tp.connect(device.id, device.token);
    const topic = `sensors/air/${device.id}/status`;
    const statusOf = async () => (await tp.api('GET', `/api/v1/devices/${device.id}`)).body.status as string;
    await client.publishAsync(topic, Buffer.alloc(100_000, 'o'), { qos: 1 });
    await client.publishAsync(topic, 'sleeping', { qos: 1 });
    let derivedRecords = 0;
    let derivedPoints = 0;
    let counting = true;
    tp.platform.spool.addConsumer({ name: 'test-derived', durable: false, handle: (entries) => {
      if (!counting) return;
      for (const e of entries) if (e.derivedLines > 0) {
        derivedRecords++;
        derivedPoints += e.derivedLines;
      }
    } });
    const appendsBefore = (await tp.platform.metrics.registry.getSingleMetricAsString('pantau_mqtt_status_ignored_total'));
    expect(appendsBefore).toMatch(/reason="invalid"\} 2/);
    for (let i = 0; i < 40; i++) await client.publishAsync(topic, i % 2 === 0 ? 'offline' : 'online', { qos: 1 });
    const ignored = await tp.platform.metrics.registry.getSingleMetricAsString('pantau_mqtt_status_ignored_total');
    const rateLimited = Number(/reason="rate_limited"\} (\d+)/.exec(ignored)?.[1] ?? 0);
    expect(rateLimited).toBeGreaterThanOrEqual(25); // a burst of 10 (and what refilled meanwhile) went through
    expect(rateLimited).toBeLessThan(40);
    expect(['online', 'offline']).toContain(await statusOf());
    // the flips that went through wrote their device_state points gathered into a few records, not one fsync each
    await new Promise((r) => setTimeout(r, 300));
    counting = false;
    expect(derivedPoints).toBeGreaterThanOrEqual(10);
    expect(derivedRecords).toBeLessThan(derivedPoints / 2);
    expect(client.connected).toBe(true);
  });
});
