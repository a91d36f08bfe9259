// The alert's panel (docs/console.md "The alert panel"): opened from a row of Peringatan, or by the link in a
// notification (`/#/alerts/{id}`). It shows the alert, the river's trend in the words the messages use ("naik 24
// cm/jam, Siaga ±40 menit lagi", from catalog/trend.ts), and what was sent to whom: each delivery's channel, reason,
// status, attempts and last error (`GET /api/v1/alerts/{id}/deliveries`). Read again every 30 s and whenever the
// alert changes live. A server without the deliveries route is said so; the rest of the panel still works.
import { describeTrend } from '../../../catalog/trend.js';
import { ApiError, get, type Alert } from '../api.js';
import { SEVERITY_COLORS, textOn } from '../colors.js';
import { chip, h } from '../dom.js';
import { num, time } from '../format.js';
import { ALERT_STATE_LABELS, lang, pick, ruleLabel, SEVERITY_LABELS, t, type Label } from '../i18n.js';
import { store } from '../store.js';

const REFRESH_MS = 30_000;

/** `trend` of docs/contract.md §5 Alert. */
export interface AlertTrend {
  window: string;
  ratePerHour: number;
  unit: string;
  direction: 'rising' | 'falling' | 'steady';
  next: { level: 'waspada' | 'siaga' | 'awas'; etaMinutes: number } | null;
  asOf: string;
  readings: number;
}

/** One row of `GET /api/v1/alerts/{id}/deliveries`. */
export interface Delivery {
  id: string;
  channel: { id: string; name: string; type: string };
  reason: string;
  changeAt: string;
  status: string;
  attempts: Array<{ at: string; ok: boolean; status: number | null; error: string | null }>;
  nextAttemptAt: string | null;
  sentAt: string | null;
  /** Sent within the channel's digest. */
  digest: boolean;
}

/** The panel's own words. */
const W = {
  title: { id: 'Rincian peringatan', en: 'Alert details' },
  close: { id: 'Tutup', en: 'Close' },
  closeLabel: { id: 'Tutup rincian peringatan', en: 'Close the alert details' },
  trend: { id: 'Tren 30 menit', en: '30-minute trend' },
  trendNone: { id: 'Tidak ada tren: bukan peringatan tinggi muka air yang aktif, atau kurang dari dua pembacaan dalam 30 menit.', en: 'No trend: not an active water-level alert, or fewer than two readings in 30 minutes.' },
  trendBasis: { id: 'pembacaan, sampai', en: 'readings, up to' },
  deliveries: { id: 'Pengiriman notifikasi', en: 'Notification deliveries' },
  noDeliveries: { id: 'Belum ada notifikasi yang dikirim untuk peringatan ini.', en: 'No notification has been sent for this alert.' },
  deliveriesMissing: { id: 'Server ini belum menyediakan riwayat pengiriman (versi lama). Rincian lain tetap benar.', en: 'This server does not offer the delivery history yet (older version). The other details are still correct.' },
  deliveriesForbidden: { id: 'Peran Anda tidak dapat melihat pengiriman notifikasi.', en: 'Your role cannot see notification deliveries.' },
  gone: { id: 'Peringatan ini tidak ditemukan (sudah dihapus, atau di luar wilayah Anda).', en: 'This alert was not found (deleted, or outside your scope).' },
  channel: { id: 'Saluran', en: 'Channel' },
  reason: { id: 'Sebab', en: 'Reason' },
  status: { id: 'Status', en: 'Status' },
  attempts: { id: 'Percobaan', en: 'Attempts' },
  lastError: { id: 'Galat terakhir', en: 'Last error' },
  when: { id: 'Waktu', en: 'Time' },
  nextAttempt: { id: 'berikutnya', en: 'next' },
  inDigest: { id: 'dalam ringkasan', en: 'in the digest' },
} as const satisfies Record<string, Label>;

const REASONS: Record<string, Label> = {
  opened: { id: 'dibuka', en: 'opened' },
  escalated: { id: 'naik', en: 'raised' },
  tier: { id: 'eskalasi berjenjang', en: 'escalation tier' },
  fell: { id: 'turun', en: 'eased' },
  resolved: { id: 'selesai (aman)', en: 'all-clear' },
};

const STATUSES: Record<string, Label> = {
  held: { id: 'ditahan', en: 'held' },
  queued: { id: 'antre', en: 'queued' },
  sending: { id: 'sedang dikirim', en: 'sending' },
  sent: { id: 'terkirim', en: 'sent' },
  failed: { id: 'gagal', en: 'failed' },
  expired: { id: 'kedaluwarsa', en: 'expired' },
  cancelled: { id: 'dibatalkan', en: 'cancelled' },
};

const w = (key: keyof typeof W) => pick(W[key]);
const word = (table: Record<string, Label>, key: string) => (table[key] ? pick(table[key]) : key);

/** The trend in the messages' words: "naik 24 cm/jam, Siaga ±40 menit lagi" / "rising 24 cm/h, Warning in about 40 min". */
export function trendWords(trend: AlertTrend): string {
  return describeTrend({ rateCmPerHour: trend.ratePerHour, next: trend.next ? { level: trend.next.level, minutes: trend.next.etaMinutes } : null }, lang()) ?? '';
}

export interface AlertPanel {
  el: HTMLElement;
  alertId: string;
  relabel(): void;
  destroy(): void;
}

/** The panel of one alert; `onClose` is called by its close button and by Escape. */
export function alertPanel(alertId: string, onClose: () => void): AlertPanel {
  const heading = h('h2', { id: 'alert-panel-title', tabindex: '-1' });
  const close = h('button', { type: 'button', class: 'ghost close', 'data-testid': 'alert-panel-close' });
  close.addEventListener('click', onClose);
  const summary = h('div', { class: 'panel-summary' });
  const trendTitle = h('h3');
  const trend = h('p', { 'data-testid': 'alert-trend', class: 'trend' });
  const deliveriesTitle = h('h3');
  const deliveries = h('div', { 'data-testid': 'alert-deliveries', 'aria-live': 'polite' });
  const el = h('aside', { id: 'alert-panel', class: 'alert-panel', 'data-testid': 'alert-panel', 'data-alert-id': alertId, role: 'region', 'aria-labelledby': 'alert-panel-title' },
    h('div', { class: 'panel-head' }, heading, close), summary, trendTitle, trend, deliveriesTitle, deliveries);
  // Escape closes the drawer from anywhere on the page (as a dialog's would), unless something else took the key
  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Escape' && !e.defaultPrevented) onClose();
  };
  document.addEventListener('keydown', onKey);

  let alert: (Alert & { trend?: AlertTrend | null }) | null = null;
  let gone = false;
  /** Why the alert could not be read (network, server), shown until a later read succeeds. */
  let loadError: string | null = null;
  let list: Delivery[] | null = null;
  let listProblem: 'missing' | 'forbidden' | string | null = null;

  const render = () => {
    heading.textContent = w('title');
    close.textContent = w('close');
    close.setAttribute('aria-label', w('closeLabel'));
    trendTitle.textContent = w('trend');
    deliveriesTitle.textContent = w('deliveries');
    if (gone) {
      summary.replaceChildren(h('p', { class: 'error', role: 'alert' }, w('gone')));
      trend.textContent = '';
      deliveries.replaceChildren();
      return;
    }
    if (!alert) {
      summary.replaceChildren(loadError ? h('p', { class: 'error', role: 'alert' }, `${t('failed')}: ${loadError}`) : h('p', { class: 'loading' }, t('loading')));
      return;
    }
    const device = store.devices.get(alert.deviceId);
    const color = SEVERITY_COLORS[alert.severity] ?? '#c92a2a';
    summary.replaceChildren(
      h('p', {}, chip(pick(SEVERITY_LABELS[alert.severity] ?? { id: alert.severity, en: alert.severity }), color, textOn(color)), ' ', h('strong', {}, device?.name ?? alert.deviceId), device ? ` · ${device.district}, ${device.city}` : ''),
      h('dl', { class: 'facts' },
        h('dt', {}, t('rule')), h('dd', {}, ruleLabel(alert.rule)),
        h('dt', {}, t('value')), h('dd', {}, num(alert.value), alert.kind === 'flood' && alert.rule === 'flood_level' ? ' cm' : ''),
        h('dt', {}, t('state')), h('dd', { 'data-testid': 'alert-panel-state' }, pick(ALERT_STATE_LABELS[alert.state]!)),
        h('dt', {}, t('opened')), h('dd', {}, time(alert.openedAt)),
        h('dt', {}, t('message')), h('dd', {}, alert.message)),
    );
    const tr = alert.trend;
    trend.dataset.direction = tr?.direction ?? '';
    trend.replaceChildren(...(tr
      ? [h('strong', {}, trendWords(tr)), h('span', { class: 'sub' }, ` (${tr.readings} ${w('trendBasis')} ${time(tr.asOf)})`)]
      : [h('span', { class: 'sub' }, w('trendNone'))]));
    if (listProblem !== null) {
      const text = listProblem === 'missing' ? w('deliveriesMissing') : listProblem === 'forbidden' ? w('deliveriesForbidden') : `${t('failed')}: ${listProblem}`;
      deliveries.replaceChildren(h('p', { class: listProblem === 'missing' ? 'note' : 'error', 'data-testid': 'alert-deliveries-note' }, text));
    } else if (list === null) {
      deliveries.replaceChildren(h('p', { class: 'loading' }, t('loading')));
    } else if (list.length === 0) {
      deliveries.replaceChildren(h('p', { class: 'empty' }, w('noDeliveries')));
    } else {
      const head = h('tr', {}, ...(['channel', 'reason', 'status', 'attempts', 'lastError'] as const).map((k) => h('th', { scope: 'col' }, w(k))));
      deliveries.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { class: 'deliveries' }, h('thead', {}, head), h('tbody', {}, ...list.map((d) => {
        const last = d.attempts.at(-1);
        const failed = [...d.attempts].reverse().find((a) => !a.ok);
        const when = d.sentAt ?? last?.at ?? d.changeAt;
        return h('tr', { 'data-testid': 'delivery-row', 'data-channel-id': d.channel.id, 'data-reason': d.reason, 'data-status': d.status },
          h('td', {}, d.channel.name, h('div', { class: 'sub' }, d.channel.type)),
          h('td', {}, word(REASONS, d.reason), h('div', { class: 'sub' }, time(d.changeAt))),
          h('td', {}, word(STATUSES, d.status), d.digest ? h('div', { class: 'sub' }, w('inDigest')) : null, h('div', { class: 'sub' }, time(when)), d.nextAttemptAt && d.status !== 'sent' ? h('div', { class: 'sub' }, `${w('nextAttempt')}: ${time(d.nextAttemptAt)}`) : null),
          h('td', { class: 'num' }, String(d.attempts.length)),
          h('td', { class: failed ? 'error' : 'sub' }, failed ? [failed.status === null ? '' : `HTTP ${failed.status}: `, failed.error ?? ''].join('') : '—'),
        );
      })))));
    }
  };

  const load = async () => {
    try {
      alert = await get<Alert & { trend?: AlertTrend | null }>(`/api/v1/alerts/${encodeURIComponent(alertId)}`);
      gone = false;
      loadError = null;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) gone = true;
      else loadError = (err as Error).message;
    }
    if (!gone) {
      try {
        list = (await get<{ deliveries: Delivery[] }>(`/api/v1/alerts/${encodeURIComponent(alertId)}/deliveries`)).deliveries;
        listProblem = null;
      } catch (err) {
        listProblem = err instanceof ApiError && err.status === 404 ? 'missing' : err instanceof ApiError && err.status === 403 ? 'forbidden' : (err as Error).message;
      }
    }
    render();
  };

  render();
  void load();
  const timer = window.setInterval(() => void load(), REFRESH_MS);
  // a live change of this alert (risen, acknowledged, resolved) reads it again, with its new deliveries
  let lastSeen = JSON.stringify(store.alerts.get(alertId) ?? null);
  const off = store.on((what) => {
    if (what !== 'alerts') return;
    const now = JSON.stringify(store.alerts.get(alertId) ?? null);
    if (now !== lastSeen) {
      lastSeen = now;
      void load();
    }
  });
  return {
    el,
    alertId,
    relabel: render,
    destroy() {
      window.clearInterval(timer);
      off();
      document.removeEventListener('keydown', onKey);
    },
  };
}
