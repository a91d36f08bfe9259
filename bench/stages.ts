// CPU per message of each stage of the ingest hot path on its own, in µs, for profiling issue 23's per-reading
// budget: `npx tsx bench/stages.ts`. One process, no I/O; the whole-system figures are `npm run bench`'s.
// - the full path's stages: decode (UTF-8 check, JSON.parse), validate, line (a string), frame;
// - the one-pass path: scan (reading-scanner.ts: decode and validate in one pass), line into a reused buffer (the
//   payload's values, then varied values of two decimals and of 17 digits);
// - accept: Ingest.accept end to end (1,000 messages a turn, a stand-in spool that frames each append and
//   resolves at once), with the share of that CPU the garbage collector took (perf_hooks 'gc' entries).
import { constants, PerformanceObserver } from 'node:perf_hooks';
import pino from 'pino';
import { LineBuffer } from '../influx/line-buffer.js';
import { line, seriesKey, writeNumberLine } from '../influx/line-protocol.js';
import { decodePayload } from '../ingest/decode.js';
import { Ingest } from '../ingest/ingest.js';
import { encodeFrame } from '../ingest/log-format.js';
import { ReadingScanner } from '../ingest/reading-scanner.js';
import type { Spool } from '../ingest/spool.js';
import { validateReading } from '../ingest/validate.js';

const N = 200_000;
const now = Date.now();
const payload = Buffer.from(JSON.stringify({ ts: now - 1000, pm25: 35.2, pm10: 60.1, no2: 20, temperature: 30.5, humidity: 80 }));
const opts = { now, maxAgeMs: 7 * 86_400_000, maxFutureMs: 300_000 };

// GC time is wall time (inflated on a busy machine); the count of young-generation collections per 100,000
// messages is the steadier figure: it grows with the bytes allocated, whatever else the machine does
let gcMs = 0;
let minorGcs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcMs += e.duration;
    if (((e as PerformanceEntry & { detail?: { kind?: number } }).detail)?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minorGcs++;
  }
}).observe({ entryTypes: ['gc'] });

function report(name: string, cpu: NodeJS.CpuUsage, n: number, gc: number, minor: number): void {
  const us = cpu.user + cpu.system;
  console.log(
    `${name.padEnd(22)} ${(us / n).toFixed(2).padStart(6)} µs   GC ${((gc * 1000 * 100) / us).toFixed(0).padStart(3)} %   ${((minor * 100_000) / n).toFixed(1).padStart(6)} young GCs per 100,000`,
  );
}

/** GC entries reach the observer in a later turn: wait for them before reading the sum. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

async function bench(name: string, fn: () => void): Promise<void> {
  for (let i = 0; i < 20_000; i++) fn();
  await settle();
  const gc0 = gcMs;
  const minor0 = minorGcs;
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) fn();
  const cpu = process.cpuUsage(t0);
  await settle();
  report(name, cpu, N, gcMs - gc0, minorGcs - minor0);
}

const key = seriesKey('air', { device_id: 'aq-1', city: 'Samarinda', district: 'Sungai Pinang' });
const keyBytes = Buffer.from(key);
await bench('decode', () => decodePayload(payload));
const obj = JSON.parse(payload.toString()) as unknown;
await bench('validate', () => validateReading('air', obj, opts));
const v = validateReading('air', obj, opts) as { values: Record<string, number>; ts: number };
await bench('line', () => line(key, v.values, v.ts));
const l = line(key, v.values, v.ts);
await bench('frame', () => encodeFrame(Buffer.from(l), now));
const scanner = new ReadingScanner();
await bench('scan (one pass)', () => scanner.scan(payload, 'air', opts));
const out = new LineBuffer();
await bench('line into a buffer', () => {
  if (out.length > 1 << 20) out.reset();
  writeNumberLine(out, keyBytes, v.values, v.ts);
});
// The same payload's values over and over are cheap to write for a reason of their own: V8 keeps the text of
// numbers it turned into strings lately. A fleet's values vary: 200,000 readings of values of one or two decimals
// (pm25 12.3, humidity 71.25) and the same with values of 15–17 digits, as `npm run bench`'s fleet sends them.
let seed = 1;
const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
const fleet = (digits: (x: number) => number) =>
  Array.from({ length: N }, () => ({ pm25: digits(random() * 300), pm10: digits(random() * 400), no2: digits(random() * 200), temperature: digits(20 + random() * 15), humidity: digits(random() * 100) }));
for (const [name, values] of [
  ['… varied, 2 decimals', fleet((x) => {
    const scale = random() < 0.5 ? 10 : 100;
    return Math.round(x * scale) / scale;
  })],
  ['… varied, 17 digits', fleet((x) => x)],
] as const) {
  let i = 0;
  await bench(name, () => {
    if (out.length > 1 << 20) out.reset();
    writeNumberLine(out, keyBytes, values[i++ % N]!, v.ts);
  });
}

// the whole stage, as the broker drives it
const spool = {
  hasRoom: true,
  append(body: Buffer | string) {
    encodeFrame(body, Date.now());
    return Promise.resolve();
  },
} as unknown as Spool;
const ingest = new Ingest({ spool, log: pino({ level: 'silent' }), deviceRateLimit: 0, maxAgeMs: 7 * 86_400_000 });
const devices = Array.from({ length: 1000 }, (_, i) => ({ id: `aq-${i}`, kind: 'air' as const, city: 'Samarinda', district: 'Sungai Pinang' }));
async function acceptRound(): Promise<void> {
  const pending: Array<Promise<unknown>> = [];
  for (const d of devices) pending.push(ingest.accept(d, payload, 1, now));
  await Promise.all(pending);
}
for (let i = 0; i < 20; i++) await acceptRound();
await settle();
const gc0 = gcMs;
const minor0 = minorGcs;
const t0 = process.cpuUsage();
const rounds = N / devices.length;
for (let i = 0; i < rounds; i++) await acceptRound();
const cpu = process.cpuUsage(t0);
await settle();
report('accept (whole stage)', cpu, N, gcMs - gc0, minorGcs - minor0);
