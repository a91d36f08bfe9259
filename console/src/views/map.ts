// Peta: every device at its location over a base cut from Natural Earth (shipped with Pantau; no tiles, nothing
// from another host), coloured by condition, status, worst alert or index. Zoomed out, nearby devices are
// gathered into clusters (supercluster) coloured by their worst member; zoomed in, each device is its own marker.
// Beside the map, a list with one row per device (the accessible way to the same facts).
import L from 'leaflet';
import Supercluster from 'supercluster';
import basemapUrl from '../generated/basemap.json?url';
import type { MapDevice } from '../api.js';
import { FLOOD_COLORS, INDEX_COLORS, LOS_COLORS, severityClass, SEVERITY_COLORS, STATUS_COLORS, statusClass, textOn } from '../colors.js';
import { esc, h } from '../dom.js';
import { time } from '../format.js';
import { categoryLabel, KIND_LABELS, pick, SEVERITY_LABELS, STATUS_LABELS, t, type UiKey } from '../i18n.js';
import { navigate } from '../nav.js';
import { kindOptions, labelledSelect } from './controls.js';
import { SEVERITY_RANK, store } from '../store.js';
import type { View } from '../main.js';
import { ISPU_COLORS } from '../../../catalog/ispu.js';

/** The four cities of the programme; Nusantara at the capital's core area (KIPP) in Sepaku. */
export const CITIES = [
  { name: 'Samarinda', lat: -0.5022, lon: 117.1536 },
  { name: 'Balikpapan', lat: -1.2379, lon: 116.8529 },
  { name: 'Bontang', lat: 0.1333, lon: 117.5 },
  { name: 'Nusantara', lat: -0.9706, lon: 116.7083 },
] as const;

type Mode = 'condition' | 'status' | 'alert' | 'index';
const MODES: Array<[Mode, UiKey]> = [['condition', 'colourCondition'], ['status', 'colourStatus'], ['alert', 'colourAlert'], ['index', 'colourIndex']];
let mode: Mode = 'condition';

/** A marker's colour and how bad it is (clusters take their worst member's). */
function paint(d: MapDevice, m: Mode): { color: string; rank: number } {
  const alert = d.alertSeverity ? { color: SEVERITY_COLORS[d.alertSeverity] ?? '#c92a2a', rank: 10 + (SEVERITY_RANK[d.alertSeverity] ?? 1) } : null;
  const status = { color: STATUS_COLORS[d.status]!, rank: d.status === 'offline' ? 5 : d.status === 'never_seen' ? 1 : 0 };
  const index = d.index ? { color: INDEX_COLORS[d.index.category] ?? '#adb5bd', rank: 2 } : null;
  if (m === 'status') return status;
  if (m === 'alert') return alert ?? { color: '#2f9e44', rank: 0 };
  if (m === 'index') return index ?? { color: '#dee2e6', rank: 0 };
  return alert ?? (d.status !== 'online' ? status : index ?? status);
}

function legendItems(m: Mode): Array<[string, string]> {
  const status: Array<[string, string]> = (['online', 'offline', 'never_seen'] as const).map((s) => [STATUS_COLORS[s]!, pick(STATUS_LABELS[s])]);
  const severities: Array<[string, string]> = ['waspada', 'siaga', 'awas', 'critical'].map((s) => [SEVERITY_COLORS[s]!, pick(SEVERITY_LABELS[s]!)]);
  const indices: Array<[string, string]> = [
    ...Object.entries(ISPU_COLORS).map(([c, color]): [string, string] => [color, `ISPU ${categoryLabel(c)}`]),
    ...(['normal', 'waspada', 'siaga', 'awas'] as const).map((l): [string, string] => [FLOOD_COLORS[l]!, categoryLabel(l)]),
    ...Object.entries(LOS_COLORS).map(([g, color]): [string, string] => [color, `LOS ${g}`]),
  ];
  if (m === 'status') return status;
  if (m === 'alert') return severities;
  if (m === 'index') return indices;
  return [...severities, ...status, ...indices];
}

export function mapView(): View {
  const el = h('section', { class: 'map-view' });
  const heading = h('h1', { class: 'visually-hidden' });
  const mapEl = h('div', { class: 'map', 'data-testid': 'map', role: 'region' });
  const [modeLabel, modeSelect] = labelledSelect('colour-mode');
  const [kindLabel, kindSelect] = labelledSelect('kind-filter');
  const legend = h('ul', { class: 'legend' });
  const legendTitle = h('h2', { class: 'legend-title' });
  const listTitle = h('h2');
  const count = h('span', { class: 'count' });
  const tbody = h('tbody');
  const headRow = h('tr');
  // laid out as a grid, not a table: rows off screen then cost no layout (content-visibility), which 5,000 table
  // rows would; the ARIA roles keep it a table for assistive technology
  const table = h('table', { class: 'devices', role: 'table' }, h('thead', { role: 'rowgroup' }, headRow), tbody);
  tbody.setAttribute('role', 'rowgroup');
  headRow.setAttribute('role', 'row');
  const side = h('aside', { class: 'side' }, h('div', { class: 'controls' }, modeLabel, modeSelect, kindLabel, kindSelect), legendTitle, legend, h('div', { class: 'list-head' }, listTitle, count), h('div', { class: 'table-wrap' }, table));
  el.append(heading, mapEl, side);

  const map = L.map(mapEl, { zoomSnap: 0.5, minZoom: 5, maxZoom: 18, attributionControl: true, preferCanvas: false, maxBounds: L.latLngBounds([-12, 100], [15, 130]) });
  map.attributionControl.setPrefix(false);
  map.createPane('land').style.zIndex = '200';
  map.createPane('cities').style.zIndex = '450';
  const renderer = L.svg({ padding: 0.2 });
  const points = L.layerGroup().addTo(map);
  let attribution = '';
  fetch(basemapUrl)
    .then((r) => r.json())
    .then((geo: GeoJSON.FeatureCollection) => {
      L.geoJSON(geo, { pane: 'land', interactive: false, style: { color: '#7c8a96', weight: 1, fillColor: '#f4f1e8', fillOpacity: 1 } }).addTo(map);
    })
    .catch(() => undefined);
  // the names are constants of this file, never data
  for (const c of CITIES) L.marker([c.lat, c.lon], { pane: 'cities', interactive: false, keyboard: false, icon: L.divIcon({ className: 'city-label', html: c.name, iconSize: undefined }) }).addTo(map);

  let index = new Supercluster<{ id: string; rank: number; color: string }, { rank: number; color: string }>({
    radius: 44,
    maxZoom: 14,
    map: (p) => ({ rank: p.rank, color: p.color }),
    reduce: (acc, p) => {
      if (p.rank > acc.rank) {
        acc.rank = p.rank;
        acc.color = p.color;
      }
    },
  });
  let fitted = false;
  let kind = '';

  const visible = () => [...store.devices.values()].filter((d) => !kind || d.kind === kind);

  const rebuild = (list = true) => {
    const devices = visible();
    for (const d of devices) painted.set(d.id, paintKey(d));
    index = new Supercluster({ ...index.options });
    index.load(devices.map((d) => ({ type: 'Feature', properties: { id: d.id, ...paint(d, mode) }, geometry: { type: 'Point', coordinates: [d.lon, d.lat] } })));
    if (!fitted && devices.length > 0) {
      fitted = true;
      map.fitBounds(L.latLngBounds(devices.map((d) => [d.lat, d.lon] as [number, number])).pad(0.15), { maxZoom: 12, animate: false });
    } else if (!fitted) {
      map.setView([-0.75, 117.0], 8, { animate: false });
    }
    draw();
    if (list) renderList(devices);
  };

  // layers added before the map's first view join it on its 'load'; drawing waits for that
  let loaded = false;
  const draw = () => {
    if (!loaded) return;
    const b = map.getBounds();
    const zoom = Math.floor(map.getZoom());
    points.clearLayers();
    for (const f of index.getClusters([b.getWest(), b.getSouth(), b.getEast(), b.getNorth()], zoom)) {
      const [lon, lat] = f.geometry.coordinates as [number, number];
      const p = f.properties as { cluster?: boolean; cluster_id?: number; point_count?: number; id?: string; color: string; rank: number };
      if (p.cluster) {
        const n = p.point_count!;
        const size = n < 10 ? 30 : n < 100 ? 36 : n < 1000 ? 44 : 52;
        const marker = L.marker([lat, lon], { icon: L.divIcon({ className: 'cluster', html: '', iconSize: [size, size] }), keyboard: false, title: String(n) });
        marker.on('click', () => map.setView([lat, lon], Math.min(index.getClusterExpansionZoom(p.cluster_id!), 18)));
        points.addLayer(marker);
        const icon = marker.getElement();
        if (!icon) continue;
        icon.textContent = n.toLocaleString();
        icon.dataset.count = String(n);
        icon.style.background = p.color;
        icon.style.color = textOn(p.color);
        icon.setAttribute('aria-hidden', 'true');
        continue;
      }
      const d = store.devices.get(p.id!);
      if (!d) continue;
      const marker = L.circleMarker([lat, lon], { renderer, radius: 8, weight: 2, color: d.status === 'never_seen' ? '#495057' : '#1f2933', fillColor: p.color, fillOpacity: 0.95 });
      // an element, never a string: Leaflet puts a string tooltip in as HTML, and the name is whatever an admin typed
      marker.bindTooltip(h('span', {}, `${d.name} · ${pick(STATUS_LABELS[d.status])}${d.alertSeverity ? ` · ${pick(SEVERITY_LABELS[d.alertSeverity] ?? { id: d.alertSeverity, en: d.alertSeverity })}` : ''}`));
      marker.on('click', () => navigate(`/devices/${encodeURIComponent(d.id)}`));
      points.addLayer(marker);
      const path = marker.getElement();
      if (path) {
        path.classList.add('device-marker');
        path.setAttribute('data-device-id', d.id);
        path.setAttribute('data-state', d.status);
        path.setAttribute('data-alert-severity', d.alertSeverity ?? '');
        path.setAttribute('data-category', d.index?.category ?? '');
      }
    }
  };

  // the list is built as HTML text (5,000 rows in one parse, not 60,000 element calls); every value is escaped, the
  // API's enums (status, severity) too
  const rowHtml = (d: MapDevice): string => {
    const sev = d.alertSeverity;
    const href = `/devices/${encodeURIComponent(d.id)}`;
    return `<tr role="row" data-testid="device-row" data-device-id="${esc(d.id)}" data-state="${esc(d.status)}" data-alert-severity="${esc(sev ?? '')}">`
      + `<td role="cell"><a href="${esc(href)}">${esc(d.name)}</a><div class="sub">${esc(pick(KIND_LABELS[d.kind]))} · ${esc(d.city)}</div></td>`
      + `<td role="cell"><span class="chip ${esc(statusClass(d.status))}">${esc(pick(STATUS_LABELS[d.status]))}</span><div class="sub">${esc(d.lastSeen ? time(d.lastSeen) : t('never'))}</div></td>`
      + `<td role="cell">${sev ? `<span class="chip ${esc(severityClass(sev))}">${esc(pick(SEVERITY_LABELS[sev] ?? { id: sev, en: sev }))}</span>` : '—'}</td></tr>`;
  };
  let rowOf = new Map<string, HTMLTableRowElement>();
  const renderList = (devices: MapDevice[]) => {
    // plain comparisons: localeCompare costs seconds over 5,000 rows on a slow machine
    const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
    const sorted = devices.sort((a, b) => (SEVERITY_RANK[b.alertSeverity ?? ''] ?? 0) - (SEVERITY_RANK[a.alertSeverity ?? ''] ?? 0) || cmp(a.city, b.city) || cmp(a.name, b.name));
    tbody.innerHTML = sorted.map(rowHtml).join('');
    rowOf = new Map([...tbody.rows].map((r) => [r.dataset.deviceId!, r]));
    count.textContent = `${devices.length.toLocaleString()} ${t('shown')}`;
  };
  /** Rows of changed devices redrawn in place; false when the order may have changed (a new worst alert). */
  const patchList = (ids: Set<string>): boolean => {
    for (const id of ids) {
      const d = store.devices.get(id);
      const row = rowOf.get(id);
      if (!d || !row || (row.dataset.alertSeverity ?? '') !== (d.alertSeverity ?? '')) return false;
    }
    for (const id of ids) {
      const row = rowOf.get(id)!;
      const next = document.createElement('tbody');
      next.innerHTML = rowHtml(store.devices.get(id)!);
      const fresh = next.rows[0]!;
      row.replaceWith(fresh);
      rowOf.set(id, fresh);
    }
    return true;
  };
  tbody.addEventListener('click', (e) => {
    const a = (e.target as Element).closest('a');
    if (!a || e.ctrlKey || e.metaKey || e.shiftKey || (e as MouseEvent).button !== 0) return;
    e.preventDefault();
    navigate(a.getAttribute('href')!);
  });

  const relabel = () => {
    heading.textContent = t('navMap');
    mapEl.setAttribute('aria-label', t('mapLabel'));
    modeLabel.textContent = t('colourBy');
    modeSelect.replaceChildren(...MODES.map(([m, key]) => h('option', { value: m, selected: m === mode }, t(key))));
    kindLabel.textContent = t('kind');
    kindSelect.replaceChildren(...kindOptions(kind));
    legendTitle.textContent = t('legend');
    legend.replaceChildren(...legendItems(mode).map(([color, text]) => {
      const sw = h('span', { class: 'swatch', 'aria-hidden': 'true' });
      sw.style.background = color;
      return h('li', {}, sw, text);
    }));
    listTitle.textContent = t('deviceList');
    headRow.replaceChildren(h('th', { scope: 'col', role: 'columnheader' }, t('device')), h('th', { scope: 'col', role: 'columnheader' }, t('status')), h('th', { scope: 'col', role: 'columnheader' }, t('alert')));
    map.attributionControl.removeAttribution(attribution);
    attribution = t('mapAttribution');
    map.attributionControl.addAttribution(attribution);
    rebuild();
  };
  modeSelect.addEventListener('change', () => {
    mode = modeSelect.value as Mode;
    relabel();
  });
  kindSelect.addEventListener('change', () => {
    kind = kindSelect.value;
    rebuild();
  });
  map.on('moveend', draw);
  map.whenReady(() => {
    loaded = true;
    draw();
  });
  // what each device was painted with, so readings that change nothing on the map redraw nothing
  const painted = new Map<string, string>();
  const paintKey = (d: MapDevice) => {
    const p = paint(d, mode);
    return `${p.color}|${p.rank}|${d.status}|${d.alertSeverity ?? ''}|${d.index?.category ?? ''}`;
  };
  const off = store.on((what, changed) => {
    if (what !== 'devices') return;
    if (changed === null || !patchList(changed)) return rebuild();
    let repaint = false;
    for (const id of changed) {
      const d = store.devices.get(id);
      if (!d) continue;
      const key = paintKey(d);
      if (painted.get(id) !== key) repaint = true;
      painted.set(id, key);
    }
    if (repaint) rebuild(false);
  });
  // Leaflet measures its container: once the view is in the document
  requestAnimationFrame(() => {
    map.invalidateSize();
    relabel();
  });

  return {
    el,
    relabel,
    destroy() {
      off();
      map.remove();
    },
  };
}
