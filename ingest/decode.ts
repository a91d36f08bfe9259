// Parser stage: an MQTT payload → the reading objects it carries, or one payload-level rejection.
import { isUtf8 } from 'node:buffer';
import { MAX_PAYLOAD_BYTES, MAX_READINGS_PER_MESSAGE, type RejectionReason } from '../catalog/index.js';

export type Decoded =
  | { ok: true; readings: unknown[]; batch: boolean }
  | { ok: false; reason: RejectionReason; detail: string };

export function decodePayload(payload: Buffer): Decoded {
  if (payload.length > MAX_PAYLOAD_BYTES) {
    return { ok: false, reason: 'too_many_readings', detail: `payload is ${payload.length} bytes; the limit is ${MAX_PAYLOAD_BYTES}` };
  }
  if (!isUtf8(payload)) return { ok: false, reason: 'invalid_json', detail: 'payload is not valid UTF-8' };
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: 'invalid_json', detail: `payload is not JSON: ${(err as Error).message}` };
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return { ok: false, reason: 'invalid_reading', detail: 'empty array: send 1 to 1000 readings' };
    if (value.length > MAX_READINGS_PER_MESSAGE) {
      return {
        ok: false,
        reason: 'too_many_readings',
        detail: `${value.length} readings in one message; the limit is ${MAX_READINGS_PER_MESSAGE}`,
      };
    }
    return { ok: true, readings: value, batch: true };
  }
  if (value === null || typeof value !== 'object') {
    return { ok: false, reason: 'invalid_reading', detail: `payload is JSON ${value === null ? 'null' : typeof value}, expected an object or an array of objects` };
  }
  return { ok: true, readings: [value], batch: false };
}
