// Command-line options of `npm run simulate`, each also readable from the environment (flag wins).
import { parseArgs } from 'node:util';
import { isKind, KINDS, type Kind } from '../catalog/index.js';

export interface SimulatorOptions {
  apiUrl: string;
  mqttUrl: string;
  adminKey: string | undefined;
  /** Where to look for the platform's generated admin key when PANTAU_ADMIN_KEY is unset. */
  dataDir: string;
  devices: number | undefined;
  rate: number;
  duration: number | undefined;
  qos: 0 | 1 | 2;
  badShare: number;
  dropoutShare: number;
  speed: number;
  stateDir: string;
  kinds: Kind[];
  haze: boolean;
  storm: boolean;
  /** Simulated start time (epoch ms); undefined = now. */
  start: number | undefined;
  seed: number;
  apiWait: number;
  help: boolean;
}

export class OptionsError extends Error {}

export const USAGE = `Usage: npm run simulate -- [options]

Simulates the Kaltim demo fleet (air, flood and traffic sensors in Samarinda, Balikpapan, Bontang and Nusantara):
registers the devices through the Pantau API and publishes their readings over MQTT.

Options (environment variable in brackets; a flag wins over the environment):
  --devices N          devices to run; default the whole fleet; more than the fleet adds clones nearby [PANTAU_SIM_DEVICES]
  --kinds LIST         comma-separated kinds: air,flood,traffic (default all)                    [PANTAU_SIM_KINDS]
  --rate R             readings per second per device (default 0.2 = every 5 s)                  [PANTAU_SIM_RATE]
  --duration S         stop after S seconds (default: run until Ctrl-C)                          [PANTAU_SIM_DURATION]
  --qos 0|1|2          MQTT QoS of telemetry (default 1)                                        [PANTAU_SIM_QOS]
  --speed X            simulated time runs X times faster (60 = one hour per minute; default 1)  [PANTAU_SIM_SPEED]
  --start TIME         simulated start, RFC 3339 (e.g. 2025-09-15T06:00:00+08:00; default now)  [PANTAU_SIM_START]
  --haze               start a regional haze episode within minutes                              [PANTAU_SIM_HAZE=1]
  --storm              start a heavy rain storm over every city within minutes                  [PANTAU_SIM_STORM=1]
  --bad-share F        share 0..1 of deliberately bad payloads (fault injection)                [PANTAU_SIM_BAD_SHARE]
  --dropout-share F    share 0..1 of devices that now and then go silent or drop their connection
                       without DISCONNECT (their Last Will fires)                              [PANTAU_SIM_DROPOUT_SHARE]
  --state-dir DIR      persistent outgoing message stores (default ./data/simulator)            [PANTAU_SIM_STATE_DIR]
  --seed N             seed of weather, noise and faults (default 1)                            [PANTAU_SIM_SEED]
  --api-url URL        Pantau API (default http://127.0.0.1:8080)                               [PANTAU_API_URL]
  --mqtt-url URL       MQTT broker (default mqtt://127.0.0.1:1883)                              [PANTAU_MQTT_URL]
  --api-wait S         how long to wait for the API to come up (default 60)                     [PANTAU_SIM_API_WAIT]
  -h, --help           this text

The admin key comes from PANTAU_ADMIN_KEY (or --admin-key, visible to other users in the process list); when it
is unset the simulator reads the key the platform generated in $PANTAU_DATA_DIR/admin.key (default ./data).
`;

function number(name: string, env: string, raw: string, check: (n: number) => boolean, expect: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || !check(value)) {
    throw new OptionsError(`--${name} (${env}): expected ${expect}, got "${raw}"`);
  }
  return value;
}

function flag(raw: string | undefined): boolean {
  return raw !== undefined && !['', '0', 'false', 'no', 'off'].includes(raw.toLowerCase());
}

function url(name: string, env: string, raw: string, protocols: string[]): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new OptionsError(`--${name} (${env}): not a URL: "${raw}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new OptionsError(`--${name} (${env}): expected a ${protocols.join(' or ')} URL, got "${raw}"`);
  }
  return raw.replace(/\/+$/, '');
}

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): SimulatorOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        devices: { type: 'string' },
        kinds: { type: 'string' },
        rate: { type: 'string' },
        duration: { type: 'string' },
        qos: { type: 'string' },
        speed: { type: 'string' },
        start: { type: 'string' },
        haze: { type: 'boolean' },
        storm: { type: 'boolean' },
        'bad-share': { type: 'string' },
        'dropout-share': { type: 'string' },
        'state-dir': { type: 'string' },
        seed: { type: 'string' },
        'api-url': { type: 'string' },
        'mqtt-url': { type: 'string' },
        'admin-key': { type: 'string' },
        'api-wait': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new OptionsError(`${(error as Error).message} (see --help)`);
  }
  const str = (name: string, envName: string): string | undefined => {
    const fromFlag = values[name];
    if (typeof fromFlag === 'string') return fromFlag;
    const fromEnv = env[envName];
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  };
  const bool = (name: string, envName: string): boolean => values[name] === true || flag(env[envName]);

  const devicesRaw = str('devices', 'PANTAU_SIM_DEVICES');
  const rateRaw = str('rate', 'PANTAU_SIM_RATE') ?? '0.2';
  const durationRaw = str('duration', 'PANTAU_SIM_DURATION');
  const qosRaw = str('qos', 'PANTAU_SIM_QOS') ?? '1';
  const speedRaw = str('speed', 'PANTAU_SIM_SPEED') ?? '1';
  const badRaw = str('bad-share', 'PANTAU_SIM_BAD_SHARE') ?? '0';
  const dropRaw = str('dropout-share', 'PANTAU_SIM_DROPOUT_SHARE') ?? '0';
  const seedRaw = str('seed', 'PANTAU_SIM_SEED') ?? '1';
  const waitRaw = str('api-wait', 'PANTAU_SIM_API_WAIT') ?? '60';
  const startRaw = str('start', 'PANTAU_SIM_START');
  const kindsRaw = str('kinds', 'PANTAU_SIM_KINDS');

  let kinds: Kind[] = [...KINDS];
  if (kindsRaw !== undefined) {
    const list = kindsRaw.split(',').map((k) => k.trim()).filter((k) => k !== '');
    const unknown = list.filter((k) => !isKind(k));
    if (list.length === 0 || unknown.length > 0) {
      throw new OptionsError(`--kinds (PANTAU_SIM_KINDS): expected a list of ${KINDS.join(', ')}, got "${kindsRaw}"`);
    }
    kinds = KINDS.filter((k) => list.includes(k));
  }

  let start: number | undefined;
  if (startRaw !== undefined && startRaw !== 'now') {
    start = Date.parse(startRaw);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(startRaw) || Number.isNaN(start)) {
      throw new OptionsError(`--start (PANTAU_SIM_START): expected an RFC 3339 time such as 2025-09-15T06:00:00+08:00, got "${startRaw}"`);
    }
  }

  return {
    apiUrl: url('api-url', 'PANTAU_API_URL', str('api-url', 'PANTAU_API_URL') ?? 'http://127.0.0.1:8080', ['http:', 'https:']),
    mqttUrl: url('mqtt-url', 'PANTAU_MQTT_URL', str('mqtt-url', 'PANTAU_MQTT_URL') ?? 'mqtt://127.0.0.1:1883', [
      'mqtt:',
      'mqtts:',
      'tcp:',
      'ssl:',
      'ws:',
      'wss:',
    ]),
    adminKey: str('admin-key', 'PANTAU_ADMIN_KEY'),
    dataDir: env.PANTAU_DATA_DIR || './data',
    devices:
      devicesRaw === undefined
        ? undefined
        : number('devices', 'PANTAU_SIM_DEVICES', devicesRaw, (n) => Number.isInteger(n) && n >= 1 && n <= 100_000, 'a whole number 1–100000'),
    rate: number('rate', 'PANTAU_SIM_RATE', rateRaw, (n) => n > 0 && n <= 1000, 'readings per second per device, > 0 and ≤ 1000'),
    duration:
      durationRaw === undefined
        ? undefined
        : number('duration', 'PANTAU_SIM_DURATION', durationRaw, (n) => n > 0, 'seconds > 0'),
    qos: number('qos', 'PANTAU_SIM_QOS', qosRaw, (n) => n === 0 || n === 1 || n === 2, '0, 1 or 2') as 0 | 1 | 2,
    badShare: number('bad-share', 'PANTAU_SIM_BAD_SHARE', badRaw, (n) => n >= 0 && n <= 1, 'a share between 0 and 1'),
    dropoutShare: number('dropout-share', 'PANTAU_SIM_DROPOUT_SHARE', dropRaw, (n) => n >= 0 && n <= 1, 'a share between 0 and 1'),
    speed: number('speed', 'PANTAU_SIM_SPEED', speedRaw, (n) => n > 0 && n <= 1_000_000, 'a factor > 0 (60 = one simulated hour per minute)'),
    stateDir: str('state-dir', 'PANTAU_SIM_STATE_DIR') ?? './data/simulator',
    kinds,
    haze: bool('haze', 'PANTAU_SIM_HAZE'),
    storm: bool('storm', 'PANTAU_SIM_STORM'),
    start,
    seed: number('seed', 'PANTAU_SIM_SEED', seedRaw, (n) => Number.isInteger(n) && n >= 0, 'a whole number ≥ 0'),
    apiWait: number('api-wait', 'PANTAU_SIM_API_WAIT', waitRaw, (n) => n >= 0, 'seconds ≥ 0'),
    help: values.help === true,
  };
}
