// Read a connection's next chunk only when every publish of the last one is done (its authorizePublish — the spool's
// fsync — has called back): then a device that sends faster than the platform makes durable waits in TCP's window,
// not as parsed packets in this process's heap.
//
// aedes 1.2 means to do this (lib/client.js: `_parsingBatch` counts the packets of the chunk in hand, and `nextBatch`
// reads when it reaches 0), but `nextBatch` is also its `readable` listener: every `readable` event lowers the count
// as if a packet had finished, so under a sustained backlog it reads one chunk early per event and the parsed publishes
// pile up (2.5 GiB RSS at 40,000 readings/s offered). Here the `readable` listener reads only when nothing of the
// connection is pending; packet completions still call `nextBatch` as before. test/library-contracts.test.ts pins the
// aedes internals this relies on.
import type { Duplex } from 'node:stream';

interface PacedClient {
  _parsingBatch: number;
  _nextBatch: (err?: Error) => void;
}

/** Call right after `aedes.handle(conn)`, before the connection's first `readable` event. */
export function paceReads(client: unknown, conn: Duplex): void {
  const c = client as Partial<PacedClient>;
  const nextBatch = c._nextBatch;
  if (typeof nextBatch !== 'function' || typeof c._parsingBatch !== 'number') return;
  if (!conn.listeners('readable').includes(nextBatch)) return;
  conn.removeListener('readable', nextBatch);
  // aedes starts the count at 1 as the token for the first read; here the first `readable` reads instead
  c._parsingBatch = 0;
  conn.on('readable', () => {
    if (c._parsingBatch === 0) nextBatch();
  });
}
