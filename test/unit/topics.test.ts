// Topic parsing (catalog/topics.ts, docs/contract.md §3). The broker asks `isDeviceTelemetryTopic` of every publish
// to know that authorizePublish has handled it; it must say exactly what `parseDeviceTopic` says of telemetry.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDeviceTelemetryTopic, parseDeviceTopic } from '../../catalog/index.js';

const part = fc.oneof(
  fc.constantFrom('sensors', 'air', 'flood', 'traffic', 'telemetry', 'status', 'rejections', 'senml', 'smd-flood-karang-mumus', 'a', '', '+', '#', 'Air', 'x'.repeat(63), 'x'.repeat(64)),
  fc.stringMatching(/^[a-z0-9-]{0,66}$/),
  fc.string({ maxLength: 8 }),
);

describe('device topics', () => {
  it('isDeviceTelemetryTopic is parseDeviceTopic(…)?.channel === "telemetry", on every topic', () => {
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 6 }), fc.boolean(), (parts, newline) => {
        const topic = parts.join('/') + (newline ? '\n' : '');
        expect(isDeviceTelemetryTopic(topic)).toBe(parseDeviceTopic(topic)?.channel === 'telemetry');
      }),
      { numRuns: 20_000 },
    );
    expect(isDeviceTelemetryTopic('sensors/flood/smd-flood-karang-mumus/telemetry')).toBe(true);
    expect(isDeviceTelemetryTopic('sensors/flood/smd-flood-karang-mumus/status')).toBe(false);
    expect(isDeviceTelemetryTopic('sensors/water/smd-flood-karang-mumus/telemetry')).toBe(false);
    expect(isDeviceTelemetryTopic('sensors/flood/-bad/telemetry')).toBe(false);
    expect(isDeviceTelemetryTopic('sensors/flood/smd/telemetry/x')).toBe(false);
  });
});
