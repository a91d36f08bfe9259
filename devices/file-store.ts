// A persistent outgoing store for mqtt.js (its `Store` interface: put/get/del/createStream/close), so QoS 1/2
// messages that the broker has not acknowledged survive a platform restart and a simulator restart: on the next
// connect mqtt.js re-sends everything still in here, and the readings' `ts` makes the redelivery idempotent.
//
// Layout: one append-only file per client, one JSON line per change — `{"put":<packet>}` or `{"del":<messageId>}`.
// Opening replays the file (skipping a torn last line from a kill mid-write) and rewrites it with only the live
// packets; the log is compacted the same way whenever it grows well past what is live. Writes go straight to the
// file before mqtt.js sends the packet, so a killed process loses nothing; an fsync happens on compaction and
// close (and on every write with `fsync: true`), so only an operating-system crash could lose the newest lines.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import type { DoneCallback, IStore, Packet, PacketCallback } from 'mqtt';

export interface FileStoreOptions {
  /** fsync after every write: survives power loss, at the cost of a disk flush per message. */
  fsync?: boolean;
}

type StoreLine = { put: Packet } | { del: number };

function encode(line: StoreLine): string {
  return JSON.stringify(line, function (this: Record<string, unknown>, key, value: unknown) {
    // JSON.stringify has already turned Buffers into {type, data}; look at the original instead.
    const raw = this[key];
    return Buffer.isBuffer(raw) ? { $base64: raw.toString('base64') } : value;
  });
}

function decode(text: string): StoreLine {
  return JSON.parse(text, (_key, value: unknown) => {
    if (value !== null && typeof value === 'object' && '$base64' in value && typeof value.$base64 === 'string') {
      return Buffer.from(value.$base64, 'base64');
    }
    return value;
  }) as StoreLine;
}

export class FileStore implements IStore {
  readonly path: string;
  /** Lines dropped when opening because they were torn or unreadable. */
  readonly skippedLines: number;
  private readonly packets = new Map<number, Packet>();
  private readonly fsyncEach: boolean;
  private fd: number | null = null;
  private linesInLog = 0;

  constructor(path: string, options: FileStoreOptions = {}) {
    this.path = path;
    this.fsyncEach = options.fsync ?? false;
    mkdirSync(dirname(path), { recursive: true });
    this.skippedLines = this.load();
    this.compact();
  }

  /** Packets waiting for their acknowledgement. */
  get size(): number {
    return this.packets.size;
  }

  /** Message ids in use, so a fresh client can avoid them before it has connected. */
  messageIds(): number[] {
    return [...this.packets.keys()];
  }

  put(packet: Packet, cb: DoneCallback): this {
    const id = packet.messageId;
    if (id === undefined) {
      cb(new Error(`cannot store a ${packet.cmd} packet without a message id`));
      return this;
    }
    try {
      this.append({ put: packet });
    } catch (error) {
      cb(error as Error);
      return this;
    }
    this.packets.set(id, packet);
    this.maybeCompact();
    cb();
    return this;
  }

  get(packet: Pick<Packet, 'messageId'>, cb: PacketCallback): this {
    const stored = packet.messageId === undefined ? undefined : this.packets.get(packet.messageId);
    if (stored) cb(undefined, stored);
    else cb(new Error('missing packet'));
    return this;
  }

  del(packet: Pick<Packet, 'messageId'>, cb: PacketCallback): this {
    const id = packet.messageId;
    const stored = id === undefined ? undefined : this.packets.get(id);
    if (!stored || id === undefined) {
      cb(new Error('missing packet'));
      return this;
    }
    try {
      this.append({ del: id });
    } catch (error) {
      cb(error as Error);
      return this;
    }
    this.packets.delete(id);
    this.maybeCompact();
    cb(undefined, stored);
    return this;
  }

  /** The pending packets in the order they were first stored, for mqtt.js to re-send after (re)connecting. */
  createStream(): ReturnType<IStore['createStream']> {
    const snapshot = [...this.packets.values()];
    let next = 0;
    const stream = new Readable({
      objectMode: true,
      read() {
        this.push(next < snapshot.length ? snapshot[next++] : null);
      },
    });
    return stream as unknown as ReturnType<IStore['createStream']>;
  }

  /** Flush to disk and release the file; the contents stay for the next run (a later put reopens it). */
  close(cb: DoneCallback): void {
    try {
      this.closeFile();
    } catch (error) {
      cb(error as Error);
      return;
    }
    cb();
  }

  closeSync(): void {
    this.closeFile();
  }

  private closeFile(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  private append(line: StoreLine): void {
    if (this.fd === null) this.fd = openSync(this.path, 'a', 0o600);
    writeSync(this.fd, encode(line) + '\n');
    if (this.fsyncEach) fsyncSync(this.fd);
    this.linesInLog++;
  }

  /** Mostly puts followed by their dels: rewrite once the log is mostly dead lines (after the map is current). */
  private maybeCompact(): void {
    if (this.linesInLog <= 2000 || this.linesInLog <= 4 * this.packets.size + 1000) return;
    try {
      this.compact();
    } catch {
      // Compaction only saves space; the log itself is complete. Try again after the next batch of writes.
      this.linesInLog = this.packets.size;
    }
  }

  private load(): number {
    if (!existsSync(this.path)) return 0;
    let skipped = 0;
    for (const text of readFileSync(this.path, 'utf8').split('\n')) {
      if (text.trim() === '') continue;
      let line: StoreLine;
      try {
        line = decode(text);
      } catch {
        skipped++;
        continue;
      }
      if ('put' in line && typeof line.put?.messageId === 'number') this.packets.set(line.put.messageId, line.put);
      else if ('del' in line && typeof line.del === 'number') this.packets.delete(line.del);
      else skipped++;
    }
    return skipped;
  }

  /** Rewrite the file with only the live packets (write aside, fsync, rename over). */
  private compact(): void {
    this.closeFile();
    const tmp = `${this.path}.tmp`;
    const body = [...this.packets.values()].map((packet) => encode({ put: packet }) + '\n').join('');
    writeFileSync(tmp, body, { mode: 0o600 });
    const tmpFd = openSync(tmp, 'r+');
    try {
      fsyncSync(tmpFd);
    } finally {
      closeSync(tmpFd);
    }
    renameSync(tmp, this.path);
    this.linesInLog = this.packets.size;
    this.fd = openSync(this.path, 'a', 0o600);
  }
}
