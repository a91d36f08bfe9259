// Every node's view of a cluster's alerts (PANTAU_REGISTRY_URL=postgres://…): the active alerts and the event log
// mirrored from PostgreSQL, refreshed on each NOTIFY pantau_alert_events the owner's commit sends and on each
// reconnect, and pushed to this node's live stream. Operator acknowledgements are commands (`alert_commands`) the
// owner (alerts/owner.ts) carries out in its next cycle; the node that took the request waits for the result.
import type { Logger } from 'pino';
import type { PgConnection } from '../registry/postgres.js';
import { RegistryUnavailableError } from '../registry/store.js';
import type { DeviceRecord } from '../registry/registry.js';
import type { Alert } from './engine.js';
import type { AlertOwner } from './owner.js';
import { EVENTS_CHANNEL } from './owner-publish.js';
import { SEVERITY_RANK } from './rules.js';
import type { PgAlertStore, StoredEvent } from './store.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The alerts as every node of a cluster sees them: active alerts and the event log mirrored from PostgreSQL
 * (pushed to this node's live stream), acknowledgements handed to the owner. Same methods as AlertService.
 */
export class ClusterAlerts {
  private readonly active = new Map<string, Alert>();
  private lastSeq = 0;
  private pulling: Promise<void> | undefined;
  private pullAgain = false;

  constructor(
    private readonly pg: PgConnection,
    readonly store: PgAlertStore,
    readonly owner: AlertOwner,
    private readonly onEvent: (event: StoredEvent) => void,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const [active, lastSeq] = await Promise.all([this.store.active(), this.store.lastSeq()]);
    for (const a of active) this.active.set(a.id, a);
    // recent events, so a live-stream client resuming with Last-Event-ID gets them from this node too
    for (const e of await this.store.fetchAfter(Math.max(0, lastSeq - 1000))) this.store.apply(e);
    this.lastSeq = lastSeq;
    await this.pg.listen(EVENTS_CHANNEL, () => this.pull());
    this.pg.onReconnect(() => this.pull());
    await this.owner.start();
  }

  /** Fetch the events after the last one seen (serialised; a pull requested meanwhile runs once more). */
  pull(): void {
    if (this.pulling) {
      this.pullAgain = true;
      return;
    }
    this.pulling = (async () => {
      try {
        for (;;) {
          const events = await this.store.fetchAfter(this.lastSeq);
          for (const e of events) {
            this.lastSeq = e.seq;
            const a = e.change.alert;
            if (a.state === 'resolved') this.active.delete(a.id);
            else this.active.set(a.id, a);
            this.store.apply(e);
            this.onEvent(e);
          }
          if (events.length < 1000) break;
        }
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'alert events not fetched; retried on the next notification or reconnect');
      }
    })().finally(() => {
      this.pulling = undefined;
      if (this.pullAgain) {
        this.pullAgain = false;
        this.pull();
      }
    });
  }

  /** Readings reach the owner through the feed, not through this node. */
  onReadings(): void {}

  onIspu(device: DeviceRecord, ispu: number | null): void {
    this.owner.onIspu(device, ispu);
  }

  /** The owner runs the time rules. */
  tick(): void {}

  /** The owner forgets a removed device's alerts when it hears of the removal. */
  forget(): void {}

  saveNow(): void {}

  activeAlerts(): Alert[] {
    return [...this.active.values()];
  }

  severity(deviceId: string): number {
    let worst = 0;
    for (const a of this.active.values()) if (a.deviceId === deviceId) worst = Math.max(worst, SEVERITY_RANK[a.severity]);
    return worst;
  }

  /** Handed to the owner; null when the alert is not open. 503 when no owner answers within 10 s. */
  async acknowledge(id: string, actor: string): Promise<Alert | null> {
    const cmd = (await this.pg.query<{ id: number }>('INSERT INTO alert_commands (alert_id, actor, created_at) VALUES ($1, $2, $3) RETURNING id', [id, actor, Date.now()])).rows[0]!.id;
    this.owner.wake();
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      await sleep(50);
      const row = (await this.pg.query<{ done: boolean; result: Alert | null }>('SELECT done, result FROM alert_commands WHERE id = $1', [cmd])).rows[0];
      if (row?.done) {
        await this.pg.query('DELETE FROM alert_commands WHERE id = $1', [cmd]).catch(() => undefined);
        return row.result;
      }
    }
    await this.pg.query('DELETE FROM alert_commands WHERE id = $1 AND NOT done', [cmd]).catch(() => undefined);
    throw new RegistryUnavailableError('no alert owner answered within 10 s (is PostgreSQL reachable from every node?)');
  }
}

