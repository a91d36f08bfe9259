// The fuzz corpus of test/fuzz-mqtt.test.ts (same seeds, same devices, 100,000 messages) through the ingest stage
// in process, message by message: what each message stores (its line protocol) and every rejection (reason and
// detail) must be exactly what the code recorded in test/unit/fixtures/ingest-corpus.expected.gz decided, before
// the hot path was rewritten for speed (issue 23). A fixed clock makes the run deterministic. A spool stand-in
// captures the appends: this is a unit test of the pure decode → validate → line protocol path.
// Re-record (only for an intended change of verdicts, stated in the commit): PANTAU_RECORD_CORPUS=1.
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import pino from 'pino';
import { Ingest } from '../../ingest/ingest.js';
import type { Spool } from '../../ingest/spool.js';
import { PayloadFuzzer, type FuzzKind } from '../support/fuzz.js';

const FILE = new URL('./fixtures/ingest-corpus.expected.gz', import.meta.url);
const SEED = 20240611;
const MESSAGES = 100_000;
const NOW = 1_765_000_000_000;
const KINDS: FuzzKind[] = ['air', 'flood', 'traffic', 'air'];

/** V8 words JSON.parse's errors differently from one Node line to the next (20 and 24 both run in CI): the corpus
 * holds that the detail (returned and in the stored rejection line) says the payload is not JSON, not V8's wording
 * after it. */
const WORDS = "payload is not JSON: (the parser's words)";
/** In a stored rejection line: the detail is a quoted field value, its quotes and backslashes escaped. */
function stableLines(lines: string): string {
  return lines.replace(/payload is not JSON: (?:[^"\\]|\\.)*/g, WORDS);
}
function stableDetail(detail: string): string {
  return detail.startsWith('payload is not JSON: ') ? WORDS : detail;
}

/** One line per message: readings stored, rejection reasons, and a digest of the stored lines and the details. */
async function run(): Promise<string[]> {
  let captured: string[] = [];
  const spool = {
    hasRoom: true,
    append(payload: Buffer | string) {
      captured.push(typeof payload === 'string' ? payload : payload.toString('utf8'));
      return Promise.resolve();
    },
  } as unknown as Spool;
  const ingest = new Ingest({ spool, log: pino({ level: 'silent' }), deviceRateLimit: 0 });
  const out: string[] = [];
  const perDevice = Math.ceil(MESSAGES / KINDS.length);
  for (const [index, kind] of KINDS.entries()) {
    const device = { id: `fuzz-${kind}-${index}`, kind, city: 'Samarinda', district: 'Samarinda Ulu' };
    const fuzzer = new PayloadFuzzer({ kind, tsBase: NOW - 2 * 86_400_000, seed: SEED + index });
    for (let i = 0; i < perDevice; i++) {
      const msg = fuzzer.next(NOW);
      captured = [];
      const outcome = await ingest.accept(device, msg.payload, 1, NOW + i);
      const digest = createHash('sha1').update(stableLines(captured.join('\n'))).update('\u0000');
      for (const r of outcome.rejections) digest.update(`${r.reason}\u0000${stableDetail(r.detail)}\u0000`);
      const reasons = outcome.rejections.map((r) => r.reason).join(',') || '-';
      out.push(`${outcome.readings} ${reasons} ${digest.digest('hex').slice(0, 4)}`);
    }
  }
  return out;
}

describe('the fuzz corpus through ingest', () => {
  it('stores and rejects exactly what was recorded, with the same reasons and details, message by message', async () => {
    const got = await run();
    if (process.env.PANTAU_RECORD_CORPUS === '1') {
      writeFileSync(FILE, gzipSync(`${got.join('\n')}\n`, { level: 9 }));
      return;
    }
    const expected = gunzipSync(readFileSync(FILE)).toString('utf8').trimEnd().split('\n');
    expect(got.length).toBe(expected.length);
    const differing: string[] = [];
    for (let i = 0; i < got.length; i++) if (got[i] !== expected[i]) differing.push(`message ${i}: expected ${expected[i]}, got ${got[i]}`);
    expect(differing.slice(0, 20)).toEqual([]);
  }, 300_000);
});
