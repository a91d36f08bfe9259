// Rejection reason codes of docs/contract.md §3. Operators see these in the API, metrics, InfluxDB and on MQTT.
export const REJECTION_REASONS = [
  'invalid_json',
  'invalid_reading',
  'unknown_field',
  'out_of_range',
  'future_timestamp',
  'stale_timestamp',
  'too_many_readings',
  'rate_limited',
  // Not a device fault: InfluxDB refused a point Pantau had accepted (e.g. a field type conflict
  // with data written by another tool). Recorded so nothing disappears silently.
  'storage_refused',
  // Telemetry through an external broker (scale-out) for a device the registry does not know, or under another
  // kind's topic: refused and recorded rather than acknowledged and dropped.
  'unknown_device',
] as const;

export type RejectionReason = (typeof REJECTION_REASONS)[number];

export const MAX_READINGS_PER_MESSAGE = 1000;
export const MAX_PAYLOAD_BYTES = 256 * 1024;
export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;
export const DEFAULT_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;
