// The simulated Kaltim fleet: its readings must always be valid for the catalog, and its models must show what a
// dashboard is supposed to show (rush hours, rain-driven floods with a lag, tides, haze). Pure, no network.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IPublishPacket, Packet } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CATALOG,
  DEVICE_ID_PATTERN,
  KINDS,
  type Kind,
  MAX_FUTURE_SKEW_MS,
  type RejectionReason,
} from '../../catalog/index.js';
import { badPayload, FAULTS, misspell } from '../../devices/faults.js';
import { FileStore } from '../../devices/file-store.js';
import { CITIES, FLEET } from '../../devices/fleet.js';
import type { CityName, FleetDevice } from '../../devices/fleet-schema.js';
import { selectFleet } from '../../devices/fleet-select.js';
import { HOUR_MS, wita, witaTime } from '../../devices/models/clock.js';
import { riverLevel } from '../../devices/models/flood.js';
import { Rng } from '../../devices/models/random.js';
import { trafficState } from '../../devices/models/traffic.js';
import { Weather, type WeatherOptions } from '../../devices/models/weather.js';
import { OptionsError, parseOptions } from '../../devices/options.js';
import { SimulatedSensor } from '../../devices/sensor.js';

const DAY = 24 * HOUR_MS;

function weatherFor(extra: Partial<WeatherOptions> = {}) {
  const map = new Map<CityName, Weather>();
  for (const city of Object.values(CITIES)) {
    map.set(city.name, new Weather({ seed: 7, city: city.name, rainFactor: city.rainFactor, hazeFactor: city.hazeFactor, ...extra }));
  }
  return { seed: 7, weather: (city: CityName) => map.get(city) as Weather };
}

/** docs/contract.md §2/§3 judged from the catalog alone: the reason a reading would be rejected, or null if it is valid. */
function judge(kind: Kind, payload: string, now: number): RejectionReason | null {
  let body: unknown;
  try {
    body = JSON.parse(payload);
  } catch {
    return 'invalid_json';
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'invalid_reading';
  const reading = body as Record<string, unknown>;
  for (const [name, value] of Object.entries(reading)) {
    if (name === 'ts') continue;
    const spec = CATALOG[kind].fields.find((f) => f.name === name);
    if (!spec) return 'unknown_field';
    if (typeof value !== 'number' || !Number.isFinite(value)) return 'invalid_reading';
    if (value < spec.min || value > spec.max) return 'out_of_range';
  }
  if (!CATALOG[kind].requiredOneOf.some((name) => name in reading)) return 'invalid_reading';
  if (typeof reading.ts === 'number' && reading.ts > now + MAX_FUTURE_SKEW_MS) return 'future_timestamp';
  return null;
}

function simulateWeek(devices: readonly FleetDevice[], start: number, extra: Partial<WeatherOptions>) {
  const env = weatherFor(extra);
  const sensors = devices.map((device) => new SimulatedSensor(device, env));
  const problems: string[] = [];
  let count = 0;
  for (let t = start; t < start + 7 * DAY; t += 10 * 60_000) {
    for (const sensor of sensors) {
      const reading = sensor.read(t, 60);
      count++;
      const verdict = judge(sensor.device.kind, JSON.stringify({ ...reading, ts: t }), t);
      if (verdict) problems.push(`${sensor.device.id} at ${new Date(t).toISOString()}: ${verdict} ${JSON.stringify(reading)}`);
      for (const [name, value] of Object.entries(reading)) {
        if (!Number.isFinite(value)) problems.push(`${sensor.device.id}: ${name}=${value}`);
      }
    }
  }
  return { count, problems };
}

describe('the Kaltim fleet', () => {
  it('has at least 30 devices across all four cities and all three kinds', () => {
    expect(FLEET.length).toBeGreaterThanOrEqual(30);
    expect(new Set(FLEET.map((d) => d.city))).toEqual(new Set(Object.keys(CITIES)));
    expect(new Set(FLEET.map((d) => d.kind))).toEqual(new Set(KINDS));
  });

  it('uses valid unique ids named after city and kind, and puts every device inside its city', () => {
    expect(new Set(FLEET.map((d) => d.id)).size).toBe(FLEET.length);
    for (const device of FLEET) {
      expect(device.id).toMatch(DEVICE_ID_PATTERN);
      expect(device.id.startsWith(`${CITIES[device.city].prefix}-${device.kind}-`)).toBe(true);
      const b = CITIES[device.city].bounds;
      expect(device.location.lat, device.id).toBeGreaterThanOrEqual(b.south);
      expect(device.location.lat, device.id).toBeLessThanOrEqual(b.north);
      expect(device.location.lon, device.id).toBeGreaterThanOrEqual(b.west);
      expect(device.location.lon, device.id).toBeLessThanOrEqual(b.east);
    }
  });

  it('gives flood gauges alert levels and traffic counters their road', () => {
    for (const device of FLEET) {
      if (device.kind === 'flood') expect(Object.keys(device.thresholds).length).toBeGreaterThan(0);
      if (device.kind === 'traffic') {
        expect(device.thresholds.freeFlowSpeed).toBeGreaterThan(0);
        expect(device.thresholds.capacity).toBeGreaterThan(0);
      }
      if (device.kind === 'air') expect(device.thresholds).toBeNull();
    }
    const benanga = FLEET.find((d) => d.id === 'smd-flood-01');
    expect(benanga?.thresholds).toEqual({ siaga: 775, awas: 825 });
  });

  it('spreads a small selection over cities and kinds, and clones nearby when asked for more', () => {
    const few = selectFleet(FLEET, { count: 12, kinds: [...KINDS], seed: 1 });
    expect(few).toHaveLength(12);
    expect(new Set(few.map((d) => d.city)).size).toBe(4);
    expect(new Set(few.map((d) => d.kind)).size).toBe(3);

    const many = selectFleet(FLEET, { count: FLEET.length * 2 + 5, kinds: [...KINDS], seed: 1 });
    expect(many).toHaveLength(FLEET.length * 2 + 5);
    expect(new Set(many.map((d) => d.id)).size).toBe(many.length);
    for (const clone of many.slice(FLEET.length)) {
      expect(clone.id).toMatch(DEVICE_ID_PATTERN);
      const base = FLEET.find((d) => clone.id.startsWith(`${d.id}-c`)) as FleetDevice;
      expect(base).toBeDefined();
      expect(Math.abs(clone.location.lat - base.location.lat)).toBeLessThan(0.005);
      expect(Math.abs(clone.location.lon - base.location.lon)).toBeLessThan(0.005);
    }
    expect(selectFleet(FLEET, { kinds: ['flood'], seed: 1 }).every((d) => d.kind === 'flood')).toBe(true);
  });
});

describe('simulated readings', () => {
  const devices = selectFleet(FLEET, { count: FLEET.length + 10, kinds: [...KINDS], seed: 3 });

  it('stay inside the catalog ranges with the required fields over a wet-season week with a cloudburst', () => {
    const start = witaTime(2025, 1, 13);
    const { count, problems } = simulateWeek(devices, start, {
      storms: [{ start: start + 2 * DAY, durationHours: 4, peak: 160 }],
    });
    expect(count).toBeGreaterThan(50_000);
    expect(problems.slice(0, 5)).toEqual([]);
  }, 240_000); // a week of the whole fleet, minute by minute: CPU-bound, slow on a loaded machine

  it('stay inside the catalog ranges over a dry-season week of heavy haze', () => {
    const start = witaTime(2025, 9, 8);
    const { problems } = simulateWeek(devices, start, {
      hazeEpisodes: [{ start, rampHours: 1, durationHours: 120, fadeHours: 24, intensity: 1.2 }],
    });
    expect(problems.slice(0, 5)).toEqual([]);
  }, 240_000);

  it('carry only catalog fields, each a number', () => {
    const env = weatherFor();
    for (const device of FLEET) {
      const reading = new SimulatedSensor(device, env).read(witaTime(2025, 5, 5, 8), 5);
      const names = CATALOG[device.kind].fields.map((f) => f.name);
      for (const [name, value] of Object.entries(reading)) {
        expect(names, `${device.id} sent ${name}`).toContain(name);
        expect(typeof value).toBe('number');
      }
    }
  });
});

describe('traffic', () => {
  const counters = FLEET.filter((d): d is Extract<FleetDevice, { kind: 'traffic' }> => d.kind === 'traffic');
  const road = (d: (typeof counters)[number]) => ({ ...d.model, ...d.thresholds });

  it('is far heavier at 08:00 WITA than at 03:00 on every weekday', () => {
    for (const device of counters) {
      for (let day = 13; day <= 17; day++) {
        // 13–17 January 2025 is Monday to Friday.
        const morning = trafficState(witaTime(2025, 1, day, 8), road(device), 42);
        const night = trafficState(witaTime(2025, 1, day, 3), road(device), 42);
        expect(morning.flow, device.id).toBeGreaterThan(night.flow * 5);
      }
    }
  });

  it('shows the same in the counted vehicles a sensor reports', () => {
    const env = weatherFor({ randomEvents: false });
    const sensor = new SimulatedSensor(counters[0] as FleetDevice, env);
    const total = (hour: number) => {
      let sum = 0;
      for (let minute = 0; minute < 30; minute++) sum += sensor.read(witaTime(2025, 1, 14, hour, minute), 60).vehicleCount as number;
      return sum;
    };
    expect(total(8)).toBeGreaterThan(total(3) * 5);
  });

  it('is lighter on a Sunday morning than on a weekday morning', () => {
    for (const device of counters) {
      const monday = trafficState(witaTime(2025, 1, 13, 8), road(device), 42);
      const sunday = trafficState(witaTime(2025, 1, 19, 8), road(device), 42);
      expect(sunday.flow, device.id).toBeLessThan(monday.flow * 0.7);
    }
  });

  it('slows down as volume approaches capacity', () => {
    const r = { lanes: 2, peakLoad: 1, freeFlowSpeed: 50, capacity: 3000 };
    const quiet = trafficState(witaTime(2025, 1, 14, 3), r, 1);
    const rush = trafficState(witaTime(2025, 1, 14, 17, 30), r, 1);
    expect(rush.flow / rush.capacity).toBeGreaterThan(0.85);
    expect(quiet.speed).toBeGreaterThan(45);
    expect(rush.speed).toBeLessThan(quiet.speed * 0.7);
  });
});

describe('floods', () => {
  const benanga = FLEET.find((d) => d.id === 'smd-flood-01') as Extract<FleetDevice, { kind: 'flood' }>;
  const mahakam = FLEET.find((d) => d.id === 'smd-flood-12') as Extract<FleetDevice, { kind: 'flood' }>;

  it('a river rises after a rain event, with a lag', () => {
    const stormStart = witaTime(2025, 1, 14, 15);
    const weather = new Weather({
      seed: 1,
      city: 'Samarinda',
      randomEvents: false,
      storms: [{ start: stormStart, durationHours: 2, peak: 60 }],
    });
    const series: { t: number; rain: number; level: number }[] = [];
    for (let t = stormStart - 2 * HOUR_MS; t < stormStart + 24 * HOUR_MS; t += 10 * 60_000) {
      series.push({ t, rain: weather.rainfall(t), level: riverLevel(t, benanga.model, weather) });
    }
    const before = series[0]?.level as number;
    const rainPeak = series.reduce((a, b) => (b.rain > a.rain ? b : a));
    const levelPeak = series.reduce((a, b) => (b.level > a.level ? b : a));
    expect(rainPeak.rain).toBeGreaterThan(30);
    // The flood wave arrives hours after the rain peaks, and is large.
    expect(levelPeak.t - rainPeak.t).toBeGreaterThan(1.5 * HOUR_MS);
    expect(levelPeak.level - before).toBeGreaterThan(40);
    // While it rains hardest the river has barely started to rise.
    const atRainPeak = riverLevel(rainPeak.t, benanga.model, weather);
    expect(atRainPeak - before).toBeLessThan((levelPeak.level - before) / 2);
    // And a day later it has fallen back most of the way.
    expect((series.at(-1)?.level as number) - before).toBeLessThan((levelPeak.level - before) / 3);
  });

  it('a gauge on the Mahakam swings with the semidiurnal tide; one above tidal reach does not', () => {
    const weather = new Weather({ seed: 1, city: 'Samarinda', randomEvents: false });
    const start = witaTime(2025, 3, 3);
    const levels = (model: typeof benanga.model) => {
      const out: number[] = [];
      for (let t = start; t < start + 2 * DAY; t += 15 * 60_000) out.push(riverLevel(t, model, weather));
      return out;
    };
    const tidal = levels(mahakam.model);
    const still = levels(benanga.model);
    expect(Math.max(...tidal) - Math.min(...tidal)).toBeGreaterThan(60);
    expect(Math.max(...still) - Math.min(...still)).toBeLessThan(10);
    // High waters ≈ 12.4 h apart: about four in two days.
    const highs = tidal.filter((v, i) => i > 0 && i < tidal.length - 1 && v > (tidal[i - 1] as number) && v >= (tidal[i + 1] as number));
    expect(highs.length).toBeGreaterThanOrEqual(3);
    expect(highs.length).toBeLessThanOrEqual(5);
  });

  it('rains more often in the wet season than in the dry season', () => {
    const weather = new Weather({ seed: 11, city: 'Samarinda' });
    const rainyHours = (start: number) => {
      let n = 0;
      for (let t = start; t < start + 60 * DAY; t += HOUR_MS) if (weather.rainfall(t) > 0.5) n++;
      return n;
    };
    expect(rainyHours(witaTime(2025, 12, 1))).toBeGreaterThan(rainyHours(witaTime(2025, 8, 1)) * 1.5);
  });
});

describe('air', () => {
  it('haze pushes PM2.5 into "Tidak Sehat" while PM10 stays 1.3–1.8 × PM2.5', () => {
    const start = witaTime(2025, 9, 10);
    const env = weatherFor({ randomEvents: false, hazeEpisodes: [{ start, rampHours: 2, durationHours: 96, fadeHours: 24, intensity: 0.9 }] });
    const clean = weatherFor({ randomEvents: false });
    const device = FLEET.find((d) => d.id === 'smd-air-01') as FleetDevice;
    const hazy = new SimulatedSensor(device, env);
    const clear = new SimulatedSensor(device, clean);
    let hazySum = 0;
    let clearSum = 0;
    for (let h = 24; h < 48; h++) {
      const t = start + h * HOUR_MS;
      const a = hazy.read(t, 60);
      const b = clear.read(t, 60);
      hazySum += a.pm25 as number;
      clearSum += b.pm25 as number;
      for (const r of [a, b]) {
        const ratio = (r.pm10 as number) / (r.pm25 as number);
        expect(ratio).toBeGreaterThanOrEqual(1.29);
        expect(ratio).toBeLessThanOrEqual(1.81);
      }
    }
    expect(hazySum / 24).toBeGreaterThan(150.4); // ISPU 200: "Sangat Tidak Sehat" from here
    expect(clearSum / 24).toBeLessThan(40);
  });

  it('ozone peaks in the afternoon and pollution follows the rush hour', () => {
    const env = weatherFor({ randomEvents: false });
    const sensor = new SimulatedSensor(FLEET.find((d) => d.id === 'smd-air-02') as FleetDevice, env);
    const mean = (hour: number, field: string) => {
      let sum = 0;
      for (let day = 13; day <= 17; day++) sum += sensor.read(witaTime(2025, 1, day, hour), 60)[field] as number;
      return sum / 5;
    };
    expect(mean(14, 'o3')).toBeGreaterThan(mean(3, 'o3') * 3);
    expect(mean(8, 'no2')).toBeGreaterThan(mean(3, 'no2') * 2);
    expect(mean(8, 'pm25')).toBeGreaterThan(mean(3, 'pm25'));
    expect(mean(14, 'temperature')).toBeGreaterThan(mean(4, 'temperature') + 4);
  });
});

describe('fault injection', () => {
  it('misspells fields the way firmware does', () => {
    expect(misspell('pm25')).toBe('pm2.5');
    expect(misspell('waterLevel')).toBe('water_level');
    expect(misspell('co')).toBe('CO');
  });

  it('produces payloads that docs/contract.md §3 rejects with the expected reason', () => {
    const env = weatherFor();
    const rng = new Rng(5);
    const now = Date.now();
    for (const device of FLEET.slice(0, 20)) {
      const reading = new SimulatedSensor(device, env).read(now, 5);
      expect(judge(device.kind, JSON.stringify({ ...reading, ts: now }), now)).toBeNull();
      for (const fault of FAULTS) {
        for (let i = 0; i < 5; i++) {
          const bad = badPayload(device.kind, reading, now, rng, fault);
          expect(judge(device.kind, bad.payload, now), `${device.id} ${fault}: ${bad.payload}`).toBe(bad.expected);
        }
      }
    }
  });
});

describe('the persistent outgoing store', () => {
  const dirs: string[] = [];
  const tempFile = () => {
    const dir = mkdtempSync(join(tmpdir(), 'pantau-sim-store-'));
    dirs.push(dir);
    return join(dir, 'outbox', 'smd-flood-01.jsonl');
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const publish = (messageId: number, text: string): IPublishPacket => ({
    cmd: 'publish',
    topic: 'sensors/flood/smd-flood-01/telemetry',
    payload: Buffer.from(text),
    qos: 1,
    retain: false,
    dup: false,
    messageId,
  });
  const put = (store: FileStore, packet: Packet) => new Promise<void>((resolve, reject) => store.put(packet, (e) => (e ? reject(e) : resolve())));
  const del = (store: FileStore, messageId: number) =>
    new Promise<Packet | undefined>((resolve, reject) => store.del({ messageId }, (e, p) => (e ? reject(e) : resolve(p))));
  const drain = async (store: FileStore): Promise<Packet[]> => {
    const packets: Packet[] = [];
    for await (const packet of store.createStream() as unknown as AsyncIterable<Packet>) packets.push(packet);
    return packets;
  };
  const close = (store: FileStore) => new Promise<void>((resolve) => store.close(() => resolve()));

  it('keeps unacknowledged packets across a reopen, in order, with their payloads', async () => {
    const file = tempFile();
    const store = new FileStore(file);
    await put(store, publish(7, '{"waterLevel":751.2,"ts":1}'));
    await put(store, publish(8, '{"waterLevel":752.0,"ts":2}'));
    await put(store, publish(9, '{"waterLevel":753.9,"ts":3}'));
    expect((await del(store, 8)) as IPublishPacket).toMatchObject({ messageId: 8 });
    await close(store);

    const reopened = new FileStore(file);
    expect(reopened.size).toBe(2);
    expect(reopened.messageIds()).toEqual([7, 9]);
    const packets = (await drain(reopened)) as IPublishPacket[];
    expect(packets.map((p) => p.messageId)).toEqual([7, 9]);
    expect(Buffer.isBuffer(packets[1]?.payload)).toBe(true);
    expect(packets[1]?.payload.toString()).toBe('{"waterLevel":753.9,"ts":3}');
    expect(packets[0]).toMatchObject({ cmd: 'publish', topic: 'sensors/flood/smd-flood-01/telemetry', qos: 1 });
    await close(reopened);
  });

  it('keeps a QoS 2 release (PUBREL) that replaced its publish', async () => {
    const file = tempFile();
    const store = new FileStore(file);
    await put(store, { ...publish(3, '{"rainfall":4}'), qos: 2 });
    await put(store, { cmd: 'pubrel', messageId: 3 });
    await close(store);
    const reopened = new FileStore(file);
    expect(await drain(reopened)).toEqual([{ cmd: 'pubrel', messageId: 3 }]);
    await close(reopened);
  });

  it('survives a torn last line from a kill mid-write', async () => {
    const file = tempFile();
    const store = new FileStore(file);
    await put(store, publish(1, '{"rainfall":1}'));
    store.closeSync();
    appendFileSync(file, '{"put":{"cmd":"publish","topic":"sensors/flo');
    const reopened = new FileStore(file);
    expect(reopened.skippedLines).toBe(1);
    expect(reopened.messageIds()).toEqual([1]);
    // The torn line is gone from disk after the reopen's compaction.
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(1);
    await close(reopened);
  });

  it('compacts a long log of acknowledged messages down to what is pending', async () => {
    const file = tempFile();
    const store = new FileStore(file);
    for (let i = 1; i <= 3000; i++) {
      await put(store, publish((i % 60000) + 1, `{"rainfall":${i}}`));
      if (i < 2999) await del(store, (i % 60000) + 1);
    }
    expect(store.size).toBe(2);
    const lines = readFileSync(file, 'utf8').trim().split('\n').length;
    expect(lines).toBeLessThan(2000);
    await close(store);
    expect(new FileStore(file).messageIds()).toEqual([3000, 3001]);
  });

  it('reads an empty or missing file as an empty store', () => {
    const file = tempFile();
    expect(new FileStore(file).size).toBe(0);
    writeFileSync(file, '');
    expect(new FileStore(file).size).toBe(0);
  });
});

describe('options', () => {
  it('take flags over the environment and default to the whole fleet every 5 s at QoS 1', () => {
    const defaults = parseOptions([], {});
    expect(defaults).toMatchObject({ rate: 0.2, qos: 1, speed: 1, badShare: 0, stateDir: './data/simulator', devices: undefined });
    expect(defaults.kinds).toEqual([...KINDS]);
    const env = { PANTAU_SIM_RATE: '2', PANTAU_SIM_KINDS: 'flood,air', PANTAU_SIM_HAZE: '1', PANTAU_API_URL: 'http://pantau:9000/' };
    const parsed = parseOptions(['--rate', '5', '--qos', '2', '--devices', '80'], env);
    expect(parsed).toMatchObject({ rate: 5, qos: 2, devices: 80, haze: true, apiUrl: 'http://pantau:9000' });
    expect(parsed.kinds).toEqual(['air', 'flood']);
  });

  it('name the option and the variable when a value is bad', () => {
    expect(() => parseOptions(['--qos', '3'], {})).toThrow(OptionsError);
    expect(() => parseOptions([], { PANTAU_SIM_BAD_SHARE: '1.5' })).toThrow(/--bad-share \(PANTAU_SIM_BAD_SHARE\)/);
    expect(() => parseOptions(['--kinds', 'air,water'], {})).toThrow(/PANTAU_SIM_KINDS/);
    expect(() => parseOptions(['--start', 'yesterday'], {})).toThrow(/RFC 3339/);
    expect(() => parseOptions(['--bogus'], {})).toThrow(OptionsError);
  });

  it('read a simulated start time in WITA', () => {
    const { start } = parseOptions(['--start', '2025-09-15T06:00:00+08:00'], {});
    expect(wita(start as number).hour).toBe(6);
    expect(wita(start as number).month).toBe(9);
  });
});
