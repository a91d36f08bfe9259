// A load-generator process: real mqtt.js clients, one per device, publishing QoS 1 telemetry to Pantau and
// counting what was acknowledged. Forked by the orchestrator (bench/generators.ts); it runs in its own process so
// its CPU is measured apart from the platform's, and it talks to the orchestrator only over IPC.
import mqtt, { type MqttClient } from 'mqtt';
import type { Kind } from '../catalog/index.js';
import { readingValues } from './fleet.js';
import type { ChildMessage, ConnectResult, GeneratorDevice, GeneratorStats, ParentMessage, RunMessage, Sample, SetupMessage } from './generator-protocol.js';
import { Histogram } from './histogram.js';

interface Client {
  device: GeneratorDevice;
  topic: string;
  mqtt: MqttClient;
  inflight: number;
  lastTs: number;
  seq: number;
  connected: boolean;
  sampled: boolean;
}

const send = (message: ChildMessage) => process.send?.(message);
const zero = (): Record<Kind, number> => ({ air: 0, flood: 0, traffic: 0 });

let clients: Client[] = [];
let disconnects = 0;
let counting = false;

async function setup(message: SetupMessage): Promise<ConnectResult> {
  const started = Date.now();
  const errors: string[] = [];
  let failed = 0;
  let next = 0;
  const connectOne = (device: GeneratorDevice) =>
    new Promise<Client | undefined>((resolve) => {
      const client = mqtt.connect(message.url, {
        username: device.id,
        password: device.token,
        clientId: `${device.id}-bench`,
        protocolVersion: 4,
        clean: true,
        keepalive: message.keepaliveSeconds,
        reconnectPeriod: 1000,
        connectTimeout: 30_000,
        queueQoSZero: false,
        resubscribe: false,
      });
      const c: Client = {
        device,
        topic: `sensors/${device.kind}/${device.id}/telemetry`,
        mqtt: client,
        inflight: 0,
        lastTs: 0,
        seq: 0,
        connected: false,
        sampled: false,
      };
      const giveUp = setTimeout(() => {
        failed++;
        if (errors.length < 5) errors.push(`${device.id}: no CONNACK within 60 s`);
        client.end(true);
        resolve(undefined);
      }, 60_000);
      client.once('connect', () => {
        clearTimeout(giveUp);
        c.connected = true;
        resolve(c);
      });
      client.on('connect', () => (c.connected = true));
      client.on('close', () => {
        if (c.connected && counting) disconnects++;
        c.connected = false;
      });
      client.on('error', (err) => {
        if (errors.length < 5) errors.push(`${device.id}: ${err.message}`);
      });
    });
  const workers = Array.from({ length: Math.min(message.connectConcurrency, message.devices.length) }, async () => {
    while (next < message.devices.length) {
      const device = message.devices[next++]!;
      const c = await connectOne(device);
      if (c) clients.push(c);
    }
  });
  await Promise.all(workers);
  return { connected: clients.length, failed, errors, ms: Date.now() - started };
}

async function run(message: RunMessage): Promise<GeneratorStats> {
  const sampleSet = new Set(message.sampleDevices);
  for (const c of clients) c.sampled = sampleSet.has(c.device.id);
  const ackLatency = new Histogram();
  const scheduleLag = new Histogram();
  let dueMessages = 0;
  const stats = {
    publishedMessages: 0,
    publishedReadings: 0,
    publishedByKind: zero(),
    ackedMessages: 0,
    ackedReadings: 0,
    ackedByKind: zero(),
    errors: 0,
    skipped: 0,
  };
  let samples: Sample[] = [];
  let running = true;
  counting = true;
  disconnects = 0;

  const publish = (c: Client, onSettled?: () => void) => {
    const now = Date.now();
    const readings: Array<Record<string, number>> = [];
    for (let i = 0; i < message.batch; i++) {
      // a batch ends at now − backlog, 1 ms apart: a gateway's most recent readings
      const ts = Math.max(now - message.backlogMs - (message.batch - 1 - i), c.lastTs + 1);
      c.lastTs = ts;
      readings.push({ ts, ...readingValues(c.device.kind, c.seq++) });
      if (c.sampled) samples.push([c.device.id, c.device.kind, ts, now]);
    }
    const payload = JSON.stringify(message.batch === 1 ? readings[0] : readings);
    const kind = c.device.kind;
    c.inflight++;
    stats.publishedMessages++;
    stats.publishedReadings += message.batch;
    stats.publishedByKind[kind] += message.batch;
    const sentAt = performance.now();
    c.mqtt.publish(c.topic, payload, { qos: 1 }, (err) => {
      c.inflight--;
      if (err) {
        stats.errors++;
      } else {
        ackLatency.record(performance.now() - sentAt);
        stats.ackedMessages++;
        stats.ackedReadings += message.batch;
        stats.ackedByKind[kind] += message.batch;
      }
      onSettled?.();
    });
  };

  const flushSamples = setInterval(() => {
    if (samples.length === 0) return;
    send({ type: 'samples', items: samples });
    samples = [];
  }, 100);
  const progress = setInterval(() => {
    send({ type: 'progress', publishedReadings: stats.publishedReadings, ackedReadings: stats.ackedReadings, connected: clients.filter((c) => c.connected).length });
  }, 1000);

  const started = Date.now();
  if (message.mode === 'window') {
    const pump = (c: Client) => {
      while (running && c.inflight < message.window) publish(c, () => running && pump(c));
    };
    for (const c of clients) pump(c);
    await sleep(message.durationMs);
  } else if (message.mode === 'open') {
    // open loop on a fixed schedule: message k is due k / rate s after the start. Every tick publishes everything
    // due by then, round-robin over the clients, acknowledged or not, and records how late each one went out.
    // When the time is up, what is still due is counted (dueMessages − published), not sent late: offered/s is
    // what really went out within the run.
    const intervalMs = 1000 / message.rate;
    const t0 = performance.now();
    let k = 0;
    let rr = 0;
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        let now = performance.now() - t0;
        // at the last tick, what fell due before the end goes out only if it is no later than a tick's jitter
        while (k * intervalMs <= now && k * intervalMs < message.durationMs && (now < message.durationMs || now - k * intervalMs <= 20)) {
          publish(clients[rr++ % clients.length]!);
          scheduleLag.record(Math.max(0, now - k * intervalMs));
          k++;
          if (k % 64 === 0) now = performance.now() - t0;
        }
        if (now >= message.durationMs) {
          clearInterval(tick);
          dueMessages = Math.ceil(message.durationMs / intervalMs);
          resolve();
        }
      }, 2);
    });
  } else {
    // open loop: every 5 ms publish what is due by now, round-robin over the clients
    let due = 0;
    let rr = 0;
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const elapsed = Date.now() - started;
        if (elapsed >= message.durationMs) {
          clearInterval(tick);
          resolve();
          return;
        }
        const target = Math.floor((message.rate * elapsed) / 1000);
        while (due < target) {
          due++;
          let sent = false;
          for (let tries = 0; tries < clients.length && !sent; tries++) {
            const c = clients[rr++ % clients.length]!;
            if (c.inflight < message.window) {
              publish(c);
              sent = true;
            }
          }
          if (!sent) stats.skipped++;
        }
      }, 5);
    });
  }
  running = false;
  const runMs = Date.now() - started;
  const ackedReadingsInRun = stats.ackedReadings;
  const socketBacklogBytes = clients.reduce((n, c) => n + ((c.mqtt.stream as { writableLength?: number } | undefined)?.writableLength ?? 0), 0);
  const waitUntil = Date.now() + message.ackWaitMs;
  while (Date.now() < waitUntil && clients.some((c) => c.inflight > 0)) await sleep(50);
  counting = false;
  clearInterval(progress);
  clearInterval(flushSamples);
  if (samples.length > 0) send({ type: 'samples', items: samples });
  return {
    ...stats,
    ackedReadingsInRun,
    unacked: clients.reduce((n, c) => n + c.inflight, 0),
    disconnects,
    ackLatency: ackLatency.toJSON(),
    runMs,
    dueMessages,
    scheduleLag: scheduleLag.toJSON(),
    socketBacklogBytes,
  };
}

async function close(): Promise<void> {
  await Promise.all(clients.map((c) => c.mqtt.endAsync(true).catch(() => undefined)));
  clients = [];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

process.on('message', (message: ParentMessage) => {
  const fail = (err: unknown) => {
    process.stderr.write(`load-generator: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  };
  if (message.type === 'setup') setup(message).then((result) => send({ type: 'connected', result }), fail);
  else if (message.type === 'run') run(message).then((stats) => send({ type: 'done', stats }), fail);
  else if (message.type === 'close') {
    close().then(() => {
      send({ type: 'closed' });
      process.disconnect?.();
      setTimeout(() => process.exit(0), 50);
    }, fail);
  }
});
// the orchestrator died: do not linger holding thousands of connections
process.on('disconnect', () => process.exit(0));
