// Read a connection's next chunk only when every publish of the last one is done (its authorizePublish — the spool's
// fsync — has called back): then a device that sends faster than the platform makes durable waits in TCP's window,
// not as parsed packets in this process's heap.
//
// aedes 1.2 means to do this (lib/client.js: `_parsingBatch` counts the packets of the chunk in hand, and `nextBatch`
// reads when it reaches 0), but `nextBatch` is also its `readable` listener: every `readable` event lowers the count
// as if a packet had finished, so under a sustained backlog it reads one chunk early per event and the parsed publishes
// pile up. Here the `readable` listener reads only when nothing of the connection is pending; packet completions still
// call `nextBatch` as before.
//
// Keep-alive: aedes refreshes a client's keep-alive timer when it parses a packet. A connection whose packets wait
// for us is not read, so its PINGREQs are not seen; without help aedes would drop a live device after 1.5 × its
// keep-alive because *we* were slow. So while a connection has packets in hand or bytes waiting unread, its timer is
// refreshed (every KEEPALIVE_SWEEP_MS): it sent them, it is alive. test/library-contracts.test.ts pins the aedes
// internals this relies on.
import type { Duplex } from 'node:stream';

interface PacedClient {
  _parsingBatch: number;
  _nextBatch: (err?: Error) => void;
  _keepaliveInterval: number;
  _keepaliveTimer: NodeJS.Timeout | null;
}

const KEEPALIVE_SWEEP_MS = 1000;
const paced = new Map<Partial<PacedClient>, Duplex>();
let sweep: NodeJS.Timeout | undefined;

function keepWaitingClientsAlive(): void {
  for (const [c, conn] of paced) {
    if (c._keepaliveTimer && (c._keepaliveInterval ?? 0) > 0 && ((c._parsingBatch ?? 0) > 0 || conn.readableLength > 0)) c._keepaliveTimer.refresh();
  }
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
  paced.set(c, conn);
  conn.once('close', () => {
    paced.delete(c);
    if (paced.size === 0 && sweep) {
      clearInterval(sweep);
      sweep = undefined;
    }
  });
  if (!sweep) {
    sweep = setInterval(keepWaitingClientsAlive, KEEPALIVE_SWEEP_MS);
    sweep.unref();
  }
}
