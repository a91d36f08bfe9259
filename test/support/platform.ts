// A real Pantau platform for a test: real broker on a free port, real API, real InfluxDB database of its own,
// its own data dir. Plus the helpers tests use to act as an admin, a device and an operator would.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import { inject } from 'vitest';
import type { Kind } from '../../catalog/index.js';
import { loadConfig } from '../../platform/config.js';
import { startPlatform, type Platform, type PlatformHooks } from '../../platform/platform.js';
import { createLogger } from '../../platform/logger.js';
import { influxQuery } from './influxd.js';

export const ADMIN_KEY = 'test-admin-key-0123456789';

export interface TestPlatform {
  platform: Platform;
  db: string;
  dataDir: string;
  influxUrl: string;
  api<T = any>(method: string, path: string, options?: { body?: unknown; key?: string | null; headers?: Record<string, string> }): Promise<{ status: number; body: T; headers: Headers; text: string }>;
  register(kind: Kind, id?: string, extra?: Record<string, unknown>): Promise<{ id: string; token: string; kind: Kind }>;
  connect(id: string, token: string, options?: IClientOptions): Promise<MqttClient>;
  query(q: string, params?: Record<string, unknown>): ReturnType<typeof influxQuery>;
  /** Wait until the spool is drained into InfluxDB. */
  drained(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const DEFAULT_LOCATION = { lat: -0.49, lon: 117.15 };

/**
 * `hooks`: the platform's (PlatformHooks); `logger` instead of one built from PANTAU_LOG_LEVEL (a test that reads
 * what Pantau logs brings its own).
 */
export async function startTestPlatform(env: Record<string, string> = {}, hooks: PlatformHooks = {}): Promise<TestPlatform> {
  const influxUrl = inject('influxUrl');
  const db = `t_${randomBytes(5).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'pantau-test-'));
  const config = loadConfig({
    PANTAU_INFLUX_URL: influxUrl,
    PANTAU_INFLUX_DB: db,
    PANTAU_DATA_DIR: dataDir,
    PANTAU_HTTP_PORT: '0',
    PANTAU_MQTT_PORT: '0',
    PANTAU_HOST: '127.0.0.1',
    PANTAU_ADMIN_KEY: ADMIN_KEY,
    PANTAU_LOG_LEVEL: process.env.PANTAU_TEST_LOG_LEVEL ?? 'silent',
    ...env,
  });
  const platform = await startPlatform(config, { ...hooks, logger: hooks.logger ?? createLogger(config.logLevel) });
  const clients: MqttClient[] = [];
  let seq = 0;

  const tp: TestPlatform = {
    platform,
    db,
    dataDir,
    influxUrl,
    async api(method, path, options = {}) {
      const key = options.key === undefined ? ADMIN_KEY : options.key;
      const headers: Record<string, string> = { ...(options.headers ?? {}) };
      if (key !== null) headers.authorization = `Bearer ${key}`;
      let body: string | undefined;
      if (options.body !== undefined) {
        headers['content-type'] = 'application/json';
        body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      }
      const res = await fetch(`${platform.httpUrl}${path}`, { method, headers, body });
      const text = await res.text();
      let parsed: any = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // CSV and other text answers stay text
      }
      return { status: res.status, body: parsed, headers: res.headers, text };
    },
    async register(kind, id, extra = {}) {
      const deviceId = id ?? `${kind}-${randomBytes(3).toString('hex')}-${seq++}`;
      const res = await tp.api('POST', '/api/v1/devices', {
        body: { id: deviceId, kind, name: `Test ${deviceId}`, city: 'Samarinda', district: 'Samarinda Ulu', location: DEFAULT_LOCATION, ...extra },
      });
      if (res.status !== 201) throw new Error(`register ${deviceId}: ${res.status} ${res.text}`);
      return { id: deviceId, token: res.body.token, kind };
    },
    async connect(id, token, options = {}) {
      const client = await mqtt.connectAsync(platform.mqttUrl!, {
        username: id,
        password: token,
        clientId: `${id}-${seq++}`,
        reconnectPeriod: 0,
        connectTimeout: 5000,
        ...options,
      });
      clients.push(client);
      return client;
    },
    query(q, params) {
      return influxQuery(influxUrl, db, q, params);
    },
    async drained(timeoutMs = 15_000) {
      // derived points (alerts, indices) linger briefly before they are appended: append them now
      await platform.ingest.flushDerived();
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (platform.spool.pendingBytes === 0) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`spool not drained within ${timeoutMs} ms (${platform.spool.pendingBytes} bytes left)`);
    },
    async stop() {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
      await platform.stop();
      await influxQuery(influxUrl, db, `DROP DATABASE "${db}"`).catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return tp;
}

/** Poll until `fn` returns a truthy value (or throw with the last value after `timeoutMs`). */
export async function eventually<T>(fn: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last as NonNullable<T>;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms; last value ${JSON.stringify(last)} ${lastErr ? String(lastErr) : ''}`);
}

/** Messages arriving on a client's subscription, collected for assertions. */
export function collect(client: MqttClient, topic: string): Array<{ topic: string; payload: any }> {
  const got: Array<{ topic: string; payload: any }> = [];
  client.on('message', (t, payload) => {
    if (t !== topic) return;
    let value: any = payload.toString();
    try {
      value = JSON.parse(value);
    } catch {
      // keep text
    }
    got.push({ topic: t, payload: value });
  });
  return got;
}
