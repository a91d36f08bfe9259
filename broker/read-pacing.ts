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
// That bounds each connection to one chunk in hand, not the process: a chunk holds whatever piled up in the socket
// while the connection waited (hundreds of publishes from a device sending 20 a second), and a thousand connections
// each with one chunk in hand held over a gigabyte of parsed packets at 20,000 messages/s offered (open-single, JS
// heap 1.1 GiB, GC 17 % of the CPU). So a ReadGate counts the parsed packets of every connection that are not done
// yet; past its limit (PANTAU_INGEST_MAX_IN_FLIGHT) a connection's next read waits in a queue, and the queue is
// served in turn as packets finish. Devices then wait in TCP's windows, each PUBACK a little later: back-pressure.
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
  _paused?: boolean;
  _parser: { parse(buf: Buffer): unknown };
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

/** Parsed packets not done yet, over every connection of one broker; reads past `limit` wait their turn. */
export class ReadGate {
  private pending = 0;
  private readonly queue = new Set<() => void>();

  constructor(private readonly limit: number) {}

  /** Packets parsed and not done, across connections. */
  get inHand(): number {
    return this.pending;
  }

  /** Connections waiting to read. */
  get waiting(): number {
    return this.queue.size;
  }

  /** Read now if under the limit, else when it is this reader's turn. */
  read(reader: () => void): void {
    if (this.pending < this.limit && this.queue.size === 0) reader();
    else this.queue.add(reader);
  }

  started(n: number): void {
    this.pending += n;
  }

  finished(n: number): void {
    this.pending = Math.max(0, this.pending - n);
    for (const reader of this.queue) {
      if (this.pending >= this.limit) return;
      this.queue.delete(reader);
      reader();
    }
  }

  forget(reader: () => void): void {
    this.queue.delete(reader);
  }
}

/** Call right after `aedes.handle(conn)`, before the connection's first `readable` event. */
export function paceReads(client: unknown, conn: Duplex, gate: ReadGate = new ReadGate(Number.POSITIVE_INFINITY)): void {
  const c = client as Partial<PacedClient>;
  const nextBatch = c._nextBatch;
  if (typeof nextBatch !== 'function' || typeof c._parsingBatch !== 'number' || typeof c._parser?.parse !== 'function') return;
  if (!conn.listeners('readable').includes(nextBatch)) return;
  conn.removeListener('readable', nextBatch);
  // aedes starts the count at 1 as the token for the first read; here the first `readable` reads instead
  c._parsingBatch = 0;
  /** This connection's parsed packets not done yet (its share of the gate's count). */
  let inHand = 0;
  let closed = false;
  /** Inside parse(): a packet done synchronously must not start a nested read (its count would be taken twice). */
  let reading = false;
  const readChunk = (): void => {
    if (closed || c._paused || reading) return;
    const buf = conn.read() as Buffer | null;
    if (!buf) return;
    reading = true;
    const before = c._parsingBatch!;
    try {
      c._parser!.parse(buf);
    } finally {
      reading = false;
    }
    const parsed = Math.max(0, c._parsingBatch! - before);
    inHand += parsed;
    gate.started(parsed);
    // every packet of the chunk done already (PINGREQs, refusals): the next chunk, if any, in turn
    if (c._parsingBatch === 0 && conn.readableLength > 0) gate.read(readChunk);
  };
  // a packet's handling is done: the gate hears of it, and the last of a chunk asks for the next read
  c._nextBatch = (err?: Error) => {
    if (err || c._paused) return nextBatch(err);
    if (inHand > 0) {
      inHand--;
      if (!closed) gate.finished(1);
    }
    c._parsingBatch = Math.max(0, c._parsingBatch! - 1);
    if (c._parsingBatch === 0 && !reading) gate.read(readChunk);
  };
  conn.on('readable', () => {
    if (c._parsingBatch === 0) gate.read(readChunk);
  });
  paced.set(c, conn);
  conn.once('close', () => {
    closed = true;
    gate.forget(readChunk);
    gate.finished(inHand);
    inHand = 0;
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
