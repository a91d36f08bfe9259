// Configuration from the environment (SPEC §1), each variable overridable by a CLI flag: PANTAU_HTTP_PORT ←
// --http-port. A bad value stops start-up with one line naming the variable and the problem.
import { accessSync, constants, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';

export interface Config {
  mqttPort: number;
  mqttWsPort: number | undefined;
  mqttTlsPort: number;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  httpPort: number;
  host: string;
  influxUrl: string;
  influxDb: string;
  influxToken: string | undefined;
  influxUsername: string | undefined;
  influxPassword: string | undefined;
  dataDir: string;
  adminKey: string | undefined;
  deviceRateLimit: number;
  apiRateLimit: number;
  brokerUrl: string | undefined;
  logLevel: string;
  spoolMaxBytes: number;
  /** Issue 10: free space the spool leaves to the registry and checkpoints; undefined = 5 % of the file system (≤ 256 MiB). */
  spoolDiskReserveBytes: number | undefined;
  maxReadingAgeMs: number;
  webhookUrl: string | undefined;
  webhookSecret: string | undefined;
  fleetFile: string | undefined;
  corsOrigins: string[];
  shutdownTimeoutMs: number;
  mqttMaxPacketBytes: number;
  mqttMaxConnectionsPerIp: number;
  workerId: string;
  /** Benchmark baseline only: acknowledge before the spool fsync (no durability). Never in production. */
  unsafeAckBeforeDurable: boolean;
  alertTickMs: number;
  authFailuresPerMinute: number;
  brokerUsername: string | undefined;
  brokerPassword: string | undefined;
  brokerAuthSecret: string | undefined;
  // issue 15 (cluster): shared registry and node roles
  /** postgres://… : devices, keys, audit and alerts in PostgreSQL, shared by every node; unset: SQLite in dataDir. */
  registryUrl: string | undefined;
  /** all (default) | ingest (no API but health and metrics) | api (no ingest). */
  role: 'all' | 'ingest' | 'api';
  mqttMaxKeepaliveSeconds: number;
  sseHeartbeatMs: number;
}

export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** `--http-port 9000` / `--http-port=9000` → PANTAU_HTTP_PORT=9000. */
export function flagsToEnv(argv: string[]): Env {
  const env: Env = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(arg, 'unexpected argument (flags look like --http-port 8080)');
    const [flag, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const name = `PANTAU_${flag.toUpperCase().replace(/-/g, '_')}`;
    if (!KNOWN.has(name)) throw new ConfigError(`--${flag}`, `unknown flag; known: ${[...KNOWN].map(toFlag).join(' ')}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new ConfigError(`--${flag}`, 'needs a value');
    env[name] = value;
  }
  return env;
}

const toFlag = (name: string) => `--${name.slice('PANTAU_'.length).toLowerCase().replace(/_/g, '-')}`;

const KNOWN = new Set([
  'PANTAU_MQTT_PORT', 'PANTAU_MQTT_WS_PORT', 'PANTAU_MQTT_TLS_PORT', 'PANTAU_TLS_CERT', 'PANTAU_TLS_KEY',
  'PANTAU_HTTP_PORT', 'PANTAU_HOST', 'PANTAU_INFLUX_URL', 'PANTAU_INFLUX_DB', 'PANTAU_INFLUX_TOKEN',
  'PANTAU_INFLUX_USERNAME', 'PANTAU_INFLUX_PASSWORD', 'PANTAU_DATA_DIR', 'PANTAU_ADMIN_KEY',
  'PANTAU_DEVICE_RATE_LIMIT', 'PANTAU_API_RATE_LIMIT', 'PANTAU_BROKER_URL', 'PANTAU_LOG_LEVEL',
  'PANTAU_SPOOL_MAX_BYTES', 'PANTAU_SPOOL_DISK_RESERVE', 'PANTAU_MAX_READING_AGE', 'PANTAU_WEBHOOK_URL', 'PANTAU_WEBHOOK_SECRET',
  'PANTAU_FLEET_FILE', 'PANTAU_CORS_ORIGINS', 'PANTAU_SHUTDOWN_TIMEOUT', 'PANTAU_MQTT_MAX_PACKET_BYTES',
  'PANTAU_MQTT_MAX_CONNECTIONS_PER_IP', 'PANTAU_WORKER_ID', 'PANTAU_UNSAFE_ACK_BEFORE_DURABLE',
  'PANTAU_ALERT_TICK', 'PANTAU_SSE_HEARTBEAT', 'PANTAU_MQTT_MAX_KEEPALIVE', 'PANTAU_AUTH_FAILURES_PER_MINUTE',
  'PANTAU_BROKER_USERNAME', 'PANTAU_BROKER_PASSWORD', 'PANTAU_BROKER_AUTH_SECRET',
]);

export function loadConfig(env: Env = process.env, argv: string[] = []): Config {
  const e: Env = { ...env, ...flagsToEnv(argv) };
  const str = (name: string) => {
    const v = e[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const port = (name: string, fallback: number | undefined) => {
    const v = str(name);
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v) || Number(v) > 65535) throw new ConfigError(name, `must be a port number 0–65535, got "${v.slice(0, 40)}"`);
    return Number(v);
  };
  const count = (name: string, fallback: number) => {
    const v = str(name);
    if (v === undefined) return fallback;
    if (!/^\d+(\.\d+)?$/.test(v)) throw new ConfigError(name, `must be a non-negative number, got "${v.slice(0, 40)}"`);
    return Number(v);
  };
  const url = (name: string, protocols: string[], fallback?: string) => {
    const v = str(name) ?? fallback;
    if (v === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(v);
    } catch {
      throw new ConfigError(name, `must be a URL like ${protocols[0]}//host:port, got "${v.slice(0, 80)}"`);
    }
    if (!protocols.includes(parsed.protocol)) throw new ConfigError(name, `must use ${protocols.join(' or ')}, got "${parsed.protocol}"`);
    return v;
  };
  const file = (name: string) => {
    const v = str(name);
    if (v === undefined) return undefined;
    try {
      accessSync(v, constants.R_OK);
    } catch {
      throw new ConfigError(name, `cannot read file "${v}"`);
    }
    return v;
  };

  const tlsCert = file('PANTAU_TLS_CERT');
  const tlsKey = file('PANTAU_TLS_KEY');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError(tlsCert ? 'PANTAU_TLS_KEY' : 'PANTAU_TLS_CERT', 'PANTAU_TLS_CERT and PANTAU_TLS_KEY must be set together');
  }
  if (tlsCert && tlsKey) {
    for (const [name, path, marker] of [['PANTAU_TLS_CERT', tlsCert, 'CERTIFICATE'], ['PANTAU_TLS_KEY', tlsKey, 'PRIVATE KEY']] as const) {
      if (!readFileSync(path, 'utf8').includes(marker)) throw new ConfigError(name, `"${path}" is not a PEM ${marker.toLowerCase()}`);
    }
  }
  const influxDb = str('PANTAU_INFLUX_DB') ?? 'pantau';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(influxDb)) throw new ConfigError('PANTAU_INFLUX_DB', 'must be 1–64 letters, digits, _ or -');
  const logLevel = str('PANTAU_LOG_LEVEL') ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError('PANTAU_LOG_LEVEL', `must be one of fatal error warn info debug trace silent, got "${logLevel.slice(0, 20)}"`);
  }
  const adminKey = str('PANTAU_ADMIN_KEY');
  if (adminKey !== undefined && (adminKey.length < 16 || adminKey.length > 256 || /\s/.test(adminKey))) {
    throw new ConfigError('PANTAU_ADMIN_KEY', 'must be 16–256 characters without spaces');
  }
  const host = str('PANTAU_HOST') ?? '0.0.0.0';
  if (!/^[A-Za-z0-9.:-]+$/.test(host)) throw new ConfigError('PANTAU_HOST', `not a bind address: "${host.slice(0, 40)}"`);
  const webhookUrl = url('PANTAU_WEBHOOK_URL', ['http:', 'https:']);
  const webhookSecret = str('PANTAU_WEBHOOK_SECRET');
  if (webhookUrl && !webhookSecret) throw new ConfigError('PANTAU_WEBHOOK_SECRET', 'must be set when PANTAU_WEBHOOK_URL is (it signs the webhook body)');
  const brokerUrl = url('PANTAU_BROKER_URL', ['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'ws:', 'wss:']);
  const workerId = str('PANTAU_WORKER_ID');
  if (workerId !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(workerId)) throw new ConfigError('PANTAU_WORKER_ID', 'must be 1–64 letters, digits, _ or -');
  if (brokerUrl && workerId === undefined) {
    // the broker keeps a worker's unacknowledged messages in a session named after it: the id must survive restarts
    throw new ConfigError('PANTAU_WORKER_ID', 'must be set (a stable id such as w1) when PANTAU_BROKER_URL is');
  }
  const brokerAuthSecret = str('PANTAU_BROKER_AUTH_SECRET');
  if (brokerAuthSecret !== undefined && (brokerAuthSecret.length < 16 || /\s/.test(brokerAuthSecret))) {
    throw new ConfigError('PANTAU_BROKER_AUTH_SECRET', 'must be at least 16 characters without spaces');
  }

  // issue 15 (cluster): shared registry and node roles
  const registryUrl = url('PANTAU_REGISTRY_URL', ['postgres:', 'postgresql:']);
  const role = str('PANTAU_ROLE') ?? 'all';
  if (role !== 'all' && role !== 'ingest' && role !== 'api') throw new ConfigError('PANTAU_ROLE', `must be all, ingest or api, got "${role.slice(0, 20)}"`);

  return {
    registryUrl,
    role,
    mqttPort: port('PANTAU_MQTT_PORT', 1883)!,
    mqttWsPort: port('PANTAU_MQTT_WS_PORT', undefined),
    mqttTlsPort: port('PANTAU_MQTT_TLS_PORT', 8883)!,
    tlsCert,
    tlsKey,
    httpPort: port('PANTAU_HTTP_PORT', 8080)!,
    host,
    influxUrl: url('PANTAU_INFLUX_URL', ['http:', 'https:'], 'http://127.0.0.1:8086')!,
    influxDb,
    influxToken: str('PANTAU_INFLUX_TOKEN'),
    influxUsername: str('PANTAU_INFLUX_USERNAME'),
    influxPassword: str('PANTAU_INFLUX_PASSWORD'),
    dataDir: resolve(str('PANTAU_DATA_DIR') ?? './data'),
    adminKey,
    deviceRateLimit: count('PANTAU_DEVICE_RATE_LIMIT', 100),
    apiRateLimit: count('PANTAU_API_RATE_LIMIT', 6000),
    brokerUrl,
    brokerUsername: str('PANTAU_BROKER_USERNAME'),
    brokerPassword: str('PANTAU_BROKER_PASSWORD'),
    brokerAuthSecret,
    logLevel,
    spoolMaxBytes: bytes('PANTAU_SPOOL_MAX_BYTES', str('PANTAU_SPOOL_MAX_BYTES'), 1024 ** 3),
    spoolDiskReserveBytes: str('PANTAU_SPOOL_DISK_RESERVE') === '0' ? 0 : str('PANTAU_SPOOL_DISK_RESERVE') === undefined ? undefined : bytes('PANTAU_SPOOL_DISK_RESERVE', str('PANTAU_SPOOL_DISK_RESERVE'), 0),
    maxReadingAgeMs: duration('PANTAU_MAX_READING_AGE', str('PANTAU_MAX_READING_AGE'), 7 * 86_400_000),
    webhookUrl,
    webhookSecret,
    fleetFile: file('PANTAU_FLEET_FILE'),
    corsOrigins: (str('PANTAU_CORS_ORIGINS') ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    shutdownTimeoutMs: duration('PANTAU_SHUTDOWN_TIMEOUT', str('PANTAU_SHUTDOWN_TIMEOUT'), 10_000),
    mqttMaxPacketBytes: bytes('PANTAU_MQTT_MAX_PACKET_BYTES', str('PANTAU_MQTT_MAX_PACKET_BYTES'), 1024 * 1024),
    mqttMaxConnectionsPerIp: count('PANTAU_MQTT_MAX_CONNECTIONS_PER_IP', 0),
    workerId: workerId ?? `${hostname()}-${process.pid}`,
    unsafeAckBeforeDurable: str('PANTAU_UNSAFE_ACK_BEFORE_DURABLE') === '1',
    mqttMaxKeepaliveSeconds: Math.round(duration('PANTAU_MQTT_MAX_KEEPALIVE', str('PANTAU_MQTT_MAX_KEEPALIVE'), 3_600_000) / 1000),
    authFailuresPerMinute: count('PANTAU_AUTH_FAILURES_PER_MINUTE', 60),
    alertTickMs: duration('PANTAU_ALERT_TICK', str('PANTAU_ALERT_TICK'), 5_000),
    sseHeartbeatMs: duration('PANTAU_SSE_HEARTBEAT', str('PANTAU_SSE_HEARTBEAT'), 15_000),
  };
}

function bytes(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?$/i.exec(v);
  if (!m) throw new ConfigError(name, `must be a size like 512MB or 2GiB, got "${v.slice(0, 40)}"`);
  const unit = (m[2] ?? 'b').toLowerCase()[0]!;
  const n = Number(m[1]) * ({ b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[unit]!;
  if (n < 1024) throw new ConfigError(name, 'must be at least 1 KiB');
  return Math.floor(n);
}

function duration(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(v);
  if (!m) throw new ConfigError(name, `must be a duration like 30s, 10m or 7d, got "${v.slice(0, 40)}"`);
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as Record<string, number>)[m[2] ?? 'ms']!;
}
