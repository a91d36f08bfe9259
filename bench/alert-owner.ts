// How many readings per second one alert owner judges (docs/scale-out.md sizing): a private PostgreSQL, the
// registry and the alert owner in this process, N readings put in the feed at once, time until the feed is empty;
// every gauge's river rises through all three flood levels, so the owner's writes (alerts, events) are measured too.
//   npx tsx bench/alert-owner.ts [readings=100000] [devices=1000]
import pino from 'pino';
import { AlertFeed, AlertOwner } from '../alerts/owner.js';
import { Registry } from '../registry/registry.js';
import { startPostgres } from '../test/support/postgres.js';

const [readings = 100_000, devices = 1000] = process.argv.slice(2).map(Number);
const log = pino({ level: 'warn' });
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
  const owner = new AlertOwner(registry.postgres!, registry, {
    writeLines: async () => undefined,
    uniqueTs: (_s, at) => at,
    publish: async () => undefined,
    onChange: () => changes++,
  }, log, { tickMs: 5000, nodeId: 'bench' });
  const t1 = Date.now();
  await owner.start();
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
