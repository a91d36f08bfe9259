// The configuration schema (platform/config.ts) against its documentation and its promises: every variable it
// reads is in the README's configuration table and the table lists nothing it does not read; each variable has a
// flag; a bad value is one error naming the variable; PANTAU_WORKER_ID defaults to the host name.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, VARIABLES, defaultWorkerId, flagsToEnv, loadConfig } from '../platform/config.js';
import { ROOT } from './support/process.js';

/** The variables named in the first column of the README's configuration table. */
function documentedVariables(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Configuration\n'));
  if (!section) throw new Error('README has no "## Configuration" section');
  const names: string[] = [];
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const firstCell = line.split('|')[1]!;
    names.push(...[...firstCell.matchAll(/`(PANTAU_[A-Z0-9_]+)`/g)].map((m) => m[1]!));
  }
  return names;
}

describe('configuration', () => {
  it('the README documents every variable the schema reads, once, and none that it does not', () => {
    const documented = documentedVariables();
    expect(documented.length).toBeGreaterThan(30);
    expect(new Set(documented).size).toBe(documented.length);
    expect([...documented].sort()).toEqual([...VARIABLES].sort());
  });

  it('every variable has a flag, and the flag wins over the environment', () => {
    for (const name of VARIABLES) {
      const flag = `--${name.slice('PANTAU_'.length).toLowerCase().replace(/_/g, '-')}`;
      expect(flagsToEnv([flag, 'x'])).toEqual({ [name]: 'x' });
    }
    expect(loadConfig({ PANTAU_HTTP_PORT: '9000' }, ['--http-port', '9001']).httpPort).toBe(9001);
    expect(loadConfig({}, ['--spool-max-bytes=2GiB']).spoolMaxBytes).toBe(2 * 1024 ** 3);
    expect(() => flagsToEnv(['--no-such-thing', '1'])).toThrow(ConfigError);
    expect(() => flagsToEnv(['--http-port'])).toThrow(/^--http-port: needs a value/);
  });

  it('unset and blank variables take their defaults', () => {
    const config = loadConfig({ PANTAU_HTTP_PORT: '  ', PANTAU_INFLUX_DB: '' });
    expect(config).toMatchObject({
      httpPort: 8080,
      mqttPort: 1883,
      mqttWsPort: undefined,
      influxDb: 'pantau',
      host: '0.0.0.0',
      spoolMaxBytes: 1024 ** 3,
      maxReadingAgeMs: 7 * 86_400_000,
      mqttMaxKeepaliveSeconds: 3600,
      corsOrigins: [],
      unsafeAckBeforeDurable: false,
    });
  });

  it('values are parsed into their units', () => {
    const config = loadConfig({
      PANTAU_SHUTDOWN_TIMEOUT: '30s',
      PANTAU_MAX_READING_AGE: '2d',
      PANTAU_MQTT_MAX_PACKET_BYTES: '512kb',
      PANTAU_MQTT_MAX_KEEPALIVE: '10m',
      PANTAU_CORS_ORIGINS: 'https://a.example, https://b.example,',
      PANTAU_DEVICE_RATE_LIMIT: '2.5',
    });
    expect(config).toMatchObject({
      shutdownTimeoutMs: 30_000,
      maxReadingAgeMs: 2 * 86_400_000,
      mqttMaxPacketBytes: 512 * 1024,
      mqttMaxKeepaliveSeconds: 600,
      corsOrigins: ['https://a.example', 'https://b.example'],
      deviceRateLimit: 2.5,
    });
  });

  it('the first bad variable, in the order of the table, is the one error', () => {
    expect(() => loadConfig({ PANTAU_HTTP_PORT: 'abc', PANTAU_MQTT_PORT: '70000' })).toThrow(/^PANTAU_MQTT_PORT: must be a port number 0–65535, got "70000"$/);
    expect(() => loadConfig({ PANTAU_WEBHOOK_URL: 'https://hooks.example/pantau' })).toThrow(/^PANTAU_WEBHOOK_SECRET: /);
    expect(() => loadConfig({ PANTAU_SHUTDOWN_TIMEOUT: 'soon' })).toThrow(/^PANTAU_SHUTDOWN_TIMEOUT: must be a duration/);
    expect(() => loadConfig({ PANTAU_BROKER_AUTH_SECRET: 'short' })).toThrow(/^PANTAU_BROKER_AUTH_SECRET: /);
    expect(() => loadConfig({ PANTAU_WORKER_ID: 'w 1' })).toThrow(/^PANTAU_WORKER_ID: /);
    expect(() => loadConfig({ PANTAU_FLEET_FILE: '/nonexistent/fleet.json' })).toThrow(/^PANTAU_FLEET_FILE: cannot read file/);
  });

  it('PANTAU_MAP_TILES takes an XYZ template or a readable .pmtiles file, and says what is wrong with anything else', () => {
    expect(loadConfig({}).mapTiles).toBeUndefined();
    expect(loadConfig({ PANTAU_MAP_TILES: 'https://tiles.example/{z}/{x}/{y}.png', PANTAU_MAP_TILES_ATTRIBUTION: '© OpenStreetMap contributors' }).mapTiles)
      .toEqual({ type: 'xyz', url: 'https://tiles.example/{z}/{x}/{y}.png', attribution: '© OpenStreetMap contributors' });
    expect(() => loadConfig({ PANTAU_MAP_TILES: 'https://tiles.example/{z}/{x}.png' })).toThrow(/^PANTAU_MAP_TILES: an XYZ URL must hold \{z\}, \{x\} and \{y\}/);
    expect(() => loadConfig({ PANTAU_MAP_TILES: '/srv/kaltim.mbtiles' })).toThrow(/^PANTAU_MAP_TILES: must be an XYZ URL .* or a local .pmtiles file/);
    expect(() => loadConfig({ PANTAU_MAP_TILES: '/nonexistent/kaltim.pmtiles' })).toThrow(/^PANTAU_MAP_TILES: cannot read file/);
  });

  it('sessions last 24 h at most and 8 h unused, password links 72 h; PANTAU_TRUST_PROXY takes true, false or proxy addresses', () => {
    expect(loadConfig({})).toMatchObject({ sessionTtlMs: 24 * 3_600_000, sessionIdleMs: 8 * 3_600_000, passwordLinkTtlMs: 72 * 3_600_000, trustProxy: false });
    expect(loadConfig({ PANTAU_SESSION_IDLE: '30m', PANTAU_PASSWORD_LINK_TTL: '1d' })).toMatchObject({ sessionIdleMs: 1_800_000, passwordLinkTtlMs: 86_400_000 });
    expect(loadConfig({ PANTAU_TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ PANTAU_TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    expect(loadConfig({ PANTAU_TRUST_PROXY: '10.0.0.1, 10.1.0.0/16,::1' }).trustProxy).toEqual(['10.0.0.1', '10.1.0.0/16', '::1']);
    expect(() => loadConfig({ PANTAU_TRUST_PROXY: 'yes please' })).toThrow(/^PANTAU_TRUST_PROXY: must be true, false or a comma-separated list/);
  });

  it('PANTAU_WORKER_ID defaults to the host name, made a valid id, also behind an external broker', () => {
    expect(loadConfig({}).workerId).toBe(defaultWorkerId(hostname()));
    expect(loadConfig({ PANTAU_BROKER_URL: 'mqtt://emqx:1883' }).workerId).toBe(defaultWorkerId(hostname()));
    expect(loadConfig({ PANTAU_BROKER_URL: 'mqtt://emqx:1883', PANTAU_WORKER_ID: 'w2' }).workerId).toBe('w2');
    expect(defaultWorkerId('pantau-ingest-0')).toBe('pantau-ingest-0');
    expect(defaultWorkerId('node7.kaltim.example')).toBe('node7-kaltim-example');
    expect(defaultWorkerId('x'.repeat(100))).toHaveLength(64);
    expect(defaultWorkerId('')).toBe('pantau');
  });
});
