// MQTT topic names and device ids of docs/contract.md §3, parsed and built in one place.
import { isKind, KINDS, type Kind } from './kinds.js';

export const DEVICE_ID_PATTERN = /^[a-z0-9][a-z0-9-]{1,62}$/;

export type TopicChannel = 'telemetry' | 'status' | 'rejections';

export interface DeviceTopic {
  kind: Kind;
  deviceId: string;
  channel: TopicChannel;
}

const CHANNELS: readonly string[] = ['telemetry', 'status', 'rejections'];

export function isDeviceId(value: unknown): value is string {
  return typeof value === 'string' && DEVICE_ID_PATTERN.test(value);
}

/** `sensors/{kind}/{deviceId}/{channel}` → its parts, or null for any other topic. */
export function parseDeviceTopic(topic: string): DeviceTopic | null {
  const parts = topic.split('/');
  if (parts.length !== 4 || parts[0] !== 'sensors') return null;
  const [, kind, deviceId, channel] = parts as [string, string, string, string];
  if (!isKind(kind) || !isDeviceId(deviceId) || !CHANNELS.includes(channel)) return null;
  return { kind, deviceId, channel: channel as TopicChannel };
}

const TELEMETRY_TOPIC = new RegExp(`^sensors/(?:${KINDS.join('|')})/${DEVICE_ID_PATTERN.source.slice(1, -1)}/telemetry$`);

/** `parseDeviceTopic(topic)?.channel === 'telemetry'`, without making its parts (asked for every publish). */
export function isDeviceTelemetryTopic(topic: string): boolean {
  return TELEMETRY_TOPIC.test(topic);
}

export function deviceTopic(kind: Kind, deviceId: string, channel: TopicChannel): string {
  return `sensors/${kind}/${deviceId}/${channel}`;
}

export function alertTopic(kind: Kind, deviceId: string): string {
  return `alerts/${kind}/${deviceId}`;
}

/** Shared subscription used by scale-out ingest workers (docs/contract.md §7). */
export const SHARED_TELEMETRY_SUBSCRIPTION = '$share/pantau-ingest/sensors/+/+/telemetry';
/** SenML packs (docs/contract.md §10), shared between the ingest workers like telemetry. */
export const SHARED_SENML_SUBSCRIPTION = '$share/pantau-ingest/sensors/+/+/senml';
/** Devices' answers to a configuration push (docs/contract.md §10). */
export const SHARED_CONFIG_REPORTED_SUBSCRIPTION = '$share/pantau-ingest/sensors/+/+/config/reported';
/** Every shared subscription an ingest worker holds, in the order it subscribes. */
export const SHARED_SUBSCRIPTIONS = [SHARED_TELEMETRY_SUBSCRIPTION, SHARED_SENML_SUBSCRIPTION, SHARED_CONFIG_REPORTED_SUBSCRIPTION] as const;
