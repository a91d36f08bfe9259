// Failed logins are expensive to check (scrypt) and cheap to send. This counts failures per client address and,
// past `maxPerMinute`, refuses further attempts from that address without checking them — for API keys and MQTT
// logins alike — until the minute is over.
export class AuthThrottle {
  private readonly failures = new Map<string, { count: number; resetAt: number }>();

  constructor(private readonly maxPerMinute: number) {}

  /** Seconds until `ip` may try again, or 0 when it may try now. */
  blockedFor(ip: string, now = Date.now()): number {
    if (this.maxPerMinute <= 0) return 0;
    const entry = this.failures.get(ip);
    if (!entry || entry.resetAt <= now) return 0;
    return entry.count >= this.maxPerMinute ? Math.ceil((entry.resetAt - now) / 1000) : 0;
  }

  /**
   * Count an attempt against `ip` before checking it (the check is expensive): false, and nothing counted, when
   * the address has no attempts left. A flood of concurrent logins from one address is thus cut at the limit
   * before any of them reaches scrypt. Call `succeeded` when the check passes.
   */
  reserve(ip: string, now = Date.now()): boolean {
    if (this.blockedFor(ip, now) > 0) return false;
    this.fail(ip, now);
    return true;
  }

  /** A reserved attempt passed its check: it does not count as a failure. */
  succeeded(ip: string, now = Date.now()): void {
    const entry = this.failures.get(ip);
    if (entry && entry.resetAt > now && entry.count > 0) entry.count--;
  }

  fail(ip: string, now = Date.now()): void {
    if (this.maxPerMinute <= 0) return;
    const entry = this.failures.get(ip);
    if (!entry || entry.resetAt <= now) {
      if (this.failures.size > 100_000) this.prune(now);
      this.failures.set(ip, { count: 1, resetAt: now + 60_000 });
    } else {
      entry.count++;
    }
  }

  private prune(now: number): void {
    for (const [ip, entry] of this.failures) if (entry.resetAt <= now) this.failures.delete(ip);
  }
}
