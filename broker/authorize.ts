// Topic rules (docs/contract.md §3, §10): a device publishes only to its own telemetry, senml, status and config/reported
// topics and subscribes only to its own rejections and config topics. A publish elsewhere is an ACL violation: the
// error disconnects the client. A bad payload is never an error here — ingest turns it into a rejection and the
// publish is acknowledged.
//
// Telemetry is handed to ingest *inside* authorizePublish because aedes runs this hook before it sends
// PUBACK/PUBREC: the callback fires only once ingest says the readings are durable.
import type { AedesOptions, Client, PublishPacket, Subscription } from 'aedes';
import type { Logger } from 'pino';
import { deviceTopic, parseDeviceTopic } from '../catalog/index.js';
import { parseExtraTopic } from '../catalog/device-config.js';
import { deviceExtras } from '../registry/device-extras.js';
import { DeviceRateLimiter } from '../ingest/rate-limit.js';
import type { DeviceRecord, Registry } from '../registry/registry.js';
import { acceptReportedConfig } from './config-reported.js';
import type { PantauClient } from './authenticate.js';
import { isUnscoped, scopeAllows } from '../registry/scope.js';

type AuthorizePublishHandler = NonNullable<AedesOptions['authorizePublish']>;
type AuthorizeSubscribeHandler = NonNullable<AedesOptions['authorizeSubscribe']>;

export interface TelemetryHandler {
  /** `format`: 'senml' for the SenML topic (issue 16); absent for Pantau's JSON telemetry. */
  (device: DeviceRecord, payload: Buffer, qos: 0 | 1 | 2, format?: 'senml'): Promise<unknown>;
}

export interface AuthorizeOptions {
  registry: Registry;
  log: Logger;
  onTelemetry: TelemetryHandler;
  onDenied: (action: 'publish' | 'subscribe', deviceId: string | undefined, topic: string) => void;
  /** A status publish that was not `online`/`offline`, or came faster than one a second (burst 10). */
  onStatusIgnored?: (reason: 'invalid' | 'rate_limited', deviceId: string) => void;
}

/** Longest status payload read: `offline` is 7 bytes. */
const MAX_STATUS_BYTES = 16;

export function makeAuthorizePublish(options: AuthorizeOptions): AuthorizePublishHandler {
  const { registry, onTelemetry, onDenied } = options;
  // Status flips change the registry and write a device_state point: cheap now, but not free. A device flipping
  // faster than once a second is broken or hostile; its flips are ignored (counted), never acted upon.
  const statusLimiter = new DeviceRateLimiter(1);
  // a config report writes the registry (shadow and audit): one a second per device is plenty (burst 10)
  const reportLimiter = new DeviceRateLimiter(1);
  let lastStatusLog = 0;
  const ignoreStatus = (reason: 'invalid' | 'rate_limited', deviceId: string, detail: string) => {
    options.onStatusIgnored?.(reason, deviceId);
    const now = Date.now();
    if (now - lastStatusLog > 10_000) {
      lastStatusLog = now;
      options.log.warn({ deviceId, reason, detail }, 'MQTT status publish ignored');
    }
  };
  // A device's own telemetry topic, made once per device: nearly every publish is one, and matching it whole
  // spares splitting the topic into parts and two parses per message
  const telemetryTopics = new Map<string, { kind: string; topic: string }>();
  const telemetryTopicOf = (device: DeviceRecord): string => {
    const known = telemetryTopics.get(device.id);
    if (known && known.kind === device.kind) return known.topic;
    const topic = deviceTopic(device.kind, device.id, 'telemetry');
    if (telemetryTopics.size >= 100_000) telemetryTopics.clear();
    telemetryTopics.set(device.id, { kind: device.kind, topic });
    return topic;
  };
  const settle = (done: (err?: Error | null) => void, promise: Promise<unknown>) =>
    promise.then(
      () => done(null),
      // not durable (spool failure or shutdown): no acknowledgement; the device resends after reconnecting
      done,
    );
  return function authorizePublish(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void) {
    const deviceId = (client as PantauClient | null)?.deviceId;
    const device = deviceId ? registry.device(deviceId) : undefined;
    if (device && packet.topic === telemetryTopicOf(device)) {
      settle(done, onTelemetry(device, typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload, packet.qos));
      return;
    }
    const extra = device ? parseExtraTopic(packet.topic) : null;
    if (device && extra && extra.deviceId === device.id && extra.kind === device.kind && extra.channel !== 'config') {
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      if (extra.channel === 'config/reported') {
        if (reportLimiter.take(device.id)) void acceptReportedConfig(deviceExtras(registry), device, payload, options.log);
        else ignoreStatus('rate_limited', device.id, 'more than one config report a second');
        return done(null);
      }
      settle(done, onTelemetry(device, payload, packet.qos, 'senml'));
      return;
    }
    const topic = parseDeviceTopic(packet.topic);
    if (!device || !topic || topic.deviceId !== device.id || topic.kind !== device.kind || topic.channel === 'rejections') {
      onDenied('publish', deviceId, packet.topic);
      return done(new Error(`not authorised to publish to ${packet.topic.slice(0, 200)}`));
    }
    if (topic.channel === 'status') {
      const raw = packet.payload;
      const status = raw.length <= MAX_STATUS_BYTES ? raw.toString('utf8') : '';
      if (status !== 'online' && status !== 'offline') ignoreStatus('invalid', device.id, `payload must be "online" or "offline" (${raw.length} bytes)`);
      else if (!statusLimiter.take(device.id)) ignoreStatus('rate_limited', device.id, 'more than one status change a second');
      else registry.setStatus(device.id, status);
      return done(null);
    }
    settle(done, onTelemetry(device, typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload, packet.qos));
  };
}

export function makeAuthorizeSubscribe(options: Pick<AuthorizeOptions, 'registry' | 'onDenied'>): AuthorizeSubscribeHandler {
  return function authorizeSubscribe(client: Client | null, sub: Subscription, done: (err: Error | null, sub?: Subscription | null) => void) {
    if ((client as PantauClient | null)?.apiKeyId && /^alerts\/(#|[a-z]+\/(#|\+|[a-z0-9-]+))$/.test(sub.topic)) {
      return done(null, sub);
    }
    const deviceId = (client as PantauClient | null)?.deviceId;
    const device = deviceId ? options.registry.device(deviceId) : undefined;
    const topic = parseDeviceTopic(sub.topic);
    if (device && topic && topic.deviceId === device.id && topic.kind === device.kind && topic.channel === 'rejections') {
      return done(null, sub);
    }
    const extra = device ? parseExtraTopic(sub.topic) : null;
    if (device && extra && extra.deviceId === device.id && extra.kind === device.kind && extra.channel === 'config') {
      return done(null, sub);
    }
    options.onDenied('subscribe', deviceId, sub.topic);
    // SUBACK return code 0x80 (failure) for this topic; the connection stays
    done(null, null);
  };
}

/**
 * What a city system (an API-key login) receives: the alerts of devices inside its key's scope only; an unscoped
 * key gets every alert. Runs for every delivery, retained messages included, so a subscription to `alerts/#` by a
 * scoped key never carries another city's or kind's alert. Devices get their own topics only (they cannot subscribe
 * to anything else), so nothing else is filtered.
 */
export function makeAuthorizeForward(registry: Registry) {
  return function authorizeForward(client: Client | null, packet: PublishPacket): PublishPacket | null {
    const scope = (client as PantauClient | null)?.apiKeyScope;
    if (!scope || isUnscoped(scope)) return packet;
    const m = /^alerts\/([a-z]+)\/([a-z0-9-]+)$/.exec(packet.topic);
    if (!m) return packet;
    const device = registry.device(m[2]!);
    return device && device.kind === m[1] && scopeAllows(scope, device) ? packet : null;
  };
}
