// Peta: every device at its location over the offline base (Natural Earth's coast, the main rivers and the place
// names, map-base.ts) or real tiles (PANTAU_MAP_TILES), coloured by condition, status, worst alert or index. Zoomed
// out, nearby devices are gathered into clusters (supercluster) coloured by their worst member; zoomed in, each device
// is its own marker. The legend lists only the colours on screen. Clusters and markers are reached with the keyboard
// (Tab, then Enter); beside the map, a list with one row per device (the accessible way to the same facts).
import L from 'leaflet';
import Supercluster from 'supercluster';
import type { MapDevice } from '../api.js';
import { FLOOD_COLORS, INDEX_COLORS, severityClass, SEVERITY_COLORS, STATUS_COLORS, statusClass, textOn } from '../colors.js';
import { esc, h } from '../dom.js';
import { time } from '../format.js';
import { categoryLabel, KIND_LABELS, pick, SEVERITY_LABELS, STATUS_LABELS, t, type UiKey } from '../i18n.js';
import { navigate } from '../nav.js';
import { field, kindOptions, labelledSelect } from './controls.js';
import { addBaseLayers } from './map-base.js';
import type { Obstacle } from './map-labels.js';
import { SEVERITY_RANK, store } from '../store.js';
import type { View } from '../view.js';

type Mode = 'condition' | 'status' | 'alert' | 'index';
const MODES: Array<[Mode, UiKey]> = [['condition', 'colourCondition'], ['status', 'colourStatus'], ['alert', 'colourAlert'], ['index', 'colourIndex']];
let mode: Mode = 'condition';

/** What a marker shows: its colour, how bad it is (clusters take their worst member's), and the legend's words for it. */
interface Paint {
  color: string;
  rank: number;
  /** Which legend entry: what the colour means, in the current language at drawing time. */
  label: string;
}

function indexPaint(d: MapDevice): Paint | null {
  if (!d.index) return null;
  const c = d.index.category;
  // the same word (Siaga) names a flood level and an alert severity: the legend says which
  const label = d.kind === 'air' ? `ISPU ${categoryLabel(c)}` : d.kind === 'flood' ? `${t('floodLevel')}: ${categoryLabel(c)}` : `LOS ${c}`;
  return { color: (d.kind === 'flood' ? FLOOD_COLORS[c] : INDEX_COLORS[c]) ?? '#adb5bd', rank: 2, label };
}

function paint(d: MapDevice, m: Mode): Paint {
  const sev = d.alertSeverity;
  const alert = sev ? { color: SEVERITY_COLORS[sev] ?? '#c92a2a', rank: 10 + (SEVERITY_RANK[sev] ?? 1), label: `${t('alert')}: ${pick(SEVERITY_LABELS[sev] ?? { id: sev, en: sev })}` } : null;
  const status = { color: STATUS_COLORS[d.status]!, rank: d.status === 'offline' ? 5 : d.status === 'never_seen' ? 1 : 0, label: pick(STATUS_LABELS[d.status]) };
  if (m === 'status') return status;
  if (m === 'alert') return alert ?? { color: '#2f9e44', rank: 0, label: `${t('alert')}: ${t('noAlert')}` };
  if (m === 'index') return indexPaint(d) ?? { color: '#dee2e6', rank: 0, label: `${t('index')}: —` };
  return alert ?? (d.status !== 'online' ? status : indexPaint(d) ?? status);
}

export function mapView(): View {
  const el = h('section', { class: 'map-view' });
  const heading = h('h1', { class: 'visually-hidden' });
  const mapEl = h('div', { class: 'map', 'data-testid': 'map', role: 'region' });
  const [modeLabel, modeSelect] = labelledSelect('colour-mode');
  const [kindLabel, kindSelect] = labelledSelect('kind-filter');
  const legend = h('ul', { class: 'legend', 'data-testid': 'legend' });
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
  const side = h('aside', { class: 'side' }, h('div', { class: 'controls' }, field(modeLabel, modeSelect), field(kindLabel, kindSelect)), legendTitle, legend, h('div', { class: 'list-head' }, listTitle, count), h('div', { class: 'table-wrap' }, table));
  el.append(heading, mapEl, side);

  const map = L.map(mapEl, { zoomSnap: 0.5, minZoom: 5, maxZoom: 18, attributionControl: true, preferCanvas: false, maxBounds: L.latLngBounds([-12, 100], [15, 130]) });
  map.attributionControl.setPrefix(false);
  const renderer = L.svg({ padding: 0.2 });
  const points = L.layerGroup().addTo(map);
  const base = addBaseLayers(map);

  let index = new Supercluster<{ id: string } & Paint, Paint>({
    radius: 44,
    maxZoom: 14,
    map: (p) => ({ rank: p.rank, color: p.color, label: p.label }),
    reduce: (acc, p) => {
      if (p.rank > acc.rank) {
        acc.rank = p.rank;
        acc.color = p.color;
        acc.label = p.label;
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
    const obstacles: Obstacle[] = [];
    const onScreen = new Map<string, Paint>();
    for (const f of index.getClusters([b.getWest(), b.getSouth(), b.getEast(), b.getNorth()], zoom)) {
      const [lon, lat] = f.geometry.coordinates as [number, number];
      const p = f.properties as { cluster?: boolean; cluster_id?: number; point_count?: number; id?: string } & Paint;
      const at = map.latLngToLayerPoint([lat, lon]);
      if (b.contains([lat, lon])) onScreen.set(`${p.color}|${p.label}`, p);
      if (p.cluster) {
        const n = p.point_count!;
        const size = n < 10 ? 30 : n < 100 ? 36 : n < 1000 ? 44 : 52;
        obstacles.push({ x: at.x, y: at.y, r: size / 2 + 6 }); // its border and halo
        const zoomIn = () => map.setView([lat, lon], Math.min(index.getClusterExpansionZoom(p.cluster_id!), 18));
        const marker = L.marker([lat, lon], { icon: L.divIcon({ className: 'cluster', html: '', iconSize: [size, size] }), keyboard: true, title: '' });
        marker.on('click', zoomIn);
        points.addLayer(marker);
        const icon = marker.getElement();
        if (!icon) continue;
        icon.textContent = n.toLocaleString();
        icon.dataset.count = String(n);
        icon.style.background = p.color;
        icon.style.color = textOn(p.color);
        icon.removeAttribute('title');
        icon.setAttribute('aria-label', `${n.toLocaleString()} ${t('clusterLabel')}`);
        icon.addEventListener('keydown', (e) => {
          if (e.key !== 'Enter' && e.key !== ' ') return;
          e.preventDefault();
          zoomIn();
        });
        continue;
      }
      const d = store.devices.get(p.id!);
      if (!d) continue;
      obstacles.push({ x: at.x, y: at.y, r: 8 + 3 });
      const marker = L.circleMarker([lat, lon], { renderer, radius: 8, weight: 2, color: d.status === 'never_seen' ? '#495057' : '#1f2933', fillColor: p.color, fillOpacity: 0.95 });
      const words = `${d.name} · ${pick(STATUS_LABELS[d.status])}${d.alertSeverity ? ` · ${pick(SEVERITY_LABELS[d.alertSeverity] ?? { id: d.alertSeverity, en: d.alertSeverity })}` : ''}`;
      // an element, never a string: Leaflet puts a string tooltip in as HTML, and the name is whatever an admin typed
      marker.bindTooltip(h('span', {}, words));
      const open = () => navigate(`/devices/${encodeURIComponent(d.id)}`);
      marker.on('click', open);
      points.addLayer(marker);
      const path = marker.getElement();
      if (path) {
        path.classList.add('device-marker');
        path.setAttribute('data-device-id', d.id);
        path.setAttribute('data-state', d.status);
        path.setAttribute('data-alert-severity', d.alertSeverity ?? '');
        path.setAttribute('data-category', d.index?.category ?? '');
        // reachable with Tab, named for screen readers, opened with Enter
        path.setAttribute('tabindex', '0');
        path.setAttribute('role', 'link');
        path.setAttribute('aria-label', `${words} (${t('openDevice')})`);
        path.addEventListener('keydown', (e) => {
          if ((e as KeyboardEvent).key !== 'Enter') return;
          e.preventDefault();
          open();
        });
        path.addEventListener('focus', () => marker.openTooltip());
        path.addEventListener('blur', () => marker.closeTooltip());
      }
    }
    base.labels.place(obstacles);
    renderLegend([...onScreen.values()]);
  };

  /** The legend: one entry per colour on screen now, worst first. */
  let legendKey = '';
  const renderLegend = (entries: Paint[]) => {
    const sorted = entries.sort((x, y) => y.rank - x.rank || (x.label < y.label ? -1 : 1));
    const key = sorted.map((e) => `${e.color}|${e.label}`).join(',') || t('legendEmpty');
    if (key === legendKey) return;
    legendKey = key;
    if (sorted.length === 0) {
      legend.replaceChildren(h('li', { class: 'empty' }, t('legendEmpty')));
      return;
    }
    legend.replaceChildren(...sorted.map((e) => {
      const sw = h('span', { class: 'swatch', 'aria-hidden': 'true' });
      sw.style.background = e.color;
      return h('li', { 'data-testid': 'legend-item', 'data-color': e.color }, sw, e.label);
    }));
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
    legendTitle.textContent = t('legendOnScreen');
    legendKey = '';
    listTitle.textContent = t('deviceList');
    headRow.replaceChildren(h('th', { scope: 'col', role: 'columnheader' }, t('device')), h('th', { scope: 'col', role: 'columnheader' }, t('status')), h('th', { scope: 'col', role: 'columnheader' }, t('alert')));
    base.relabel();
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
