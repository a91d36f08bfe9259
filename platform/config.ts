// Configuration from the environment, each variable overridable by a CLI flag: PANTAU_HTTP_PORT ← --http-port.
// One zod schema (`configSchema`) reads the variables, checks them and shapes them into `Config`, whose type is
// inferred from it. A bad value stops start-up with one line naming the variable and the problem. The README's
// configuration table lists exactly the variables of `configShape` (test/config.test.ts checks it).
import { accessSync, constants, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { MapTilesSource } from '../api/console-map.js';
import { parseOidcMapping, type OidcSettings } from '../api/oidc-mapping.js';

export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

// ── Variable types ──
// Each is a zod schema from the raw environment string (blank = unset) to its value; a parser throws `Invalid`
// with the problem, which becomes the one-line error naming the variable.

class Invalid extends Error {}

/** A variable read by `parse`; unset (or blank) gives `fallback`. */
function variable<T>(parse: (value: string) => T): z.ZodType<T | undefined, string | undefined>;
function variable<T>(parse: (value: string) => T, fallback: T): z.ZodType<T, string | undefined>;
function variable<T>(parse: (value: string) => T, fallback?: T): z.ZodType<T | undefined, string | undefined> {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const value = raw?.trim();
      if (value === undefined || value === '') return fallback;
      try {
        return parse(value);
      } catch (err) {
        if (!(err instanceof Invalid)) throw err;
        ctx.addIssue({ code: 'custom', message: err.message });
        return z.NEVER;
      }
    });
}

const quote = (v: string, max = 40) => `"${v.slice(0, max)}"`;
const text = (v: string) => v;

function port(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new Invalid(`must be a port number 0–65535, got ${quote(v)}`);
  return Number(v);
}

function count(v: string): number {
  if (!/^\d+(\.\d+)?$/.test(v)) throw new Invalid(`must be a non-negative number, got ${quote(v)}`);
  return Number(v);
}

const url = (protocols: string[]) => (v: string): string => {
  let parsed: URL;
  try {
    parsed = new URL(v);
  } catch {
    // an unparsable URL may still carry a user and password or a token: the error (printed, logged) shows neither
    throw new Invalid(`must be a URL like ${protocols[0]}//host:port, got ${quote(v.replace(/\/\/[^/]*@/, '//…@').replace(/\?.*$/s, '?…'), 80)}`);
  }
  if (!protocols.includes(parsed.protocol)) throw new Invalid(`must use ${protocols.join(' or ')}, got "${parsed.protocol}"`);
  return v;
};

/** A readable file; with `marker`, a PEM file holding that block. */
const file = (marker?: string) => (v: string): string => {
  try {
    accessSync(v, constants.R_OK);
  } catch {
    throw new Invalid(`cannot read file "${v}"`);
  }
  if (marker && !readFileSync(v, 'utf8').includes(marker)) throw new Invalid(`"${v}" is not a PEM ${marker.toLowerCase()}`);
  return v;
};

const pattern = (re: RegExp, problem: string) => (v: string): string => {
  if (!re.test(v)) throw new Invalid(problem);
  return v;
};

function bytes(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?$/i.exec(v);
  if (!m) throw new Invalid(`must be a size like 512MB or 2GiB, got ${quote(v)}`);
  const unit = (m[2] ?? 'b').toLowerCase()[0]!;
  const n = Number(m[1]) * ({ b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[unit]!;
  if (n < 1024) throw new Invalid('must be at least 1 KiB');
  return Math.floor(n);
}

/** A duration in milliseconds: `30s`, `10m`, `7d`; a bare number is milliseconds. */
function duration(v: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(v);
  if (!m) throw new Invalid(`must be a duration like 30s, 10m or 7d, got ${quote(v)}`);
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as Record<string, number>)[m[2] ?? 'ms']!;
}

/** A retention: `inf` (or 0) = forever (null), else a whole number of hours, at least 1h (InfluxDB's shortest). */
function retention(v: string): number | null {
  if (v === 'inf' || v === 'INF' || v === '0') return null;
  const ms = duration(v);
  if (ms < 3_600_000 || ms % 3_600_000 !== 0) throw new Invalid(`must be inf or a whole number of hours, at least 1h (InfluxDB's shortest retention), got ${quote(v)}`);
  return ms;
}

function timeZone(v: string): string {
  let valid = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+){0,2}$/.test(v);
  if (valid) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: v });
    } catch {
      valid = false;
    }
  }
  if (!valid) throw new Invalid(`must be an IANA time zone such as Asia/Makassar, got ${quote(v)}`);
  return v;
}

/** PANTAU_OIDC_MAPPING: JSON, claim value → {"role","scope"} (api/oidc-mapping.ts). */
function oidcMapping(v: string): ReturnType<typeof parseOidcMapping> {
  try {
    return parseOidcMapping(v);
  } catch (err) {
    throw new Invalid((err as Error).message);
  }
}

/** PANTAU_WORKER_LEASE: how long a node's heartbeat holds its lease (docs/scale-out.md), 3 s – 10 min. */
function lease(v: string): number {
  const ms = duration(v);
  if (ms < 3000 || ms > 600_000) throw new Invalid('must be between 3s and 10m');
  return ms;
}

function rollupDelay(v: string): number {
  const ms = duration(v);
  if (ms < 1000 || ms > 86_400_000) throw new Invalid('must be between 1s and 1d');
  return ms;
}

/** `true`, `false`, or a comma-separated list of proxy addresses or CIDR ranges. */
function mapTiles(v: string): MapTilesSource {
  if (/^https?:\/\//i.test(v)) {
    url(['https:', 'http:'])(v.replace(/\{[zxy]\}/g, '0'));
    if (!/\{z\}/.test(v) || !/\{x\}/.test(v) || !/\{y\}/.test(v)) throw new Invalid(`an XYZ URL must hold {z}, {x} and {y}, like https://tiles.example/{z}/{x}/{y}.png; got ${quote(v.replace(/\?.*$/s, '?…'), 80)}`);
    return { type: 'xyz', url: v };
  }
  if (!/\.pmtiles$/i.test(v)) throw new Invalid(`must be an XYZ URL (https://…/{z}/{x}/{y}.png) or a local .pmtiles file, got ${quote(v, 80)}`);
  return { type: 'pmtiles', path: resolve(file()(v)) };
}

function flag(v: string): boolean {
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new Invalid(`must be true or false, got ${quote(v)}`);
}

function trustProxy(v: string): boolean | string[] {
  if (v === 'true') return true;
  if (v === 'false') return false;
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = list.find((a) => !/^[0-9A-Fa-f.:]+(\/\d{1,3})?$/.test(a));
  if (list.length === 0 || bad !== undefined) throw new Invalid(`must be true, false or a comma-separated list of proxy addresses (10.0.0.1, 10.0.0.0/8), got ${quote(bad ?? v)}`);
  return list;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The host name as a worker id: container orchestrators give each replica a stable one. */
export function defaultWorkerId(host = hostname()): string {
  const id = host.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64);
  return id === '' ? 'pantau' : id;
}

// ── The variables ──
// Names are the environment variables; flags are derived from them (PANTAU_HTTP_PORT ← --http-port). Adding one:
// a line here, its field in the `transform` below, and a row in the README's configuration table.

export const configShape = {
  PANTAU_MQTT_PORT: variable(port, 1883),
  PANTAU_MQTT_WS_PORT: variable(port),
  PANTAU_MQTT_TLS_PORT: variable(port, 8883),
  PANTAU_TLS_CERT: variable(file('CERTIFICATE')),
  PANTAU_TLS_KEY: variable(file('PRIVATE KEY')),
  PANTAU_HTTP_PORT: variable(port, 8080),
  PANTAU_HOST: variable((v) => pattern(/^[A-Za-z0-9.:-]+$/, `not a bind address: ${quote(v)}`)(v), '0.0.0.0'),
  PANTAU_INFLUX_URL: variable(url(['http:', 'https:']), 'http://127.0.0.1:8086'),
  PANTAU_INFLUX_DB: variable(pattern(ID, 'must be 1–64 letters, digits, _ or -'), 'pantau'),
  PANTAU_INFLUX_TOKEN: variable(text),
  PANTAU_INFLUX_USERNAME: variable(text),
  PANTAU_INFLUX_PASSWORD: variable(text),
  PANTAU_DATA_DIR: variable(text, './data'),
  PANTAU_ADMIN_KEY: variable(pattern(/^\S{16,256}$/, 'must be 16–256 characters without spaces')),
  PANTAU_DEVICE_RATE_LIMIT: variable(count, 100),
  /** Messages taken but not yet durable; past it a message waits, undecoded, its PUBACK withheld. */
  PANTAU_INGEST_MAX_IN_FLIGHT: variable((v) => Number(pattern(/^[1-9]\d{0,6}$/, `must be a whole number 1–9999999, got ${quote(v, 20)}`)(v)), 10_000),
  PANTAU_API_RATE_LIMIT: variable(count, 6000),
  PANTAU_PUBLIC_RATE_LIMIT: variable(count, 600),
  PANTAU_BROKER_URL: variable(url(['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'ws:', 'wss:'])),
  PANTAU_BROKER_USERNAME: variable(text),
  PANTAU_BROKER_PASSWORD: variable(text),
  PANTAU_BROKER_AUTH_SECRET: variable(pattern(/^\S{16,}$/, 'must be at least 16 characters without spaces')),
  /** How Pantau ends live sessions at the external broker when a credential is revoked: none | emqx | mosquitto-dynsec. */
  PANTAU_BROKER_ADMIN: variable((v) => pattern(/^(none|emqx|mosquitto-dynsec)$/, `must be none, emqx or mosquitto-dynsec, got ${quote(v, 20)}`)(v) as 'none' | 'emqx' | 'mosquitto-dynsec', 'none'),
  /** EMQX: its REST API (http://emqx:18083/api/v5); Mosquitto: the broker (default PANTAU_BROKER_URL). */
  PANTAU_BROKER_ADMIN_URL: variable(url(['http:', 'https:', 'mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'ws:', 'wss:'])),
  PANTAU_BROKER_ADMIN_KEY: variable(text),
  PANTAU_BROKER_ADMIN_SECRET: variable(text),
  PANTAU_BROKER_ADMIN_USERNAME: variable(text),
  PANTAU_BROKER_ADMIN_PASSWORD: variable(text),
  PANTAU_WORKER_ID: variable(pattern(ID, 'must be 1–64 letters, digits, _ or -'), defaultWorkerId()),
  /** A cluster node's lease: renewed by its heartbeat (a third of it); not renewed for this long = not alive. */
  PANTAU_WORKER_LEASE: variable(lease, 15_000),
  /** When a QoS 1/2 message is acknowledged: once in this node's spool (default) or once in InfluxDB (docs/scale-out.md). */
  PANTAU_ACK_AFTER: variable((v) => pattern(/^(spool|store)$/, `must be spool or store, got ${quote(v, 20)}`)(v) as 'spool' | 'store', 'spool'),
  /** Issue 15: postgres://… shares devices, keys, audit and alerts between the nodes of a cluster; unset = SQLite. */
  PANTAU_REGISTRY_URL: variable(url(['postgres:', 'postgresql:'])),
  /** Issue 15: all | ingest (no API but health and metrics) | api (no ingest). */
  PANTAU_ROLE: variable((v) => pattern(/^(all|ingest|api)$/, `must be all, ingest or api, got ${quote(v, 20)}`)(v) as 'all' | 'ingest' | 'api', 'all'),
  PANTAU_LOG_LEVEL: variable((v) => pattern(new RegExp(`^(${LOG_LEVELS.join('|')})$`), `must be one of ${LOG_LEVELS.join(' ')}, got ${quote(v, 20)}`)(v), 'info'),
  PANTAU_SPOOL_MAX_BYTES: variable(bytes, 1024 ** 3),
  /** Issue 10: free space the spool leaves to the registry and checkpoints; unset = 5 % of the file system (≤ 256 MiB). */
  PANTAU_SPOOL_DISK_RESERVE: variable((v) => (v === '0' ? 0 : bytes(v))),
  /** Issue 23: a durable log consumer (alert feed, rollups) further behind than this is detached (docs/consumers.md). */
  PANTAU_CONSUMER_MAX_LAG: variable(bytes, 512 * 1024 ** 2),
  PANTAU_MAX_READING_AGE: variable(duration, 7 * 86_400_000),
  PANTAU_SHUTDOWN_TIMEOUT: variable(duration, 10_000),
  PANTAU_WEBHOOK_URL: variable(url(['http:', 'https:'])),
  PANTAU_WEBHOOK_SECRET: variable(text),
  PANTAU_FLEET_FILE: variable(file()),
  PANTAU_CORS_ORIGINS: variable((v) => v.split(',').map((s) => s.trim()).filter(Boolean), []),
  PANTAU_MQTT_MAX_PACKET_BYTES: variable(bytes, 1024 * 1024),
  PANTAU_MQTT_MAX_CONNECTIONS_PER_IP: variable(count, 0),
  PANTAU_MQTT_MAX_KEEPALIVE: variable(duration, 3_600_000),
  PANTAU_AUTH_FAILURES_PER_MINUTE: variable(count, 60),
  PANTAU_ALERT_TICK: variable(duration, 5_000),
  PANTAU_SSE_HEARTBEAT: variable(duration, 15_000),
  /** Issue 25: the console map's base layer (unset = the offline Natural Earth base only). */
  PANTAU_MAP_TILES: variable(mapTiles),
  PANTAU_MAP_TILES_ATTRIBUTION: variable(text),
  /** Absolute lifetime of a console session (issue 13; 24 h since issue 20). */
  PANTAU_SESSION_TTL: variable(duration, 24 * 3_600_000),
  /** Issue 20: a console session unused this long ends. */
  PANTAU_SESSION_IDLE: variable(duration, 8 * 3_600_000),
  /** Issue 20: how long a person's one-time password-setting link stays usable. */
  PANTAU_PASSWORD_LINK_TTL: variable(duration, 72 * 3_600_000),
  /** Issue 20: whose X-Forwarded-* headers to believe: true, false, or proxy addresses (fastify's trustProxy). */
  PANTAU_TRUST_PROXY: variable(trustProxy, false as boolean | string[]),
  /** Console single sign-on (docs/console.md): the three together turn it on. */
  PANTAU_OIDC_ISSUER: variable(url(['https:', 'http:'])),
  PANTAU_OIDC_CLIENT_ID: variable(text),
  PANTAU_OIDC_CLIENT_SECRET: variable(text),
  PANTAU_OIDC_ROLE_CLAIM: variable(pattern(/^[A-Za-z0-9_:.\/-]{1,100}$/, 'must be a claim name (letters, digits, _ : . / -)'), 'pantau_role'),
  PANTAU_OIDC_MAPPING: variable(oidcMapping),
  /** Pantau's address as browsers reach it (the single sign-on's redirect URI); unset = each request's Host. */
  PANTAU_PUBLIC_URL: variable((v) => url(['https:', 'http:'])(v).replace(/\/+$/, '')),
  /** Benchmark baseline only: acknowledge before the spool fsync (no durability). Never in production. */
  PANTAU_UNSAFE_ACK_BEFORE_DURABLE: variable((v) => v === '1', false),
  /** Bearer secrets of the LoRaWAN network-server integrations (unset = off). */
  PANTAU_CHIRPSTACK_SECRET: variable(pattern(/^\S{16,}$/, 'must be at least 16 characters without spaces')),
  PANTAU_TTN_SECRET: variable(pattern(/^\S{16,}$/, 'must be at least 16 characters without spaces')),
  /** Round 3 · 2 of 6: notification providers' base URLs (a proxy, or a local server in tests). */
  PANTAU_TELEGRAM_API_URL: variable(url(['http:', 'https:']), 'https://api.telegram.org'),
  PANTAU_WHATSAPP_API_URL: variable(url(['http:', 'https:']), 'https://graph.facebook.com/v20.0'),
  /** How long a message's acknowledgement link works. */
  PANTAU_ACK_LINK_TTL: variable(duration, 24 * 3_600_000),
  /** Messages per notification channel in 10 minutes; the rest go out as one digest when the window ends. */
  PANTAU_NOTIFY_MAX_PER_10M: variable(count, 6),
  // history (docs/history.md): retention policies, rollup delay, day boundary
  PANTAU_RAW_RETENTION: variable(retention, 90 * 86_400_000 as number | null),
  PANTAU_ROLLUP_RP: variable(pattern(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be 1–64 letters, digits or _ (not starting with a digit)'), 'pantau_rollup'),
  PANTAU_ROLLUP_RETENTION: variable(retention, null),
  PANTAU_ROLLUP_DELAY: variable(rollupDelay, 120_000),
  PANTAU_TIMEZONE: variable(timeZone, 'Asia/Makassar'),
  // CAP 1.2 messages of flood and air alerts (docs/cap.md)
  /** CAP `sender`: the same on every node of a cluster, or their identifiers differ. */
  PANTAU_CAP_SENDER: variable(pattern(/^[^\s,<&]{1,200}$/, 'must be 1–200 characters without spaces, commas, < or &'), `pantau@${hostname()}`),
  /** The CAP feed and messages without a key (public devices only); otherwise a viewer key, scoped. */
  PANTAU_CAP_PUBLIC: variable(flag, false),
  // open data (docs/opendata.md): Satu Data's produsen data and walidata, contact, licence, per-address limit
  PANTAU_OPENDATA_PRODUCER: variable((v) => pattern(/^[^\n]{1,200}$/, 'must be one line of 1–200 characters')(v), 'Pantau'),
  PANTAU_OPENDATA_PUBLISHER: variable((v) => pattern(/^[^\n]{1,200}$/, 'must be one line of 1–200 characters')(v)),
  PANTAU_OPENDATA_CONTACT: variable((v) => pattern(/^(mailto:)?[^\s@]+@[^\s@]+\.[^\s@]+$|^https?:\/\/\S+$/, 'must be an e-mail address or an http(s) URL')(v)),
  PANTAU_OPENDATA_LICENSE: variable((v) => pattern(/^[A-Za-z0-9.+-]{1,50}$/, 'must be a licence id such as CC-BY-4.0')(v), 'CC-BY-4.0'),
  PANTAU_OPENDATA_RATE_LIMIT: variable(count, 600),
};

export const configSchema = z
  .object(configShape)
  .superRefine((e, ctx) => {
    const problem = (variable: keyof typeof configShape, message: string) => ctx.addIssue({ code: 'custom', path: [variable], message });
    if ((e.PANTAU_TLS_CERT === undefined) !== (e.PANTAU_TLS_KEY === undefined)) {
      problem(e.PANTAU_TLS_CERT ? 'PANTAU_TLS_KEY' : 'PANTAU_TLS_CERT', 'PANTAU_TLS_CERT and PANTAU_TLS_KEY must be set together');
    }
    if (e.PANTAU_BROKER_ADMIN !== 'none') {
      if (!e.PANTAU_BROKER_URL) problem('PANTAU_BROKER_ADMIN', 'needs PANTAU_BROKER_URL (the embedded broker ends sessions by itself)');
      const web = e.PANTAU_BROKER_ADMIN_URL !== undefined && /^https?:/.test(e.PANTAU_BROKER_ADMIN_URL);
      if (e.PANTAU_BROKER_ADMIN === 'emqx') {
        if (!web) problem('PANTAU_BROKER_ADMIN_URL', 'must be EMQX\'s REST API, e.g. http://emqx:18083/api/v5, when PANTAU_BROKER_ADMIN=emqx');
        if (!e.PANTAU_BROKER_ADMIN_KEY || !e.PANTAU_BROKER_ADMIN_SECRET) problem('PANTAU_BROKER_ADMIN_KEY', 'PANTAU_BROKER_ADMIN_KEY and PANTAU_BROKER_ADMIN_SECRET (an EMQX API key) must be set when PANTAU_BROKER_ADMIN=emqx');
      } else {
        if (web) problem('PANTAU_BROKER_ADMIN_URL', 'must be the MQTT broker (mqtt://…) when PANTAU_BROKER_ADMIN=mosquitto-dynsec; unset = PANTAU_BROKER_URL');
        if (!e.PANTAU_BROKER_ADMIN_USERNAME || !e.PANTAU_BROKER_ADMIN_PASSWORD) problem('PANTAU_BROKER_ADMIN_USERNAME', 'PANTAU_BROKER_ADMIN_USERNAME and PANTAU_BROKER_ADMIN_PASSWORD (the dynamic security admin) must be set when PANTAU_BROKER_ADMIN=mosquitto-dynsec');
      }
    }
    if (e.PANTAU_WEBHOOK_URL && !e.PANTAU_WEBHOOK_SECRET) {
      problem('PANTAU_WEBHOOK_SECRET', 'must be set when PANTAU_WEBHOOK_URL is (it signs the webhook body)');
    }
    const oidc = ['PANTAU_OIDC_ISSUER', 'PANTAU_OIDC_CLIENT_ID', 'PANTAU_OIDC_CLIENT_SECRET', 'PANTAU_OIDC_MAPPING'] as const;
    const oidcSet = oidc.filter((v) => e[v] !== undefined);
    if (oidcSet.length > 0 && oidcSet.length < oidc.length) {
      for (const missing of oidc.filter((v) => e[v] === undefined)) {
        problem(missing, `must be set with ${oidcSet.join(', ')}: single sign-on needs ${oidc.join(', ')} together`);
      }
    }
  })
  .transform((e) => ({
    mqttPort: e.PANTAU_MQTT_PORT,
    mqttWsPort: e.PANTAU_MQTT_WS_PORT,
    mqttTlsPort: e.PANTAU_MQTT_TLS_PORT,
    tlsCert: e.PANTAU_TLS_CERT,
    tlsKey: e.PANTAU_TLS_KEY,
    httpPort: e.PANTAU_HTTP_PORT,
    host: e.PANTAU_HOST,
    influxUrl: e.PANTAU_INFLUX_URL,
    influxDb: e.PANTAU_INFLUX_DB,
    influxToken: e.PANTAU_INFLUX_TOKEN,
    influxUsername: e.PANTAU_INFLUX_USERNAME,
    influxPassword: e.PANTAU_INFLUX_PASSWORD,
    dataDir: resolve(e.PANTAU_DATA_DIR),
    adminKey: e.PANTAU_ADMIN_KEY,
    deviceRateLimit: e.PANTAU_DEVICE_RATE_LIMIT,
    ingestMaxInFlight: e.PANTAU_INGEST_MAX_IN_FLIGHT,
    apiRateLimit: e.PANTAU_API_RATE_LIMIT,
    publicRateLimit: e.PANTAU_PUBLIC_RATE_LIMIT,
    brokerUrl: e.PANTAU_BROKER_URL,
    brokerUsername: e.PANTAU_BROKER_USERNAME,
    brokerPassword: e.PANTAU_BROKER_PASSWORD,
    brokerAuthSecret: e.PANTAU_BROKER_AUTH_SECRET,
    /** How revoked credentials' live sessions are ended at the external broker (platform/broker-admin.ts). */
    brokerAdmin: e.PANTAU_BROKER_ADMIN === 'emqx'
      ? { type: 'emqx' as const, url: e.PANTAU_BROKER_ADMIN_URL!, key: e.PANTAU_BROKER_ADMIN_KEY!, secret: e.PANTAU_BROKER_ADMIN_SECRET! }
      : e.PANTAU_BROKER_ADMIN === 'mosquitto-dynsec'
        ? { type: 'mosquitto-dynsec' as const, url: e.PANTAU_BROKER_ADMIN_URL ?? e.PANTAU_BROKER_URL!, username: e.PANTAU_BROKER_ADMIN_USERNAME!, password: e.PANTAU_BROKER_ADMIN_PASSWORD! }
        : undefined,
    /** Names the ingest worker's persistent broker session: must stay the same across restarts. */
    workerId: e.PANTAU_WORKER_ID,
    workerLeaseMs: e.PANTAU_WORKER_LEASE,
    ackAfter: e.PANTAU_ACK_AFTER,
    registryUrl: e.PANTAU_REGISTRY_URL,
    role: e.PANTAU_ROLE,
    logLevel: e.PANTAU_LOG_LEVEL,
    spoolMaxBytes: e.PANTAU_SPOOL_MAX_BYTES,
    spoolDiskReserveBytes: e.PANTAU_SPOOL_DISK_RESERVE,
    consumerMaxLagBytes: e.PANTAU_CONSUMER_MAX_LAG,
    rawRetentionMs: e.PANTAU_RAW_RETENTION,
    rollupRp: e.PANTAU_ROLLUP_RP,
    rollupRetentionMs: e.PANTAU_ROLLUP_RETENTION,
    rollupDelayMs: e.PANTAU_ROLLUP_DELAY,
    /** IANA zone of the day boundary of daily aggregates and rollups. */
    timezone: e.PANTAU_TIMEZONE,
    chirpstackSecret: e.PANTAU_CHIRPSTACK_SECRET,
    ttnSecret: e.PANTAU_TTN_SECRET,
    providerUrls: { telegram: e.PANTAU_TELEGRAM_API_URL, whatsapp: e.PANTAU_WHATSAPP_API_URL },
    ackLinkTtlMs: e.PANTAU_ACK_LINK_TTL,
    notifyMaxPer10m: e.PANTAU_NOTIFY_MAX_PER_10M,
    maxReadingAgeMs: e.PANTAU_MAX_READING_AGE,
    shutdownTimeoutMs: e.PANTAU_SHUTDOWN_TIMEOUT,
    webhookUrl: e.PANTAU_WEBHOOK_URL,
    webhookSecret: e.PANTAU_WEBHOOK_SECRET,
    fleetFile: e.PANTAU_FLEET_FILE,
    corsOrigins: e.PANTAU_CORS_ORIGINS,
    mqttMaxPacketBytes: e.PANTAU_MQTT_MAX_PACKET_BYTES,
    mqttMaxConnectionsPerIp: e.PANTAU_MQTT_MAX_CONNECTIONS_PER_IP,
    mqttMaxKeepaliveSeconds: Math.round(e.PANTAU_MQTT_MAX_KEEPALIVE / 1000),
    authFailuresPerMinute: e.PANTAU_AUTH_FAILURES_PER_MINUTE,
    alertTickMs: e.PANTAU_ALERT_TICK,
    sseHeartbeatMs: e.PANTAU_SSE_HEARTBEAT,
    mapTiles: e.PANTAU_MAP_TILES ? { ...e.PANTAU_MAP_TILES, attribution: e.PANTAU_MAP_TILES_ATTRIBUTION ?? '' } : undefined,
    sessionTtlMs: e.PANTAU_SESSION_TTL,
    sessionIdleMs: e.PANTAU_SESSION_IDLE,
    passwordLinkTtlMs: e.PANTAU_PASSWORD_LINK_TTL,
    trustProxy: e.PANTAU_TRUST_PROXY,
    oidc: e.PANTAU_OIDC_ISSUER && e.PANTAU_OIDC_CLIENT_ID && e.PANTAU_OIDC_CLIENT_SECRET && e.PANTAU_OIDC_MAPPING
      ? ({
          issuer: e.PANTAU_OIDC_ISSUER,
          clientId: e.PANTAU_OIDC_CLIENT_ID,
          clientSecret: e.PANTAU_OIDC_CLIENT_SECRET,
          roleClaim: e.PANTAU_OIDC_ROLE_CLAIM,
          mapping: e.PANTAU_OIDC_MAPPING,
          publicUrl: e.PANTAU_PUBLIC_URL,
        } satisfies OidcSettings)
      : undefined,
    unsafeAckBeforeDurable: e.PANTAU_UNSAFE_ACK_BEFORE_DURABLE,
    publicUrl: e.PANTAU_PUBLIC_URL,
    cap: { sender: e.PANTAU_CAP_SENDER, public: e.PANTAU_CAP_PUBLIC },
    opendata: {
      producer: e.PANTAU_OPENDATA_PRODUCER,
      publisher: e.PANTAU_OPENDATA_PUBLISHER ?? e.PANTAU_OPENDATA_PRODUCER,
      contact: e.PANTAU_OPENDATA_CONTACT?.replace(/^mailto:/, ''),
      license: e.PANTAU_OPENDATA_LICENSE,
      rateLimit: e.PANTAU_OPENDATA_RATE_LIMIT,
    },
  }));

export type Config = z.output<typeof configSchema>;

/** The environment variables Pantau reads. */
export const VARIABLES: readonly string[] = Object.keys(configShape);
const KNOWN = new Set(VARIABLES);

const toFlag = (name: string) => `--${name.slice('PANTAU_'.length).toLowerCase().replace(/_/g, '-')}`;

/** `--http-port 9000` / `--http-port=9000` → PANTAU_HTTP_PORT=9000. */
export function flagsToEnv(argv: string[]): Env {
  const env: Env = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(arg, 'unexpected argument (flags look like --http-port 8080)');
    const [flag, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const name = `PANTAU_${flag.toUpperCase().replace(/-/g, '_')}`;
    if (!KNOWN.has(name)) throw new ConfigError(`--${flag}`, `unknown flag; known: ${VARIABLES.map(toFlag).join(' ')}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new ConfigError(`--${flag}`, 'needs a value');
    env[name] = value;
  }
  return env;
}

/** The configuration from `env` and the flags in `argv` (flags win). Throws `ConfigError` on the first bad variable. */
export function loadConfig(env: Env = process.env, argv: string[] = []): Config {
  const merged: Env = { ...env, ...flagsToEnv(argv) };
  const input: Record<string, string | undefined> = {};
  for (const name of VARIABLES) input[name] = merged[name];
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  // the first problem in the order of the variables above
  const order = (issue: z.core.$ZodIssue) => VARIABLES.indexOf(String(issue.path[0]));
  const first = [...result.error.issues].sort((a, b) => order(a) - order(b))[0]!;
  throw new ConfigError(String(first.path[0] ?? 'configuration'), first.message);
}
