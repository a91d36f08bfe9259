// The shape of a scenario's figures, as printed and as written to bench/results/latest.json.
import type { Percentiles } from './histogram.js';
import type { ProfileSummary } from './cpu-profile.js';

export interface Target {
  name: string;
  goal: string;
  value: string;
  pass: boolean;
}

export interface IngestFigures {
  devices: number;
  durationS: number;
  /** Readings published per second (offered load). */
  offeredPerS: number;
  /** Readings whose message got its PUBACK during the run, per second. */
  ackedPerS: number;
  /** Readings counted in InfluxDB, per second from the start of the run until the last one was stored. */
  storedPerS: number;
  /** Totals below include the warm-up, so the loss check covers every reading sent. */
  published: number;
  acked: number;
  stored: number;
  /** Acknowledged readings not found in InfluxDB (must be 0). */
  lost: number;
  /** Published, not acknowledged (in flight at the end or failed). */
  unacked: number;
  /** Open-loop publishes skipped because a client had its window full. */
  skipped: number;
  rejected: number;
  disconnects: number;
  /** Seconds from the end of the run until the last reading was stored (spool drain). */
  drainS: number;
  ackLatencyMs: Percentiles;
}

export interface ScenarioResult {
  scenario: string;
  title: string;
  startedAt: string;
  cpuProfiled: boolean;
  config: Record<string, unknown>;
  ingest?: IngestFigures;
  /** Publish → queryable latency. */
  queryableLatencyMs?: Percentiles & { missing: number; samples: number };
  extra?: Record<string, unknown>;
  /** Cores used per process group over the measured window (2 cores on the reference machine). */
  cpuCores: Record<string, number>;
  rssMiB: Record<string, number>;
  targets: Target[];
  notes: string[];
  profile?: Omit<ProfileSummary, 'byArea'> & { byArea: ProfileSummary['byArea'] };
  phases?: ScenarioResult[];
}
