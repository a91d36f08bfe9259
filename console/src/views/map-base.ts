// What lies under the devices on the map. Offline (the default): Natural Earth's coast cut at build time
// (console/build/basemap.ts), the main rivers, and the names of the cities and regencies (console/src/places.ts).
// With PANTAU_MAP_TILES (`GET /api/v1/console/map` says which): the tiles, an XYZ template or the platform's own
// PMTiles route, replacing the coast and the rivers; the names stay, kept clear of the devices (map-labels.ts).
import L from 'leaflet';
import basemapUrl from '../generated/basemap.json?url';
import { get } from '../api.js';
import { esc } from '../dom.js';
import { t } from '../i18n.js';
import { PLACES, RIVERS } from '../places.js';
import { PlaceLabels } from './map-labels.js';

interface TilesAnswer {
  tiles: { url: string; attribution: string; minZoom: number; maxZoom: number } | null;
}

export interface BaseLayers {
  labels: PlaceLabels;
  /** Re-labels the attribution after a language switch. */
  relabel(): void;
}

export function addBaseLayers(map: L.Map): BaseLayers {
  map.createPane('land').style.zIndex = '200';
  map.createPane('rivers').style.zIndex = '210';
  const placesPane = map.createPane('places');
  placesPane.style.zIndex = '450';
  placesPane.style.pointerEvents = 'none';
  const offline = L.layerGroup();
  let tiled = false;
  let attribution = '';
  let tilesAttribution = '';

  // vector layers join the map once it has its first view (a renderer asked to draw before that has no bounds)
  const land = fetch(basemapUrl).then((r) => r.json() as Promise<GeoJSON.FeatureCollection>);
  map.whenReady(() => {
    for (const r of RIVERS) {
      L.polyline(r.line, { pane: 'rivers', interactive: false, color: '#4a90c2', weight: r.major ? 3 : 2, opacity: 0.9, lineJoin: 'round' }).addTo(offline);
    }
    if (!tiled) offline.addTo(map);
    // the places' own dots lie under the devices' (a device at a city's centre is drawn whole); their names above
    for (const p of PLACES) L.circleMarker([p.lat, p.lon], { pane: 'rivers', interactive: false, radius: p.rank === 'city' ? 3.5 : 2.5, weight: 1, color: '#102a43', fillColor: '#ffffff', fillOpacity: 1 }).addTo(map);
    land
      .then((geo) => {
        L.geoJSON(geo, { pane: 'land', interactive: false, style: { color: '#7c8a96', weight: 1, fillColor: '#f4f1e8', fillOpacity: 1 } }).addTo(offline);
      })
      .catch(() => undefined);
  });

  get<TilesAnswer>('/api/v1/console/map')
    .then(({ tiles }) => {
      if (!tiles) return;
      tiled = true;
      map.removeLayer(offline);
      // the archive's zooms are what exists, not where the layer ends: beyond them Leaflet scales the nearest tiles
      // (a layer's maxZoom below the map's would leave the map blank when zoomed in on a city)
      L.tileLayer(tiles.url, { maxZoom: 18, minNativeZoom: tiles.minZoom, maxNativeZoom: tiles.maxZoom, crossOrigin: false, className: 'base-tiles' }).addTo(map);
      tilesAttribution = esc(tiles.attribution);
      relabel();
    })
    .catch(() => undefined);

  const relabel = () => {
    map.attributionControl.removeAttribution(attribution);
    attribution = tiled ? tilesAttribution : t('mapAttribution');
    if (attribution) map.attributionControl.addAttribution(attribution);
  };
  return { labels: new PlaceLabels(map, PLACES, placesPane), relabel };
}
