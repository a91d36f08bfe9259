// The ingest's counters (platform/metrics.ts `metered`) sum their increments in plain numbers and hand them to
// prom-client when the counter is read: whatever reads them — `/metrics`, a counter's `get()` — sees every message,
// reading and rejection counted so far, and each once.
import { describe, expect, it } from 'vitest';
import type { AcceptOutcome, IngestDevice } from '../../ingest/ingest.js';
import { createMetrics, metered } from '../../platform/metrics.js';

const gauge: IngestDevice = { id: 'smd-flood-karang-mumus', kind: 'flood', city: 'Kota Samarinda', district: 'Samarinda Ulu' };
const counter: IngestDevice = { id: 'bpn-traffic-mt-haryono', kind: 'traffic', city: 'Kota Balikpapan', district: 'Balikpapan Tengah' };

const outcomes: AcceptOutcome[] = [
  { readings: 1, rejections: [], dropped: 0 },
  { readings: 3, rejections: [{ deviceId: gauge.id, kind: 'flood', ts: 0, reason: 'out_of_range', detail: 'waterLevel' }], dropped: 0 },
];

async function value(metric: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, string | number> }> }> }, labels: Record<string, string>) {
  const { values } = await metric.get();
  return values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
}

describe('metered ingest counters', () => {
  it('count every message, reading and rejection, as of each read, once', async () => {
    const metrics = createMetrics();
    let next = 0;
    const accept = metered(metrics, async () => outcomes[next++ % outcomes.length]!);
    await accept(gauge, Buffer.from('{}'), 1);
    await accept(gauge, Buffer.from('{}'), 1);
    await accept(counter, Buffer.from('{}'), 0);
    expect(await value(metrics.messages, { qos: '1' })).toBe(2);
    expect(await value(metrics.messages, { qos: '0' })).toBe(1);
    expect(await value(metrics.readings, { kind: 'flood' })).toBe(4);
    expect(await value(metrics.readings, { kind: 'traffic' })).toBe(1);
    expect(await value(metrics.rejected, { reason: 'out_of_range' })).toBe(1);
    // read again with nothing new: not counted twice
    expect(await value(metrics.readings, { kind: 'flood' })).toBe(4);
    // counted after a read: in the next one, in the text `/metrics` serves too
    await accept(counter, Buffer.from('{}'), 1);
    const text = await metrics.registry.metrics();
    expect(text).toContain('pantau_ingest_messages_total{qos="1"} 3');
    expect(text).toContain('pantau_ingest_readings_total{kind="traffic"} 4');
    expect(text).toContain('pantau_ingest_rejected_total{reason="out_of_range"} 2');
  });
});
