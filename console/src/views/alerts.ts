// Peringatan: open and acknowledged alerts, most severe and newest first, filtered by city, kind and state.
// Operators acknowledge with one click; viewers see no button. Alerts arrive and change live; a new or escalated
// one is marked (a highlight that fades, no sound) and announced to screen readers; resolved ones drop off.
// A row's "Rincian" (or a click on the row) opens the alert's panel (alert-panel.ts); `/alerts#<id>` opens it too.
import { ApiError, canAcknowledge, post, type Alert } from '../api.js';
import { SEVERITY_COLORS, textOn } from '../colors.js';
import { chip, h } from '../dom.js';
import { num, time } from '../format.js';
import { ALERT_STATE_LABELS, KIND_LABELS, pick, ruleLabel, SEVERITY_LABELS, t } from '../i18n.js';
import type { View } from '../view.js';
import { inApp } from '../nav.js';
import { alertPanel, type AlertPanel } from './alert-panel.js';
import { field, kindOptions, labelledSelect } from './controls.js';
import { SEVERITY_RANK, store } from '../store.js';

const FRESH_MS = 15_000;

const DETAILS = { id: 'Rincian', en: 'Details' } as const;

export function alertsView(): View {
  const el = h('section', { class: 'alerts-view' });
  let panel: AlertPanel | null = null;
  const detailsButton = (id: string) => el.querySelector<HTMLButtonElement>(`tr[data-alert-id="${CSS.escape(id)}"] [data-testid=alert-details]`);
  const closePanel = () => {
    if (!panel) return;
    const id = panel.alertId;
    panel.destroy();
    panel.el.remove();
    panel = null;
    history.replaceState(null, '', '/alerts');
    render();
    detailsButton(id)?.focus();
  };
  const openPanel = (id: string) => {
    if (panel?.alertId === id) return panel.el.querySelector<HTMLElement>('h2')?.focus();
    panel?.destroy();
    panel?.el.remove();
    panel = alertPanel(id, closePanel);
    el.append(panel.el);
    history.replaceState(null, '', `/alerts#${encodeURIComponent(id)}`);
    render();
    panel.el.querySelector<HTMLElement>('h2')?.focus();
  };
  const title = h('h1');
  const filters = h('div', { class: 'controls' });
  const [cityLabel, city] = labelledSelect('alert-city');
  const [kindLabel, kind] = labelledSelect('alert-kind');
  const [stateLabel, state] = labelledSelect('alert-state');
  filters.append(field(cityLabel, city), field(kindLabel, kind), field(stateLabel, state));
  const announce = h('div', { class: 'announce', role: 'status', 'aria-live': 'polite' });
  const note = h('p', { class: 'note' });
  const headRow = h('tr');
  const tbody = h('tbody');
  const empty = h('p', { class: 'empty', hidden: true });
  const table = h('table', { class: 'alerts' }, h('thead', {}, headRow), tbody);
  el.append(title, filters, announce, note, h('div', { class: 'table-wrap' }, table), empty);
  const seenFresh = new Set<string>();
  const errors = new Map<string, string>();

  const render = () => {
    const cities = [...new Set([...store.devices.values()].map((d) => d.city))].sort();
    if (city.options.length !== cities.length + 1) {
      const chosen = city.value;
      city.replaceChildren(h('option', { value: '' }, t('all')), ...cities.map((c) => h('option', { value: c, selected: c === chosen }, c)));
    }
    const now = Date.now();
    const items = [...store.alerts.values()]
      .filter((a) => (!kind.value || a.kind === kind.value) && (!state.value || a.state === state.value) && (!city.value || store.devices.get(a.deviceId)?.city === city.value))
      .sort((a, b) => (SEVERITY_RANK[b.severity] ?? 0) - (SEVERITY_RANK[a.severity] ?? 0) || b.openedAt.localeCompare(a.openedAt));
    const newOnes: Alert[] = [];
    tbody.replaceChildren(...items.map((a) => {
      const d = store.devices.get(a.deviceId);
      const freshAt = store.fresh.get(a.id);
      const fresh = freshAt !== undefined && now - freshAt < FRESH_MS;
      if (fresh && !seenFresh.has(`${a.id}:${a.severity}`)) {
        seenFresh.add(`${a.id}:${a.severity}`);
        newOnes.push(a);
      }
      const color = SEVERITY_COLORS[a.severity] ?? '#c92a2a';
      const action = h('td');
      if (a.state === 'open' && canAcknowledge()) {
        const button = h('button', { type: 'button', 'data-testid': 'alert-ack', class: 'ack' }, t('acknowledge'));
        button.setAttribute('aria-label', `${t('acknowledge')}: ${d?.name ?? a.deviceId}, ${ruleLabel(a.rule)}`);
        button.addEventListener('click', () => {
          button.disabled = true;
          post<Alert>(`/api/v1/alerts/${encodeURIComponent(a.id)}/ack`)
            .then((acked) => {
              errors.delete(a.id);
              store.acknowledged(acked);
            })
            .catch((err: unknown) => {
              errors.set(a.id, err instanceof ApiError ? err.message : String(err));
              button.disabled = false;
              render();
            });
        });
        action.append(button);
      } else if (a.state === 'acknowledged') {
        action.append(h('span', { class: 'sub' }, `${t('acknowledgedBy')} ${time(a.acknowledgedAt)}`));
      }
      const error = errors.get(a.id);
      if (error) action.append(h('p', { class: 'error', role: 'alert' }, error));
      const details = h('button', { type: 'button', class: 'details', 'data-testid': 'alert-details', 'aria-expanded': String(panel?.alertId === a.id), 'aria-controls': panel?.alertId === a.id ? 'alert-panel' : null }, pick(DETAILS));
      details.setAttribute('aria-label', `${pick(DETAILS)}: ${d?.name ?? a.deviceId}, ${ruleLabel(a.rule)}`);
      details.addEventListener('click', () => openPanel(a.id));
      action.prepend(details);
      const row = h('tr', { 'data-testid': 'alert-row', 'data-alert-id': a.id, 'data-device-id': a.deviceId, 'data-severity': a.severity, 'data-state': a.state, class: `${fresh ? 'fresh' : ''}${panel?.alertId === a.id ? ' selected' : ''}` },
        h('td', {}, chip(pick(SEVERITY_LABELS[a.severity] ?? { id: a.severity, en: a.severity }), color, textOn(color))),
        h('td', {}, inApp(h('a', { href: `/devices/${encodeURIComponent(a.deviceId)}` }, d?.name ?? a.deviceId)), h('div', { class: 'sub' }, `${d?.city ?? ''} · ${KIND_LABELS[a.kind as 'air'] ? pick(KIND_LABELS[a.kind as 'air']) : a.kind}`)),
        h('td', {}, ruleLabel(a.rule), h('div', { class: 'sub' }, a.message)),
        h('td', { class: 'num' }, num(a.value)),
        h('td', {}, time(a.openedAt)),
        h('td', {}, pick(ALERT_STATE_LABELS[a.state]!)),
        action,
      );
      // a click anywhere on the row but its links and buttons opens the panel too (the button is the keyboard's way)
      row.addEventListener('click', (e) => {
        if (!(e.target as Element).closest('a, button')) openPanel(a.id);
      });
      return row;
    }));
    empty.hidden = items.length > 0;
    if (newOnes.length > 0) {
      const a = newOnes[0]!;
      announce.textContent = `${t('newAlert')}: ${store.devices.get(a.deviceId)?.name ?? a.deviceId} · ${pick(SEVERITY_LABELS[a.severity] ?? { id: a.severity, en: a.severity })}`;
    }
  };

  const relabel = () => {
    title.textContent = t('alertsTitle');
    cityLabel.textContent = t('city');
    kindLabel.textContent = t('kind');
    stateLabel.textContent = t('state');
    kind.replaceChildren(...kindOptions(kind.value));
    const s = state.value;
    state.replaceChildren(h('option', { value: '' }, t('all')), ...(['open', 'acknowledged'] as const).map((x) => h('option', { value: x, selected: x === s }, pick(ALERT_STATE_LABELS[x]!))));
    city.replaceChildren();
    note.textContent = `${canAcknowledge() ? '' : `${t('viewOnly')} `}${t('zoneNote')}.`;
    empty.textContent = t('noAlerts');
    headRow.replaceChildren(...(['severity', 'device', 'rule', 'value', 'opened', 'state', 'action'] as const).map((k) => h('th', { scope: 'col' }, t(k))));
    announce.textContent = '';
    panel?.relabel();
    render();
  };
  for (const s of [city, kind, state]) s.addEventListener('change', render);
  const off = store.on((what, changed) => {
    // device names and cities: only a full reload of the devices can change them
    if (what === 'alerts' || (what === 'devices' && changed === null)) render();
  });
  // the highlight of fresh rows ends after FRESH_MS
  const timer = window.setInterval(() => {
    if (tbody.querySelector('tr.fresh')) render();
  }, 5_000);
  relabel();
  // `/alerts#<id>`: a link to one alert (the notifications' link arrives here through the shell)
  const linked = /^#([A-Za-z0-9-]+)$/.exec(location.hash);
  if (linked) openPanel(linked[1]!);
  return {
    el,
    relabel,
    destroy() {
      off();
      window.clearInterval(timer);
      panel?.destroy();
    },
  };
}
