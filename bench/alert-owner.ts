// How many readings per second one alert owner judges (docs/scale-out.md sizing): a private PostgreSQL, the
// registry and the alert owner in this process, N readings put in the feed at once, time until the feed is empty;
// every gauge's river rises through all three flood levels, so the owner's writes (alerts, events) are measured too.
//   npx tsx bench/alert-owner.ts [readings=100000] [devices=1000]
//
// `--serve <postgres url>`: only the alert owner, on a registry that someone else feeds (the `owner-failover`
// scenario offers readings at rising rates, bench/scenarios/owner-failover.ts); runs until SIGTERM, prints
// `owner: judging` once it holds the lock, and its committed changes on stop. Its own process, so that its RSS
// and CPU are the owner's alone.
import pino from 'pino';
import { AlertFeed, AlertOwner } from '../alerts/owner.js';
import { Registry } from '../registry/registry.js';
import { startPostgres } from '../test/support/postgres.js';

const log = pino({ level: 'warn' });

/** The owner with outputs that cost nothing (no InfluxDB, broker or webhook): the judging stage alone. */
async function benchOwner(registry: Registry, onChange: () => void): Promise<AlertOwner> {
  const owner = new AlertOwner(registry.postgres!, registry, {
    writeLines: async () => undefined,
    uniqueTs: (_s, at) => at,
    publish: async () => undefined,
    onChange,
  }, log, { tickMs: 5000, nodeId: 'bench' });
  await owner.start();
  return owner;
}

if (process.argv[2] === '--serve') {
  // the gauges are in the registry before this starts
  const registry = await Registry.open(process.argv[3]!, '/tmp', { log });
  let changes = 0;
  const owner = await benchOwner(registry, () => changes++);
  while (!owner.isOwner) await new Promise((r) => setTimeout(r, 100));
  process.stdout.write('owner: judging\n');
  process.once('SIGTERM', () => {
    void owner.stop().then(() => registry.close()).finally(() => {
      process.stdout.write(`owner: ${changes} changes\n`);
      process.exit(0);
    });
  });
} else {
  const [readings = 100_000, devices = 1000] = process.argv.slice(2).map(Number);
  const pg = await startPostgres();
  try {
    const registry = await Registry.open(pg.url, '/tmp', { log });
    await pg.sql(`INSERT INTO devices (id, kind, name, city, district, lat, lon, thresholds, token_hash, created_at)
      SELECT 'gauge-' || g, 'flood', 'g', 'Samarinda', 'Sungai Pinang', -0.5, 117.1, '{"waspada":700,"siaga":775,"awas":825}', 'unused', 0 FROM generate_series(1, ${devices}) g`);
    await registry.resync();
    const feed = new AlertFeed(registry.postgres!, log);
    // each gauge reports once a minute and its river rises steadily from 600 to 850 cm, through waspada (700), siaga
    // (775) and awas (825): three alert changes per gauge (opened, escalated twice), all judged in order
    const perDevice = Math.ceil(readings / devices);
    const base = Date.now() - (perDevice + 1) * 60_000;
    const batch = [];
    for (let i = 0; i < readings; i++) {
      const k = Math.floor(i / devices);
      batch.push({ deviceId: `gauge-${1 + (i % devices)}`, kind: 'flood' as const, ts: base + k * 60_000 + (i % devices), values: { waterLevel: 600 + (250 * k) / perDevice } });
    }
    const t0 = Date.now();
    await feed.insert(batch);
    const inserted = Date.now() - t0;
    let changes = 0;
    const t1 = Date.now();
    const owner = await benchOwner(registry, () => changes++);
    for (;;) {
      const left = Number((await pg.sql('SELECT count(*) FROM alert_feed')).trim());
      if (left === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const judged = Date.now() - t1;
    console.log(`alert feed: ${readings} readings of ${devices} gauges inserted in ${inserted} ms (${Math.round(readings / (inserted / 1000))}/s from one node)`);
    console.log(`alert owner: judged all in ${judged} ms (${Math.round(readings / (judged / 1000))} readings/s), ${changes} alert changes`);
    await owner.stop();
    await registry.close();
  } finally {
    await pg.stop();
  }
}
