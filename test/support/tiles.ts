// Map tiles for the console's base-layer tests: solid-colour 256×256 PNGs made here (no image library), a local
// XYZ tile server that logs what it was asked for, and a PMTiles v3 archive writer (the spec's header, one root
// directory, tiles in tile-id order).
import { createServer, type Server } from 'node:http';
import { deflateSync, gzipSync } from 'node:zlib';
import { zxyToTileId } from '../../api/pmtiles.js';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A 256×256 PNG of one colour. */
export function solidPng([r, g, b]: [number, number, number], size = 256): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  const row = Buffer.alloc(1 + size * 3);
  for (let x = 0; x < size; x++) row.set([r, g, b], 1 + x * 3);
  const raw = Buffer.concat(Array.from({ length: size }, () => row));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

export interface TileServer {
  /** The XYZ template, `http://127.0.0.1:port/tiles/{z}/{x}/{y}.png`. */
  template: string;
  origin: string;
  /** Paths asked for, in order. */
  requests: string[];
  close(): Promise<void>;
}

/** Serves every /tiles/z/x/y.png as a solid PNG of `color`. */
export async function startTileServer(color: [number, number, number]): Promise<TileServer> {
  const png = solidPng(color);
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (!/^\/tiles\/\d+\/\d+\/\d+\.png$/.test(req.url ?? '')) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
    res.end(png);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { template: `${origin}/tiles/{z}/{x}/{y}.png`, origin, requests, close: () => new Promise((r) => server.close(() => r())) };
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Buffer.from(out);
}

/**
 * A PMTiles v3 archive of PNG tiles (`"z/x/y"` → bytes), root directory gzip-compressed; with `gzipTiles` each tile
 * is stored gzipped too (tile compression 2), as archives made by tippecanoe or pmtiles often are.
 */
export function pmtilesArchive(tiles: Map<string, Buffer>, { gzipTiles = false } = {}): Buffer {
  const entries = [...tiles].map(([zxy, data]) => {
    const [z, x, y] = zxy.split('/').map(Number) as [number, number, number];
    return { id: zxyToTileId(z, x, y), z, data: gzipTiles ? gzipSync(data) : data };
  }).sort((a, b) => a.id - b.id);
  let offset = 0;
  const placed = entries.map((e) => ({ ...e, offset: (offset += e.data.length) - e.data.length }));
  const deltas = placed.map((e, i) => e.id - (i > 0 ? placed[i - 1]!.id : 0));
  const dir = gzipSync(Buffer.concat([
    varint(placed.length),
    ...deltas.map(varint),
    ...placed.map(() => varint(1)),
    ...placed.map((e) => varint(e.data.length)),
    ...placed.map((e) => varint(e.offset + 1)),
  ]));
  const data = Buffer.concat(placed.map((e) => e.data));
  const header = Buffer.alloc(127);
  header.write('PMTiles', 0, 'latin1');
  header[7] = 3;
  const u64 = (at: number, v: number) => header.writeBigUInt64LE(BigInt(v), at);
  u64(8, 127);
  u64(16, dir.length);
  u64(24, 127 + dir.length); // no metadata
  u64(32, 0);
  u64(40, 127 + dir.length); // no leaf directories
  u64(48, 0);
  u64(56, 127 + dir.length);
  u64(64, data.length);
  u64(72, placed.length);
  u64(80, placed.length);
  u64(88, placed.length);
  header[96] = 1; // clustered
  header[97] = 2; // directories gzip
  header[98] = gzipTiles ? 2 : 1; // tiles gzipped or as they are
  header[99] = 2; // PNG
  header[100] = Math.min(...placed.map((e) => e.z));
  header[101] = Math.max(...placed.map((e) => e.z));
  return Buffer.concat([header, dir, data]);
}
