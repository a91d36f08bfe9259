// The in-memory cache of stored rollup rows (history/row-cache.ts), as pure logic: which chunks a recomputation
// forgets, that a fill under way during a recomputation is not kept, that a backfill committed by another process
// empties it, and that it stays within its bound. The end-to-end behaviour against InfluxDB is in
// history-row-cache.test.ts.
import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../catalog/time.js';
import { CHUNK_MS, RollupRowCache, toRowChunk, type ChunkKey, type RowChunk } from '../history/row-cache.js';

const H = CHUNK_MS['1h'];
const key = (deviceId: string, kind: ChunkKey['kind'] = 'flood'): ChunkKey => ({ kind, resolution: '1h', deviceId, stats: ['sum', 'count'] });

/** A fetch that answers one row per chunk (its value says which call made it) and counts its calls. */
function fetcher() {
  const calls: Array<[number, number]> = [];
  const fetch = async (from: number, to: number): Promise<RowChunk> => {
    calls.push([from, to]);
    return toRowChunk({ name: 'flood_1h', columns: ['time', 'waterLevel_sum', 'waterLevel_count'], values: [[from, calls.length, null]] });
  };
  return { calls, fetch };
}

describe('the rollup row cache', () => {
  it('reads each chunk once and answers again from memory', async () => {
    const c = new RollupRowCache();
    const f = fetcher();
    const first = await c.chunks(key('a'), 10 * H + 5, 12 * H + 5, f.fetch);
    expect(first.map((x) => x.ts[0])).toEqual([10 * H, 11 * H, 12 * H]);
    expect(f.calls).toEqual([[10 * H, 11 * H], [11 * H, 12 * H], [12 * H, 13 * H]]);
    const again = await c.chunks(key('a'), 11 * H, 12 * H, f.fetch);
    expect(again).toEqual([first[1]]);
    expect(f.calls.length).toBe(3);
    expect(Number.isNaN(first[0]!.data[1]!)).toBe(true); // null → NaN (no value)
  });

  it('a recomputation forgets the chunks of its range: of one device, or of every device of the kind', async () => {
    const c = new RollupRowCache();
    const f = fetcher();
    for (const d of ['a', 'b']) await c.chunks(key(d), 0, 3 * H, f.fetch);
    await c.chunks(key('a', 'air'), 0, 3 * H, f.fetch);
    expect(f.calls.length).toBe(9);
    c.invalidate('flood', '1h', H + 7, H + 3_600_000 + 7, 'a'); // an hour inside the second chunk of device a
    await c.chunks(key('a'), 0, 3 * H, f.fetch);
    expect(f.calls.slice(9)).toEqual([[H, 2 * H]]);
    c.invalidate('flood', '1d', 0, 3 * H); // daily rows are other chunks
    c.invalidate('flood', '1h', 2 * H, 3 * H); // every flood device's third chunk
    for (const d of ['a', 'b']) await c.chunks(key(d), 0, 3 * H, f.fetch);
    await c.chunks(key('a', 'air'), 0, 3 * H, f.fetch);
    expect(f.calls.slice(10)).toEqual([[2 * H, 3 * H], [2 * H, 3 * H]]);
  });

  it('a fill under way while its rows are rewritten is answered but not kept', async () => {
    const c = new RollupRowCache();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const slow = async (from: number): Promise<RowChunk> => {
      calls++;
      if (calls === 1) await gate;
      return toRowChunk({ name: 'flood_1h', columns: ['time', 'waterLevel_sum'], values: [[from, calls]] });
    };
    const pending = c.chunks(key('a'), 0, H, slow);
    c.invalidate('flood', '1h', 0, 3_600_000, 'a');
    release();
    expect((await pending)[0]!.data[0]).toBe(1);
    expect((await c.chunks(key('a'), 0, H, slow))[0]!.data[0]).toBe(2);
    expect(calls).toBe(2);
  });

  it('reads a chunk again once it is older than its maximum age (rollups expire in InfluxDB by themselves)', async () => {
    const c = new RollupRowCache({ maxAgeMs: 60_000 });
    const f = fetcher();
    await c.chunks(key('a'), 0, H, f.fetch, 1_000_000);
    await c.chunks(key('a'), 0, H, f.fetch, 1_060_000);
    expect(f.calls.length).toBe(1);
    await c.chunks(key('a'), 0, H, f.fetch, 1_060_001);
    expect(f.calls.length).toBe(2);
  });

  it('a commit of another process to rollups.sqlite (a backfill) empties the cache', async () => {
    let version = 1;
    const c = new RollupRowCache({ externalVersion: () => version });
    const f = fetcher();
    await c.chunks(key('a'), 0, DAY_MS, f.fetch);
    await c.chunks(key('a'), 0, DAY_MS, f.fetch);
    expect(f.calls.length).toBe(1);
    version = 2;
    await c.chunks(key('a'), 0, DAY_MS, f.fetch);
    expect(f.calls.length).toBe(2);
  });

  it('stays within its bound, forgetting the least recently used chunks first', async () => {
    const c = new RollupRowCache({ maxCells: 6 }); // one chunk here is 3 values (a time and two columns)
    const f = fetcher();
    await c.chunks(key('a'), 0, H, f.fetch);
    await c.chunks(key('b'), 0, H, f.fetch);
    await c.chunks(key('a'), 0, H, f.fetch); // a used last
    await c.chunks(key('c'), 0, H, f.fetch);
    await new Promise((r) => setImmediate(r));
    expect(c.size()).toEqual({ chunks: 2, cells: 6 });
    await c.chunks(key('a'), 0, H, f.fetch);
    expect(f.calls.length).toBe(3); // a kept, b forgotten
    await c.chunks(key('b'), 0, H, f.fetch);
    expect(f.calls.length).toBe(4);
  });
});
