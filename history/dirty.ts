// The rollup job's durable state, in `rollups.sqlite` in the data dir: the hourly buckets that readings have made
// dirty and that are not yet recomputed, and the backfill's progress. A dirty bucket is recorded (and fsync'd)
// before the job's `handle()` resolves, so the ingest log moves the job's checkpoint past a reading only once the
// work it causes cannot be lost.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { Kind } from '../catalog/index.js';

export interface DirtyBucket {
  kind: Kind;
  deviceId: string;
  /** Start of the hour (ms). */
  hour: number;
  /** Earliest acknowledgement (ms) among the readings of the bucket not yet rolled up. */
  since: number;
  /** Log offset just past the newest of those readings. */
  logEnd: number;
}

export class RollupState {
  readonly db: Database.Database;
  private readonly upsert: Database.Statement;
  private readonly remove: Database.Statement;
  private readonly postpone: Database.Statement;
  private readonly firstPendingStmt: Database.Statement;

  constructor(dataDir: string) {
    this.db = new Database(join(dataDir, 'rollups.sqlite'));
    this.db.pragma('journal_mode = WAL');
    // FULL: a committed dirty bucket survives power loss, like the log record that caused it
    this.db.pragma('synchronous = FULL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS dirty (
        kind TEXT NOT NULL, device_id TEXT NOT NULL, hour INTEGER NOT NULL, since INTEGER NOT NULL, log_end INTEGER NOT NULL,
        PRIMARY KEY (kind, device_id, hour)) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS dirty_since ON dirty (since);
      CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
    this.upsert = this.db.prepare(`INSERT INTO dirty (kind, device_id, hour, since, log_end) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (kind, device_id, hour) DO UPDATE SET since = min(since, excluded.since), log_end = max(log_end, excluded.log_end)`);
    this.remove = this.db.prepare('DELETE FROM dirty WHERE kind = ? AND device_id = ? AND hour = ? AND log_end <= ?');
    this.firstPendingStmt = this.db.prepare('SELECT min(hour) AS h FROM dirty WHERE kind = ? AND device_id = ? AND hour >= ? AND hour < ?');
    this.postpone = this.db.prepare('UPDATE dirty SET since = max(since, ?) WHERE kind = ? AND device_id = ? AND hour = ? AND log_end > ?');
  }

  /** Record dirty buckets in one durable transaction. */
  markDirty(buckets: Iterable<DirtyBucket>): void {
    this.db.transaction(() => {
      for (const b of buckets) this.upsert.run(b.kind, b.deviceId, b.hour, b.since, b.logEnd);
    })();
  }

  /** Buckets dirty since `before` or earlier, oldest first. */
  due(before: number, limit: number): DirtyBucket[] {
    const rows = this.db.prepare('SELECT kind, device_id, hour, since, log_end FROM dirty WHERE since <= ? ORDER BY since LIMIT ?').all(before, limit) as Array<{ kind: Kind; device_id: string; hour: number; since: number; log_end: number }>;
    return rows.map((r) => ({ kind: r.kind, deviceId: r.device_id, hour: r.hour, since: r.since, logEnd: r.log_end }));
  }

  /**
   * After recomputing `buckets` with every log record up to `coveredEnd` in InfluxDB: buckets with no newer reading
   * are done; the others keep waiting, for readings acknowledged at `startedAt` or later.
   */
  done(buckets: DirtyBucket[], coveredEnd: number, startedAt: number): void {
    this.db.transaction(() => {
      for (const b of buckets) {
        const removed = this.remove.run(b.kind, b.deviceId, b.hour, coveredEnd).changes;
        if (removed === 0) this.postpone.run(startedAt, b.kind, b.deviceId, b.hour, coveredEnd);
      }
    })();
  }

  /** Oldest `since` of all pending buckets, or null. */
  oldestSince(): number | null {
    const row = this.db.prepare('SELECT min(since) AS m FROM dirty').get() as { m: number | null };
    return row.m;
  }

  /** Start of the earliest hour of [from, to) of this device still waiting for recomputation, or null. */
  firstPending(kind: Kind, deviceId: string, from: number, to: number): number | null {
    const row = this.firstPendingStmt.get(kind, deviceId, from, to) as { h: number | null } | undefined;
    return row?.h ?? null;
  }

  /** Changes when another connection (the `npm run rollups` backfill in another process) has committed to this file. */
  dataVersion(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }

  pending(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM dirty').get() as { n: number }).n;
  }

  /** Log offsets may restart lower (a new spool): no recorded offset may stay above the log's end. */
  clampLogEnd(end: number): void {
    this.db.prepare('UPDATE dirty SET log_end = ? WHERE log_end > ?').run(end, end);
  }

  get(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM state WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  set(key: string, value: string): void {
    this.db.prepare('INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  close(): void {
    this.db.close();
  }
}
