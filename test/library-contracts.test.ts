// Pantau leans on a few library internals where no public hook exists (each place names the upstream issue):
//   - broker/broker.ts wraps the aedes instance's `publish` to end telemetry without routing it;
//   - broker/packet-limit.ts wraps mqtt-packet's `Parser.prototype._parseLength` and sets the aedes client's
//     `_parser.maxPacketSize`;
//   - broker/read-pacing.ts replaces the aedes client's `readable` listener (`_nextBatch`, `_parsingBatch`);
//   - broker/parser-allocations.ts replaces the `debug` module in the require cache before mqtt-packet loads it,
//     and bl's `readUInt8`/`readUInt16BE`/`readUInt32BE` on the BufferList mqtt-packet parses from;
//   - ingest/mqtt-source.ts fails mqtt.js's `handleMessage` callback to hold a PUBACK back and sends it later
//     with the private `_sendPacket`.
// These tests pin exactly the library behaviour each patch relies on, against the real libraries over real
// sockets, so an upgrade that changes it fails here instead of silently turning a guarantee off.
// first, as platform/main.ts does: before aedes (and mqtt-packet with it) is loaded
import { blOfPacketParser, debugPathOfPacketParser } from '../broker/parser-allocations.js';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import net from 'node:net';
import { format } from 'node:util';
import { PassThrough } from 'node:stream';
import { Aedes, type Client, type PublishPacket } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import mqttPacket from 'mqtt-packet';
import { AedesPacketParser, installPacketLimit, limitClientPackets } from '../broker/packet-limit.js';
import { paceReads, ReadGate } from '../broker/read-pacing.js';
import { eventually } from './support/platform.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function startAedes(setup?: (aedes: Aedes) => void): Promise<{ aedes: Aedes; url: string }> {
  const aedes = await Aedes.createBroker();
  setup?.(aedes);
  const server = net.createServer((socket) => aedes.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => aedes.close(() => server.close(() => resolve()))));
  return { aedes, url: `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}` };
}

async function connect(url: string, options: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...options });
  cleanups.push(() => client.endAsync(true));
  return client;
}

describe('aedes: the instance publish that broker/broker.ts wraps', () => {
  it('client publishes go through the instance `publish(packet, client, done)` after authorizePublish; one ended there reaches no subscriber and still completes', async () => {
    const seen: Array<{ topic: string; qos: number; fromClient: boolean }> = [];
    let hold: (() => void) | undefined;
    const { url } = await startAedes((aedes) => {
      // the durability hook: the PUBACK (QoS 1) / PUBREC (QoS 2) waits for authorizePublish's callback
      aedes.authorizePublish = (_client, packet, callback) => {
        if (packet.topic === 'sensors/air/held/telemetry') hold = () => callback(null);
        else callback(null);
      };
      const internals = aedes as unknown as { publish: (packet: PublishPacket, client: unknown, done?: (err?: Error) => void) => void };
      const publish = internals.publish.bind(aedes);
      internals.publish = (packet, client, done) => {
        if (packet.topic.startsWith('$SYS/')) return publish(packet, client, done);
        seen.push({ topic: packet.topic, qos: packet.qos, fromClient: client !== null && typeof client === 'object' && 'id' in client });
        if (packet.topic.endsWith('/telemetry')) return done?.(); // handled: not routed
        publish(packet, client, done);
      };
    });
    const watcher = await connect(url, { clientId: 'watcher' });
    const received: string[] = [];
    watcher.on('message', (topic) => received.push(topic));
    await watcher.subscribeAsync('#', { qos: 1 });
    const device = await connect(url, { clientId: 'device' });

    // QoS 1 and QoS 2 complete although the wrapper never routes them
    await device.publishAsync('sensors/air/a1/telemetry', '{"pm25":1}', { qos: 1 });
    await device.publishAsync('sensors/air/a1/telemetry', '{"pm25":2}', { qos: 2 });
    // the PUBACK waits for authorizePublish
    let acked = false;
    const held = device.publishAsync('sensors/air/held/telemetry', '{"pm25":3}', { qos: 1 }).then(() => (acked = true));
    await eventually(() => hold !== undefined);
    expect(acked).toBe(false);
    hold!();
    await held;

    await device.publishAsync('sensors/air/a1/status', 'online', { qos: 1 });
    await eventually(() => received.includes('sensors/air/a1/status'));
    expect(seen).toEqual([
      { topic: 'sensors/air/a1/telemetry', qos: 1, fromClient: true },
      { topic: 'sensors/air/a1/telemetry', qos: 2, fromClient: true },
      { topic: 'sensors/air/held/telemetry', qos: 1, fromClient: true },
      { topic: 'sensors/air/a1/status', qos: 1, fromClient: true },
    ]);
    expect(received.filter((t) => t.endsWith('/telemetry'))).toEqual([]);
  });

  it('aedes emits clientReady and clientDisconnect for every session (what replaced reading aedes.clients)', async () => {
    const events: string[] = [];
    const { url } = await startAedes((aedes) => {
      aedes.on('clientReady', (c: Client) => events.push(`ready ${c.id}`));
      aedes.on('clientDisconnect', (c: Client) => events.push(`gone ${c.id}`));
    });
    const a = await connect(url, { clientId: 'city-siren' });
    await eventually(() => events.includes('ready city-siren'));
    a.stream.destroy(); // no DISCONNECT: a dropped connection must be reported too
    await eventually(() => events.includes('gone city-siren'));
  });
});

describe('aedes: the reading of a connection that broker/read-pacing.ts paces', () => {
  /** A device on a raw socket: CONNECT, then each PUBLISH (QoS 1) as its own TCP write. */
  async function rawDevice(url: string, keepalive = 0, clientId = 'raw'): Promise<{ publish: (n: number) => void; socket: net.Socket }> {
    const { port } = new URL(url);
    const socket = net.connect(Number(port), '127.0.0.1');
    cleanups.push(() => socket.destroy());
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const connack = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive }));
    await connack;
    return {
      socket,
      publish: (n) => socket.write(mqttPacket.generate({ cmd: 'publish', topic: `${clientId}/${n}`, payload: Buffer.from(String(n)), qos: 1, messageId: n, dup: false, retain: false })),
    };
  }

  /** aedes whose authorizePublish holds every publish until released; `paced` applies paceReads to each connection. */
  async function holdingAedes(paced: boolean, gate?: ReadGate) {
    const held: Array<{ topic: string; release: () => void }> = [];
    const aedes = await Aedes.createBroker();
    aedes.authorizePublish = (_client, packet, callback) => {
      held.push({ topic: packet.topic, release: () => callback(null) });
    };
    const server = net.createServer((socket) => {
      const client = aedes.handle(socket);
      if (paced) paceReads(client, socket, gate);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => aedes.close(() => server.close(() => resolve()))));
    return { held, url: `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}` };
  }

  const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

  /** Publish 1 and wait until it is held; then 2 and 3 as separate TCP writes, each given time to be read. */
  async function publishWhileHeld(device: { publish: (n: number) => void }, held: unknown[]): Promise<void> {
    device.publish(1);
    await eventually(() => held.length === 1);
    device.publish(2);
    await settle();
    device.publish(3);
    await settle();
  }

  it('unpaced, aedes reads the next chunk while a publish of the last one is still pending (the `readable` event counts as a finished packet)', async () => {
    const { held, url } = await holdingAedes(false);
    const device = await rawDevice(url);
    await publishWhileHeld(device, held);
    expect(held.map((h) => h.topic).length).toBeGreaterThan(1);
  });

  it('paced, the next chunk is read only once every publish of the last one is done, and then nothing is lost', async () => {
    const { held, url } = await holdingAedes(true);
    const device = await rawDevice(url);
    const acks: number[] = [];
    device.socket.on('data', (buf) => {
      // PUBACKs are 4 bytes each: 0x40 0x02 id
      for (let i = 0; i + 4 <= buf.length; i += 4) if (buf[i] === 0x40) acks.push(buf.readUInt16BE(i + 2));
    });
    await publishWhileHeld(device, held);
    expect(held.map((h) => h.topic)).toEqual(['raw/1']);
    held[0]!.release();
    // what waited in the socket is read at once: both publishes, in order
    await eventually(() => held.length === 3);
    expect(held.map((h) => h.topic)).toEqual(['raw/1', 'raw/2', 'raw/3']);
    for (const h of held.slice(1)) h.release();
    await eventually(() => acks.length === 3);
    expect(acks).toEqual([1, 2, 3]);
  });

  it('paced with a gate of 2: a third connection is not read while two publishes of others are held; it is read, in turn, once one is done', async () => {
    const gate = new ReadGate(2);
    const { held, url } = await holdingAedes(true, gate);
    const [a, b, c] = [await rawDevice(url, 0, 'a'), await rawDevice(url, 0, 'b'), await rawDevice(url, 0, 'c')];
    const acks: string[] = [];
    for (const [name, d] of [['a', a], ['b', b], ['c', c]] as const) {
      d.socket.on('data', (buf) => {
        for (let i = 0; i + 4 <= buf.length; i += 4) if (buf[i] === 0x40) acks.push(`${name}/${buf.readUInt16BE(i + 2)}`);
      });
    }
    a.publish(1);
    await eventually(() => held.length === 1);
    b.publish(1);
    await eventually(() => held.length === 2);
    c.publish(1);
    await settle();
    // c's publish waits in its socket: two packets are in hand, the gate's limit
    expect(held.map((h) => h.topic)).toEqual(['a/1', 'b/1']);
    expect([gate.inHand, gate.waiting]).toEqual([2, 1]);
    held[0]!.release();
    await eventually(() => held.length === 3);
    expect(held[2]!.topic).toBe('c/1');
    for (const h of held.slice(1)) h.release();
    await eventually(() => acks.length === 3);
    expect(acks.sort()).toEqual(['a/1', 'b/1', 'c/1']);
    expect([gate.inHand, gate.waiting]).toEqual([0, 0]);
  });

  it('paced with a gate: a connection that closes with publishes in hand gives their places back', async () => {
    const gate = new ReadGate(1);
    const { held, url } = await holdingAedes(true, gate);
    const a = await rawDevice(url, 0, 'a');
    const b = await rawDevice(url, 0, 'b');
    a.publish(1);
    await eventually(() => held.length === 1);
    b.publish(1);
    await settle();
    expect(held.length).toBe(1);
    a.socket.destroy();
    // a's place is free: b is read
    await eventually(() => held.length === 2);
    expect(held[1]!.topic).toBe('b/1');
    held[1]!.release();
    await eventually(() => gate.inHand === 0);
  });

  it('paced, a device whose publish waits for us longer than its keep-alive is not dropped (it sent; it is alive)', async () => {
    const { held, url } = await holdingAedes(true);
    // keep-alive 1 s: aedes would close the connection 1.5 s after the last packet it parsed
    const device = await rawDevice(url, 1);
    let closed = false;
    device.socket.on('close', () => (closed = true));
    const acks: number[] = [];
    device.socket.on('data', (buf) => {
      for (let i = 0; i + 4 <= buf.length; i += 4) if (buf[i] === 0x40) acks.push(buf.readUInt16BE(i + 2));
    });
    device.publish(1);
    await eventually(() => held.length === 1);
    // its PINGREQs wait unread behind the held publish
    const ping = setInterval(() => device.socket.write(mqttPacket.generate({ cmd: 'pingreq' })), 500);
    await new Promise((resolve) => setTimeout(resolve, 3500));
    clearInterval(ping);
    expect(closed).toBe(false);
    held[0]!.release();
    await eventually(() => acks.length === 1);
    expect(acks).toEqual([1]);
  });
});

describe('mqtt-packet: the parser that broker/packet-limit.ts limits', () => {
  it('aedes gives each client a `_parser` of the class whose `_parseLength` is wrapped', async () => {
    installPacketLimit();
    const aedes = await Aedes.createBroker();
    cleanups.push(() => new Promise<void>((resolve) => aedes.close(() => resolve())));
    const conn = new PassThrough();
    const client = aedes.handle(conn as unknown as net.Socket);
    const parser = (client as unknown as { _parser?: unknown })._parser;
    expect(parser).toBeInstanceOf(AedesPacketParser);
    expect(AedesPacketParser.prototype._parseLength.name).toBe('limitedParseLength');
    limitClientPackets(client, 1024);
    expect((parser as { maxPacketSize?: number }).maxPacketSize).toBe(1024);
    conn.destroy();
  });

  it('the length is known after the fixed header, before the payload: an oversized packet is refused there', () => {
    installPacketLimit();
    type TestParser = NodeJS.EventEmitter & { parse(b: Buffer): number; maxPacketSize?: number };
    const newParser = () => (AedesPacketParser as unknown as { parser(): TestParser }).parser();
    const parser = newParser();
    parser.maxPacketSize = 1024;
    const errors: string[] = [];
    const packets: unknown[] = [];
    parser.on('error', (err: Error) => errors.push(err.message));
    parser.on('packet', (p: unknown) => packets.push(p));
    // PUBLISH QoS 0 announcing 10 MiB: fixed header 0x30 and the remaining length as a varint, no payload yet
    const announce = (length: number) => {
      const bytes = [0x30];
      let n = length;
      do {
        let b = n % 128;
        n = Math.floor(n / 128);
        if (n > 0) b |= 0x80;
        bytes.push(b);
      } while (n > 0);
      return Buffer.from(bytes);
    };
    parser.parse(announce(10 * 1024 * 1024));
    expect(errors).toEqual([`packet of ${10 * 1024 * 1024} bytes exceeds the 1024-byte limit`]);

    // within the limit a packet parses as before
    const ok = newParser();
    ok.maxPacketSize = 1024;
    const got: Array<{ topic?: string }> = [];
    ok.on('packet', (p: { topic?: string }) => got.push(p));
    const topic = Buffer.from('a/b');
    const body = Buffer.concat([Buffer.from([0, topic.length]), topic, Buffer.from('hi')]);
    ok.parse(Buffer.concat([announce(body.length), body]));
    expect(got.map((p) => p.topic)).toEqual(['a/b']);
    expect(packets).toEqual([]);
  });
});

describe('mqtt.js: the late acknowledgement of ingest/mqtt-source.ts', () => {
  it('a handleMessage callback with an error sends no PUBACK and lets the next message in; `_sendPacket` sends one later', async () => {
    const acked: number[] = [];
    const { aedes, url } = await startAedes((aedes) => {
      aedes.on('ack', (packet) => {
        const p = packet as { messageId?: number } | null;
        if (p?.messageId !== undefined) acked.push(p.messageId);
      });
    });
    const worker = await connect(url, { clientId: 'ingest-worker', clean: false, protocolVersion: 4 });
    const sendPacket = (worker as unknown as { _sendPacket?: (packet: { cmd: 'puback'; messageId: number }, cb?: () => void) => void })._sendPacket;
    expect(typeof sendPacket).toBe('function');
    const taken: Array<{ topic: string; messageId: number }> = [];
    worker.handleMessage = (packet, callback) => {
      taken.push({ topic: packet.topic, messageId: packet.messageId! });
      callback(new Error('acknowledged later'));
    };
    const errors: Error[] = [];
    worker.on('error', (err) => errors.push(err));
    await worker.subscribeAsync('sensors/#', { qos: 1 });

    const publish = (topic: string) =>
      new Promise<void>((resolve, reject) => aedes.publish({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 1, retain: false, dup: false }, (err) => (err ? reject(err) : resolve())));
    await publish('sensors/air/a1/telemetry');
    await publish('sensors/air/a2/telemetry');
    // the second message arrived although the first was not acknowledged: mqtt.js moved on after the error
    await eventually(() => taken.length === 2);
    expect(errors).toEqual([]);

    // PUBACK for the second only, by hand; TCP keeps order, so had mqtt.js sent one for the first, aedes would
    // have seen it before this one
    sendPacket!.call(worker, { cmd: 'puback', messageId: taken[1]!.messageId });
    await eventually(() => acked.includes(taken[1]!.messageId));
    expect(acked).not.toContain(taken[0]!.messageId);
  });
});

describe('mqtt-packet: the allocations broker/parser-allocations.ts removes', () => {
  const packetRequire = createRequire(createRequire(createRequire(import.meta.url).resolve('aedes')).resolve('mqtt-packet'));
  type Debug = ((ns: string) => { (...a: unknown[]): void; enabled: boolean; namespace: string }) & { enable(ns: string): void; disable(): string };

  it('mqtt-packet makes its `debug` instances at load from `require(\'debug\')(namespace)`, and gets the quiet one', () => {
    const root = dirname(packetRequire.resolve('mqtt-packet/package.json'));
    for (const file of ['parser.js', 'writeToStream.js']) expect(readFileSync(join(root, file), 'utf8')).toMatch(/const debug = require\('debug'\)\('mqtt-packet:\w+'\)/);
    expect(packetRequire.resolve('debug')).toBe(debugPathOfPacketParser);
    const debug = packetRequire('debug') as Debug;
    const quiet = debug('mqtt-packet:parser');
    expect(quiet.enabled).toBe(false);
    expect(quiet.namespace).toBe('mqtt-packet:parser');
    // a namespace enabled (DEBUG at start) gets debug's own instance, which writes
    const written: string[] = [];
    debug.enable('pantau-contract');
    try {
      const loud = debug('pantau-contract') as ReturnType<Debug> & { log: (s: string) => void };
      expect(loud.enabled).toBe(true);
      loud.log = (...args: unknown[]) => written.push(format(...args));
      loud('hello %s', 'there');
    } finally {
      debug.disable();
    }
    expect(written.join('')).toContain('hello there');
  });

  it('bl\'s integer reads, replaced, answer as Buffer\'s across buffer boundaries and throw RangeError past the end', () => {
    type List = { append(b: Buffer): void; readUInt8(o?: number): number; readUInt16BE(o?: number): number; readUInt32BE(o?: number): number; length: number };
    // what mqtt-packet's parser reads from is a `bl()`
    const parser = (AedesPacketParser as unknown as { parser(): { _list: List } }).parser();
    expect(Object.getPrototypeOf(parser._list)).toBe(blOfPacketParser.prototype);
    let seed = 5;
    const rand = (n: number) => ((seed = (seed * 1664525 + 1013904223) >>> 0) % n);
    for (let round = 0; round < 200; round++) {
      const list = (blOfPacketParser as unknown as () => List)();
      const parts: Buffer[] = [];
      for (let k = 1 + rand(5); k > 0; k--) parts.push(Buffer.from(Array.from({ length: rand(6) }, () => rand(256))));
      for (const p of parts) list.append(p);
      const whole = Buffer.concat(parts);
      expect(list.length).toBe(whole.length);
      for (const [method, size] of [['readUInt8', 1], ['readUInt16BE', 2], ['readUInt32BE', 4]] as const) {
        for (let o = 0; o <= whole.length + 1; o++) {
          if (o + size <= whole.length) expect(list[method](o)).toBe(whole[method](o));
          else expect(() => list[method](o)).toThrow(RangeError);
        }
      }
    }
  });

  it('PUBLISH and PUBREL packets split at every byte are parsed to the same packets', () => {
    const packets = [
      { cmd: 'publish', qos: 1, dup: false, retain: false, messageId: 0xbeef, topic: 'pantau/v1/air/sensor-1/telemetry', payload: Buffer.from('{"pm25":12.5}') },
      { cmd: 'publish', qos: 0, dup: false, retain: true, topic: 't', payload: Buffer.alloc(300, 7) },
      { cmd: 'pubrel', messageId: 65535 },
    ] as const;
    for (const packet of packets) {
      const bytes = mqttPacket.generate(packet as unknown as mqttPacket.Packet);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const parser = (AedesPacketParser as unknown as { parser(): NodeJS.EventEmitter & { parse(b: Buffer): number } }).parser();
        const got: Array<Record<string, unknown>> = [];
        parser.on('packet', (p: Record<string, unknown>) => got.push(p));
        parser.parse(bytes.subarray(0, cut));
        parser.parse(bytes.subarray(cut));
        expect(got).toHaveLength(1);
        for (const [k, v] of Object.entries(packet)) expect(got[0]![k], `${packet.cmd} cut at ${cut}: ${k}`).toEqual(v);
      }
    }
  });
});
