// Messages between the main thread and the InfluxDB writer's thread.
import type { InfluxOptions } from '../influx/client.js';
import type { SegmentBounds } from './log-format.js';

export interface WriterWorkerData {
  dir: string;
  from: number;
  segments: SegmentBounds[];
  durableEnd: number;
  influx: InfluxOptions;
  batchBytes?: number;
  concurrency?: number;
  lingerMs?: number;
}

export type ToWorker =
  | { type: 'bounds'; segments: SegmentBounds[]; durableEnd: number }
  | { type: 'stop'; timeoutMs: number };

export type FromWorker =
  | { type: 'commit'; end: number }
  | { type: 'refused'; line: string; reason: string }
  | { type: 'written'; lines: number; seconds: number }
  | { type: 'state'; up: boolean; lastError: string | null }
  | { type: 'corrupt' }
  | { type: 'log'; level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'; obj: Record<string, unknown>; msg: string }
  | { type: 'stopped' };
