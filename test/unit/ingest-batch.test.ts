// Ingest's append path (issue 23): the messages of one turn of the event loop become one log record with one
// promise between them, and past PANTAU_INGEST_MAX_IN_FLIGHT messages not yet durable a message waits before it is
// decoded (its acknowledgement with it). A spool stand-in that holds appends until told: pure logic, no disk.
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { LatestReadings } from '../../api/latest-cache.js';
import { Ingest } from '../../ingest/ingest.js';
import type { Spool } from '../../ingest/spool.js';
import type { EntryDraft } from '../../ingest/spool-append.js';
import { logConsumers, type ConsumerDeps } from '../../platform/log-consumers.js';

function heldSpool() {
  const appends: Array<{ body: string; draft: EntryDraft; release: () => void; fail: (err: Error) => void }> = [];
  const spool = {
    hasRoom: true,
    append(body: Buffer | string, draft: EntryDraft) {
      return new Promise<void>((release, fail) => appends.push({ body: body.toString(), draft, release, fail }));
    },
  } as unknown as Spool;
  return { spool, appends };
}

const device = (i: number) => ({ id: `aq-${i}`, kind: 'air' as const, city: 'Samarinda', district: 'Sungai Pinang' });
const reading = (pm25: number) => Buffer.from(JSON.stringify({ pm25, ts: Date.now() - 1000 }));
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('ingest append path', () => {
  it('appends the messages of one turn as one record, and acknowledges each only once that record is durable', async () => {
    const { spool, appends } = heldSpool();
    const ingest = new Ingest({ spool, log: pino({ level: 'silent' }), deviceRateLimit: 0 });
    let settled = 0;
    const accepted = [1, 2, 3].map((i) => ingest.accept(device(i), reading(10 + i), 1).then((o) => (settled++, o)));
    await turn();
    expect(appends).toHaveLength(1);
    expect(appends[0]!.body.split('\n')).toHaveLength(3);
    expect(appends[0]!.draft.readings.map((r) => [r.deviceId, r.values.pm25])).toEqual([['aq-1', 11], ['aq-2', 12], ['aq-3', 13]]);
    await turn();
    expect(settled).toBe(0);
    appends[0]!.release();
    expect((await Promise.all(accepted)).map((o) => o.readings)).toEqual([1, 1, 1]);
  });

  it('past its bound on messages in flight, a message waits undecoded until one before it is durable', async () => {
    const { spool, appends } = heldSpool();
    const ingest = new Ingest({ spool, log: pino({ level: 'silent' }), deviceRateLimit: 0, maxInFlight: 3 });
    const accepted = [1, 2, 3, 4, 5].map((i) => ingest.accept(device(i), reading(i), 1));
    await turn();
    await turn();
    expect(appends.flatMap((a) => a.draft.readings.map((r) => r.deviceId))).toEqual(['aq-1', 'aq-2', 'aq-3']);
    appends[0]!.release();
    await turn();
    await turn();
    expect(appends.flatMap((a) => a.draft.readings.map((r) => r.deviceId))).toEqual(['aq-1', 'aq-2', 'aq-3', 'aq-4', 'aq-5']);
    for (const a of appends) a.release();
    expect((await Promise.all(accepted)).every((o) => o.readings === 1)).toBe(true);
  });

  it('a batch hands back the in-flight slots of its messages when it settles, failed or not, and the full path its own: none is lost, none counted twice', async () => {
    const { spool, appends } = heldSpool();
    const ingest = new Ingest({ spool, log: pino({ level: 'silent' }), deviceRateLimit: 0, maxInFlight: 3 });
    const devices = () => appends.flatMap((a) => a.draft.readings.map((r) => r.deviceId));
    // one reading (fast path), three readings in one message (fast path), a refused reading (full path)
    const first = [
      ingest.accept(device(1), reading(1), 1),
      ingest.accept(device(2), Buffer.from(JSON.stringify([1, 2, 3].map((k) => ({ pm25: k, ts: Date.now() - 1000 * k })))), 1),
      ingest.accept(device(3), Buffer.from('{"pm25": -5}'), 1),
    ].map((p) => p.then((o) => o.readings, (err: Error) => err.message));
    const waiting = [4, 5, 6].map((i) => ingest.accept(device(i), reading(i), 1));
    await turn();
    await turn();
    expect(appends).toHaveLength(1);
    expect(devices()).toEqual(['aq-1', 'aq-2', 'aq-2', 'aq-2']);
    expect(appends[0]!.draft.rejections.map((r) => r.reason)).toEqual(['out_of_range']);
    // the record fails: its messages are refused (no acknowledgement) and their three slots go to the three waiting
    appends[0]!.fail(new Error('spool: write failed'));
    expect(await Promise.all(first)).toEqual(['spool: write failed', 'spool: write failed', 'spool: write failed']);
    await turn();
    await turn();
    expect(appends).toHaveLength(2);
    expect(devices().slice(4)).toEqual(['aq-4', 'aq-5', 'aq-6']);
    appends[1]!.release();
    expect((await Promise.all(waiting)).map((o) => o.readings)).toEqual([1, 1, 1]);
    // every slot is back: three more go in at once, and a fourth waits for them
    const more = [7, 8, 9, 10].map((i) => ingest.accept(device(i), reading(i), 1));
    await turn();
    await turn();
    expect(appends).toHaveLength(3);
    expect(appends[2]!.draft.readings.map((r) => r.deviceId)).toEqual(['aq-7', 'aq-8', 'aq-9']);
    appends[2]!.release();
    await turn();
    await turn();
    expect(appends[3]!.draft.readings.map((r) => r.deviceId)).toEqual(['aq-10']);
    appends[3]!.release();
    expect((await Promise.all(more)).map((o) => o.readings)).toEqual([1, 1, 1, 1]);
  });

  it('counts its open batch against the spool budget: past it, messages wait as they did one append at a time', async () => {
    const budget = 4096;
    let pending = 0;
    let appended = 0;
    const spool = {
      get hasRoom() {
        return pending < budget;
      },
      get pendingBytes() {
        return pending;
      },
      append(body: Buffer | string, draft: EntryDraft) {
        pending += Buffer.byteLength(body) + 16;
        appended += draft.readings.length;
        return Promise.resolve();
      },
      waitForRoom: () => new Promise<void>(() => undefined),
    } as unknown as Spool;
    const ingest = new Ingest({ spool, log: pino({ level: 'silent' }), deviceRateLimit: 0, spoolMaxBytes: budget });
    for (let i = 0; i < 100; i++) void ingest.accept(device(i), reading(i), 1);
    await turn();
    expect(appended).toBeGreaterThan(10);
    expect(appended).toBeLessThan(100);
    // the message that crossed the budget went in, as with one append per message; none after it
    expect(pending - budget).toBeLessThan(200);
  });

  it('the latest consumer takes the newest reading of every device in a record of several devices', () => {
    const latest = new LatestReadings();
    const touched: string[] = [];
    const consumers = logConsumers({ latest, registry: { touch: (id: string) => touched.push(id) } } as unknown as ConsumerDeps);
    const r = (deviceId: string, ts: number, pm25: number) => ({ deviceId, kind: 'air' as const, ts, values: { pm25 } });
    void consumers.find((c) => c.name === 'latest')!.handle([{ end: 1, appendedAt: 0, derivedLines: 0, rejections: [], readings: [r('a', 2, 1), r('b', 1, 2), r('a', 3, 3), r('b', 0, 4)] }]);
    expect(latest.get('a')?.values.pm25).toBe(3);
    expect(latest.get('b')?.values.pm25).toBe(2);
    expect(touched.sort()).toEqual(['a', 'b']);
  });
});
