// mqtt-packet (the MQTT parser and writer of aedes and of mqtt.js) allocates on every packet where nothing needs to be
// allocated. A heap sampling profile of `npm run bench -- --scenario open-single` (20,000 single-reading messages/s)
// put 18 % of the platform's allocated bytes here, and the main thread spent about half its time in GC (issue 23):
//   - its `debug` instances (`require('debug')('mqtt-packet:parser')`) gather their arguments into an array on each
//     of the ~10 calls a packet makes, before they look whether they are enabled (`function debug(...args)`);
//   - bl's BufferList reads each integer of a header by making a Buffer view first
//     (`this.slice(offset, offset + 2).readUInt16BE(0)`): 4–6 views per PUBLISH.
// Both are replaced here, process-wide, for the copies aedes loads: `debug` instances of namespaces that are not
// enabled when they are made (the `DEBUG` environment variable at start) are a function that does nothing, and the
// integer reads walk the list's buffers without a view, answering as Buffer's would (RangeError past the end).
// `debug` instances are made when mqtt-packet is loaded, so this module is imported before any module that loads
// aedes or mqtt (broker/broker.ts, ingest/mqtt-source.ts, platform/main.ts import it first).
// test/library-contracts.test.ts fails if either library changes the shape relied on here.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// the copy of mqtt-packet that aedes loads, and the debug and bl it loads
const packetRequire = createRequire(createRequire(require.resolve('aedes')).resolve('mqtt-packet'));

type Debugger = ((...args: unknown[]) => void) & { namespace: string; enabled: boolean; extend(sub: string, delimiter?: string): Debugger };
type CreateDebug = ((namespace: string) => Debugger) & Record<string, unknown>;

interface ReadsBytes {
  _bufs: Buffer[];
  length: number;
}

/** The `debug` module as mqtt-packet requires it (after `installQuietParser`, the quiet one). */
export const debugPathOfPacketParser = packetRequire.resolve('debug');
/** bl's exports as mqtt-packet requires them. */
export const blOfPacketParser = packetRequire('bl') as { (): ReadsBytes; prototype: Record<string, unknown>; BufferList: { prototype: Record<string, unknown> } };

function quietDebug(createDebug: CreateDebug): CreateDebug {
  const quiet = ((namespace: string): Debugger => {
    const real = createDebug(namespace);
    if (real.enabled) return real;
    const nothing = (() => undefined) as unknown as Debugger;
    return Object.assign(nothing, {
      namespace,
      enabled: false,
      extend: (sub: string, delimiter = ':') => quiet(`${namespace}${delimiter}${sub}`),
      destroy: () => false,
      log: (real as unknown as { log?: unknown }).log,
    });
  }) as CreateDebug;
  Object.assign(quiet, createDebug);
  quiet.default = quiet;
  quiet.debug = quiet;
  return quiet;
}

/** The byte at `index` of a buffer list, or −1 past its end. */
function byteAt(list: ReadsBytes, index: number): number {
  const bufs = list._bufs;
  for (let i = 0; i < bufs.length; i++) {
    const b = bufs[i]!;
    if (index < b.length) return b[index]!;
    index -= b.length;
  }
  return -1;
}

function outOfRange(offset: number, bytes: number, list: ReadsBytes): never {
  throw new RangeError(`The value of "offset" is out of range. It must be >= 0 and <= ${list.length - bytes}. Received ${offset}`);
}

const reads = {
  readUInt8(this: ReadsBytes, offset = 0): number {
    if (!(offset >= 0 && offset + 1 <= this.length)) outOfRange(offset, 1, this);
    return byteAt(this, offset);
  },
  readUInt16BE(this: ReadsBytes, offset = 0): number {
    if (!(offset >= 0 && offset + 2 <= this.length)) outOfRange(offset, 2, this);
    return (byteAt(this, offset) << 8) | byteAt(this, offset + 1);
  },
  readUInt32BE(this: ReadsBytes, offset = 0): number {
    if (!(offset >= 0 && offset + 4 <= this.length)) outOfRange(offset, 4, this);
    return byteAt(this, offset) * 0x1000000 + ((byteAt(this, offset + 1) << 16) | (byteAt(this, offset + 2) << 8) | byteAt(this, offset + 3));
  },
};

let installed = false;

/** Replace mqtt-packet's `debug` (when it is not loaded yet) and bl's integer reads; idempotent. */
export function installQuietParser(): void {
  if (installed) return;
  installed = true;
  const createDebug = packetRequire('debug') as CreateDebug;
  const entry = packetRequire.cache[debugPathOfPacketParser];
  if (entry) entry.exports = quietDebug(createDebug);
  for (const proto of [blOfPacketParser.BufferList.prototype, blOfPacketParser.prototype]) Object.assign(proto, reads);
}

installQuietParser();
