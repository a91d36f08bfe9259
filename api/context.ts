// What the API plugins are given by the platform. The API reads; it never imports the broker or ingest.
import type { Logger } from 'pino';
import type { Counter, Registry as MetricsRegistry } from 'prom-client';
import type { InfluxClient } from '../influx/client.js';
import type { Registry } from '../registry/registry.js';
import type { HistorySettings } from '../history/source.js';
import type { IndicesTracker } from './indices.js';
import type { LatestReadings } from './latest-cache.js';

export interface Readiness {
  /** Name → usable? `/readyz` answers 503 naming each false one. */
  checks(): Promise<Record<string, { ok: boolean; detail?: string }>>;
}

/** The metrics the API counts into and serves at `/metrics`; the platform's (platform/metrics.ts) have these and more. */
export interface ApiMetrics {
  registry: MetricsRegistry;
  authFailures: Counter;
  aclDenials: Counter<'action'>;
}

export interface ApiContext {
  registry: Registry;
  influx: InfluxClient;
  metrics: ApiMetrics;
  log: Logger;
  latest: LatestReadings;
  /** ISPU, flood level and LOS, the same figures everywhere (api/indices.ts). */
  indices: IndicesTracker;
  readiness: Readiness;
  apiRateLimit: number;
  corsOrigins: string[];
  /** Retention and rollups (issue 14): where the readings API finds history. */
  history?: HistorySettings;
  /** Extra fields for `/readyz` (spool depth, InfluxDB state). */
  status?: () => Record<string, unknown>;
}
