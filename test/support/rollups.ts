// The rollups of a seeded database, computed by Pantau's own rollup code (the history dashboard reads them).
import { KINDS } from '../../catalog/index.js';
import { RollupComputer } from '../../history/rollup.js';
import { ensureRetention } from '../../history/schema.js';
import { dayStart, nextDayStart } from '../../catalog/time.js';
import { InfluxClient } from '../../influx/client.js';

export async function seedRollups(url: string, db: string, now: number, days = 3, timezone = 'Asia/Makassar'): Promise<void> {
  const influx = new InfluxClient({ url, database: db });
  await ensureRetention(influx, { rawRetentionMs: null, rollupRp: 'pantau_rollup', rollupRetentionMs: null });
  const computer = new RollupComputer({ influx, rollupRp: 'pantau_rollup', timezone });
  const from = dayStart(timezone, now - days * 86_400_000);
  const to = nextDayStart(timezone, dayStart(timezone, now));
  for (const kind of KINDS) {
    await computer.hours(kind, from, to);
    await computer.days(kind, from, to);
  }
}
