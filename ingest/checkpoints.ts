// Consumer checkpoints of the log: where each durable consumer (the InfluxDB writer, the alert engine, rollups…)
// has got to. One small file of two fixed 4 KiB slots written in turn (each with a sequence number and a
// CRC-32), like a database's double-buffered control file: a torn write spoils at most one slot and the other
// still holds the previous state. Overwriting preallocated blocks needs no new disk space, so checkpoints — and
// with them the deletion of consumed segments — keep working on a full disk, which is how space comes back.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, readSync, renameSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';

const SLOT = 4096;

export type CheckpointValues = Record<string, number>;

export class CheckpointFile {
  private seq = 0;
  /** The slot holding the newest valid checkpoints; the next save goes to the other one. */
  private slot: number;
  private handle: FileHandle | undefined;
  private saving: Promise<boolean> | undefined;
  private next: CheckpointValues | undefined;
  /** The values last made durable. */
  persisted: CheckpointValues;

  private constructor(private readonly path: string, values: CheckpointValues, seq: number, slot: number) {
    this.persisted = values;
    this.seq = seq;
    this.slot = slot;
  }

  /** Open (creating and preallocating it when missing). `legacy` values are used when the file is new. */
  static async open(path: string, legacy: CheckpointValues = {}): Promise<CheckpointFile> {
    if (!existsSync(path)) {
      const fd = openSync(`${path}.tmp`, 'w');
      try {
        writeSync(fd, encodeSlot(1, legacy), 0, SLOT, 0);
        writeSync(fd, Buffer.alloc(SLOT), 0, SLOT, SLOT);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(`${path}.tmp`, path);
    }
    const fd = openSync(path, 'r');
    let best: { seq: number; values: CheckpointValues; slot: number } = { seq: 0, values: {}, slot: 1 };
    try {
      for (let slot = 0; slot < 2; slot++) {
        const buf = Buffer.alloc(SLOT);
        readSync(fd, buf, 0, SLOT, slot * SLOT);
        const decoded = decodeSlot(buf);
        if (decoded && decoded.seq > best.seq) best = { ...decoded, slot };
      }
    } finally {
      closeSync(fd);
    }
    // Never overwrite the slot that holds the newest checkpoints (files of earlier versions could have their first
    // two sequence numbers in one slot: the slot to write is the other one, whatever the numbers' parity)
    const file = new CheckpointFile(path, best.values, best.seq, best.slot);
    file.handle = await open(path, 'r+');
    return file;
  }

  /**
   * Make `values` durable. Saves are serialised; a save asked for while one runs is coalesced into the next.
   * Resolves false when the write or its fsync failed (the previous slot still holds older, valid values).
   */
  save(values: CheckpointValues): Promise<boolean> {
    this.next = { ...values };
    if (this.saving) return this.saving.then(() => this.flushNext());
    return this.flushNext();
  }

  private flushNext(): Promise<boolean> {
    if (this.saving) return this.saving;
    const values = this.next;
    if (!values || !this.handle) return Promise.resolve(true);
    this.next = undefined;
    const seq = this.seq + 1;
    const slot = 1 - this.slot;
    const buf = encodeSlot(seq, values);
    const handle = this.handle;
    this.saving = (async () => {
      try {
        const { bytesWritten } = await handle.write(buf, 0, SLOT, slot * SLOT);
        if (bytesWritten !== SLOT) return false;
        await handle.datasync();
        this.seq = seq;
        this.slot = slot;
        this.persisted = values;
        return true;
      } catch {
        return false;
      } finally {
        this.saving = undefined;
      }
    })();
    return this.saving;
  }

  async close(): Promise<void> {
    while (this.saving) await this.saving;
    await this.handle?.close();
    this.handle = undefined;
  }
}

function encodeSlot(seq: number, values: CheckpointValues): Buffer {
  const body = Buffer.from(JSON.stringify({ seq, values }));
  if (body.length > SLOT - 8) throw new Error('checkpoint: too many consumers for one slot');
  const buf = Buffer.alloc(SLOT);
  buf.writeUInt32LE(body.length, 0);
  body.copy(buf, 8);
  buf.writeUInt32LE(crc32(body), 4);
  return buf;
}

function decodeSlot(buf: Buffer): { seq: number; values: CheckpointValues } | null {
  const length = buf.readUInt32LE(0);
  if (length === 0 || length > SLOT - 8) return null;
  const body = buf.subarray(8, 8 + length);
  if (crc32(body) !== buf.readUInt32LE(4)) return null;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { seq: number; values: CheckpointValues };
    if (typeof parsed.seq !== 'number' || typeof parsed.values !== 'object' || parsed.values === null) return null;
    return parsed;
  } catch {
    return null;
  }
}

/** Round 1 kept the writer's offset in `checkpoint.json`: read it so an upgrade replays nothing twice. */
export function readLegacyCheckpoint(path: string): number | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const committed = Number((JSON.parse(readFileSync(path, 'utf8')) as { committed: number }).committed);
    return Number.isFinite(committed) ? committed : undefined;
  } catch {
    return undefined;
  }
}
