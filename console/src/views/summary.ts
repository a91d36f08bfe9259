// Ringkasan: per city and kind — devices online/offline/never seen, open alerts by severity, the worst current
// index in its official colour. Re-read when alerts change and every 30 s.
import { get } from '../api.js';
import { INDEX_COLORS, SEVERITY_COLORS, textOn } from '../colors.js';
import { chip, h } from '../dom.js';
import { time } from '../format.js';
import { categoryLabel, KIND_LABELS, pick, SEVERITY_LABELS, t } from '../i18n.js';
import type { View } from '../view.js';
import { inApp } from '../nav.js';
import { SEVERITY_RANK, store } from '../store.js';

interface SummaryItem {
  city: string;
  kind: 'air' | 'flood' | 'traffic';
  devices: { total: number; online: number; offline: number; neverSeen: number };
  openAlerts: { total: number; bySeverity: Record<string, number> };
  worstIndex: { deviceId: string; ispu?: { value: number; category: string }; alertLevel?: string; los?: string } | null;
}

export function summaryView(): View {
  const el = h('section', { class: 'summary-view' });
  const title = h('h1');
  const updated = h('p', { class: 'sub' });
  const headRow = h('tr');
  const tbody = h('tbody');
  el.append(title, updated, h('div', { class: 'table-wrap' }, h('table', { class: 'summary' }, h('thead', {}, headRow), tbody)));
  let data: { generatedAt: string; items: SummaryItem[] } | null = null;
  let error: string | null = null;
  let timer: number | undefined;

  const render = () => {
    updated.textContent = error ?? (data ? `${t('updated')}: ${time(data.generatedAt)}` : t('loading'));
    updated.classList.toggle('error', error !== null);
    headRow.replaceChildren(...(['city', 'kind', 'total', 'online', 'offline', 'neverSeen', 'openAlerts', 'worstIndex'] as const).map((k) => h('th', { scope: 'col' }, t(k))));
    tbody.replaceChildren(...(data?.items ?? []).map((s) => {
      const alerts = h('td', {});
      const severities = Object.entries(s.openAlerts.bySeverity).sort(([a], [b]) => (SEVERITY_RANK[b] ?? 0) - (SEVERITY_RANK[a] ?? 0));
      if (severities.length === 0) alerts.append('0');
      for (const [sev, n] of severities) {
        const color = SEVERITY_COLORS[sev] ?? '#c92a2a';
        alerts.append(chip(`${pick(SEVERITY_LABELS[sev] ?? { id: sev, en: sev })}: ${n}`, color, textOn(color)), ' ');
      }
      const w = s.worstIndex;
      const category = w?.ispu?.category ?? w?.alertLevel ?? w?.los;
      const worst = h('td', {});
      if (w && category) {
        const color = INDEX_COLORS[category] ?? '#adb5bd';
        const text = w.ispu ? `ISPU ${w.ispu.value} · ${categoryLabel(category)}` : w.los ? `LOS ${categoryLabel(category)}` : categoryLabel(category);
        worst.append(chip(text, color, textOn(color), { 'data-category': category }), ' ', inApp(h('a', { href: `/devices/${encodeURIComponent(w.deviceId)}` }, store.devices.get(w.deviceId)?.name ?? w.deviceId)));
      } else worst.append('—');
      return h('tr', { 'data-testid': 'summary-row', 'data-city': s.city, 'data-kind': s.kind },
        h('th', { scope: 'row' }, s.city), h('td', {}, pick(KIND_LABELS[s.kind])),
        h('td', { class: 'num' }, s.devices.total), h('td', { class: 'num' }, s.devices.online), h('td', { class: 'num' }, s.devices.offline), h('td', { class: 'num' }, s.devices.neverSeen),
        alerts, worst);
    }));
  };
  const load = () =>
    get<{ generatedAt: string; items: SummaryItem[] }>('/api/v1/summary')
      .then((d) => {
        data = d;
        error = null;
      })
      .catch((err: Error) => {
        error = `${t('failed')}: ${err.message}`;
      })
      .finally(render);
  const relabel = () => {
    title.textContent = t('summaryTitle');
    render();
  };
  let pending: number | undefined;
  const off = store.on((what) => {
    if (what !== 'alerts') return;
    window.clearTimeout(pending);
    pending = window.setTimeout(() => void load(), 300);
  });
  timer = window.setInterval(() => void load(), 30_000);
  relabel();
  void load();
  return {
    el,
    relabel,
    destroy() {
      off();
      window.clearInterval(timer);
      window.clearTimeout(pending);
    },
  };
}
