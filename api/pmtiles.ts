// A reader of PMTiles version 3 archives (https://github.com/protomaps/PMTiles/blob/main/spec/v3/spec.md): one file
// holding a whole tile pyramid, tiles addressed by a Hilbert-curve tile id through a root directory and leaf
// directories. Enough of the spec to serve raster tiles (PNG, JPEG, WebP) of a local file by z/x/y: the header,
// gzip-compressed or plain directories, and run-length entries. The file is read with positioned reads, never whole.
import { open, type FileHandle } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';

export interface PmtilesHeader {
  rootOffset: number;
  rootLength: number;
  leafOffset: number;
  tileDataOffset: number;
  internalCompression: number;
  tileCompression: number;
  tileType: number;
  minZoom: number;
  maxZoom: number;
}

interface Entry {
  tileId: number;
  offset: number;
  length: number;
  runLength: number;
}

/** The MIME type of a PMTiles tile type (1 MVT, 2 PNG, 3 JPEG, 4 WebP, 5 AVIF). */
export const PMTILES_TYPES: Record<number, string> = { 1: 'application/vnd.mapbox-vector-tile', 2: 'image/png', 3: 'image/jpeg', 4: 'image/webp', 5: 'image/avif' };

/** The tile id of z/x/y: the tiles of all lower zooms, then the position along the zoom's Hilbert curve. */
export function zxyToTileId(z: number, x: number, y: number): number {
  const n = 2 ** z;
  let d = 0;
  for (let s = n / 2; s >= 1; s /= 2) {
    const rx = (x & s) > 0 ? 1 : 0;
    const ry = (y & s) > 0 ? 1 : 0;
    d += s * s * ((3 * rx) ^ ry);
    if (ry === 0) {
      if (rx === 1) {
        x = n - 1 - x;
        y = n - 1 - y;
      }
      [x, y] = [y, x];
    }
  }
  return (n * n - 1) / 3 + d;
}

function readVarint(buf: Buffer, pos: { at: number }): number {
  let value = 0;
  let shift = 1;
  for (;;) {
    const b = buf[pos.at++];
    if (b === undefined) throw new Error('PMTiles directory ends inside a number');
    value += (b & 0x7f) * shift;
    if (b < 0x80) return value;
    shift *= 128;
  }
}

export function parseHeader(buf: Buffer): PmtilesHeader {
  if (buf.length < 127 || buf.toString('latin1', 0, 7) !== 'PMTiles') throw new Error('not a PMTiles archive');
  if (buf[7] !== 3) throw new Error(`PMTiles version ${buf[7]} is not supported (only 3)`);
  const u64 = (at: number) => Number(buf.readBigUInt64LE(at));
  return {
    rootOffset: u64(8),
    rootLength: u64(16),
    leafOffset: u64(40),
    tileDataOffset: u64(56),
    internalCompression: buf[97]!,
    tileCompression: buf[98]!,
    tileType: buf[99]!,
    minZoom: buf[100]!,
    maxZoom: buf[101]!,
  };
}

export function parseDirectory(raw: Buffer): Entry[] {
  const pos = { at: 0 };
  const n = readVarint(raw, pos);
  const entries: Entry[] = [];
  let last = 0;
  for (let i = 0; i < n; i++) {
    last += readVarint(raw, pos);
    entries.push({ tileId: last, offset: 0, length: 0, runLength: 1 });
  }
  for (const e of entries) e.runLength = readVarint(raw, pos);
  for (const e of entries) e.length = readVarint(raw, pos);
  entries.forEach((e, i) => {
    const v = readVarint(raw, pos);
    // 0 = right after the previous entry's data
    e.offset = v === 0 && i > 0 ? entries[i - 1]!.offset + entries[i - 1]!.length : v - 1;
  });
  return entries;
}

/** The entry whose range holds `tileId` (a tile, or a leaf directory to look in). */
function find(entries: Entry[], tileId: number): Entry | undefined {
  let lo = 0;
  let hi = entries.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const e = entries[mid]!;
    if (e.tileId === tileId) return e;
    if (e.tileId < tileId) lo = mid + 1;
    else hi = mid - 1;
  }
  const e = entries[hi];
  if (!e) return undefined;
  if (e.runLength === 0) return e; // a leaf directory covers everything up to the next entry
  return tileId - e.tileId < e.runLength ? e : undefined;
}

async function readBytes(fh: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, offset);
  if (bytesRead !== length) throw new Error('PMTiles archive is shorter than its directory says');
  return buf;
}

async function readDirectory(fh: FileHandle, header: PmtilesHeader, offset: number, length: number): Promise<Entry[]> {
  const raw = await readBytes(fh, offset, length);
  return parseDirectory(header.internalCompression === 2 ? gunzipSync(raw) : raw);
}

export class PmtilesArchive {
  private constructor(private readonly fh: FileHandle, readonly header: PmtilesHeader, private readonly root: Entry[]) {}

  static async open(path: string): Promise<PmtilesArchive> {
    const fh = await open(path, 'r');
    try {
      const header = parseHeader(await readBytes(fh, 0, 127));
      if (header.internalCompression !== 1 && header.internalCompression !== 2) throw new Error(`PMTiles directories compressed with method ${header.internalCompression} are not supported (only none or gzip)`);
      return new PmtilesArchive(fh, header, await readDirectory(fh, header, header.rootOffset, header.rootLength));
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** The tile's bytes as stored (`tileCompression` says whether gzip), or null when the archive has none there. */
  async tile(z: number, x: number, y: number): Promise<Buffer | null> {
    if (z < this.header.minZoom || z > this.header.maxZoom || x < 0 || y < 0 || x >= 2 ** z || y >= 2 ** z) return null;
    const id = zxyToTileId(z, x, y);
    let entries = this.root;
    // the spec nests leaf directories; four levels reach far beyond any real archive
    for (let depth = 0; depth < 4; depth++) {
      const e = find(entries, id);
      if (!e) return null;
      if (e.runLength > 0) return readBytes(this.fh, this.header.tileDataOffset + e.offset, e.length);
      entries = await readDirectory(this.fh, this.header, this.header.leafOffset + e.offset, e.length);
    }
    return null;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}
