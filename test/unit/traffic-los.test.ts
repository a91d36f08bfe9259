import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CAPACITY,
  DEFAULT_FREE_FLOW_SPEED,
  trafficLos,
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
