// One simulated device's MQTT session (docs/contract.md §3): device id as client id and username, its token as password, a
// persistent session (clean: false) with a file-backed outgoing store, `offline` as retained Last Will on its
// status topic, `online` after every connect, telemetry on its own topic, and a subscription to its own
// rejections topic so it hears at once why a reading was refused, and to its config topic (issue 16): Pantau's
// desired configuration arrives there (retained), and the device answers what it applied on config/reported.
import mqtt, { type IClientOptions, type MqttClient, type Packet, Store, UniqueMessageIdProvider } from 'mqtt';
import { deviceTopic, MAX_READINGS_PER_MESSAGE } from '../catalog/index.js';
import { configReportedTopic, configTopic } from '../catalog/device-config.js';
import type { FileStore } from './file-store.js';
import type { FleetDevice } from './fleet-schema.js';
import type { SimStats } from './progress.js';

export interface Rejection {
  reason: string;
  detail: string;
  ts?: string;
}

export type DeviceState = 'connecting' | 'online' | 'dropout' | 'refused' | 'removed' | 'closed';

export interface DeviceClientOptions {
  mqttUrl: string;
  qos: 0 | 1 | 2;
  token: string;
  store: FileStore;
  stats: SimStats;
  onRejection: (device: FleetDevice, rejection: Rejection) => void;
  /** CONNACK 4/5: the token was refused (rotated elsewhere, device deleted). */
  onRefused: (client: DeviceClient, returnCode: number) => void;
  /** A message on the device's config topic (Pantau's desired configuration). */
  onConfig?: (client: DeviceClient, payload: Buffer) => void;
}

const STATUS_ONLINE = 'online';
const STATUS_OFFLINE = 'offline';

export class DeviceClient {
  readonly device: FleetDevice;
  state: DeviceState = 'connecting';
  private readonly options: DeviceClientOptions;
  private readonly topics: { telemetry: string; status: string; rejections: string; config: string; configReported: string };
  private readonly ids = new UniqueMessageIdProvider();
  private client: MqttClient | undefined;
  /** Telemetry message ids sent and not yet acknowledged. */
  private readonly inFlight = new Set<number>();
  /** Readings taken while the connection was down on purpose (a dropout), sent as one batch afterwards. */
  private backlog: Record<string, number>[] = [];
  private lastError = '';

  constructor(device: FleetDevice, options: DeviceClientOptions) {
    this.device = device;
    this.options = options;
    this.topics = {
      telemetry: deviceTopic(device.kind, device.id, 'telemetry'),
      status: deviceTopic(device.kind, device.id, 'status'),
      rejections: deviceTopic(device.kind, device.id, 'rejections'),
      config: configTopic(device.kind, device.id),
      configReported: configReportedTopic(device.kind, device.id),
    };
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  /** Messages in the persistent store waiting for the broker's acknowledgement. */
  get pending(): number {
    return this.options.store.size;
  }

  start(): void {
    // Message ids of packets left over from an earlier run are still owed an ack: never reuse them.
    for (const id of this.options.store.messageIds()) this.ids.register(id);
    const options: IClientOptions = {
      protocolVersion: 4,
      clientId: this.device.id,
      username: this.device.id,
      password: this.options.token,
      clean: false,
      keepalive: 30,
      connectTimeout: 10_000,
      reconnectPeriod: 2000 + Math.floor(Math.random() * 1000),
      outgoingStore: this.options.store,
      incomingStore: new Store(),
      messageIdProvider: this.ids,
      // QoS 0 means fire-and-forget: while offline such readings are dropped, not queued in memory.
      queueQoSZero: false,
      will: { topic: this.topics.status, payload: Buffer.from(STATUS_OFFLINE), qos: 1, retain: true },
    };
    const client = mqtt.connect(this.options.mqttUrl, options);
    this.client = client;
    client.on('connect', (connack) => this.onConnect(connack.sessionPresent));
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    client.on('packetsend', (packet) => this.onPacketSend(packet));
    client.on('packetreceive', (packet) => this.onPacketReceive(packet));
    client.on('error', (error) => this.onError(error));
  }

  private onConnect(sessionPresent: boolean): void {
    if (this.state === 'closed' || this.state === 'removed') return;
    this.state = 'online';
    this.lastError = '';
    const client = this.client as MqttClient;
    client.publish(this.topics.status, STATUS_ONLINE, { qos: 1, retain: true });
    // A persistent session keeps the subscription; subscribe again only when the broker has forgotten it.
    if (!sessionPresent) {
      client.subscribe([this.topics.rejections, this.topics.config], { qos: 1 }, (error, granted) => {
        const refused = granted?.some((grant) => (grant.qos & 0x80) !== 0);
        if (error || refused) this.options.stats.noteError(`${this.device.id}: subscribe to its rejections or config refused`);
      });
    }
    if (this.backlog.length > 0) {
      const batch = this.backlog;
      this.backlog = [];
      this.publish(JSON.stringify(batch), batch.length);
    }
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (topic === this.topics.config) {
      // an empty retained message clears the config (the device was removed): nothing to apply
      if (payload.length > 0) this.options.onConfig?.(this, payload);
      return;
    }
    if (topic !== this.topics.rejections) return;
    let rejection: Rejection;
    try {
      const parsed = JSON.parse(payload.toString('utf8')) as Partial<Rejection>;
      rejection = { reason: String(parsed.reason ?? 'unknown'), detail: String(parsed.detail ?? ''), ts: parsed.ts };
    } catch {
      rejection = { reason: 'unparseable', detail: payload.toString('utf8').slice(0, 200) };
    }
    this.options.stats.rejection(rejection.reason);
    this.options.onRejection(this.device, rejection);
  }

  private onPacketSend(packet: Packet): void {
    if (packet.cmd === 'publish' && packet.qos > 0 && packet.topic === this.topics.telemetry && packet.messageId) {
      this.inFlight.add(packet.messageId);
    }
  }

  private onPacketReceive(packet: Packet): void {
    // QoS 1 ends with PUBACK, QoS 2 with PUBCOMP: either means the readings are durable in Pantau.
    if ((packet.cmd === 'puback' || packet.cmd === 'pubcomp') && packet.messageId !== undefined) {
      if (this.inFlight.delete(packet.messageId)) this.options.stats.acked++;
    }
  }

  private onError(error: Error & { code?: unknown }): void {
    const code = error.code;
    if (typeof code === 'number') {
      // CONNACK refused. mqtt.js stops reconnecting after this; we decide what happens next.
      if (code === 4 || code === 5) {
        this.state = 'refused';
        this.options.stats.noteError(`${this.device.id}: ${error.message}`);
        this.options.onRefused(this, code);
      } else {
        this.options.stats.noteError(`${this.device.id}: ${error.message}`);
        setTimeout(() => this.reconnect(), 3000 + Math.random() * 2000).unref();
      }
      return;
    }
    const message = typeof code === 'string' ? code : error.message;
    if (message !== this.lastError) {
      this.lastError = message;
      this.options.stats.noteError(`${this.options.mqttUrl}: ${message}`);
    }
  }

  /** Publish one reading (with its `ts`); during a dropout it waits in the device's backlog. */
  publishReading(reading: Record<string, number>): void {
    if (this.state === 'dropout') {
      this.backlog.push(reading);
      // A device buffers at most one batch worth; the oldest readings give way.
      if (this.backlog.length > MAX_READINGS_PER_MESSAGE) this.backlog.shift();
      return;
    }
    this.publish(JSON.stringify(reading), 1);
  }

  /** Tell Pantau which config version the device applied, and what of it. */
  reportConfig(report: { version: number; config: Record<string, unknown> }): void {
    const client = this.client;
    if (!client || this.state === 'closed' || this.state === 'removed') return;
    client.publish(this.topics.configReported, JSON.stringify(report), { qos: 1 });
  }

  /** Publish a payload as is (fault injection); false when it was not sent (during a dropout). */
  publishRaw(payload: string): boolean {
    if (this.state === 'dropout') return false;
    return this.publish(payload, 1);
  }

  private publish(payload: string, readings: number): boolean {
    const client = this.client;
    if (!client || this.state === 'closed' || this.state === 'removed' || client.disconnecting) return false;
    const stats = this.options.stats;
    stats.sentMessages++;
    stats.sentReadings += readings;
    client.publish(this.topics.telemetry, payload, { qos: this.options.qos }, (error) => {
      // QoS 0 offline, or the connection closed under an unacknowledged message (it stays in the store).
      if (error && this.options.qos === 0) stats.dropped++;
    });
    return true;
  }

  /**
   * Drop the connection without DISCONNECT, as a device losing power or signal does: the broker publishes our
   * Last Will (`offline`). Readings taken meanwhile are kept and sent as one batch after reconnecting.
   */
  dropConnection(outageMs: number): boolean {
    const client = this.client;
    if (!client || this.state !== 'online' || !client.connected) return false;
    this.state = 'dropout';
    client.end(true);
    setTimeout(() => {
      if (this.state === 'dropout') {
        this.state = 'connecting';
        this.reconnect();
      }
    }, outageMs).unref();
    return true;
  }

  /** Connect again with a new token (after a refused CONNECT). */
  useToken(token: string): void {
    if (!this.client || this.state === 'closed' || this.state === 'removed') return;
    this.client.options.password = token;
    this.state = 'connecting';
    this.reconnect();
  }

  /** The device was deleted in the registry: stop it for good. */
  remove(): void {
    this.state = 'removed';
    this.client?.end(true);
  }

  private reconnect(): void {
    if (!this.client || this.state === 'closed' || this.state === 'removed') return;
    // end() closed the stores; the file store reopens itself, the in-memory incoming one is replaced.
    this.client.reconnect({ incomingStore: new Store(), outgoingStore: this.options.store });
  }

  /**
   * Clean shutdown: publish `offline`, give unacknowledged messages a moment, then DISCONNECT (or, if they are
   * still unacknowledged, close the socket and keep them in the store for the next run). Flushes the store.
   */
  async shutdown(timeoutMs: number): Promise<void> {
    const client = this.client;
    const wasOnline = this.state === 'online';
    this.state = 'closed';
    if (!client) return;
    const deadline = Date.now() + timeoutMs;
    if (wasOnline && client.connected) {
      await withTimeout(client.publishAsync(this.topics.status, STATUS_OFFLINE, { qos: 1, retain: true }), deadline);
      while (Object.keys(client.outgoing).length > 0 && client.connected && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    if (client.connected && Object.keys(client.outgoing).length === 0 && !client.disconnecting) {
      await withTimeout(client.endAsync(false), deadline);
    }
    if (!client.disconnected) {
      if (!client.disconnecting) client.end(true);
      else client.stream?.destroy();
    }
    this.options.store.closeSync();
  }
}

async function withTimeout(promise: Promise<unknown>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
  });
  try {
    await Promise.race([promise.then(() => undefined, () => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
