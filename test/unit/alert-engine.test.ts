import { describe, expect, it } from 'vitest';
import { AlertEngine, type AlertChange, type EngineDevice, type EngineSnapshot } from '../../alerts/engine.js';
import { thresholdsSchema, type Kind } from '../../catalog/index.js';

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const T0 = Date.UTC(2025, 0, 15, 6, 0);

function newEngine(): AlertEngine {
  let n = 0;
  return new AlertEngine({ newId: () => `alert-${++n}` });
}

const manggarai = (extra: object = {}): EngineDevice => ({
  id: 'jkt-flood-manggarai',
  kind: 'flood',
  thresholds: { waspada: 750, siaga: 850, awas: 950, ...extra },
});

/** Readings of one device, one per `every` from `start`; all changes, in order. */
function feed(
  engine: AlertEngine,
  device: EngineDevice,
  values: Record<string, number>[],
  start: number,
  every = MIN,
): AlertChange[] {
  return values.flatMap((v, i) => {
    const ts = start + i * every;
    return engine.evaluate(device, { deviceId: device.id, kind: device.kind, ts, values: v }, ts);
  });
}

const levels = (...cm: number[]) => cm.map((waterLevel) => ({ waterLevel }));
/** from → to in steps (either direction), both ends included. */
function ramp(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  const sign = to >= from ? 1 : -1;
  for (let v = from; sign * (to - v) >= 0; v += sign * step) out.push(v);
  return out;
}
const repeat = <T>(pattern: T[], times: number): T[] => Array.from({ length: times }, () => pattern).flat();
const summary = (changes: AlertChange[]) => changes.map((c) => `${c.type} ${c.alert.rule} ${c.alert.severity}`);

describe('flood gauge alerts', () => {
  it('a gauge whose level rises through its thresholds gets one alert that escalates', () => {
    const engine = newEngine();
    const changes = feed(engine, manggarai(), levels(...ramp(700, 980, 20)), T0);

    expect(summary(changes)).toEqual([
      'opened flood_level waspada',
      'escalated flood_level siaga',
      'escalated flood_level awas',
    ]);
    expect(new Set(changes.map((c) => c.alert.id))).toEqual(new Set(['alert-1']));
    expect(changes[0]!.alert).toMatchObject({ value: 760, state: 'open', openedAt: T0 + 3 * MIN, resolvedAt: null });
    expect(changes[1]).toMatchObject({ previousSeverity: 'waspada', at: T0 + 8 * MIN });
    expect(changes[1]!.alert.message).toBe('Siaga: tinggi muka air 860 cm / water level 860 cm');
    expect(engine.activeAlerts()).toHaveLength(1);
  });

  it('does not flap when the level hovers ±5 cm at a threshold, fast or slow', () => {
    const engine = newEngine();
    const device = manggarai();
    const hoverWaspada = repeat([745, 755], 20);
    const hoverSiagaSlowly = repeat([...Array(6).fill(845), ...Array(6).fill(855)], 4);
    const changes = feed(engine, device, levels(700, 720, 740, ...hoverWaspada, 800, 830, ...hoverSiagaSlowly), T0);

    expect(summary(changes)).toEqual(['opened flood_level waspada', 'escalated flood_level siaga']);
  });

  it('needs the hysteresis margin: without it a slowly hovering level flaps', () => {
    const hover = levels(800, 830, ...repeat([...Array(6).fill(845), ...Array(6).fill(855)], 2));
    const withMargin = feed(newEngine(), manggarai(), hover, T0);
    const without = feed(newEngine(), manggarai({ hysteresisCm: 0 }), hover, T0);

    expect(summary(withMargin)).toEqual(['opened flood_level waspada', 'escalated flood_level siaga']);
    expect(summary(without)).toEqual([
      'opened flood_level waspada',
      'escalated flood_level siaga',
      'de-escalated flood_level waspada',
      'escalated flood_level siaga',
    ]);
  });

  it('steps down and resolves only once the level has stayed clear for the clear time', () => {
    const engine = newEngine();
    const device = manggarai();
    const rising = ramp(700, 980, 20);
    const falling = [...ramp(970, 700, 10), ...Array(10).fill(700)];
    const all = [...rising, ...falling];
    const changes = feed(engine, device, levels(...all), T0).filter((c) => c.type !== 'opened');
    const timeOf = (level: number) => T0 + all.indexOf(level, rising.length) * MIN;

    expect(summary(changes.slice(2))).toEqual([
      'de-escalated flood_level siaga',
      'de-escalated flood_level waspada',
      'resolved flood_level waspada',
    ]);
    const [toSiaga, toWaspada, resolved] = changes.slice(2);
    // awas holds down to 941 cm (950 − 10); from 940 cm it takes 5 minutes to step down.
    expect(toSiaga).toMatchObject({ at: timeOf(940) + 5 * MIN, previousSeverity: 'awas' });
    expect(toSiaga!.alert.message).toBe('Siaga: tinggi muka air 890 cm / water level 890 cm');
    expect(toWaspada).toMatchObject({ at: timeOf(840) + 5 * MIN, previousSeverity: 'siaga' });
    expect(resolved!.at).toBe(timeOf(740) + 5 * MIN);
    expect(resolved!.alert).toMatchObject({ id: 'alert-1', state: 'resolved', resolvedAt: resolved!.at });
    expect(engine.activeAlerts()).toEqual([]);
  });

  it('a resolved alert never reopens: the next flood is a new alert', () => {
    const engine = newEngine();
    const device = manggarai();
    feed(engine, device, levels(740, 760, 740, 730, 720, 720, 720, 720, 720, 720), T0);
    expect(engine.activeAlerts()).toEqual([]);

    const again = feed(engine, device, levels(740, 760), T0 + 20 * MIN);
    expect(summary(again)).toEqual(['opened flood_level waspada']);
    expect(again[0]!.alert.id).toBe('alert-2');
  });

  it('resolves on the clock once the clear time has passed after a clear reading', () => {
    const engine = newEngine();
    const device = manggarai();
    feed(engine, device, levels(740, 760, 700), T0);
    const registry = [{ ...device, lastSeen: null }];

    expect(engine.tick(T0 + 2 * MIN + 5 * MIN - 1, registry)).toEqual([]);
    const changes = engine.tick(T0 + 2 * MIN + 5 * MIN, registry);
    expect(summary(changes)).toEqual(['resolved flood_level waspada']);
  });

  it('does not take a silent gauge for a receding river', () => {
    const engine = newEngine();
    const device = manggarai();
    feed(engine, device, levels(...ramp(900, 960, 20)), T0);
    const changes = engine.tick(T0 + 2 * H, [{ ...device, lastSeen: null }]);

    expect(summary(changes)).toEqual(['opened silent warning']);
    expect(engine.activeAlerts().find((a) => a.rule === 'flood_level')?.severity).toBe('awas');
  });

  it('honours a per-gauge clear time', () => {
    const engine = newEngine();
    const changes = feed(engine, manggarai({ clearAfterSeconds: 60 }), levels(740, 760, 700, 700), T0);
    expect(summary(changes)).toEqual(['opened flood_level waspada', 'resolved flood_level waspada']);
    expect(changes[1]!.at).toBe(T0 + 3 * MIN);
  });

  it('ignores a redelivered or older reading', () => {
    const engine = newEngine();
    const device = manggarai();
    const reading = { deviceId: device.id, kind: 'flood' as const, ts: T0, values: { waterLevel: 760 } };
    expect(engine.evaluate(device, reading, T0)).toHaveLength(1);
    expect(engine.evaluate(device, reading, T0 + S)).toEqual([]);
    expect(engine.evaluate(device, { ...reading, ts: T0 - MIN, values: { waterLevel: 990 } }, T0 + S)).toEqual([]);
    expect(engine.activeAlerts()[0]?.severity).toBe('waspada');
  });
});

describe('acknowledgement', () => {
  it('changes the state, once, and a worse level asks for a fresh one', () => {
    const engine = newEngine();
    const device = manggarai();
    feed(engine, device, levels(760), T0);

    const [ack] = engine.acknowledge('alert-1', 'operator@bpbd-dki', T0 + MIN);
    expect(ack).toMatchObject({ type: 'acknowledged', actor: 'operator@bpbd-dki', at: T0 + MIN });
    expect(ack!.alert).toMatchObject({ state: 'acknowledged', acknowledgedAt: T0 + MIN });
    expect(engine.alert('alert-1')?.state).toBe('acknowledged');
    expect(engine.acknowledge('alert-1', 'someone-else', T0 + 2 * MIN)).toEqual([]);
    expect(engine.acknowledge('no-such-alert', 'op', T0)).toEqual([]);

    const [escalated] = feed(engine, device, levels(800, 860), T0 + 2 * MIN);
    expect(escalated!.alert).toMatchObject({ severity: 'siaga', state: 'open', acknowledgedAt: null });
  });

  it('survives a step down', () => {
    const engine = newEngine();
    const device = manggarai({ clearAfterSeconds: 0 });
    feed(engine, device, levels(800, 860), T0);
    engine.acknowledge('alert-1', 'op', T0 + 2 * MIN);
    const [down] = feed(engine, device, levels(830), T0 + 3 * MIN);
    expect(down).toMatchObject({ type: 'de-escalated', previousSeverity: 'siaga' });
    expect(down!.alert).toMatchObject({ severity: 'waspada', state: 'acknowledged', acknowledgedAt: T0 + 2 * MIN });
  });
});

describe('silent devices', () => {
  const station: EngineDevice = { id: 'smd-air-segiri', kind: 'air', thresholds: null };
  const pm = (n: number) => Array.from({ length: n }, (_, i) => ({ pm25: 20 + (i % 5) }));

  it('fires after three times its learned reporting interval', () => {
    const engine = newEngine();
    feed(engine, station, pm(10), T0);
    const last = T0 + 9 * MIN;
    const registry = [{ ...station, lastSeen: null }];

    expect(engine.tick(last + 3 * MIN, registry)).toEqual([]);
    const [silent] = engine.tick(last + 3 * MIN + S, registry);
    expect(silent).toMatchObject({ type: 'opened', at: last + 3 * MIN + S });
    expect(silent!.alert).toMatchObject({ rule: 'silent', severity: 'warning', value: 181 });
    expect(silent!.alert.message).toBe('Sensor tidak mengirim data selama 3 menit / no readings for 3 min');
    expect(engine.tick(last + H, registry)).toEqual([]); // still the same one alert
  });

  it('learns a slow device is slow', () => {
    const engine = newEngine();
    feed(engine, station, pm(10), T0, 5 * MIN);
    const last = T0 + 45 * MIN;
    expect(engine.tick(last + 14 * MIN, [{ ...station, lastSeen: null }])).toEqual([]);
    expect(engine.tick(last + 16 * MIN, [{ ...station, lastSeen: null }])).toHaveLength(1);
  });

  it('waits at least a minute for a chatty device', () => {
    const engine = newEngine();
    feed(engine, station, pm(10), T0, 5 * S);
    const last = T0 + 45 * S;
    expect(engine.tick(last + 59 * S, [{ ...station, lastSeen: null }])).toEqual([]);
    expect(engine.tick(last + 61 * S, [{ ...station, lastSeen: null }])).toHaveLength(1);
  });

  it('does not guess an interval from too little history', () => {
    const engine = newEngine();
    feed(engine, station, pm(3), T0);
    expect(engine.tick(T0 + 24 * H, [{ ...station, lastSeen: null }])).toEqual([]);
  });

  it('uses the device’s own silentAfterSeconds', () => {
    const engine = newEngine();
    const device = { ...station, thresholds: { silentAfterSeconds: 600 } };
    feed(engine, device, pm(1), T0);
    expect(engine.tick(T0 + 10 * MIN, [{ ...device, lastSeen: null }])).toEqual([]);
    expect(engine.tick(T0 + 10 * MIN + S, [{ ...device, lastSeen: null }])).toHaveLength(1);
  });

  it('counts the registry’s last-seen time', () => {
    const engine = newEngine();
    feed(engine, station, pm(10), T0);
    expect(engine.tick(T0 + H, [{ ...station, lastSeen: T0 + H - MIN }])).toEqual([]);
  });

  it('resolves once the device has been reporting again for the clear time', () => {
    const engine = newEngine();
    feed(engine, station, pm(10), T0);
    const registry = [{ ...station, lastSeen: null }];
    engine.tick(T0 + H, registry);
    const back = T0 + H + 30 * S;

    expect(feed(engine, station, pm(5), back)).toEqual([]); // back … back + 4 min
    expect(engine.tick(back + 4 * MIN + 30 * S, registry)).toEqual([]);
    expect(summary(engine.tick(back + 5 * MIN, registry))).toEqual(['resolved silent warning']);
  });

  it('does not resolve while the device keeps dropping out', () => {
    const engine = newEngine();
    feed(engine, station, pm(10), T0);
    const registry = [{ ...station, lastSeen: null }];
    engine.tick(T0 + H, registry);
    feed(engine, station, pm(1), T0 + H + 30 * S); // one reading, then silence again
    expect(engine.tick(T0 + H + 30 * S + 5 * MIN, registry)).toEqual([]);
    expect(engine.activeAlerts().map((a) => a.rule)).toEqual(['silent']);
  });
});

describe('stuck sensors', () => {
  const station: EngineDevice = { id: 'bpn-air-plaza', kind: 'air', thresholds: null };
  const readings = (n: number, pm25 = 35) =>
    Array.from({ length: n }, (_, i) => ({ pm25, temperature: 28 + (i % 3), humidity: 100, co: 0 }));

  it('flags a field that keeps exactly one value for 6 hours', () => {
    const engine = newEngine();
    const changes = feed(engine, station, readings(37), T0, 10 * MIN); // 0 … 360 min

    expect(summary(changes)).toEqual(['opened stuck:pm25 warning']);
    expect(changes[0]).toMatchObject({ at: T0 + 6 * H });
    expect(changes[0]!.alert).toMatchObject({ value: 35 });
    expect(changes[0]!.alert.message).toBe(
      'Sensor macet: PM2.5 tetap 35 µg/m³ / sensor stuck: pm2.5 unchanged at 35 µg/m³',
    );
  });

  it('leaves zeros and a saturated humidity alone', () => {
    const engine = newEngine();
    const changes = feed(engine, station, readings(100, 0), T0, 10 * MIN);
    expect(changes).toEqual([]);
  });

  it('resolves when the value moves again', () => {
    const engine = newEngine();
    feed(engine, station, readings(37), T0, 10 * MIN);
    feed(engine, station, [{ pm25: 36 }], T0 + 370 * MIN);
    const changes = engine.tick(T0 + 375 * MIN, [{ ...station, lastSeen: null }]);
    expect(summary(changes)).toEqual(['resolved stuck:pm25 warning']);
  });

  it('uses the device’s own stuckAfterSeconds', () => {
    const engine = newEngine();
    const device = { ...station, thresholds: { stuckAfterSeconds: 3600 } };
    const changes = feed(engine, device, readings(7), T0, 10 * MIN);
    expect(summary(changes)).toEqual(['opened stuck:pm25 warning']);
    expect(changes[0]!.at).toBe(T0 + H);
  });
});

describe('spikes', () => {
  const katulampa: EngineDevice = {
    id: 'bgr-flood-katulampa',
    kind: 'flood',
    thresholds: { waspada: 80, siaga: 150, awas: 200 },
  };

  it('flags a jump faster than a river can rise, and does not raise a flood alarm on it', () => {
    const engine = newEngine();
    const changes = feed(engine, katulampa, levels(50, 190), T0);
    expect(summary(changes)).toEqual(['opened spike:waterLevel warning']);
    expect(changes[0]!.alert).toMatchObject({ value: 140 });
    expect(changes[0]!.alert.message).toBe(
      'Lonjakan tidak wajar: Tinggi muka air berubah 140 cm/menit / implausible jump: water level changed 140 cm/min',
    );

    // Confirmed by the next reading at a plausible rate, the level is believed.
    expect(summary(feed(engine, katulampa, levels(195), T0 + 2 * MIN))).toEqual(['opened flood_level siaga']);
  });

  it('does not read jitter between readings a second apart as a spike', () => {
    const engine = newEngine();
    expect(feed(engine, katulampa, levels(50, 53, 50, 53), T0, S)).toEqual([]);
  });

  it('flags implausible PM2.5 by default', () => {
    const engine = newEngine();
    const station: EngineDevice = { id: 'smd-air-segiri', kind: 'air', thresholds: null };
    expect(summary(feed(engine, station, [{ pm25: 20 }, { pm25: 400 }], T0))).toEqual([]);
    expect(summary(feed(engine, station, [{ pm25: 950 }], T0 + 2 * MIN))).toEqual(['opened spike:pm25 warning']);
  });

  it('uses per-device limits, also for fields without a default', () => {
    const engine = newEngine();
    const device = { ...katulampa, thresholds: { maxRatePerMinute: { waterLevel: 20, rainfall: 50 } } };
    const changes = feed(engine, device, [{ waterLevel: 50, rainfall: 0 }, { waterLevel: 80, rainfall: 100 }], T0);
    expect(summary(changes).sort()).toEqual(['opened spike:rainfall warning', 'opened spike:waterLevel warning']);
  });

  it('resolves after the clear time of plausible readings', () => {
    const engine = newEngine();
    const changes = feed(engine, katulampa, levels(50, 190, 192, 193, 194, 195, 196, 197), T0);
    expect(summary(changes)).toEqual([
      'opened spike:waterLevel warning',
      'opened flood_level siaga',
      'resolved spike:waterLevel warning',
    ]);
    expect(changes[2]!.at).toBe(T0 + 7 * MIN);
  });
});

describe('air quality (ISPU)', () => {
  const station: EngineDevice = { id: 'smd-air-segiri', kind: 'air', thresholds: null };

  it('warns from Tidak Sehat, is critical from Sangat Tidak Sehat, and clears below', () => {
    const engine = newEngine();
    expect(engine.evaluateIndex(station, { ispu: 100.4 }, T0)).toEqual([]);
    const [opened] = engine.evaluateIndex(station, { ispu: 150 }, T0 + MIN);
    expect(opened!.alert).toMatchObject({ rule: 'ispu', severity: 'warning', value: 150 });
    expect(opened!.alert.message).toBe('Kualitas udara Tidak Sehat (ISPU 150) / air quality unhealthy (ISPU 150)');
    expect(summary(engine.evaluateIndex(station, { ispu: 250 }, T0 + 2 * MIN))).toEqual(['escalated ispu critical']);
    expect(engine.evaluateIndex(station, { ispu: 90 }, T0 + 3 * MIN)).toEqual([]);
    expect(summary(engine.tick(T0 + 8 * MIN, []))).toEqual(['resolved ispu critical']);
  });

  it('takes no index as no news', () => {
    const engine = newEngine();
    engine.evaluateIndex(station, { ispu: 150 }, T0);
    expect(engine.evaluateIndex(station, { ispu: null }, T0 + H)).toEqual([]);
    expect(engine.tick(T0 + 2 * H, [])).toEqual([]);
  });

  it('honours a station’s own alert level', () => {
    const engine = newEngine();
    const strict = { ...station, thresholds: { ispuAlertFrom: 51 } };
    expect(summary(engine.evaluateIndex(strict, { ispu: 60 }, T0))).toEqual(['opened ispu warning']);
  });

  it('refuses an ISPU for a device that is not an air station', () => {
    expect(() => newEngine().evaluateIndex(manggarai(), { ispu: 150 }, T0)).toThrow(/flood device/);
  });
});

describe('congestion (LOS E/F, graded over the last 15 minutes)', () => {
  const junction: EngineDevice = { id: 'smd-traffic-lembuswana', kind: 'traffic', thresholds: { freeFlowSpeed: 50 } };
  const speeds = (...kmh: number[]) => kmh.map((avgSpeed) => ({ avgSpeed, vehicleCount: 12 }));

  it('alerts only after LOS E has lasted 10 minutes, and escalates after 10 minutes of F', () => {
    const engine = newEngine();
    // 18 km/h is 36 % of free flow (E); 10 km/h is 20 % (F). The window's space-mean speed of 18s and 10s falls
    // to 15 km/h (30 %, F) with the fourth minute at 10 km/h: T0 + 14 min.
    const changes = feed(engine, junction, speeds(...Array(11).fill(18), ...Array(15).fill(10)), T0);
    expect(summary(changes)).toEqual(['opened traffic_los warning', 'escalated traffic_los critical']);
    expect(changes[0]!.at).toBe(T0 + 10 * MIN);
    expect(changes[0]!.alert.message).toBe(
      'Lalu lintas padat: tingkat pelayanan jalan E / heavy traffic: level of service E',
    );
    expect(changes[1]!.at).toBe(T0 + 24 * MIN);
  });

  it('a minute or two of slow traffic in free flow is no congestion', () => {
    const engine = newEngine();
    expect(feed(engine, junction, speeds(...Array(5).fill(40), 10, 10, ...Array(20).fill(40)), T0)).toEqual([]);
  });

  it('one interval never decides F: a new counter stops at E until it has counted 5 minutes', () => {
    const engine = newEngine();
    const quick = { ...junction, thresholds: { freeFlowSpeed: 50, losAlertAfterSeconds: 60 } };
    const changes = feed(engine, quick, speeds(...Array(7).fill(5)), T0);
    // E from the first minute (alert after 1 min); F once 5 intervals are counted (T0 + 4 min), alert 1 min later
    expect(summary(changes)).toEqual(['opened traffic_los warning', 'escalated traffic_los critical']);
    expect(changes.map((c) => c.at)).toEqual([T0 + MIN, T0 + 5 * MIN]);
  });

  it('holds through one free-flowing minute and resolves once the window has flowed for the clear time', () => {
    const engine = newEngine();
    feed(engine, junction, speeds(...Array(15).fill(10)), T0);
    expect(engine.activeAlerts().map((a) => a.severity)).toEqual(['critical']);
    expect(feed(engine, junction, speeds(30), T0 + 15 * MIN)).toEqual([]);
    const changes = feed(engine, junction, speeds(...Array(20).fill(40)), T0 + 16 * MIN);
    // The window's space-mean speed stays at F (≤ 30 %) until T0 + 20 min, E until T0 + 24 min, D (clear) from
    // T0 + 25 min. Below F for the clear time (5 min from T0 + 21) → warning at T0 + 26; clear for 5 min → resolved.
    expect(summary(changes)).toEqual(['de-escalated traffic_los warning', 'resolved traffic_los warning']);
    expect(changes.map((c) => c.at)).toEqual([T0 + 26 * MIN, T0 + 30 * MIN]);
  });

  it('uses the road’s own capacity: a 15-minute flow rate over capacity is F', () => {
    const engine = newEngine();
    const narrow = { ...junction, thresholds: { freeFlowSpeed: 50, capacity: 600, losAlertAfterSeconds: 120 } };
    const changes = feed(engine, narrow, Array(7).fill({ avgSpeed: 45, vehicleCount: 20 }), T0);
    expect(summary(changes)).toEqual(['opened traffic_los warning', 'escalated traffic_los critical']);
    expect(changes.map((c) => c.at)).toEqual([T0 + 2 * MIN, T0 + 6 * MIN]);
  });
});

describe('engine state', () => {
  it('survives a restart through a JSON snapshot', () => {
    const before = newEngine();
    const device = manggarai();
    feed(before, device, levels(...ramp(700, 780, 10)), T0);
    const saved = JSON.parse(JSON.stringify(before.snapshot()));

    const after = new AlertEngine({ newId: () => 'never-used' });
    after.restore(saved);
    expect(after.activeAlerts()).toEqual(before.activeAlerts());
    const changes = feed(after, device, levels(800, 830, 860), T0 + 9 * MIN);
    expect(summary(changes)).toEqual(['escalated flood_level siaga']);
    expect(changes[0]!.alert.id).toBe('alert-1');
    // The learned one-minute interval came along too.
    expect(after.tick(T0 + 11 * MIN + 3 * MIN + S, [{ ...device, lastSeen: null }])).toHaveLength(1);
  });

  it("a counter's 15-minute window is in every snapshot, before and after a restore, and after it has moved on", () => {
    const junction: EngineDevice = { id: 'smd-traffic-lembuswana', kind: 'traffic', thresholds: { freeFlowSpeed: 50 } };
    const intervals = (snap: EngineSnapshot) => snap.devices[junction.id]!.traffic.map((i) => i.ts);
    const before = newEngine();
    feed(before, junction, Array.from({ length: 12 }, () => ({ avgSpeed: 10, vehicleCount: 12 })), T0);
    const first = JSON.parse(JSON.stringify(before.snapshot())) as EngineSnapshot;
    expect(intervals(first)).toHaveLength(12);
    // taken again with nothing new: the same window
    expect(intervals(before.snapshot())).toEqual(intervals(first));
    // restored, not yet fed: the snapshot still holds the window it was restored with
    const after = new AlertEngine({ newId: () => 'never-used' });
    after.restore(first);
    expect(intervals(after.snapshot())).toEqual(intervals(first));
    // fed 10 more minutes: the window is the restored intervals still inside 15 minutes, and the new ones
    feed(after, junction, Array.from({ length: 10 }, () => ({ avgSpeed: 10, vehicleCount: 12 })), T0 + 12 * MIN);
    const moved = intervals(after.snapshot());
    expect(moved[moved.length - 1]).toBe(T0 + 21 * MIN);
    expect(moved[0]).toBeGreaterThan(T0 + 21 * MIN - 15 * MIN);
    expect(moved).toHaveLength(15);
    // and a snapshot is a copy: changing it changes nothing in the engine
    after.snapshot().devices[junction.id]!.traffic.length = 0;
    expect(intervals(after.snapshot())).toHaveLength(15);
    expect(after.activeAlerts().map((a) => a.rule)).toEqual(['traffic_los']);
  });

  it("a fast counter's folded seconds are in its snapshot, and a restored engine grades on from the same window", () => {
    const junction: EngineDevice = { id: 'bpn-traffic-mt-haryono', kind: 'traffic', thresholds: { freeFlowSpeed: 50, losAlertAfterSeconds: 60 } };
    // five intervals a second for four minutes: more than the window keeps singly
    const jammed = Array.from({ length: 1200 }, (_, n) => ({ avgSpeed: 12 + (n % 5), vehicleCount: 2, intervalSeconds: 1 }));
    const before = newEngine();
    feed(before, junction, jammed, T0, 200);
    const snap = JSON.parse(JSON.stringify(before.snapshot())) as EngineSnapshot;
    const memory = snap.devices[junction.id]!;
    expect(memory.trafficSeconds.length).toBeGreaterThan(0);
    expect(memory.traffic.length).toBeLessThan(1200);
    const counted = memory.traffic.length + memory.trafficSeconds.reduce((n, s) => n + s.intervals, 0);
    expect(counted).toBe(1200);
    const after = new AlertEngine({ newId: () => 'alert-1' });
    after.restore(snap);
    expect(after.snapshot()).toEqual(before.snapshot());
    // free flow from here: both engines step the congestion down at the same reading, as the same window says
    const free = Array.from({ length: 6500 }, () => ({ avgSpeed: 48, vehicleCount: 0, intervalSeconds: 1 }));
    const a = summary(feed(before, junction, free, T0 + 1200 * 200, 200));
    const b = summary(feed(after, junction, free, T0 + 1200 * 200, 200));
    expect(a.length).toBeGreaterThan(0);
    expect(b).toEqual(a);
    expect(after.snapshot()).toEqual(before.snapshot());
  });

  it('a restored alert is settled by readings that find nothing: the engine knows the device has one', () => {
    const before = newEngine();
    const device = manggarai();
    feed(before, device, levels(...ramp(700, 780, 10)), T0);
    expect(before.activeAlerts().map((a) => a.rule)).toContain('flood_level');
    const after = new AlertEngine({ newId: () => 'never-used' });
    after.restore(JSON.parse(JSON.stringify(before.snapshot())));
    // the river falls slowly back under every threshold and stays there
    const changes = feed(after, device, levels(...ramp(770, 600, 10), ...Array<number>(20).fill(600)), T0 + 10 * MIN);
    const flood = summary(changes).filter((c) => c.includes('flood_level'));
    expect(flood.at(-1)).toMatch(/^resolved flood_level/);
    expect(after.activeAlerts().filter((a) => a.rule === 'flood_level')).toEqual([]);
  });

  it('refuses something that is not a snapshot', () => {
    expect(() => newEngine().restore({ version: 2 })).toThrow(/not an alert engine snapshot/);
  });

  it('resolves the alerts of a deleted device', () => {
    const engine = newEngine();
    feed(engine, manggarai(), levels(760), T0);
    expect(summary(engine.forget('jkt-flood-manggarai', T0 + MIN))).toEqual(['resolved flood_level waspada']);
    expect(engine.activeAlerts()).toEqual([]);
  });

  it('names the device whose thresholds are invalid, and keeps ticking for the others', () => {
    const engine = newEngine();
    const broken: EngineDevice = { id: 'smd-flood-lempake', kind: 'flood', thresholds: { siaga: 'tinggi' } };
    const reading = { deviceId: broken.id, kind: 'flood' as const, ts: T0, values: { waterLevel: 900 } };
    expect(() => engine.evaluate(broken, reading, T0)).toThrow(/device smd-flood-lempake: invalid flood thresholds/);
    expect(() => engine.tick(T0, [{ ...broken, lastSeen: T0 }])).not.toThrow();
  });

  it('refuses a reading given for another device', () => {
    const reading = { deviceId: 'other', kind: 'flood' as const, ts: T0, values: { waterLevel: 1 } };
    expect(() => newEngine().evaluate(manggarai(), reading, T0)).toThrow(/given for device/);
  });
});

describe('device thresholds (what PATCH /devices accepts)', () => {
  it.each([
    ['flood', { siaga: 775, awas: 825, hysteresisCm: 5, silentAfterSeconds: 900 }],
    ['traffic', { freeFlowSpeed: 40, capacity: 1200, losAlertAfterSeconds: 300 }],
    ['air', { ispuAlertFrom: 151, maxRatePerMinute: { pm25: 300 } }],
    ['air', {}],
  ] as [Kind, object][])('accepts for %s: %j', (kind, thresholds) => {
    expect(thresholdsSchema(kind).parse(thresholds)).toEqual(thresholds);
  });

  it.each([
    ['flood', { waspada: 900, siaga: 850 }, 'flood levels out of order'],
    ['flood', { freeFlowSpeed: 50 }, 'another kind’s setting'],
    ['air', { maxRatePerMinute: { 'pm2.5': 300 } }, 'a rate for a field the kind does not have'],
    ['air', { ispuAlertFrom: 600 }, 'an ISPU beyond the scale'],
    ['traffic', { stuckAfterSeconds: 0 }, 'a zero stuck time'],
    ['traffic', { silentAfterSeconds: '60' }, 'a number as a string'],
  ] as [Kind, object, string][])('refuses for %s: %j (%s)', (kind, thresholds) => {
    expect(thresholdsSchema(kind).safeParse(thresholds).success).toBe(false);
  });
});
