// Perangkat: one device — status and last seen, latest values with units, its index in the official colour
// (ISPU category, flood level, LOS), a 24-hour chart with the gauge's thresholds or the ISPU bands drawn, and
// its recent rejections (why firmware output was refused). Follows the device's readings live.
import uPlot from 'uplot';
import { CATALOG, type Kind } from '../../../catalog/kinds.js';
import { ISPU_BREAKPOINTS, ISPU_CATEGORIES } from '../../../catalog/ispu.js';
import { ApiError, get, type MapDevice } from '../api.js';
import { INDEX_COLORS, SEVERITY_COLORS, STATUS_COLORS, textOn } from '../colors.js';
import { chip, h } from '../dom.js';
import { clock, num, time } from '../format.js';
import { categoryLabel, fieldLabel, KIND_LABELS, pick, STATUS_LABELS, t } from '../i18n.js';
import type { View } from '../view.js';
import { inApp } from '../nav.js';
import { store } from '../store.js';

interface Latest {
  deviceId: string;
  kind: Kind;
  ts: string;
  values: Record<string, number>;
  indices: { ispu?: { value: number; category: string; dominant: string } | null; alertLevel?: string | null; los?: string | null };
}
interface Readings {
  points: Array<{ ts: string; values: Record<string, number> }>;
}
interface Rejection {
  ts: string;
  reason: string;
  detail: string;
}

/** The field charted per kind, and the fallback when the first has no data. */
const CHART_FIELDS: Record<Kind, string[]> = { flood: ['waterLevel', 'rainfall'], air: ['pm25', 'pm10'], traffic: ['avgSpeed', 'vehicleCount'] };

interface Line {
  name: string;
  value: number;
  color: string;
}
interface Band {
  from: number;
  to: number;
  color: string;
  name: string;
}

/** Horizontal lines (flood thresholds, LOS speed bounds) and bands (ISPU categories) for a device's chart. */
function guides(d: MapDevice, field: string): { lines: Line[]; bands: Band[] } {
  const th = d.thresholds ?? {};
  if (d.kind === 'flood' && field === 'waterLevel') {
    return { lines: (['waspada', 'siaga', 'awas'] as const).filter((l) => typeof th[l] === 'number').map((l) => ({ name: categoryLabel(l), value: th[l] as number, color: SEVERITY_COLORS[l]! })), bands: [] };
  }
  if (d.kind === 'air' && (field === 'pm25' || field === 'pm10')) {
    const bp = ISPU_BREAKPOINTS[field];
    return { lines: [], bands: ISPU_CATEGORIES.map((c, i) => ({ from: bp[i]!, to: bp[i + 1] ?? bp[5], color: c.color, name: pick(c.label) })) };
  }
  if (d.kind === 'traffic' && field === 'avgSpeed') {
    const ff = typeof th.freeFlowSpeed === 'number' ? th.freeFlowSpeed : 50;
    // LOS bounds: A above 85 % of free flow … E above 30 %
    return { lines: ([['A', 0.85], ['B', 0.67], ['C', 0.5], ['D', 0.4], ['E', 0.3]] as const).map(([g, r]) => ({ name: `LOS ${g}`, value: Math.round(ff * r * 10) / 10, color: INDEX_COLORS[g]! })), bands: [] };
  }
  return { lines: [], bands: [] };
}

function withAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

export function deviceView(id: string): View {
  const el = h('section', { class: 'device-view' });
  let device: MapDevice | undefined;
  let latest: Latest | null = null;
  let readings: { field: string; points: Readings['points'] } | null = null;
  let rejections: Rejection[] = [];
  let plot: uPlot | null = null;
  let failure: string | null = null;
  let refreshTimer: number | undefined;

  const chartEl = h('div', { class: 'chart', 'data-testid': 'device-chart' });
  const resize = new ResizeObserver(() => plot?.setSize({ width: chartEl.clientWidth, height: plot.height }));
  resize.observe(chartEl);

  const drawChart = () => {
    plot?.destroy();
    plot = null;
    chartEl.replaceChildren();
    if (!device || !readings || readings.points.length === 0) {
      chartEl.append(h('p', { class: 'empty' }, t('noData24h')));
      return;
    }
    const field = readings.field;
    const xs = readings.points.map((p) => Date.parse(p.ts) / 1000);
    const ys = readings.points.map((p) => p.values[field] ?? null);
    const { lines, bands } = guides(device, field);
    const unit = CATALOG[device.kind].fields.find((f) => f.name === field)?.unit ?? '';
    const dataMax = Math.max(...ys.filter((v): v is number => v !== null));
    const px = uPlot.pxRatio;
    // threshold names sit in a gutter right of the plot, each at its line's height and pushed apart when two lines
    // are close: they can meet neither the y axis and its label on the left nor the data
    const gutter = lines.length > 0 ? 150 : 16;
    const opts: uPlot.Options = {
      width: Math.max(chartEl.clientWidth, 280),
      height: 300,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Asia/Makassar'),
      legend: { show: true },
      scales: {
        x: { time: true },
        y: {
          range: (_u, min, max) => {
            let lo = Math.min(min, ...lines.map((l) => l.value));
            let hi = Math.max(max, ...lines.map((l) => l.value));
            if (bands.length > 0) {
              // show the band the data reaches and the next one up
              const reached = bands.findIndex((b) => dataMax <= b.to);
              hi = Math.max(hi, bands[Math.min(reached + 1, bands.length - 1)]?.to ?? hi);
              lo = 0;
            }
            const pad = (hi - lo) * 0.08 || 1;
            return [lo - (bands.length > 0 ? 0 : pad), hi + pad];
          },
        },
      },
      axes: [
        { label: t('timeWita'), values: (_u, splits) => splits.map((s) => clock(s * 1000)), stroke: '#333' },
        { label: `${fieldLabel(field)} (${unit})`, stroke: '#333', size: 64, values: (_u, splits) => splits.map((s) => num(s)) },
        { side: 1, scale: 'y', size: gutter, stroke: '#333', grid: { show: false }, ticks: { show: false }, values: (_u, splits) => splits.map(() => '') },
      ],
      series: [
        { label: t('timeWita'), value: (_u, v) => (v === null ? '—' : `${clock(v * 1000)} WITA`) },
        // each threshold a series of its own, so the legend names it with its colour
        ...lines.map((l): uPlot.Series => ({ label: l.name, stroke: l.color, width: 3, points: { show: false }, value: () => `${num(l.value)} ${unit}` })),
        { label: `${fieldLabel(field)} (${unit})`, stroke: '#0b5394', width: 2, spanGaps: false, value: (_u, v) => (v === null ? '—' : `${num(v)} ${unit}`) },
      ],
      hooks: {
        drawClear: [
          (u) => {
            const ctx = u.ctx;
            for (const b of bands) {
              const top = u.valToPos(b.to, 'y', true);
              const bottom = u.valToPos(b.from, 'y', true);
              ctx.fillStyle = withAlpha(b.color, 0.22);
              ctx.fillRect(u.bbox.left, top, u.bbox.width, bottom - top);
            }
          },
        ],
        draw: [
          (u) => {
            const ctx = u.ctx;
            const drawn: Array<Line & { y: number; labelY: number }> = [];
            const fontPx = 12 * px;
            ctx.font = `${fontPx}px system-ui, sans-serif`;
            ctx.textBaseline = 'middle';
            let lastLabel = -Infinity;
            for (const l of [...lines].sort((a, b) => b.value - a.value)) {
              const y = Math.round(u.valToPos(l.value, 'y', true));
              // drawn over the series again, so nothing of the data hides a threshold
              ctx.strokeStyle = l.color;
              ctx.lineWidth = 3 * px;
              ctx.beginPath();
              ctx.moveTo(u.bbox.left, y);
              ctx.lineTo(u.bbox.left + u.bbox.width, y);
              ctx.stroke();
              const labelY = Math.max(y, lastLabel + fontPx + 3 * px);
              lastLabel = labelY;
              const x = u.bbox.left + u.bbox.width + 8 * px;
              ctx.fillStyle = l.color;
              ctx.fillRect(x, labelY - 1.5 * px, 10 * px, 3 * px);
              ctx.fillStyle = '#1f2933';
              ctx.fillText(`${l.name} ${num(l.value)} ${unit}`, x + 14 * px, labelY);
              drawn.push({ ...l, y: y / px, labelY: labelY / px });
            }
            drawn.sort((a, b) => a.value - b.value);
            // where each guide was drawn, in CSS pixels from the canvas's top (for people's tools and tests)
            chartEl.dataset.thresholds = JSON.stringify(drawn.map(({ name, value, color, y, labelY }) => ({ name, value, color, y, labelY })));
            chartEl.dataset.plot = JSON.stringify({ left: u.bbox.left / px, top: u.bbox.top / px, width: u.bbox.width / px, height: u.bbox.height / px });
            chartEl.dataset.bands = JSON.stringify(bands.map((b) => ({ name: b.name, from: b.from, to: b.to, color: b.color, top: u.valToPos(b.to, 'y'), bottom: u.valToPos(b.from, 'y') })));
          },
        ],
      },
    };
    plot = new uPlot(opts, [xs, ...lines.map((l) => xs.map(() => l.value)), ys], chartEl);
    if (bands.length > 0) {
      const key = h('ul', { class: 'legend guides' });
      for (const b of bands) {
        const sw = h('span', { class: 'swatch', 'aria-hidden': 'true' });
        sw.style.background = b.color;
        key.append(h('li', {}, sw, `${b.name}: ${num(b.from)}–${num(b.to)} ${unit}`));
      }
      chartEl.append(h('h3', {}, t('ispuBands')), key);
    }
  };

  const render = () => {
    if (failure) {
      el.replaceChildren(h('h1', {}, id), h('p', { class: 'error', role: 'alert' }, failure), inApp(h('a', { href: '/' }, t('back'))));
      return;
    }
    if (!device) {
      el.replaceChildren(h('p', { class: 'loading' }, t('loading')));
      return;
    }
    const d = device;
    const statusColor = STATUS_COLORS[d.status]!;
    const header = h('div', { class: 'device-head' },
      h('h1', {}, d.name),
      h('p', { class: 'sub' }, `${pick(KIND_LABELS[d.kind])} · ${d.city} · ${d.district} · ${d.id}`),
      h('dl', { class: 'facts' },
        h('dt', {}, t('status')), h('dd', {}, chip(pick(STATUS_LABELS[d.status]), statusColor, textOn(statusColor))),
        h('dt', {}, t('lastSeen')), h('dd', {}, d.lastSeen ? time(d.lastSeen) : t('never')),
        h('dt', {}, t('location')), h('dd', {}, `${num(d.lat, 4)}, ${num(d.lon, 4)}`),
      ),
    );
    const latestBox = h('section', { class: 'card', 'data-testid': 'device-latest', 'aria-labelledby': 'latest-title' }, h('h2', { id: 'latest-title' }, t('latest')));
    if (!latest) latestBox.append(h('p', { class: 'empty' }, t('noReading')));
    else {
      const idx = latest.indices;
      const category = idx.ispu?.category ?? idx.alertLevel ?? idx.los ?? null;
      if (category) {
        const color = INDEX_COLORS[category] ?? '#adb5bd';
        const label = idx.ispu ? `ISPU ${idx.ispu.value} · ${categoryLabel(category)} (${fieldLabel(idx.ispu.dominant)})` : idx.los ? `LOS ${categoryLabel(category)}` : categoryLabel(category);
        latestBox.append(h('p', { class: 'index-line' }, h('span', {}, `${t('index')}: `), chip(label, color, textOn(color), { 'data-testid': 'device-index', 'data-category': category, class: 'chip index' })));
      }
      const rows = CATALOG[latest.kind].fields.filter((f) => latest!.values[f.name] !== undefined).map((f) =>
        h('tr', {}, h('th', { scope: 'row' }, pick(f.label)), h('td', { class: 'num' }, num(latest!.values[f.name], 2)), h('td', {}, f.unit)),
      );
      latestBox.append(h('table', { class: 'values' }, h('tbody', {}, ...rows)), h('p', { class: 'sub' }, `${t('measured')}: ${time(latest.ts)}`));
    }
    const chartBox = h('section', { class: 'card wide', 'aria-labelledby': 'chart-title' }, h('h2', { id: 'chart-title' }, `${t('chart24h')} · ${t('zoneNote')}`), chartEl);
    const rej = h('section', { class: 'card wide', 'aria-labelledby': 'rej-title' }, h('h2', { id: 'rej-title' }, t('rejections')), h('p', { class: 'sub' }, t('rejectionsHelp')));
    if (rejections.length === 0) rej.append(h('p', { class: 'empty' }, t('noRejections')));
    else {
      rej.append(h('div', { class: 'table-wrap' }, h('table', { class: 'rejections' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('time')), h('th', { scope: 'col' }, t('reason')), h('th', { scope: 'col' }, t('detail')))),
        h('tbody', {}, ...rejections.map((r) => h('tr', { 'data-testid': 'rejection-row' }, h('td', {}, time(r.ts)), h('td', {}, h('code', {}, r.reason)), h('td', {}, r.detail)))),
      )));
    }
    el.replaceChildren(inApp(h('a', { href: '/', class: 'back' }, `← ${t('back')}`)), header, h('div', { class: 'cards' }, latestBox, chartBox, rej));
    drawChart();
  };

  const load = async () => {
    try {
      device = store.devices.get(id) ?? (await get<{ items: MapDevice[] }>('/api/v1/console/devices')).items.find((d) => d.id === id);
      if (!device) {
        failure = t('notFound');
        return render();
      }
      const d = device;
      const [l, rej] = await Promise.all([
        get<Latest>(`/api/v1/devices/${encodeURIComponent(id)}/latest`).catch((err: unknown) => {
          if (err instanceof ApiError && err.status === 404) return null;
          throw err;
        }),
        get<{ items: Rejection[] }>(`/api/v1/devices/${encodeURIComponent(id)}/rejections?limit=20`),
      ]);
      latest = l;
      rejections = rej.items;
      readings = null;
      for (const field of CHART_FIELDS[d.kind]) {
        const r = await get<Readings>(`/api/v1/devices/${encodeURIComponent(id)}/readings?from=-24h&every=10m&agg=mean&fields=${field}`);
        if (r.points.length > 0) {
          readings = { field, points: r.points };
          break;
        }
      }
      failure = null;
    } catch (err) {
      failure = `${t('failed')}: ${(err as Error).message}`;
    }
    render();
  };

  const offReading = store.onReading((r) => {
    if (r.deviceId !== id) return;
    window.clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(() => void load(), 1_000);
  });
  const offDevices = store.on((what) => {
    const d = store.devices.get(id);
    if (what === 'devices' && d && device && (d.status !== device.status || d.lastSeen !== device.lastSeen)) {
      device = d;
      render();
    }
  });
  render();
  void load();
  return {
    el,
    relabel: render,
    destroy() {
      offReading();
      offDevices();
      resize.disconnect();
      window.clearTimeout(refreshTimer);
      plot?.destroy();
    },
  };
}
