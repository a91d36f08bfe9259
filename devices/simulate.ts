// `npm run simulate`: the simulated Kaltim fleet. Registers its devices through the Pantau API, connects each as
// its own MQTT client and publishes readings whose values follow simulated WITA time (see devices/README.md).
import { join } from 'node:path';
import { KINDS } from '../catalog/index.js';
import { type BadPayload, badPayload } from './faults.js';
import { DeviceClient, type Rejection } from './device-client.js';
import { applyConfig, withOffsets } from './device-config.js';
import { FileStore } from './file-store.js';
import { CITIES, FLEET } from './fleet.js';
import type { CityName, FleetDevice } from './fleet-schema.js';
import { selectFleet } from './fleet-select.js';
import { formatWita, SimClock } from './models/clock.js';
import { Rng } from './models/random.js';
import { type HazeEpisode, type Storm, Weather } from './models/weather.js';
import { OptionsError, parseOptions, type SimulatorOptions, USAGE } from './options.js';
import { ProgressLine, SimStats } from './progress.js';
import { adminKeySource, ApiProblem, PantauApi, registerFleet } from './registration.js';
import { SimulatedSensor } from './sensor.js';
import { lockStateDir, StateDirBusyError } from './state-lock.js';

interface Running {
  sensor: SimulatedSensor;
  client: DeviceClient;
  timer?: NodeJS.Timeout;
  silentUntil: number;
  /** Pushed by Pantau (config topic): reading interval, calibration offsets, the version applied. */
  intervalMs?: number;
  offsets: Record<string, number>;
  configVersion: number;
  /** Start the reading loop again (after the interval changed). */
  restart?: () => void;
}

const out = process.stdout;
const print = (line: string) => out.write(`${line}\n`);
const fail = (line: string, code = 1): never => {
  process.stderr.write(`simulate: ${line}\n`);
  process.exit(code);
};

/** Weather per city, with the demo's forced events (`--haze`, `--storm`) starting half a simulated minute in. */
function buildWeather(options: SimulatorOptions, clock: SimClock): Map<CityName, Weather> {
  const begin = clock.simStart + 30_000;
  const storms: Storm[] = options.storm ? [{ start: begin, durationHours: 3, peak: 90 }] : [];
  // Fast enough to see within minutes at any speed: ~10 real minutes to full smoke at speed 1, ~2 at speed 60.
  const rampHours = Math.min(6, (10 / 60) * Math.max(1, options.speed / 6));
  const haze: HazeEpisode[] = options.haze
    ? [{ start: begin, rampHours, durationHours: 72, fadeHours: 24, intensity: 0.9 }]
    : [];
  const weather = new Map<CityName, Weather>();
  for (const city of Object.values(CITIES)) {
    weather.set(
      city.name,
      new Weather({
        seed: options.seed,
        city: city.name,
        rainFactor: city.rainFactor,
        hazeFactor: city.hazeFactor,
        storms,
        hazeEpisodes: haze,
      }),
    );
  }
  return weather;
}

function describeFleet(devices: readonly FleetDevice[]): string {
  const byKind = KINDS.map((kind) => `${devices.filter((d) => d.kind === kind).length} ${kind}`).join(', ');
  const cities = [...new Set(devices.map((d) => d.city))].join(', ');
  return `${devices.length} devices (${byKind}) in ${cities}`;
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m ${String(s % 60).padStart(2, '0')}s`;
}

async function main(): Promise<void> {
  let options: SimulatorOptions;
  try {
    options = parseOptions(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof OptionsError) return fail(error.message, 2);
    throw error;
  }
  if (options.help) {
    out.write(USAGE);
    return;
  }

  let devices: FleetDevice[];
  try {
    devices = selectFleet(FLEET, { count: options.devices, kinds: options.kinds, seed: options.seed });
  } catch (error) {
    return fail((error as Error).message, 2);
  }

  let releaseLock: () => void;
  try {
    releaseLock = lockStateDir(options.stateDir);
  } catch (error) {
    if (error instanceof StateDirBusyError) return fail(error.message);
    throw error;
  }
  process.on('exit', () => releaseLock());

  const clock = new SimClock(options.start ?? Date.now(), options.speed);
  const weather = buildWeather(options, clock);
  const env = { seed: options.seed, weather: (city: CityName) => weather.get(city) as Weather };
  const rng = new Rng(options.seed ^ 0x5eed);
  const stats = new SimStats();
  const intervalMs = 1000 / options.rate;
  const intervalSeconds = Math.min(3600, Math.max(1, Math.round(1 / options.rate)));

  print(`Pantau simulator: ${describeFleet(devices)}`);
  print(
    `  ${options.rate}/s per device · QoS ${options.qos} · simulated time ×${options.speed} from ${formatWita(clock.simStart)}` +
      `${options.haze ? ' · haze episode' : ''}${options.storm ? ' · storm' : ''}` +
      `${options.badShare > 0 ? ` · ${Math.round(options.badShare * 100)}% bad payloads` : ''}` +
      `${options.dropoutShare > 0 ? ` · ${Math.round(options.dropoutShare * 100)}% flaky devices` : ''}`,
  );

  // ── Registration ──
  const api = new PantauApi({
    apiUrl: options.apiUrl,
    adminKey: adminKeySource(options.adminKey, options.dataDir),
    waitSeconds: options.apiWait,
    log: print,
  });
  let tokens: Map<string, string>;
  try {
    await api.waitUntilUp();
    let lastShown = 0;
    const result = await registerFleet(api, devices, (done, total) => {
      if (out.isTTY && (done === total || Date.now() - lastShown > 200)) {
        lastShown = Date.now();
        out.write(`\r\x1b[2Kregistering devices: ${done}/${total}`);
      }
    });
    if (out.isTTY) out.write('\r\x1b[2K');
    print(`registered ${result.tokens.size} devices at ${options.apiUrl} (${result.created} new, ${result.existing} existing — tokens rotated)`);
    for (const [id, why] of result.skipped) print(`  skipped ${id}: ${why}`);
    tokens = result.tokens;
  } catch (error) {
    if (out.isTTY) out.write('\r\x1b[2K');
    if (error instanceof ApiProblem) return fail(error.describe());
    throw error;
  }
  devices = devices.filter((d) => tokens.has(d.id));
  if (devices.length === 0) return fail('no device could be registered');

  // ── Connections ──
  const progress = new ProgressLine(stats, {
    out,
    showAcks: options.qos > 0,
    snapshot: () => ({
      connected: running.filter((r) => r.client.connected).length,
      devices: running.length,
      pending: running.reduce((sum, r) => sum + r.client.pending, 0),
      simTime: `${formatWita(clock.now())}${options.speed !== 1 ? ` ×${options.speed}` : ''}`,
      notes: hazeNote(),
    }),
  });
  const hazeNote = (): string[] => {
    const t = clock.now();
    const hazy = [...weather.values()].some((w) => w.haze(t) > 0.3);
    const rainy = [...weather.values()].filter((w) => w.rainfall(t) > 2).map((w) => w.city);
    return [...(hazy ? ['haze'] : []), ...(rainy.length > 0 ? [`rain: ${rainy.join(', ')}`] : [])];
  };

  let rejectionBudget = 5;
  let rejectionsHidden = 0;
  const rejectionRefill = setInterval(() => {
    rejectionBudget = Math.min(5, rejectionBudget + 2);
  }, 1000);
  rejectionRefill.unref();
  const onRejection = (device: FleetDevice, rejection: Rejection) => {
    if (rejectionBudget <= 0) {
      rejectionsHidden++;
      return;
    }
    rejectionBudget--;
    const more = rejectionsHidden > 0 ? ` (+${rejectionsHidden} more not shown)` : '';
    rejectionsHidden = 0;
    const prefix = options.badShare > 0 ? '✗' : '✗ unexpected:';
    progress.log(`${prefix} ${device.id} rejected: ${rejection.reason} — ${rejection.detail}${more}`);
  };

  const lastRotation = new Map<string, number>();
  const onRefused = (client: DeviceClient, code: number) => {
    const id = client.device.id;
    const since = Date.now() - (lastRotation.get(id) ?? 0);
    const retry = () => {
      lastRotation.set(id, Date.now());
      api.rotateToken(id).then(
        (token) => {
          if (token === null) {
            progress.log(`${id}: the device no longer exists in the registry (deleted?) — stopping it`);
            client.remove();
          } else {
            client.useToken(token);
          }
        },
        (error: unknown) => {
          progress.log(`${id}: CONNECT refused (code ${code}) and the token could not be renewed: ${error instanceof ApiProblem ? error.describe() : String(error)}`);
          setTimeout(retry, 30_000).unref();
        },
      );
    };
    progress.log(`${id}: CONNECT refused (code ${code}, ${code === 4 ? 'bad username or password' : 'not authorised'}) — renewing its token`);
    if (since > 30_000) retry();
    else setTimeout(retry, 30_000 - since).unref();
  };

  const running: Running[] = devices.map((device) => {
    const store = new FileStore(join(options.stateDir, 'outbox', `${device.id}.jsonl`));
    const client = new DeviceClient(device, {
      mqttUrl: options.mqttUrl,
      qos: options.qos,
      token: tokens.get(device.id) as string,
      store,
      stats,
      onRejection,
      onRefused,
      onConfig: (c, payload) => {
        const r = byId.get(c.device.id);
        const applied = r ? applyConfig(c.device.kind, payload, r.configVersion) : null;
        if (!r || !applied) return;
        r.configVersion = applied.version;
        r.offsets = applied.offsets;
        const intervalChanged = applied.intervalMs !== r.intervalMs;
        r.intervalMs = applied.intervalMs;
        if (intervalChanged) r.restart?.();
        c.reportConfig(applied.report);
        progress.log(`${c.device.id}: config v${applied.version} applied (${JSON.stringify(applied.report.config)})`);
      },
    });
    return { sensor: new SimulatedSensor(device, env), client, silentUntil: 0, offsets: {}, configVersion: 0 };
  });
  const byId = new Map(running.map((r) => [r.sensor.device.id, r]));
  const leftOver = running.reduce((sum, r) => sum + r.client.pending, 0);
  if (leftOver > 0) print(`${leftOver} unacknowledged messages from an earlier run in ${options.stateDir}: re-sending them`);

  let stopping = false;
  // Connect in small batches: a thousand simultaneous CONNECTs is a load test of its own.
  for (let i = 0; i < running.length; i += 25) {
    for (const r of running.slice(i, i + 25)) r.client.start();
    if (i + 25 < running.length) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  print(`connecting to ${options.mqttUrl} …`);
  progress.start();

  // ── Readings ──
  const emit = (r: Running, now: number) => {
    if (now < r.silentUntil) return;
    const reading = withOffsets(r.sensor.read(clock.at(now), r.intervalMs === undefined ? intervalSeconds : Math.min(3600, r.intervalMs / 1000)), r.offsets);
    if (options.badShare > 0 && rng.chance(options.badShare)) {
      const bad: BadPayload = badPayload(r.sensor.device.kind, reading, now, rng);
      if (r.client.publishRaw(bad.payload)) stats.badSent++;
    } else {
      r.client.publishReading({ ...reading, ts: now });
    }
  };
  for (const r of running) {
    const every = () => r.intervalMs ?? intervalMs;
    let due = Date.now() + rng.next() * every();
    const tick = () => {
      if (stopping) return;
      const now = Date.now();
      emit(r, now);
      due += every();
      if (due < now) due = now + every(); // fell behind: skip rather than burst
      r.timer = setTimeout(tick, due - now);
    };
    r.timer = setTimeout(tick, Math.max(0, due - Date.now()));
    // a new interval from Pantau takes effect at once, not after the old (possibly hour-long) wait
    r.restart = () => {
      if (stopping) return;
      clearTimeout(r.timer);
      due = Date.now() + every();
      r.timer = setTimeout(tick, every());
    };
  }

  // ── Dropouts ──
  const flakyCount = Math.round(options.dropoutShare * running.length);
  const shuffled = [...running];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j] as Running, shuffled[i] as Running];
  }
  const flaky = shuffled.slice(0, flakyCount);
  const scheduleDropout = (r: Running, first: boolean) => {
    // The first one soon, so a demo shows it; then every few minutes on average.
    const delay = first ? rng.between(20_000, 90_000) : Math.min(900_000, 30_000 - Math.log(1 - rng.next()) * 240_000);
    const timer = setTimeout(() => {
      if (stopping) return;
      const id = r.sensor.device.id;
      let lasts = 0;
      if (rng.chance(0.5)) {
        lasts = rng.between(30_000, 150_000);
        r.silentUntil = Date.now() + lasts;
        progress.log(`↯ ${id} goes silent for ${Math.round(lasts / 1000)} s (still connected)`);
        stats.dropouts++;
      } else {
        lasts = rng.between(20_000, 120_000);
        if (r.client.dropConnection(lasts)) {
          progress.log(`↯ ${id} lost its connection without DISCONNECT (Last Will → offline) for ${Math.round(lasts / 1000)} s`);
          stats.dropouts++;
        }
      }
      setTimeout(() => scheduleDropout(r, false), lasts).unref();
    }, delay);
    timer.unref();
  };
  for (const r of flaky) scheduleDropout(r, true);

  // ── Shutdown ──
  const startedAt = Date.now();
  const shutdown = async (why: string) => {
    if (stopping) {
      progress.log('second signal: exiting now (unacknowledged messages stay in the store)');
      process.exit(130);
    }
    stopping = true;
    for (const r of running) clearTimeout(r.timer);
    progress.stop();
    print(`${why}: publishing offline and closing ${running.length} connections …`);
    await Promise.all(running.map((r) => r.client.shutdown(5000)));
    const pending = running.reduce((sum, r) => sum + r.client.pending, 0);
    const elapsed = Date.now() - startedAt;
    print(
      `ran ${duration(elapsed)} (simulated ${duration(elapsed * options.speed)}): sent ${stats.sentMessages} messages ` +
        `(${stats.sentReadings} readings)` +
        (options.qos > 0 ? `, ${stats.acked} acknowledged` : '') +
        `, ${stats.badSent} bad on purpose, ${stats.rejections} rejections received` +
        (stats.rejections > 0 ? ` (${stats.reasonSummary()})` : '') +
        `, ${stats.dropouts} dropouts`,
    );
    if (pending > 0) print(`${pending} unacknowledged messages kept in ${options.stateDir}; the next run re-sends them`);
    releaseLock();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('interrupted'));
  process.on('SIGTERM', () => void shutdown('terminated'));
  if (options.duration !== undefined) setTimeout(() => void shutdown(`${options.duration} s done`), options.duration * 1000);
}

main().catch((error: unknown) => {
  fail(error instanceof Error ? (error.stack ?? error.message) : String(error));
});
