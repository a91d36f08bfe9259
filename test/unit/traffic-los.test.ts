import { describe, expect, it } from 'vitest';
import { FLEET } from '../../devices/fleet.js';
import { witaTime } from '../../devices/models/clock.js';
import { hashString } from '../../devices/models/random.js';
import { trafficState } from '../../devices/models/traffic.js';
import { Weather } from '../../devices/models/weather.js';
import { SimulatedSensor } from '../../devices/sensor.js';
import {
  DEFAULT_CAPACITY,
  DEFAULT_FREE_FLOW_SPEED,
  LOS_WINDOW_MS,
  compareRatio,
  losFromVolume,
  trafficLos,
  trafficWindowLos,
  type TrafficInterval,
  trafficThresholdsSchema,
  withTrafficDefaults,
} from '../../catalog/index.js';

// Free-flow 100 km/h makes every speed a percentage.
const ROAD = { freeFlowSpeed: 100, capacity: 1800 };

describe('traffic level of service', () => {
  it.each([
    [120, 'A'],
    [85.01, 'A'],
    [85, 'B'],
    [67.01, 'B'],
    [67, 'C'],
    [50.01, 'C'],
    [50, 'D'],
    [40.01, 'D'],
    [40, 'E'],
    [30.01, 'E'],
    [30, 'F'],
    [0, 'F'],
  ] as const)('%d km/h on a 100 km/h road is %s', (avgSpeed, los) => {
    expect(trafficLos({ avgSpeed, vehicleCount: 10 }, ROAD)?.los).toBe(los);
  });

  it('is F whenever the hourly flow exceeds capacity, whatever the speed', () => {
    // 31 vehicles in 60 s = 1860 vehicles/h > 1800.
    expect(trafficLos({ avgSpeed: 95, vehicleCount: 31 }, ROAD)).toEqual({
      los: 'F',
      speedRatio: 0.95,
      volumeCapacityRatio: 1860 / 1800,
      flowPerHour: 1860,
    });
    // Exactly at capacity is not beyond it.
    expect(trafficLos({ avgSpeed: 95, vehicleCount: 30 }, ROAD)?.los).toBe('A');
  });

  it('scales the count to an hour by the counting interval', () => {
    const result = trafficLos({ avgSpeed: 60, vehicleCount: 150, intervalSeconds: 300 }, ROAD);
    expect(result?.flowPerHour).toBe(1800);
    expect(result?.volumeCapacityRatio).toBe(1);
    expect(trafficLos({ vehicleCount: 151, intervalSeconds: 300 }, ROAD)?.los).toBe('F');
  });

  it('uses a 60 s interval when the reading does not say', () => {
    expect(trafficLos({ vehicleCount: 10 }, ROAD)?.flowPerHour).toBe(600);
  });

  it('grades a counter without speed by volume/capacity (KM 14/2006)', () => {
    // Interval and capacity of 3600 make the count the V/C ratio × 3600.
    const road = { capacity: 3600 };
    const los = (vehicleCount: number) => trafficLos({ vehicleCount, intervalSeconds: 3600 }, road)?.los;
    expect([720, 721, 1620, 1621, 2520, 2521, 3060, 3061, 3600, 3601].map(los)).toEqual([
      'A', 'B', 'B', 'C', 'C', 'D', 'D', 'E', 'E', 'F',
    ]);
    expect(trafficLos({ vehicleCount: 720, intervalSeconds: 3600 }, road)?.speedRatio).toBeNull();
  });

  it('grades an empty road as free flow even if the detector reports 0 km/h', () => {
    expect(trafficLos({ avgSpeed: 0, vehicleCount: 0 }, ROAD)).toMatchObject({ los: 'A', speedRatio: null });
  });

  it('grades speed alone when there is no count', () => {
    expect(trafficLos({ avgSpeed: 20 }, ROAD)).toEqual({
      los: 'F',
      speedRatio: 0.2,
      volumeCapacityRatio: null,
      flowPerHour: null,
    });
  });

  it('cannot grade a reading with neither speed nor count', () => {
    expect(trafficLos({ intervalSeconds: 60 }, ROAD)).toBeNull();
  });

  it('falls back to a 50 km/h, 1800 vehicles/h street', () => {
    expect(DEFAULT_FREE_FLOW_SPEED).toBe(50);
    expect(DEFAULT_CAPACITY).toBe(1800);
    expect(withTrafficDefaults(null)).toEqual({ freeFlowSpeed: 50, capacity: 1800 });
    expect(withTrafficDefaults({ capacity: 900 })).toEqual({ freeFlowSpeed: 50, capacity: 900 });
    expect(trafficLos({ avgSpeed: 42.5, vehicleCount: 5 })?.los).toBe('B'); // 85 % of 50 km/h
    expect(trafficLos({ avgSpeed: 43, vehicleCount: 5 }, {})?.los).toBe('A');
    expect(trafficLos({ avgSpeed: 43, vehicleCount: 31 }, null)?.los).toBe('F');
  });

  it('validates the road thresholds', () => {
    expect(trafficThresholdsSchema.safeParse({ freeFlowSpeed: 40, capacity: 1200 }).success).toBe(true);
    expect(trafficThresholdsSchema.safeParse({}).success).toBe(true);
    expect(trafficThresholdsSchema.safeParse({ freeFlowSpeed: 0 }).success).toBe(false);
    expect(trafficThresholdsSchema.safeParse({ capacity: -1 }).success).toBe(false);
    expect(trafficThresholdsSchema.safeParse({ freeFlowSpeed: 300 }).success).toBe(false); // beyond the speed range
    expect(trafficThresholdsSchema.safeParse({ capacty: 1200 }).success).toBe(false);
  });
});

describe('exact decimal boundaries', () => {
  it('30.6 km/h on a 36 km/h road is exactly 85 %, which is B (A needs more than 85 %)', () => {
    expect(30.6 / 36).toBe(0.8500000000000001); // what floating point makes of it
    expect(trafficLos({ avgSpeed: 30.6, vehicleCount: 10 }, { freeFlowSpeed: 36 })?.los).toBe('B');
    expect(trafficLos({ avgSpeed: 30.61, vehicleCount: 10 }, { freeFlowSpeed: 36 })?.los).toBe('A');
  });

  it('every exact boundary of every band grades one grade down, on many roads', () => {
    // speed = bound × free-flow speed, written as the decimal it is (e.g. 0.67 × 43 = 28.81)
    const bounds = [
      [85, 'B'],
      [67, 'C'],
      [50, 'D'],
      [40, 'E'],
      [30, 'F'],
    ] as const;
    let cases = 0;
    for (let ffs = 20; ffs <= 80; ffs++) {
      for (const [percent, los] of bounds) {
        const speed = Number(((percent * ffs) / 100).toFixed(2));
        expect(trafficLos({ avgSpeed: speed, vehicleCount: 5 }, { freeFlowSpeed: ffs })?.los, `${speed} of ${ffs}`).toBe(los);
        cases++;
      }
    }
    expect(cases).toBe(305);
  });

  it('volume exactly at capacity or at a V/C bound is not beyond it', () => {
    expect(compareRatio(30.6, 36, 0.85)).toBe(0);
    expect(compareRatio(0.1 + 0.2, 1, 0.3)).toBe(1); // 0.30000000000000004 is what was given
    expect(losFromVolume(630, 900)).toBe('C'); // 0.7 exactly
    expect(losFromVolume(1800, 1800)).toBe('E');
    expect(losFromVolume(1800.01, 1800)).toBe('F');
  });
});

describe('level of service over the last 15 minutes', () => {
  const MIN = 60_000;
  const T = Date.UTC(2026, 2, 2, 0, 0);
  const minutes = (values: Array<{ vehicleCount?: number; avgSpeed?: number; intervalSeconds?: number }>, start = T) =>
    values.map((v, i) => ({ ts: start + i * MIN, ...v }));

  it('takes the 15-minute flow rate and the space-mean speed of the window', () => {
    const window = minutes([...Array(10).fill({ vehicleCount: 20, avgSpeed: 40 }), ...Array(5).fill({ vehicleCount: 10, avgSpeed: 20 })]);
    const result = trafficWindowLos(window, T + 14 * MIN, ROAD)!;
    // 250 vehicles in 900 s = 1000/h; space-mean speed 250 / (200/40 + 50/20) = 33.33 km/h
    expect(result).toMatchObject({ flowPerHour: 1000, coveredSeconds: 900, intervals: 15, los: 'E' });
    expect(result.speedRatio).toBeCloseTo(0.3333, 4);
    // readings older than 15 minutes have left the window
    expect(trafficWindowLos(window, T + 28 * MIN, ROAD)!.intervals).toBe(1);
    expect(trafficWindowLos(window, T + 29 * MIN, ROAD)).toBeNull();
  });

  it('one minute over capacity among ordinary minutes is not F', () => {
    const window = minutes([...Array(14).fill({ vehicleCount: 25, avgSpeed: 80 }), { vehicleCount: 40, avgSpeed: 80 }]);
    expect(trafficLos(window[14]!, ROAD)?.los).toBe('F'); // 2400/h graded alone
    expect(trafficWindowLos(window, T + 14 * MIN, ROAD)?.los).toBe('B'); // 1560/h over the window
  });

  it('one interval never decides F: forced flow needs 5 minutes of counting', () => {
    const jam = { vehicleCount: 40, avgSpeed: 10 };
    expect(trafficWindowLos(minutes([jam]), T, ROAD)?.los).toBe('E');
    expect(trafficWindowLos(minutes(Array(4).fill(jam)), T + 3 * MIN, ROAD)?.los).toBe('E');
    expect(trafficWindowLos(minutes(Array(5).fill(jam)), T + 4 * MIN, ROAD)?.los).toBe('F');
    // a 15-minute counter's one reading covers the whole window
    expect(trafficWindowLos(minutes([{ ...jam, intervalSeconds: 900 }]), T, ROAD)?.los).toBe('F');
  });

  it('grades a window of readings at exactly 85 % as B', () => {
    const window = minutes(Array(15).fill({ vehicleCount: 7, avgSpeed: 30.6 }));
    expect(trafficWindowLos(window, T + 14 * MIN, { freeFlowSpeed: 36 })?.los).toBe('B');
  });

  it('Simpang Sempaja over 5 simulated weekdays: no F while the modelled road is not in forced flow', () => {
    const device = FLEET.find((d) => d.id === 'smd-traffic-02')!;
    expect(device.name).toBe('Simpang Sempaja');
    const seed = 20260302;
    const weather = new Weather({ seed, city: 'Samarinda', randomEvents: false });
    const sensor = new SimulatedSensor(device, { seed, weather: () => weather });
    const road = { ...(device.model as { lanes: number; peakLoad: number }), ...(device.thresholds as { freeFlowSpeed: number; capacity: number }) };
    const key = hashString(device.id) ^ seed;
    const start = witaTime(2026, 3, 2); // Monday 2 March 2026, 00:00 WITA
    const window: TrafficInterval[] = [];
    let perInterval = 0;
    let windowed = 0;
    let modelledCalm = 0;
    for (let i = 0; i < 5 * 24 * 60; i++) {
      const t = start + (i + 1) * MIN;
      const reading = sensor.read(t, 60);
      window.push({ ts: t, ...reading });
      while (window[0]!.ts <= t - LOS_WINDOW_MS) window.shift();
      const state = trafficState(t, road, key);
      // the model: demand within capacity and speed above half of free flow (LOS C or better by speed)
      if (state.demand > state.capacity || state.speed <= 0.5 * road.freeFlowSpeed) continue;
      modelledCalm++;
      if (trafficLos(reading, device.thresholds as object)?.los === 'F') perInterval++;
      if (trafficWindowLos(window, t, device.thresholds as object)?.los === 'F') windowed++;
    }
    console.log(`Simpang Sempaja, 5 weekdays (${modelledCalm} calm minutes): F-minutes graded per 60-s interval ${perInterval}, over 15 minutes ${windowed}`);
    expect(modelledCalm).toBeGreaterThan(6000);
    expect(perInterval).toBeGreaterThan(0); // the noise that made the old grading cry wolf is really there
    expect(windowed).toBe(0);
  });
});
