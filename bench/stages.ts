// CPU per message of each stage of the ingest hot path on its own (decode, validate, line protocol, log frame), in
// µs, for profiling issue 23's per-reading budget: `npx tsx bench/stages.ts`. One process, no I/O; the whole-system
// figures are `npm run bench`'s.
import { validateReading } from '../ingest/validate.js';
import { decodePayload } from '../ingest/decode.js';
import { line, seriesKey } from '../influx/line-protocol.js';
import { encodeFrame } from '../ingest/log-format.js';
const N = 200000;
const payload = Buffer.from(JSON.stringify({ ts: Date.now() - 1000, pm25: 35.2, pm10: 60.1, no2: 20, temperature: 30.5, humidity: 80 }));
const opts = { now: Date.now(), maxAgeMs: 7 * 86400000, maxFutureMs: 300000 };
function bench(name: string, fn: () => void) {
  for (let i = 0; i < 20000; i++) fn();
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) fn();
  const t = process.cpuUsage(t0);
  console.log(name, ((t.user + t.system) / N).toFixed(2), 'µs');
}
const key = seriesKey('air', { device_id: 'aq-1', city: 'Samarinda', district: 'Sungai Pinang' });
bench('decode', () => decodePayload(payload));
const obj = JSON.parse(payload.toString());
bench('validate', () => validateReading('air', obj, opts));
const v = validateReading('air', obj, opts) as { values: Record<string, number>; ts: number };
bench('line', () => line(key, v.values, v.ts));
const l = line(key, v.values, v.ts);
bench('frame', () => encodeFrame(Buffer.from(l), Date.now()));
