// Platform (admins only): the health of the whole cluster from `GET /api/v1/cluster` (docs/scale-out.md, *Health of
// the cluster*) — every node with its role, state, lease, last heartbeat, spool depth, InfluxDB writer lag, broker
// session, and which one is the alert owner. Read again every 5 s; the relative times tick every second from the
// ages PostgreSQL measured (never the browser's clock against the servers'). When the API fails the last answer stays
// on screen, said to be stale, under the error. Every state is a badge with words, never a colour alone.
import { ApiError, currentSession, get } from '../api.js';
import { h } from '../dom.js';
import { bytes, duration, relative, time } from '../format.js';
import { pick, t, type Label } from '../i18n.js';
import type { View } from '../view.js';

export const REFRESH_MS = 5_000;

/** `ClusterNode` of docs/contract.md §5. */
interface ClusterNode {
  id: string;
  role: string;
  state: 'live' | 'silent' | 'stopped' | 'taken-over';
  /** `taken-over`: the worker that drained its broker session, and when that ended. */
  takenBy?: string | null;
  takenOverAt?: string | null;
  timeSlot: number | null;
  startedAt: string;
  lastHeartbeat: string | null;
  heartbeatAgeSeconds: number | null;
  leaseExpiresAt: string | null;
  spoolBytes: number;
  writerLagSeconds: number;
  influxUp: boolean;
  alertOwner: boolean;
  brokerSession: boolean | null;
}

interface Cluster {
  node: string;
  cluster: boolean;
  registry: boolean;
  leaseMs: number;
  alertOwner: string | null;
  nodes: ClusterNode[];
}

/** The page's own words. */
const W = {
  title: { id: 'Kesehatan platform', en: 'Platform health' },
  caption: { id: 'Node klaster', en: 'Cluster nodes' },
  node: { id: 'Node', en: 'Node' },
  role: { id: 'Peran', en: 'Role' },
  state: { id: 'Keadaan', en: 'State' },
  heartbeat: { id: 'Detak terakhir', en: 'Last heartbeat' },
  lease: { id: 'Sewa berakhir', en: 'Lease expires' },
  spool: { id: 'Antrean spool', en: 'Spool depth' },
  lag: { id: 'Jeda penulis InfluxDB', en: 'InfluxDB writer lag' },
  broker: { id: 'Sesi broker', en: 'Broker session' },
  owner: { id: 'Pemilik peringatan', en: 'Alert owner' },
  thisNode: { id: 'node ini', en: 'this node' },
  ownerIs: { id: 'Pemilik peringatan', en: 'Alert owner' },
  noOwner: { id: 'tidak ada: peringatan tidak sedang dinilai', en: 'none: alerts are not being judged' },
  answeredBy: { id: 'Dijawab oleh', en: 'Answered by' },
  updated: { id: 'diperbarui', en: 'updated' },
  every: { id: 'dibaca ulang setiap 5 detik', en: 'read again every 5 seconds' },
  single: { id: 'Satu node (tanpa registri bersama): node ini menjawab tentang dirinya sendiri.', en: 'A single node (no shared registry): this node answers about itself.' },
  noRegistry: { id: 'PostgreSQL tidak menjawab: hanya node ini yang tampil.', en: 'PostgreSQL does not answer: only this node is shown.' },
  failed: { id: 'Status klaster tidak dapat dimuat', en: 'The cluster status could not be loaded' },
  stale: { id: 'Data di bawah dari', en: 'The data below is from' },
  forbidden: { id: 'Hanya admin yang dapat melihat kesehatan platform.', en: 'Only admins can see the platform health.' },
  refresh: { id: 'Muat ulang sekarang', en: 'Refresh now' },
  live: { id: 'hidup', en: 'live' },
  silent: { id: 'senyap (sewa habis)', en: 'silent (lease ran out)' },
  stopped: { id: 'berhenti', en: 'stopped' },
  takenOver: { id: 'diambil alih', en: 'taken over' },
  takenBy: { id: 'sesi broker dikuras oleh', en: 'broker session drained by' },
  leaseIn: { id: 'berakhir', en: 'runs out' },
  leaseOut: { id: 'habis', en: 'ran out' },
  leftCleanly: { id: 'keluar dengan bersih', en: 'left cleanly' },
  connected: { id: 'tersambung', en: 'connected' },
  disconnected: { id: 'terputus', en: 'disconnected' },
  noBroker: { id: 'tidak dipakai', en: 'not used' },
  influxDown: { id: 'InfluxDB menolak tulisan', en: 'InfluxDB refuses writes' },
  isOwner: { id: 'pemilik peringatan', en: 'alert owner' },
  notOwner: { id: 'bukan', en: 'no' },
  roleAll: { id: 'API + ingest', en: 'API + ingest' },
  roleApi: { id: 'API', en: 'API' },
  roleIngest: { id: 'ingest (pekerja)', en: 'ingest (worker)' },
} as const satisfies Record<string, Label>;

const COLUMNS = ['node', 'role', 'state', 'heartbeat', 'lease', 'spool', 'lag', 'broker', 'owner'] as const;

const ROLES: Record<string, Label> = { all: W.roleAll, api: W.roleApi, ingest: W.roleIngest };

/** A badge: words first; its class only adds a colour (`ok`, `bad`, `off`, `owner`). */
const badge = (label: Label, tone: 'ok' | 'bad' | 'off' | 'owner' | 'warn') => h('span', { class: `status-badge ${tone}` }, pick(label));

export function platformView(): View {
  const el = h('section', { class: 'platform-view' });
  const title = h('h1');
  const admin = currentSession()?.role === 'admin';
  if (!admin) {
    // the navigation does not offer this page to others; a typed address gets a sentence, and no request is made
    const forbidden = h('p', { class: 'error', role: 'alert', 'data-testid': 'platform-forbidden' });
    el.append(title, forbidden);
    const relabel = () => {
      title.textContent = pick(W.title);
      forbidden.textContent = pick(W.forbidden);
    };
    relabel();
    return { el, relabel, destroy: () => undefined };
  }

  const about = h('p', { class: 'sub', 'data-testid': 'platform-about' });
  const owner = h('p', { class: 'owner-line', 'data-testid': 'platform-owner' });
  const notice = h('p', { class: 'note', 'data-testid': 'platform-notice', hidden: true });
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'platform-error', hidden: true });
  const refresh = h('button', { type: 'button', class: 'refresh', 'data-testid': 'platform-refresh' });
  const caption = h('caption', { id: 'platform-caption' });
  const headRow = h('tr');
  const tbody = h('tbody');
  // focusable, so that a keyboard scrolls the table where it is wider than the screen
  const wrap = h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-labelledby': 'platform-caption' },
    h('table', { class: 'platform', 'data-testid': 'platform-nodes' }, caption, h('thead', {}, headRow), tbody));
  el.append(title, h('div', { class: 'controls' }, about, refresh), owner, notice, error, wrap);

  let data: Cluster | null = null;
  let fetchedAt = 0;
  let failure: string | null = null;
  let loading = false;

  /** Seconds since the node's last heartbeat, now: PostgreSQL's age at the answer plus the time since it came. */
  const age = (n: ClusterNode) => (n.heartbeatAgeSeconds === null ? null : n.heartbeatAgeSeconds + (Date.now() - fetchedAt) / 1000);

  const row = (n: ClusterNode, c: Cluster) => {
    const a = age(n);
    const heartbeat = h('td', { 'data-field': 'heartbeat' });
    if (a === null) heartbeat.append('—');
    else heartbeat.append(relative(-a), h('div', { class: 'sub' }, time(n.lastHeartbeat)));
    const lease = h('td', { 'data-field': 'lease' });
    if (n.state === 'stopped') lease.append(pick(W.leftCleanly));
    else if (a === null || n.leaseExpiresAt === null) lease.append('—');
    else {
      const left = c.leaseMs / 1000 - a;
      lease.append(`${pick(left >= 0 ? W.leaseIn : W.leaseOut)} ${relative(left)}`, h('div', { class: 'sub' }, time(n.leaseExpiresAt)));
    }
    const state = n.state === 'live' ? badge(W.live, 'ok') : n.state === 'silent' ? badge(W.silent, 'bad') : n.state === 'taken-over' ? badge(W.takenOver, 'warn') : badge(W.stopped, 'off');
    // a dead worker whose share another took: nothing waits for a person at night, the row says who
    const takenBy = n.state === 'taken-over' && n.takenBy ? h('div', { class: 'sub', 'data-field': 'taken-by' }, `${pick(W.takenBy)} ${n.takenBy}`) : null;
    const lag = h('td', { class: 'num', 'data-field': 'lag' }, duration(n.writerLagSeconds));
    // a node that is not live reports nothing now: what it last said of InfluxDB is no news
    if (n.state === 'live' && !n.influxUp) lag.append(' ', badge(W.influxDown, 'bad'));
    const broker = n.brokerSession === null ? h('span', { class: 'sub' }, pick(W.noBroker)) : n.brokerSession ? badge(W.connected, 'ok') : badge(W.disconnected, 'bad');
    const isOwner = c.alertOwner === n.id;
    return h('tr', { 'data-testid': 'platform-node', 'data-node-id': n.id, 'data-state': n.state, 'data-role': n.role, 'data-alert-owner': String(isOwner) },
      h('th', { scope: 'row', 'data-field': 'node' }, n.id, n.id === c.node ? h('div', { class: 'sub' }, pick(W.thisNode)) : null),
      h('td', { 'data-field': 'role' }, ROLES[n.role] ? pick(ROLES[n.role]!) : n.role),
      h('td', { 'data-field': 'state' }, state, takenBy),
      heartbeat,
      lease,
      h('td', { class: 'num', 'data-field': 'spool' }, bytes(n.spoolBytes)),
      lag,
      h('td', { 'data-field': 'broker' }, broker),
      h('td', { 'data-field': 'owner' }, isOwner ? badge(W.isOwner, 'owner') : h('span', { class: 'sub' }, pick(W.notOwner))),
    );
  };

  const render = () => {
    about.textContent = data
      ? `${pick(W.answeredBy)} ${data.node} · ${pick(W.updated)} ${time(fetchedAt)} · ${pick(W.every)}`
      : failure ? '' : t('loading');
    const message = failure === null ? '' : `${pick(W.failed)}: ${failure}.${data ? ` ${pick(W.stale)} ${time(fetchedAt)}.` : ''}`;
    // shown before its words change, so that they are said; once per new failure, not at every tick
    error.hidden = failure === null;
    if (error.textContent !== message) error.textContent = message;
    wrap.classList.toggle('stale', failure !== null);
    owner.replaceChildren();
    if (data) owner.append(`${pick(W.ownerIs)}: `, data.alertOwner ? h('strong', {}, data.alertOwner) : badge(W.noOwner, 'bad'));
    notice.textContent = !data ? '' : !data.registry ? pick(W.noRegistry) : !data.cluster ? pick(W.single) : '';
    notice.hidden = notice.textContent === '';
    tbody.replaceChildren(...(data ? data.nodes.map((n) => row(n, data!)) : []));
  };

  const load = async () => {
    if (loading) return;
    loading = true;
    try {
      data = await get<Cluster>('/api/v1/cluster');
      fetchedAt = Date.now();
      failure = null;
    } catch (err) {
      failure = err instanceof ApiError && err.status === 403 ? pick(W.forbidden) : err instanceof ApiError ? `${err.status} ${err.message}` : (err as Error).message;
    } finally {
      loading = false;
      render();
    }
  };
  refresh.addEventListener('click', () => void load());

  const relabel = () => {
    title.textContent = pick(W.title);
    caption.textContent = pick(W.caption);
    refresh.textContent = pick(W.refresh);
    headRow.replaceChildren(...COLUMNS.map((k) => h('th', { scope: 'col' }, pick(W[k]))));
    render();
  };
  const poll = window.setInterval(() => void load(), REFRESH_MS);
  // the relative times move on between answers
  const tick = window.setInterval(() => {
    if (data) render();
  }, 1_000);
  relabel();
  void load();
  return {
    el,
    relabel,
    destroy() {
      window.clearInterval(poll);
      window.clearInterval(tick);
    },
  };
}
