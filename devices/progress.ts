// What the simulator tells its operator: counters, and a single progress line — rewritten in place every second
// on a terminal, a plain line every 10 s otherwise (logs, CI) — with messages printed above it.

export class SimStats {
  sentMessages = 0;
  sentReadings = 0;
  acked = 0;
  badSent = 0;
  dropped = 0;
  dropouts = 0;
  rejections = 0;
  readonly rejectionsByReason = new Map<string, number>();
  /** The latest connection or protocol error, shown while devices are offline. */
  lastError: string | undefined;

  rejection(reason: string): void {
    this.rejections++;
    this.rejectionsByReason.set(reason, (this.rejectionsByReason.get(reason) ?? 0) + 1);
  }

  noteError(message: string): void {
    this.lastError = message;
  }

  reasonSummary(): string {
    return [...this.rejectionsByReason.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([reason, count]) => `${reason} ${count}`)
      .join(', ');
  }
}

export interface ProgressSnapshot {
  connected: number;
  devices: number;
  pending: number;
  /** e.g. "Sen 14 Apr 08:05 WITA ×60". */
  simTime: string;
  /** Short notes such as "haze". */
  notes: string[];
}

export interface ProgressOptions {
  out: NodeJS.WriteStream;
  snapshot: () => ProgressSnapshot;
  showAcks: boolean;
}

export class ProgressLine {
  private readonly tty: boolean;
  private timer: NodeJS.Timeout | undefined;
  private last = { at: Date.now(), sent: 0, acked: 0, rejections: 0 };
  private ticks = 0;
  private shown = false;

  constructor(
    private readonly stats: SimStats,
    private readonly options: ProgressOptions,
  ) {
    this.tty = options.out.isTTY === true;
  }

  start(): void {
    this.last = { at: Date.now(), sent: this.stats.sentMessages, acked: this.stats.acked, rejections: this.stats.rejections };
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }

  /** Print a message above the progress line. */
  log(message: string): void {
    this.clear();
    this.options.out.write(`${message}\n`);
  }

  private clear(): void {
    if (this.tty && this.shown) {
      this.options.out.write('\r\x1b[2K');
      this.shown = false;
    }
  }

  private tick(): void {
    this.ticks++;
    if (!this.tty && this.ticks % 10 !== 0) return;
    const now = Date.now();
    const seconds = Math.max(0.001, (now - this.last.at) / 1000);
    const s = this.stats;
    const rate = (a: number, b: number) => ((a - b) / seconds).toFixed(1);
    const snap = this.options.snapshot();
    const parts = [
      `[${snap.simTime}] ${snap.connected}/${snap.devices} connected`,
      `sent ${rate(s.sentMessages, this.last.sent)} msg/s`,
      this.options.showAcks ? `acked ${rate(s.acked, this.last.acked)}/s` : 'no acks (QoS 0)',
      `rejections ${s.rejections} (${rate(s.rejections, this.last.rejections)}/s)`,
      `pending ${snap.pending}`,
    ];
    if (s.badSent > 0) parts.push(`bad sent ${s.badSent}`);
    if (s.dropouts > 0) parts.push(`dropouts ${s.dropouts}`);
    if (s.dropped > 0) parts.push(`dropped ${s.dropped}`);
    parts.push(...snap.notes);
    if (snap.connected < snap.devices && s.lastError) parts.push(`last error: ${s.lastError}`);
    this.last = { at: now, sent: s.sentMessages, acked: s.acked, rejections: s.rejections };

    let line = parts.join(' · ');
    if (this.tty) {
      const width = this.options.out.columns ?? 160;
      if (line.length > width - 1) line = `${line.slice(0, width - 2)}…`;
      this.options.out.write(`\r\x1b[2K${line}`);
      this.shown = true;
    } else {
      this.options.out.write(`${new Date(now).toISOString()} ${line}\n`);
    }
  }
}
