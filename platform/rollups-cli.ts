// `npm run rollups -- --from 2025-01-01 [--to 2026-01-01]`: compute the rollups of history that predates them,
// configured by the same environment as `npm start` (PANTAU_INFLUX_*, PANTAU_DATA_DIR, PANTAU_ROLLUP_*,
// PANTAU_TIMEZONE). Resumable: run the same command again after an interruption and it continues where it stopped.
// Safe beside a running platform (recomputing a bucket overwrites it with the same values).
import { InfluxClient } from '../influx/client.js';
import { ConfigError, loadConfig } from './config.js';
import { redactUrl, redactUrlsIn } from '../lib/redact.js';
import { planBackfill, progressLine, runBackfill } from '../history/backfill.js';
import { RollupState } from '../history/dirty.js';
import { RollupComputer } from '../history/rollup.js';
import { ensureRetention } from '../history/schema.js';
import { dayStart } from '../catalog/time.js';
import { mkdirSync } from 'node:fs';

function fail(message: string): never {
  process.stderr.write(`rollups: ${message}\nusage: npm run rollups -- --from 2025-01-01 [--to 2026-01-01] (dates in PANTAU_TIMEZONE, or RFC 3339)\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const own: Record<string, string> = {};
const rest: string[] = [];
for (let i = 0; i < args.length; i++) {
  const [flag, inline] = args[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
  if (flag === '--from' || flag === '--to') {
    const v = inline ?? args[++i];
    if (v === undefined) fail(`${flag} needs a date`);
    own[flag.slice(2)] = v!;
  } else rest.push(args[i]!);
}
if (!own.from) fail('--from is required');

let config;
try {
  config = loadConfig(process.env, rest);
} catch (err) {
  if (err instanceof ConfigError) fail(`configuration error: ${err.message}`);
  throw err;
}
const zone = config.timezone;

/** `2025-01-01` is local midnight in PANTAU_TIMEZONE; RFC 3339 is taken as it is. */
function parseDate(name: string, text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  let ms = Number.NaN;
  if (m) {
    const guess = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    ms = dayStart(zone, guess + 12 * 3_600_000);
  } else if (/^\d{4}-\d{2}-\d{2}T/.test(text)) ms = Date.parse(text);
  if (!Number.isFinite(ms)) fail(`--${name}: "${text.slice(0, 40)}" is not a date (2025-01-01 or RFC 3339)`);
  return ms;
}
const from = parseDate('from', own.from!);
const to = own.to ? parseDate('to', own.to) : Date.now();
if (from >= to) fail('--from must be before --to');

const influx = new InfluxClient({ url: config.influxUrl, database: config.influxDb, token: config.influxToken, username: config.influxUsername, password: config.influxPassword, timeoutMs: 120_000 });
try {
  await influx.createDatabase();
  await ensureRetention(influx, config);
} catch (err) {
  fail(`InfluxDB at ${redactUrl(config.influxUrl)} is not usable: ${redactUrlsIn((err as Error).message)}`);
}
mkdirSync(config.dataDir, { recursive: true });
const state = new RollupState(config.dataDir);
const { plan, resumed } = planBackfill(state, from, to, zone);
process.stdout.write(`rollups: ${resumed ? 'resuming' : 'computing'} hourly and daily rollups of ${config.influxDb} from ${new Date(plan.next).toISOString()} to ${new Date(plan.to).toISOString()} into "${config.rollupRp}"\n`);
const tty = process.stdout.isTTY;
let lastPrint = 0;
let stop = false;
process.on('SIGINT', () => {
  if (stop) process.exit(130);
  stop = true;
  process.stdout.write('\nrollups: stopping after the current week; run the same command again to resume\n');
});
const result = await runBackfill({
  computer: new RollupComputer({ influx, rollupRp: config.rollupRp, timezone: zone }),
  state, timezone: zone, plan, shouldStop: () => stop,
  onProgress: (p) => {
    const line = progressLine(p, zone);
    if (tty) process.stdout.write(`\r${line}\x1b[K`);
    else if (Date.now() - lastPrint > 10_000 || p.done >= p.total) {
      lastPrint = Date.now();
      process.stdout.write(`${line}\n`);
    }
  },
});
state.close();
const rate = result.elapsedMs > 0 ? Math.round((result.readings * 1000) / result.elapsedMs) : 0;
process.stdout.write(`${tty ? '\n' : ''}rollups: ${stop ? 'stopped' : 'done'}: ${result.readings.toLocaleString('en')} readings rolled up into ${result.rows.toLocaleString('en')} rows in ${(result.elapsedMs / 1000).toFixed(1)} s (${rate.toLocaleString('en')} readings/s)\n`);
process.exit(stop ? 130 : 0);
