// The operations room's console (docs/contract.md §8): the built single-page app from `console/dist`, served at `/`,
// `/alerts`, `/summary`, `/platform`, `/devices/{id}` and `/set-password` (client-side routing), its hashed assets cached for a year, everything
// under a strict Content-Security-Policy (nothing from any other origin, no inline script or style). Plus the one
// read the map needs that the device list does not give: every device's state, worst unresolved alert and
// current index in one answer (`GET /api/v1/console/devices`).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { acceptsGzip } from './accept-encoding.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Alert } from '../alerts/engine.js';
import { SEVERITY_RANK } from '../alerts/rules.js';
import type { Registry } from '../registry/registry.js';
import type { Indices } from './indices.js';
import { ProblemSchema } from './problem.js';
import { visibleTo } from './scope-guard.js';

/**
 * The console's policy: its own origin only (and the map tiles' origin for images, when PANTAU_MAP_TILES names one);
 * no inline script, no inline style, no frames.
 */
export const consoleCsp = (tilesOrigin?: string) => [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  `img-src 'self' data:${tilesOrigin ? ` ${tilesOrigin}` : ''}`,
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer | null;
}

/** Where `npm run build:console` puts the app (from the source tree and from a tsc build under dist/). */
export function consoleDistDir(): string | undefined {
  for (const rel of ['../console/dist', '../../console/dist']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  return undefined;
}

function load(dir: string): { index: Asset; assets: Map<string, Asset> } {
  const asset = (file: string): Asset => {
    const body = readFileSync(file);
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    const compressible = /text|json|svg/.test(type) && body.length > 1024;
    return { type, body, gzip: compressible ? gzipSync(body, { level: 9 }) : null };
  };
  const assets = new Map<string, Asset>();
  const assetsDir = join(dir, 'assets');
  if (existsSync(assetsDir)) for (const f of readdirSync(assetsDir)) assets.set(f, asset(join(assetsDir, f)));
  return { index: asset(join(dir, 'index.html')), assets };
}

function send(request: FastifyRequest, reply: FastifyReply, a: Asset, cache: string): FastifyReply {
  reply.header('content-type', a.type).header('cache-control', cache).header('vary', 'accept-encoding');
  if (a.gzip && acceptsGzip(request.headers['accept-encoding'])) {
    return reply.header('content-encoding', 'gzip').send(a.gzip);
  }
  return reply.send(a.body);
}

const NOT_BUILT = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Pantau</title>
<h1>The console has not been built</h1><p>Run <code>npm run build:console</code> and restart Pantau. The API works without it: <a href="/docs">/docs</a>.</p>`;

export interface ConsoleSources {
  registry: Registry;
  activeAlerts(): Alert[];
  indices(deviceId: string): Indices | undefined;
  /** Directory of the built app; found next to the sources when not given. */
  distDir?: string;
  /** Origin of the map's XYZ tiles (PANTAU_MAP_TILES), allowed as an image source. */
  tilesOrigin?: string;
}

const MapDevice = z.object({
  id: z.string(),
  kind: z.string(),
  name: z.string(),
  city: z.string(),
  district: z.string(),
  lat: z.number(),
  lon: z.number(),
  status: z.enum(['online', 'offline', 'never_seen']),
  lastSeen: z.string().nullable(),
  alertSeverity: z.string().nullable(),
  thresholds: z.record(z.string(), z.unknown()).nullable(),
  index: z.object({ category: z.string(), value: z.number().optional() }).nullable(),
});

function indexOf(idx: Indices | undefined): z.infer<typeof MapDevice>['index'] {
  if (idx?.ispu) return { category: idx.ispu.category, value: idx.ispu.value };
  if (idx?.alertLevel) return { category: idx.alertLevel };
  if (idx?.los) return { category: idx.los };
  return null;
}

export function consolePlugin(src: ConsoleSources): FastifyPluginAsyncZod {
  return async (app) => {
    const dir = src.distDir ?? consoleDistDir();
    const built = dir ? load(dir) : undefined;
    const csp = consoleCsp(src.tilesOrigin);
    if (!built) app.log.warn('the console is not built (npm run build:console); / explains how');

    const page = async (request: FastifyRequest, reply: FastifyReply) => {
      reply.header('content-security-policy', csp);
      reply.header('referrer-policy', 'no-referrer');
      if (!built) return reply.code(503).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT);
      return send(request, reply, built.index, 'no-cache');
    };
    const hidden = { schema: { hide: true } };
    app.get('/', hidden, page);
    app.get('/alerts', hidden, page);
    app.get('/summary', hidden, page);
    app.get('/platform', hidden, page);
    app.get('/devices/:id', hidden, page);
    // a person sets their password here from their one-time link (the token is in the URL fragment, never sent)
    app.get('/set-password', hidden, page);
    app.get('/assets/:file', hidden, async (request, reply) => {
      const file = (request.params as { file: string }).file;
      const a = built?.assets.get(file);
      reply.header('content-security-policy', csp);
      if (!a) return reply.code(404).type('text/plain; charset=utf-8').send(`no asset ${file.slice(0, 100)}`);
      return send(request, reply, a, 'public, max-age=31536000, immutable');
    });

    app.get('/api/v1/console/devices', {
      config: { role: 'viewer' },
      schema: {
        tags: ['console'],
        summary: "Every device for the console's map: state, worst unresolved alert, current index, thresholds",
        response: { 200: z.object({ generatedAt: z.string(), items: z.array(MapDevice) }), 401: ProblemSchema, 403: ProblemSchema },
      },
    }, async (request, reply) => {
      const worst = new Map<string, Alert>();
      for (const a of src.activeAlerts()) {
        const w = worst.get(a.deviceId);
        if (!w || SEVERITY_RANK[a.severity] > SEVERITY_RANK[w.severity]) worst.set(a.deviceId, a);
      }
      const items = src.registry.listDevices().filter((d) => visibleTo(request, d)).map((d) => ({
        id: d.id,
        kind: d.kind,
        name: d.name,
        city: d.city,
        district: d.district,
        lat: d.lat,
        lon: d.lon,
        status: d.status,
        lastSeen: d.lastSeen === null ? null : new Date(d.lastSeen).toISOString(),
        alertSeverity: worst.get(d.id)?.severity ?? null,
        thresholds: d.thresholds,
        index: indexOf(src.indices(d.id)),
      }));
      const body = JSON.stringify({ generatedAt: new Date().toISOString(), items });
      reply.header('cache-control', 'no-store').type('application/json; charset=utf-8');
      // 5,000 devices are about a megabyte of JSON; compressed a tenth of it
      if (body.length > 16_384 && acceptsGzip(request.headers['accept-encoding'])) {
        return reply.header('content-encoding', 'gzip').header('vary', 'accept-encoding').send(gzipSync(body, { level: 4 }) as never);
      }
      return reply.send(Buffer.from(body) as never);
    });
  };
}
