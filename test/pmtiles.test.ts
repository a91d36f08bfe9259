// The PMTiles reader behind PANTAU_MAP_TILES=<file>.pmtiles: tile ids along the Hilbert curve as the v3 spec lists
// them, and tiles read back by z/x/y from an archive written to the spec.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PmtilesArchive, zxyToTileId } from '../api/pmtiles.js';
import { pmtilesArchive, solidPng } from './support/tiles.js';

const dir = mkdtempSync(join(tmpdir(), 'pantau-pmtiles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('PMTiles archive', () => {
  it('numbers tiles as the v3 spec does: zoom by zoom, each along its Hilbert curve', () => {
    expect(zxyToTileId(0, 0, 0)).toBe(0);
    // the spec's example order at zoom 1: (0,0) (0,1) (1,1) (1,0)
    expect([zxyToTileId(1, 0, 0), zxyToTileId(1, 0, 1), zxyToTileId(1, 1, 1), zxyToTileId(1, 1, 0)]).toEqual([1, 2, 3, 4]);
    expect(zxyToTileId(2, 0, 0)).toBe(5);
    // every tile of a zoom has its own id, inside the zoom's range
    const z3 = new Set<number>();
    for (let x = 0; x < 8; x++) for (let y = 0; y < 8; y++) z3.add(zxyToTileId(3, x, y));
    expect(z3.size).toBe(64);
    expect(Math.min(...z3)).toBe(21);
    expect(Math.max(...z3)).toBe(84);
  });

  it('reads a tile back by z/x/y, and answers null where the archive has none', async () => {
    const red = solidPng([200, 0, 0], 8);
    const blue = solidPng([0, 0, 200], 8);
    const file = join(dir, 'kaltim.pmtiles');
    writeFileSync(file, pmtilesArchive(new Map([['5/26/15', red], ['6/53/31', blue], ['6/52/31', red]])));
    const archive = await PmtilesArchive.open(file);
    try {
      expect(archive.header).toMatchObject({ tileType: 2, minZoom: 5, maxZoom: 6 });
      expect(await archive.tile(6, 53, 31)).toEqual(blue);
      expect(await archive.tile(5, 26, 15)).toEqual(red);
      expect(await archive.tile(6, 52, 31)).toEqual(red);
      expect(await archive.tile(6, 53, 32)).toBeNull();
      expect(await archive.tile(9, 0, 0)).toBeNull();
      expect(await archive.tile(6, 99, 0)).toBeNull();
    } finally {
      await archive.close();
    }
  });

  it('refuses a file that is not a version 3 archive, with the reason', async () => {
    const file = join(dir, 'not.pmtiles');
    writeFileSync(file, Buffer.alloc(200));
    await expect(PmtilesArchive.open(file)).rejects.toThrow(/not a PMTiles archive/);
  });
});
