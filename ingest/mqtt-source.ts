// Scale-out input (docs/contract.md §7): an ingest worker's session on an external broker (Mosquitto, EMQX, HiveMQ…).
//
// The worker joins the shared subscriptions `$share/pantau-ingest/sensors/+/+/telemetry` (and `…/senml`, SenML packs,
// and `…/config/reported`, devices' answers to a configuration push) at QoS 1 with a persistent session under a
// stable client id, so the broker splits telemetry between the N workers and keeps
// whatever a worker has not acknowledged. A message is acknowledged (PUBACK) only once `Ingest.accept` says its
// readings are durable in this worker's spool; a worker killed before that simply never acknowledged it, and the
// broker delivers it again (to the same session when the worker comes back; EMQX may also hand it to another).
//
// Nothing is acknowledged and dropped: telemetry for a device the registry does not know (or under another kind's
// topic) becomes the rejection `unknown_device` — spooled, counted, published on the topic's rejections channel —
// before its PUBACK. With a shared registry a device missing from this node's memory is first looked up in
// PostgreSQL (created through another node a moment ago); if PostgreSQL cannot answer, the message is not
// acknowledged and the broker delivers it again.
//
// Leaving (SIGTERM, scale-down): the worker UNSUBSCRIBEs from the share, so the broker routes new messages to the
// other workers; takes and acknowledges what the broker had already sent to it until the connection has been quiet
// for a moment (since the last message and the last PUBACK: a broker whose inflight window is full sends the next
// queued message only after a PUBACK); then ends its persistent session (a clean-session CONNECT and DISCONNECT) so
// the broker stops keeping messages for an id that is gone. A message that still arrives after that decision is
// not taken and keeps the session (never ended with a message in it). PUBACKs and QoS 2 PUBCOMPs leave in one
// chain, in arrival order, and `close()` waits for all of them before it disconnects.
//
// Why PUBACKs are sent from here and not from mqtt.js: mqtt.js handles incoming packets strictly one at a time
// and sends a PUBACK only when `handleMessage`'s callback runs, so holding that callback until the spool fsync
// would allow one message per fsync — and no group commit. Instead the callback is released at once (with a
// sentinel error, which tells mqtt.js not to acknowledge), up to `maxInFlight` messages are ingested
// concurrently, and their PUBACKs leave in arrival order (MQTT 3.1.1 §4.6) as each becomes durable. A PUBACK
// is only ever sent on the connection the message came in on; after a reconnect the broker redelivers.
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { SHARED_SUBSCRIPTIONS, deviceTopic, parseDeviceTopic } from '../catalog/index.js';
import { parseExtraTopic } from '../catalog/device-config.js';
import { DeviceRateLimiter } from './rate-limit.js';
import type { Ingest, IngestDevice, Rejection } from './ingest.js';
import { redactUrl } from '../lib/redact.js';

export interface MqttSourceOptions {
  /** External broker, e.g. `mqtt://broker:1883` or `mqtts://…`. */
  url: string;
  /** Stable per worker (`pantau-ingest-${PANTAU_WORKER_ID}`): the broker keeps this session's messages. */
  clientId: string;
  /** Ingest, or a wrapper of it (the platform counts the outcomes). */
  ingest: Pick<Ingest, 'reject' | 'on' | 'off'> & { accept(device: IngestDevice, payload: Buffer, qos: 0 | 1 | 2, format?: 'senml'): Promise<unknown> };
  registry: { device(id: string): IngestDevice | undefined; lookupDevice?(id: string): Promise<IngestDevice | undefined> };
  /**
   * A device's answer on `sensors/{kind}/{id}/config/reported` (at most one a second per device; more are counted
   * and dropped, as on the embedded broker). Without it such messages are acknowledged and logged as unexpected.
   */
  onConfigReported?: (device: IngestDevice, payload: Buffer) => void | Promise<unknown>;
  log: Logger;
  username?: string;
  password?: string;
  /** Messages taken but not yet acknowledged, at most (default 256). 1 = one at a time through mqtt.js. */
  maxInFlight?: number;
  /** Reconnect delay: starts at `minMs`, doubles per failed attempt up to `maxMs` (default 500 ms – 30 s). */
  reconnect?: { minMs: number; maxMs: number };
  /** A telemetry message for a device the registry does not know (or of another kind): rejected `unknown_device`. */
  onUnknownDevice?: (topic: string, reason: string) => void;
  /** A rejection this source made itself (unknown_device), once durable: for the metrics. */
  onRejected?: (reason: 'unknown_device') => void;
  /** On close: keep the persistent session (default; a restart under the same id resumes it) or end it (leave). */
  leaveOnClose?: boolean;
  /** How long the connection must be quiet, after UNSUBSCRIBE, before the session is ended (default 500 ms). */
  drainQuietMs?: number;
  /**
   * Fencing (docs/scale-out.md, *Takeover of a dead worker*): false once this node's lease may have run out. No
   * PUBACK leaves then; the source suspends itself (disconnects, keeping the session) until `resume()`.
   */
  mayAcknowledge?: () => boolean;
}

export interface MqttSource {
  /** Connected to the broker and subscribed. */
  readonly connected: boolean;
  readonly stats: { messages: number; unknownDevices: number; inFlight: number; reconnects: number };
  /** Publish on the external broker (rejection notices, alerts). Dropped while disconnected when QoS 0. */
  publish(topic: string, payload: string, options?: { qos?: 0 | 1; retain?: boolean }): void;
  /**
   * Leave: unsubscribe from the share, take and acknowledge what the broker already sent, end the session (when
   * `leaveOnClose`) — or, without it, stop taking messages and leave the rest in the persistent session.
   */
  close(): Promise<void>;
  /** Stop acknowledging and disconnect without ending the session: the broker keeps it (and may hand it over). */
  suspend(why: string): void;
  /** Connect again after `suspend()` (to the session if the broker still has it, else a fresh one). */
  resume(): void;
  readonly suspended: boolean;
  /**
   * After `close()`: the session was ended at the broker (drained, nothing left unacknowledged in it). Either way
   * the connection is closed by then, and none is made again.
   */
  readonly sessionEnded: boolean;
}

/** Tells mqtt.js not to send a PUBACK for this message: the source sends it once the message is durable. */
const ACK_LATER = Object.freeze(new Error('acknowledged by the Pantau mqtt source once durable'));

type SendPacket = (packet: { cmd: 'puback'; messageId: number }, cb?: (err?: Error) => void) => void;

export function startMqttSource(options: MqttSourceOptions): MqttSource {
  const { ingest, registry, log } = options;
  const minMs = options.reconnect?.minMs ?? 500;
  const maxMs = options.reconnect?.maxMs ?? 30_000;
  const client: MqttClient = mqtt.connect(options.url, {
    clientId: options.clientId,
    username: options.username,
    password: options.password,
    clean: false,
    protocolVersion: 4,
    keepalive: 30,
    connectTimeout: 10_000,
    reconnectPeriod: minMs,
    resubscribe: false, // subscribed on every CONNACK below, whether the broker kept the session or not
    queueQoSZero: false,
    manualConnect: true,
  });

  // A private mqtt.js method; without it (a future mqtt.js) the source falls back to one message at a time.
  // mqtt.js's public `handleMessage` acknowledges one message at a time (the next waits for its callback;
  // mqttjs/MQTT.js#691), so many in flight need the PUBACK sent later by hand. test/library-contracts.test.ts
  // fails if `_sendPacket` or the error path of `handleMessage`'s callback (no PUBACK, next message) changes.
  const sendPacket = (client as unknown as { _sendPacket?: SendPacket })._sendPacket?.bind(client);
  const maxInFlight = sendPacket ? Math.max(1, Math.floor(options.maxInFlight ?? 256)) : 1;
  if (!sendPacket) log.warn('mqtt.js has no _sendPacket: taking one message at a time (slower, still safe)');

  const stats = { messages: 0, unknownDevices: 0, inFlight: 0, reconnects: 0 };
  let subscribed = false;
  let closing = false;
  /** Leaving: unsubscribed, still taking what the broker had already routed here. */
  let draining = false;
  /** Bumped on every CONNACK: a PUBACK goes out only on the connection its PUBLISH came in on. */
  let generation = 0;
  /** Generations in which a message could not be made durable: nothing more is acknowledged on them. */
  let failedGeneration = -1;
  /** The previous message's acknowledgement, so PUBACKs leave in the order the PUBLISHes came. */
  let tail: Promise<void> = Promise.resolve();
  const qos0 = new Set<Promise<void>>();
  /** mqtt.js callbacks held back while `maxInFlight` messages are in flight (back-pressure to the broker). */
  const held: Array<() => void> = [];
  let delay = minMs;
  let lastUnknownLog = 0;
  let unknownSinceLog = 0;

  const unknown = (topic: string, reason: string) => {
    stats.unknownDevices++;
    unknownSinceLog++;
    options.onUnknownDevice?.(topic, reason);
    const now = Date.now();
    // the broker's ACL should have refused these; a flood of them must not flood the log
    if (now - lastUnknownLog > 10_000) {
      log.warn({ topic: topic.slice(0, 200), reason, count: unknownSinceLog }, 'telemetry for a device Pantau does not know: rejected unknown_device (check the broker ACL)');
      lastUnknownLog = now;
      unknownSinceLog = 0;
    }
  };

  // a config report writes the registry (shadow and audit): one a second per device is plenty (burst 10)
  const reportLimiter = new DeviceRateLimiter(1);

  /** Resolves once the message's outcome is durable (stored or rejected); rejects if it could not be. */
  const take = async (packet: IPublishPacket): Promise<void> => {
    stats.messages++;
    const topic = parseDeviceTopic(packet.topic);
    const extra = topic ? null : parseExtraTopic(packet.topic);
    // the shared subscriptions deliver only sensors/+/+/{telemetry,senml,config/reported}; a topic that is not a
    // device's cannot be attributed to one: counted and logged
    const channel = topic?.channel === 'telemetry' ? 'telemetry' : extra && extra.channel !== 'config' ? extra.channel : null;
    const target = topic ?? extra;
    if (!channel || !target) return unknown(packet.topic, 'not a device telemetry, SenML or config/reported topic');
    // with a shared registry: a change to this device being read back right now is waited for
    const device = registry.lookupDevice ? await registry.lookupDevice(target.deviceId) : registry.device(target.deviceId);
    const unregistered = { id: target.deviceId, kind: target.kind, city: '', district: '' };
    if (channel === 'config/reported') {
      // not telemetry: nothing to store or reject, only the shadow to update
      if (!device || device.kind !== target.kind) return unknown(packet.topic, device ? `device is of kind ${device.kind}` : 'unknown device');
      if (!options.onConfigReported) return unknown(packet.topic, 'config reports are not taken by this node');
      // acknowledged once the shadow is written (or the report refused and logged)
      if (reportLimiter.take(device.id)) await options.onConfigReported(device, Buffer.from(packet.payload));
      else log.debug({ deviceId: device.id }, 'config/reported: more than one a second; ignored');
      return;
    }
    if (!device) {
      unknown(packet.topic, 'unknown device');
      await ingest.reject(unregistered, 'unknown_device', `device ${target.deviceId} is not registered; telemetry refused`);
      return options.onRejected?.('unknown_device');
    }
    if (device.kind !== target.kind) {
      unknown(packet.topic, `device is of kind ${device.kind}`);
      await ingest.reject(unregistered, 'unknown_device', `device ${target.deviceId} is registered as kind ${device.kind}, not ${target.kind}; telemetry refused`);
      return options.onRejected?.('unknown_device');
    }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    if (channel === 'senml') await ingest.accept(device, payload, packet.qos, 'senml');
    else await ingest.accept(device, payload, packet.qos);
  };

  const notDurable = (gen: number, err: unknown) => {
    if (failedGeneration === gen) return;
    failedGeneration = gen;
    log.error({ err: (err as Error).message }, 'a message could not be made durable: not acknowledging it; reconnecting so the broker redelivers');
    // MQTT 3.1.1 redelivers unacknowledged messages only on a new connection
    if (gen === generation && !closing) client.stream?.destroy();
  };

  const release = () => {
    while (held.length > 0 && stats.inFlight < maxInFlight) held.shift()!();
  };

  /** When a message last arrived or a PUBACK last left: leaving waits for the connection to be quiet since then. */
  let lastActivityAt = 0;
  /** Closing: a QoS 1/2 message was left unacknowledged, so the persistent session must not be ended. */
  let unacknowledged = false;
  client.handleMessage = (packet, callback) => {
    lastActivityAt = Date.now();
    // closing (or done draining): not taken, left unacknowledged in the persistent session and delivered again
    // later; a session that holds it is not ended
    if (closing && !draining) {
      if (packet.qos > 0) unacknowledged = true;
      return callback(ACK_LATER);
    }
    const gen = generation;
    const work = take(packet);
    if (packet.qos === 0) {
      const p = work.catch((err: Error) => log.warn({ err: err.message }, 'QoS 0 message not stored'));
      qos0.add(p);
      void p.finally(() => qos0.delete(p));
      return callback();
    }
    stats.inFlight++;
    const previous = tail;
    // mqtt.js acknowledges itself (PUBACK; QoS 2: PUBCOMP) when its callback runs without an error, and reads the
    // next packet only then; otherwise the callback is released at once and the PUBACK is sent from here
    const byCallback = maxInFlight === 1 || packet.qos === 2;
    // one chain for both: PUBACKs and PUBCOMPs leave in arrival order, and `close()` waits for all of them
    tail = (async () => {
      let ok = true;
      try {
        await work;
      } catch (err) {
        ok = false;
        notDurable(gen, err);
      }
      await previous;
      // fenced: a node that may have lost its lease acknowledges nothing (another may be taking its session)
      const fence = ok && fenced();
      if (fence) suspend('lease');
      if (ok && !fence && gen === generation && failedGeneration !== gen && client.connected && !suspended) {
        lastActivityAt = Date.now();
        if (byCallback) callback();
        else sendPacket!({ cmd: 'puback', messageId: packet.messageId! });
        return;
      }
      if (closing) unacknowledged = true;
      if (byCallback) callback(ACK_LATER);
    })().finally(() => {
      stats.inFlight--;
      release();
    });
    if (byCallback) return;
    if (stats.inFlight < maxInFlight) callback(ACK_LATER);
    else held.push(() => callback(ACK_LATER));
  };

  const onRejection = (r: Rejection) => {
    if (!client.connected) return; // a notice, not data: the rejection itself is stored either way
    client.publish(deviceTopic(r.kind, r.deviceId, 'rejections'), JSON.stringify({ reason: r.reason, detail: r.detail, ts: new Date(r.ts).toISOString() }), { qos: 0, retain: false });
  };
  ingest.on('rejection', onRejection);

  client.on('connect', (connack) => {
    generation++;
    // a connection made while closing (a reconnect resume() had started, which mqtt.js defers past an end under
    // way) takes nothing and is ended at once
    if (closing) return void client.endAsync(true).catch(() => undefined);
    delay = minMs;
    client.options.reconnectPeriod = minMs;
    log.info({ url: redactUrl(options.url), clientId: options.clientId, sessionPresent: connack.sessionPresent }, 'connected to the external broker');
    client.subscribe([...SHARED_SUBSCRIPTIONS], { qos: 1 }, (err, granted) => {
      const codes = SHARED_SUBSCRIPTIONS.map((_, i) => granted?.[i]?.qos);
      if (err || codes[0] === undefined || codes[0] === 128) {
        subscribed = false;
        log.error({ err: err?.message, subscription: SHARED_SUBSCRIPTIONS[0] }, 'the broker refused the shared subscription: check its ACL for the ingest worker account');
        return;
      }
      subscribed = true;
      log.info({ subscriptions: SHARED_SUBSCRIPTIONS, maxInFlight }, 'subscribed to the shared telemetry, SenML and config-report subscriptions');
      SHARED_SUBSCRIPTIONS.forEach((subscription, i) => {
        const code = codes[i];
        if (i > 0 && (code === undefined || code === 128)) log.error({ subscription }, 'the broker refused this shared subscription: check its ACL for the ingest worker account');
        else if (code !== 1) log.warn({ subscription, granted: code }, 'the broker granted a shared subscription below QoS 1: acknowledgements cannot mean durable');
      });
    });
  });
  client.on('close', () => {
    subscribed = false;
    // held callbacks belong to a connection that is gone: let mqtt.js move on (nothing more is acked on it)
    for (const cb of held.splice(0)) cb();
    // a node resumed after a pause (SIGSTOP, a long GC) must not reconnect under its id before its lease is renewed:
    // a live worker may be draining its session right now
    if (fenced() && closing) void client.endAsync(true).catch(() => undefined); // nor does a fenced drain
    else if (fenced()) suspend('lease');
    if (closing || suspended) return;
    stats.reconnects++;
    // the next attempt waits longer, with jitter, so a fleet of workers does not reconnect in lockstep
    delay = Math.min(maxMs, delay * 2);
    client.options.reconnectPeriod = Math.round(delay * (0.75 + Math.random() * 0.5));
  });
  client.on('offline', () => {
    if (!closing) log.warn({ url: redactUrl(options.url), retryInMs: client.options.reconnectPeriod }, 'external broker unreachable; reconnecting');
  });
  client.on('error', (err) => {
    log.warn({ err: err.message, code: (err as { code?: unknown }).code }, 'external broker: connection error');
  });
  client.connect();

  let suspended = false;
  const fenced = () => options.mayAcknowledge !== undefined && !options.mayAcknowledge();
  function suspend(why: string): void {
    if (suspended || closing) return;
    suspended = true;
    log.warn({ clientId: options.clientId, why }, 'suspended: acknowledging nothing, disconnected from the external broker (it keeps the session)');
    for (const cb of held.splice(0)) cb();
    // forced: no DISCONNECT, no reconnect; in-flight messages stay unacknowledged and are delivered again
    void client.endAsync(true).catch(() => undefined);
  }
  // the lease runs out on this node's own clock even when nothing arrives: checked often, not only at PUBACK time
  const fenceTimer = setInterval(() => fenced() && suspend('lease'), options.mayAcknowledge ? 100 : 60_000);
  fenceTimer.unref();

  let left = false;
  const quietMs = options.drainQuietMs ?? 500;
  /**
   * UNSUBSCRIBE, then take what was already on its way until everything taken is acknowledged and the connection
   * has been quiet for `quietMs` since the last message *and* the last PUBACK: a broker with a full inflight window
   * sends the session's next queued message only after a PUBACK.
   */
  const leave = async () => {
    const unsubscribed = await client.unsubscribeAsync([...SHARED_SUBSCRIPTIONS]).then(() => true, (err: Error) => {
      log.warn({ err: err.message }, 'UNSUBSCRIBE failed; leaving the rest in the session');
      return false;
    });
    if (!unsubscribed) return;
    subscribed = false;
    log.info({ subscriptions: SHARED_SUBSCRIPTIONS }, 'unsubscribed from the shares; draining what the broker already sent');
    const deadline = Date.now() + 30_000;
    lastActivityAt = Math.max(lastActivityAt, Date.now());
    while (Date.now() < deadline && client.connected) {
      await Promise.allSettled([tail, ...qos0]);
      if (stats.inFlight === 0 && held.length === 0 && Date.now() - lastActivityAt >= quietMs) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // only a clean drain may end the session: anything left in it would be lost with it
    left = client.connected && stats.inFlight === 0 && held.length === 0;
  };
  /** A clean-session CONNECT discards the persistent session at the broker (MQTT 3.1.1 §3.1.2.4). */
  const endSession = async () => {
    const ender = mqtt.connect(options.url, {
      clientId: options.clientId,
      username: options.username,
      password: options.password,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5000,
    });
    await new Promise<void>((resolve) => {
      ender.once('connect', () => resolve());
      ender.once('error', () => resolve());
      ender.once('close', () => resolve());
    });
    await ender.endAsync().catch(() => undefined);
  };

  let closed: Promise<void> | undefined;
  let ended = false;
  return {
    get connected() {
      return client.connected && subscribed;
    },
    get suspended() {
      return suspended;
    },
    get sessionEnded() {
      return ended;
    },
    suspend,
    resume() {
      if (!suspended || closing) return;
      suspended = false;
      log.info({ clientId: options.clientId }, 'lease renewed: connecting to the external broker again');
      client.reconnect();
    },
    stats,
    publish(topic, payload, publishOptions = {}) {
      const qos = publishOptions.qos ?? 0;
      if (qos === 0 && !client.connected) return;
      client.publish(topic, payload, { qos, retain: publishOptions.retain ?? false }, (err) => {
        if (err) log.warn({ err: err.message, topic: topic.slice(0, 200) }, 'publish to the external broker failed');
      });
    },
    close() {
      closed ??= (async () => {
        clearInterval(fenceTimer);
        // from now on mqtt.js connects no more by itself: a session left here is a live worker's to take over
        client.options.reconnectPeriod = 0;
        if (options.leaveOnClose && client.connected && subscribed) {
          draining = true;
          closing = true;
          await leave();
          draining = false;
        }
        closing = true;
        ingest.off('rejection', onRejection);
        // mqtt.js may read on; what arrives from now on is left unacknowledged in the session
        for (const cb of held.splice(0)) cb();
        // in-flight messages finish: durable, then acknowledged while the connection still stands. A suspended
        // (fenced) node acknowledges nothing, so it does not wait for them: with PANTAU_ACK_AFTER=store they may wait
        // on a PostgreSQL it cannot reach, and waiting would only keep its lease from a live worker taking over
        if (!suspended) await Promise.allSettled([tail, ...qos0]);
        for (const cb of held.splice(0)) cb();
        await client.endAsync(false).catch(() => undefined);
        // a reconnect that was under way (resume() just before close(); mqtt.js defers it until that end) is ended
        // too: no connection under this client id outlives close(), or it would fight a live worker taking the
        // session over (the broker keeps one connection per client id and kicks the other)
        if (client.stream && !client.stream.destroyed) await client.endAsync(true).catch(() => undefined);
        if (left && !unacknowledged) {
          await endSession();
          ended = true;
          log.info({ clientId: options.clientId, messages: stats.messages }, 'left the external broker: unsubscribed from the share, drained, session ended');
        } else if (left) {
          log.warn({ clientId: options.clientId, messages: stats.messages }, 'left the external broker; messages arrived while leaving and stay unacknowledged in the session (it is kept, not ended)');
        } else {
          log.info({ clientId: options.clientId, messages: stats.messages }, 'left the external broker; unacknowledged messages stay in the session');
        }
      })();
      return closed;
    },
  };
}
