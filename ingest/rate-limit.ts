// Per-device publish rate (docs/contract.md §1 PANTAU_DEVICE_RATE_LIMIT): a token bucket of `rate` messages per second
// that holds up to ten seconds' worth, so a gateway flushing a backlog is not punished for one burst.
export class DeviceRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly burst: number;

  constructor(private readonly ratePerSecond: number) {
    this.burst = ratePerSecond * 10;
  }

  /** Take one message's token; false when the device is over its rate. Rate 0 = no limit. */
  take(deviceId: string, now = Date.now()): boolean {
    if (this.ratePerSecond <= 0) return true;
    let bucket = this.buckets.get(deviceId);
    if (!bucket) {
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(deviceId, bucket);
    } else {
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond);
      bucket.at = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  forget(deviceId: string): void {
    this.buckets.delete(deviceId);
  }
}
