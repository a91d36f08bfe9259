// The newest reading of each device, kept in memory as ingest accepts them, so `latest` answers without a
// query and before InfluxDB has the point. After a restart the first request falls back to InfluxDB.
import type { Kind } from '../catalog/index.js';

export interface LatestReading {
  deviceId: string;
  kind: Kind;
  ts: number;
  values: Record<string, number>;
}

export class LatestReadings {
  private readonly byDevice = new Map<string, LatestReading>();

  update(reading: LatestReading): void {
    const current = this.byDevice.get(reading.deviceId);
    if (!current || reading.ts >= current.ts) this.byDevice.set(reading.deviceId, reading);
  }

  get(deviceId: string): LatestReading | undefined {
    return this.byDevice.get(deviceId);
  }

  forget(deviceId: string): void {
    this.byDevice.delete(deviceId);
  }
}
