// aedes has no maximum packet size: mqtt-packet buffers whatever remaining length a client announces. This sets a
// ceiling per parser, checked as soon as the fixed header's length is read, before any payload is buffered; a
// client that announces more is disconnected (packets over 1 MiB may be refused by closing, docs/contract.md).
//
// No public hook exists: aedes passes no options to its parser and has no packet size limit (moscajs/aedes#831,
// open), and mqtt-packet checks a maximum size only when writing MQTT 5 packets. So two internals are used:
// mqtt-packet's `Parser.prototype._parseLength` (wrapped, process-wide, for the copy aedes loads) and the aedes
// client's `_parser` (given a `maxPacketSize`). test/library-contracts.test.ts fails if either changes shape, and
// test/transport-security.test.ts checks the whole behaviour over a socket.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const aedesRequire = createRequire(require.resolve('aedes'));
// The copy of mqtt-packet that aedes itself loads.
const Parser = aedesRequire('mqtt-packet/parser.js') as {
  prototype: { _parseLength(this: LimitedParser): boolean };
};

interface LimitedParser {
  maxPacketSize?: number;
  packet: { length: number };
  _emitError(err: Error): boolean;
}

let installed = false;

export function installPacketLimit(): void {
  if (installed) return;
  installed = true;
  const parseLength = Parser.prototype._parseLength;
  Parser.prototype._parseLength = function limitedParseLength(this: LimitedParser): boolean {
    const done = parseLength.call(this);
    if (done && this.maxPacketSize !== undefined && this.packet.length > this.maxPacketSize) {
      this._emitError(new Error(`packet of ${this.packet.length} bytes exceeds the ${this.maxPacketSize}-byte limit`));
      return false;
    }
    return done;
  };
}

/** The mqtt-packet parser class aedes uses (for the tests that pin the internals above). */
export const AedesPacketParser = Parser;

/** Limit the packets of one aedes client (call right after `aedes.handle(conn)`, before data flows). */
export function limitClientPackets(client: unknown, maxBytes: number): void {
  const parser = (client as { _parser?: LimitedParser })._parser;
  if (parser) parser.maxPacketSize = maxBytes;
}
