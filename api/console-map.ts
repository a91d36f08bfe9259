// The console map's base layer (PANTAU_MAP_TILES, docs/console.md "The map"): which tiles to draw under the devices,
// as `GET /api/v1/console/map`. An XYZ URL template is handed to the browser, which loads the tiles itself (the
// console's CSP allows that origin for images); a local PMTiles archive is served by Pantau at
// `/api/v1/console/tiles/{z}/{x}/{y}`, so a closed network needs no tile server. Unset, the map keeps its offline
// Natural Earth base only.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { gunzipSync } from 'node:zlib';
import { z } from 'zod';
import { acceptsGzip } from './accept-encoding.js';
import { PmtilesArchive, PMTILES_TYPES } from './pmtiles.js';
import { ProblemSchema, sendProblem } from './problem.js';

export type MapTilesSource = { type: 'xyz'; url: string } | { type: 'pmtiles'; path: string };
export type MapTiles = MapTilesSource & { attribution: string };

/** The origin the browser loads XYZ tiles from (for the CSP), or undefined. */
export const tilesOrigin = (tiles: MapTiles | undefined): string | undefined => (tiles?.type === 'xyz' ? new URL(tiles.url.replace(/\{[zxy]\}/g, '0')).origin : undefined);

const TILES_ROUTE = '/api/v1/console/tiles';

export function consoleMapPlugin(tiles: MapTiles | undefined): FastifyPluginAsyncZod {
  return async (app) => {
    const archive = tiles?.type === 'pmtiles' ? await PmtilesArchive.open(tiles.path) : undefined;
    if (archive) {
      const type = PMTILES_TYPES[archive.header.tileType];
      if (!type?.startsWith('image/')) {
        await archive.close();
        throw new Error(`PANTAU_MAP_TILES: ${tiles!.type === 'pmtiles' ? tiles!.path : ''} holds ${type ?? `tile type ${archive.header.tileType}`} tiles; the console draws raster tiles (PNG, JPEG, WebP)`);
      }
      app.addHook('onClose', () => archive.close());
    }

    app.get('/api/v1/console/map', {
      config: { role: 'viewer' },
      schema: {
        tags: ['console'],
        summary: "The console map's base layer: an XYZ URL template of tiles, or none (the offline base only)",
        response: {
          200: z.object({ tiles: z.object({ url: z.string(), attribution: z.string(), minZoom: z.number().int(), maxZoom: z.number().int() }).nullable() }),
          401: ProblemSchema,
          403: ProblemSchema,
        },
      },
    }, async () => {
      if (!tiles) return { tiles: null };
      if (archive) return { tiles: { url: `${TILES_ROUTE}/{z}/{x}/{y}`, attribution: tiles.attribution, minZoom: archive.header.minZoom, maxZoom: archive.header.maxZoom } };
      return { tiles: { url: (tiles as { url: string }).url, attribution: tiles.attribution, minZoom: 0, maxZoom: 19 } };
    });

    if (!archive) return;
    const coordinate = z.coerce.number().int().min(0).max(2 ** 30);
    app.get(`${TILES_ROUTE}/:z/:x/:y`, {
      config: { role: 'viewer' },
      schema: {
        tags: ['console'],
        summary: 'One raster tile of the local PMTiles archive named by PANTAU_MAP_TILES',
        params: z.object({ z: coordinate.max(30), x: coordinate, y: coordinate }),
        response: { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema },
      },
    }, async (request, reply) => {
      const { z: zoom, x, y } = request.params;
      const body = await archive.tile(zoom, x, y);
      if (!body) return sendProblem(reply, 404, `no tile ${zoom}/${x}/${y} in the map archive`);
      reply.header('content-type', PMTILES_TYPES[archive.header.tileType]!).header('cache-control', 'private, max-age=86400');
      reply.header('vary', 'accept-encoding');
      if (archive.header.tileCompression !== 2) return reply.send(body as never);
      // stored gzipped: as stored to a client that takes gzip, unpacked for one that refuses it
      if (acceptsGzip(request.headers['accept-encoding'])) return reply.header('content-encoding', 'gzip').send(body as never);
      return reply.send(gunzipSync(body) as never);
    });
  };
}
