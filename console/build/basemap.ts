// The map's base, made at build time from data that ships with Pantau's dependencies: Natural Earth's 1:10m
// countries (public domain) from the npm package `world-atlas`, cut to Borneo and its neighbours. Written as
// GeoJSON to console/src/generated/basemap.json, which the app loads as a hashed asset: no tile server, no CDN.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { feature } from 'topojson-client';
import type { Topology, GeometryCollection } from 'topojson-specification';
import type { Feature, MultiPolygon, Polygon, Position } from 'geojson';

/** lon/lat box kept: Borneo, the Makassar Strait and Sulawesi's west coast. */
export const BASEMAP_BBOX = { west: 107, south: -6, east: 122, north: 9 } as const;

const here = dirname(fileURLToPath(import.meta.url));
export const BASEMAP_FILE = join(here, '..', 'src', 'generated', 'basemap.json');

const round = (p: Position): Position => [Math.round(p[0]! * 1000) / 1000, Math.round(p[1]! * 1000) / 1000];

function intersects(ring: Position[]): boolean {
  let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
  for (const [x, y] of ring as Array<[number, number]>) {
    w = Math.min(w, x); e = Math.max(e, x); s = Math.min(s, y); n = Math.max(n, y);
  }
  return e >= BASEMAP_BBOX.west && w <= BASEMAP_BBOX.east && n >= BASEMAP_BBOX.south && s <= BASEMAP_BBOX.north;
}

export function buildBasemap(): { features: number; bytes: number } {
  const require = createRequire(import.meta.url);
  const topo = JSON.parse(readFileSync(require.resolve('world-atlas/countries-10m.json'), 'utf8')) as Topology<{ countries: GeometryCollection<{ name: string }> }>;
  const countries = feature(topo, topo.objects.countries);
  const out: Array<Feature<MultiPolygon, { name: string }>> = [];
  for (const f of countries.features as Array<Feature<Polygon | MultiPolygon, { name: string }>>) {
    if (!f.geometry) continue;
    const polygons = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates;
    const kept = polygons.filter((poly) => poly[0] && intersects(poly[0])).map((poly) => poly.map((ring) => ring.map(round)));
    if (kept.length > 0) out.push({ type: 'Feature', properties: { name: f.properties.name }, geometry: { type: 'MultiPolygon', coordinates: kept } });
  }
  const json = JSON.stringify({
    type: 'FeatureCollection',
    // carried into the app's attribution
    source: 'Natural Earth 1:10m countries (public domain), via world-atlas',
    features: out,
  });
  mkdirSync(dirname(BASEMAP_FILE), { recursive: true });
  writeFileSync(BASEMAP_FILE, json);
  return { features: out.length, bytes: json.length };
}
