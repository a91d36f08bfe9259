// A fleet of real MQTT devices publishing QoS 1 readings with `ts`, remembering exactly which were acknowledged.
import mqtt, { type MqttClient } from 'mqtt';

export interface Fleet {
  /** Timestamps acknowledged (PUBACK received), per device. */
  acked: Map<string, Set<number>>;
  sent: number;
  stop(): Promise<void>;
  ackedCount(): number;
}

export async function startFleet(options: {
  url: string;
  devices: Array<{ id: string; token: string; kind: 'air' | 'flood' | 'traffic' }>;
  intervalMs: number;
  /** Readings per message (each with its own ts). */
  batch?: number;
}): Promise<Fleet> {
  const acked = new Map<string, Set<number>>();
  const clients: MqttClient[] = [];
  const timers: NodeJS.Timeout[] = [];
  let sent = 0;
  let running = true;
  let tsSeq = Date.now() - 60_000;
  for (const d of options.devices) {
    const set = new Set<number>();
    acked.set(d.id, set);
    const client = mqtt.connect(options.url, {
      username: d.id,
      password: d.token,
      clientId: d.id,
      clean: false,
      reconnectPeriod: 200,
      connectTimeout: 3000,
      queueQoSZero: false,
    });
    client.on('error', () => undefined);
    clients.push(client);
    const field = d.kind === 'air' ? 'pm25' : d.kind === 'flood' ? 'waterLevel' : 'vehicleCount';
    const tick = () => {
      if (!running) return;
      const readings = Array.from({ length: options.batch ?? 1 }, () => ({ ts: ++tsSeq, [field]: tsSeq % 500 }));
      const timestamps = readings.map((r) => r.ts);
      sent += readings.length;
      client.publish(`sensors/${d.kind}/${d.id}/telemetry`, JSON.stringify(readings.length === 1 ? readings[0] : readings), { qos: 1 }, (err) => {
        if (!err) for (const ts of timestamps) set.add(ts);
      });
    };
    timers.push(setInterval(tick, options.intervalMs));
  }
  return {
    acked,
    get sent() {
      return sent;
    },
    ackedCount: () => [...acked.values()].reduce((n, s) => n + s.size, 0),
    async stop() {
      running = false;
      for (const t of timers) clearInterval(t);
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    },
  };
}
