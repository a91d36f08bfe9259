// What every view shows, kept current: devices (state, worst unresolved alert, index) and unresolved alerts,
// loaded once and then moved by the live stream (`GET /api/v1/stream`, Server-Sent Events, signed in by the
// cookie). A reading marks its device online and, for a flood gauge, sets its level from its thresholds at once; a
// `status` event moves a device online or offline the moment the platform knows (CONNECT, DISCONNECT, Last Will,
// missed keepalive); the full device list is re-read every 30 s (indices computed over time) and after the stream
// reconnects.
import { floodLevel, type FloodThresholds } from '../../catalog/flood-levels.js';
import { checkSignedIn, get, type Alert, type MapDevice } from './api.js';

export const SEVERITY_RANK: Record<string, number> = { waspada: 1, warning: 1, siaga: 2, awas: 3, critical: 3 };

/** `changed`: for 'devices', the ids whose data changed since the last call, or null when all may have. */
type Listener = (what: 'devices' | 'alerts' | 'live', changed: Set<string> | null) => void;

export interface ReadingEvent {
  deviceId: string;
  kind: string;
  ts: string;
  values: Record<string, number>;
}

/** `status` event of the stream: a device came online or went offline. */
interface StatusEvent {
  deviceId: string;
  kind: string;
  status: MapDevice['status'];
  lastSeen: string | null;
}

class Store {
  devices = new Map<string, MapDevice>();
  alerts = new Map<string, Alert>();
  /** Alert ids that arrived (or changed) live, with when; views mark them for a while. */
  fresh = new Map<string, number>();
  connected = false;
  private listeners = new Set<Listener>();
  private readingListeners = new Set<(r: ReadingEvent) => void>();
  private source: EventSource | null = null;
  private refreshTimer: number | undefined;
  private pending = new Set<'devices' | 'alerts' | 'live'>();
  private scheduled = false;
  private changedDevices: Set<string> | null = new Set();

  on(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onReading(fn: (r: ReadingEvent) => void): () => void {
    this.readingListeners.add(fn);
    return () => this.readingListeners.delete(fn);
  }

  /** Coalesces changes into at most one notification per animation frame. */
  private changed(what: 'devices' | 'alerts' | 'live', deviceId?: string): void {
    if (what === 'devices') {
      if (deviceId === undefined) this.changedDevices = null;
      else this.changedDevices?.add(deviceId);
    }
    this.pending.add(what);
    if (this.scheduled) return;
    this.scheduled = true;
    const flush = () => {
      this.scheduled = false;
      const whats = [...this.pending];
      const devices = this.changedDevices;
      this.pending.clear();
      this.changedDevices = new Set();
      for (const w of whats) for (const l of this.listeners) l(w, w === 'devices' ? devices : null);
    };
    // a hidden tab gets no animation frames; a timer still delivers
    if (document.visibilityState === 'visible') requestAnimationFrame(flush);
    else setTimeout(flush, 100);
  }

  async start(): Promise<void> {
    await Promise.all([this.loadDevices(), this.loadAlerts()]);
    this.connect();
    this.refreshTimer = window.setInterval(() => void this.loadDevices().catch(() => undefined), 30_000);
  }

  stop(): void {
    this.source?.close();
    this.source = null;
    window.clearInterval(this.refreshTimer);
    this.devices.clear();
    this.alerts.clear();
    this.fresh.clear();
  }

  async loadDevices(): Promise<void> {
    const { items } = await get<{ items: MapDevice[] }>('/api/v1/console/devices');
    this.devices = new Map(items.map((d) => [d.id, d]));
    this.changed('devices');
  }

  async loadAlerts(): Promise<void> {
    const [open, acked] = await Promise.all([
      get<{ items: Alert[] }>('/api/v1/alerts?state=open&limit=1000'),
      get<{ items: Alert[] }>('/api/v1/alerts?state=acknowledged&limit=1000'),
    ]);
    this.alerts = new Map([...open.items, ...acked.items].map((a) => [a.id, a]));
    this.changed('alerts');
  }

  private connect(): void {
    const source = new EventSource('/api/v1/stream');
    this.source = source;
    let everOpened = false;
    source.onopen = () => {
      this.connected = true;
      this.changed('live');
      // after a reconnect, alert changes are replayed (Last-Event-ID); device states are re-read
      if (everOpened) void this.loadDevices().catch(() => undefined);
      everOpened = true;
    };
    source.onerror = () => {
      this.connected = false;
      this.changed('live');
      // the server ends a stream whose session ended or whose person or key changed: find out which at once
      void checkSignedIn();
    };
    source.addEventListener('alert', (e) => this.alertEvent(JSON.parse((e as MessageEvent<string>).data) as { type: string; alert: Alert }));
    source.addEventListener('reading', (e) => this.readingEvent(JSON.parse((e as MessageEvent<string>).data) as ReadingEvent));
    source.addEventListener('status', (e) => this.statusEvent(JSON.parse((e as MessageEvent<string>).data) as StatusEvent));
  }

  private statusEvent(s: StatusEvent): void {
    const d = this.devices.get(s.deviceId);
    if (!d || (d.status === s.status && d.lastSeen === s.lastSeen)) return;
    d.status = s.status;
    if (s.lastSeen) d.lastSeen = s.lastSeen;
    this.changed('devices', d.id);
  }

  private alertEvent({ alert }: { type: string; alert: Alert }): void {
    if (alert.state === 'resolved') {
      this.alerts.delete(alert.id);
      this.fresh.delete(alert.id);
    } else {
      const before = this.alerts.get(alert.id);
      this.alerts.set(alert.id, alert);
      if (!before || before.severity !== alert.severity) this.fresh.set(alert.id, Date.now());
    }
    const d = this.devices.get(alert.deviceId);
    if (d) {
      d.alertSeverity = this.worstSeverity(d.id);
      this.changed('devices', d.id);
    }
    this.changed('alerts');
  }

  private readingEvent(r: ReadingEvent): void {
    const d = this.devices.get(r.deviceId);
    if (d) {
      d.status = 'online';
      d.lastSeen = r.ts;
      const level = r.values.waterLevel;
      if (d.kind === 'flood' && level !== undefined) {
        // a gauge without thresholds has no flood level to show
        const category = floodLevel(level, d.thresholds as FloodThresholds | null);
        d.index = category === null ? null : { category };
      }
      this.changed('devices', d.id);
    }
    for (const l of this.readingListeners) l(r);
  }

  worstSeverity(deviceId: string): string | null {
    let worst: string | null = null;
    for (const a of this.alerts.values()) {
      if (a.deviceId !== deviceId) continue;
      if (worst === null || (SEVERITY_RANK[a.severity] ?? 0) > (SEVERITY_RANK[worst] ?? 0)) worst = a.severity;
    }
    return worst;
  }

  acknowledged(alert: Alert): void {
    this.alerts.set(alert.id, alert);
    this.changed('alerts');
  }
}

export const store = new Store();
