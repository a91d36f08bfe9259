// Wiring of issue 16 (devices at city scale and the field's standards): the device-config API and its MQTT
// publication, the LoRaWAN network-server integrations and the NGSI-LD API. platform.ts calls this once before the
// API is built, adds `plugins` to the API, and calls `start()` once the broker (or the external broker's worker) can
// publish.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { configTopic } from '../catalog/device-config.js';
import { KINDS } from '../catalog/index.js';
import { deviceConfigPlugin } from '../api/device-config.js';
import { integrationsPlugin } from '../api/integrations.js';
import { ngsiLdPlugin } from '../api/ngsi-ld.js';
import type { ApiContext } from '../api/context.js';
import type { AcceptOutcome, IngestDevice } from '../ingest/ingest.js';
import { deviceExtras, type ConfigState } from '../registry/device-extras.js';
import type { Config } from './config.js';

export interface DeviceStandardsDeps {
  api: ApiContext;
  /** The platform's metered ingest entry point (the one the broker uses): resolves once the outcome is durable. */
  accept: (device: IngestDevice, payload: Buffer, qos: 0 | 1 | 2) => Promise<AcceptOutcome>;
  config: Pick<Config, 'chirpstackSecret' | 'ttnSecret'>;
  log: Logger;
  /** Publish through the embedded broker or an ingest worker's external-broker session; a no-op without either. */
  publish: (topic: string, payload: string, options: { qos: 0 | 1; retain: boolean }) => void;
}

export function wireDeviceStandards(deps: DeviceStandardsDeps): { plugins: Array<(app: FastifyInstance) => Promise<void>>; start(): void } {
  const { api, publish } = deps;
  const registry = api.registry;
  const extras = deviceExtras(registry);
  let started = false;

  // Every new desired version this node learns of — its own push, or (shared registry) another node's, read back
  // after its notification — is published, in version order, by a node that holds a broker: the embedded one, or an
  // ingest worker's external-broker session. `publish` is a no-op on an API-only node, whose pushes reach the
  // devices through the workers (docs/scale-out.md, "DevEUIs and configuration pushes in a cluster").
  const publishDesired = (deviceId: string, state: ConfigState) => {
    const device = registry.device(deviceId);
    if (!started || !device || !state.desired) return;
    publish(configTopic(device.kind, device.id), JSON.stringify({ version: state.version, config: state.desired }), { qos: 1, retain: true });
  };
  extras.on('desired', publishDesired);
  // a removed device's retained config must not greet a new device that takes its id (the kind is gone with it)
  registry.on('device-removed', (id: string) => {
    if (started) for (const kind of KINDS) publish(configTopic(kind, id), '', { qos: 1, retain: true });
  });

  const plugins = [
    deviceConfigPlugin(api),
    integrationsPlugin({
      registry,
      log: deps.log.child({ component: 'integrations' }),
      chirpstackSecret: deps.config.chirpstackSecret,
      ttnSecret: deps.config.ttnSecret,
      accept: (device, payload) => deps.accept(device, payload, 1),
    }),
    ngsiLdPlugin(api),
  ] as unknown as Array<(app: FastifyInstance) => Promise<void>>;

  return {
    plugins,
    /** Retained messages of an embedded broker do not survive a restart: publish every desired config again. */
    start() {
      started = true;
      for (const { deviceId, state } of extras.allConfigs()) publishDesired(deviceId, state);
    },
  };
}
