// `owner-failover`: the alert owner of a cluster killed mid-flood, ten times, and the owner's serial stage's ceiling.
//
// Failover. A private PostgreSQL (the shared registry), Mosquitto and InfluxDB; three Pantau nodes
// (`PANTAU_ROLE=all`: ingest workers on Mosquitto's shared subscription and API nodes), the compiled platform as
// the image runs it; a webhook receiver, an MQTT listener (`alerts/flood/+`, QoS 1) and an SSE listener
// (`GET /api/v1/stream?kind=flood`, reconnecting to another node with `Last-Event-ID` when its node dies).
// 30 flood gauges publish (QoS 1, one reading every 200 ms each) a river that swings between Siaga (800 cm) and
// Awas (840 cm) every 2 s, the gauges staggered, with `clearAfterSeconds: 0`: about 15 alert changes a second
// across the fleet, each with a water level no other change has (a reading's level carries its sequence number
// in the third decimal), so every change can be told apart on every channel. Ten times: find the owner (the node
// whose own `GET /api/v1/cluster` names itself `alertOwner`), SIGKILL it, measure from the kill to the first alert
// change the next owner made being visible in `GET /api/v1/alerts` of a survivor (stored), arriving on MQTT, at the
// webhook and on the SSE stream (published); then start the killed node again (same worker id and data dir) and
// let the cluster settle. At the end every change stored in `alert_events` is matched with what each channel
// received: missing, duplicated, unknown.
//
// Ceiling. A fresh PostgreSQL, 1,000 gauges, the alert owner alone in a process of its own
// (`bench/alert-owner.ts --serve`, outputs that cost nothing) and readings inserted into `alert_feed` (AlertFeed,
// as the ingest nodes do) at rising rates for 10 s each: readings judged per second, the feed's backlog and the
// age of its oldest row (the lag), and the owner process's RSS.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import pgModule from 'pg';
import { AlertFeed } from '../../alerts/owner.js';
import { Registry } from '../../registry/registry.js';
import { startInfluxd } from '../../test/support/influxd.js';
import { startMosquittoServer } from '../../test/support/mosquitto.js';
import { freePort } from '../../test/support/ports.js';
import { startPostgres } from '../../test/support/postgres.js';
import { NODE_FLAGS, PLATFORM_ENTRY } from '../../test/support/process.js';
import type { BenchContext } from '../context.js';
import { ROOT } from '../paths.js';
import { CpuMeter, descendants, rssBytes, RssSampler, waitForQuiet } from '../proc-stats.js';
import type { ScenarioResult, Target } from '../result.js';
import { cpuCores, round, type Scenario } from './scenario.js';

const NODES = 3;
const KILLS = 10;
const GAUGES = 30;
const INTERVAL_MS = 200;
const SWING_MS = 2000;
const SIAGA_CM = 800;
const AWAS_CM = 840;
const GOAL_MS = 10_000;
const CEILING_GAUGES = 1000;
const CEILING_RATES = [1000, 2000, 4000, 8000, 16000, 32000];
const CEILING_STEP_MS = 10_000;
/** Steps down as soon as the water is below a level (no clear time); swings of 40 cm in 200 ms are no spike here. */
const GAUGE_THRESHOLDS = { waspada: 700, siaga: 775, awas: 825, clearAfterSeconds: 0, maxRatePerMinute: { waterLevel: 1_000_000 } };
const WEBHOOK_SECRET = 'bench-owner-webhook-secret-0123';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ClusterNode {
  id: string;
  url: string;
  port: number;
  dataDir: string;
  child: ChildProcess;
  out: string;
  startMs: number;
}

interface Seen {
  key: string;
  at: number;
  /** Webhooks: the Idempotency-Key header. */
  idempotencyKey?: string;
}

/** Webhook copies after the first of a change, and how many of them carried the first copy's Idempotency-Key. */
function keyedRepeats(seen: Seen[]): { repeats: number; sameKey: number } {
  const first = new Map<string, string | undefined>();
  let repeats = 0;
  let sameKey = 0;
  for (const s of seen) {
    if (!first.has(s.key)) first.set(s.key, s.idempotencyKey);
    else {
      repeats++;
      if (s.idempotencyKey && s.idempotencyKey === first.get(s.key)) sameKey++;
    }
  }
  return { repeats, sameKey };
}

interface AlertBody {
  type: string;
  alert: { id: string; deviceId: string; rule: string; severity: string; value: number };
}

/** One alert change, the same on every channel: the water level is unique per reading. */
const changeKey = (b: AlertBody) => `${b.alert.deviceId}|${b.alert.rule}|${b.type}|${b.alert.severity}|${Number(b.alert.value).toFixed(3)}`;
/** An alert's state as `GET /api/v1/alerts` shows it (the change that led to it). */
const stateKey = (a: AlertBody['alert']) => `${a.deviceId}|${a.rule}|${a.severity}|${Number(a.value).toFixed(3)}`;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

interface KillResult {
  kill: number;
  killed: string;
  newOwner: string | null;
  newOwnerMs: number | null;
  storedMs: number | null;
  mqttMs: number | null;
  webhookMs: number | null;
  sseMs: number | null;
  restartMs: number;
}

interface Delivery {
  received: number;
  distinct: number;
  missing: number;
  duplicates: number;
  unknown: number;
}

function compare(stored: string[], received: Seen[]): Delivery {
  const storedSet = new Set(stored);
  const counts = new Map<string, number>();
  for (const s of received) counts.set(s.key, (counts.get(s.key) ?? 0) + 1);
  let duplicates = 0;
  let unknown = 0;
  for (const [k, n] of counts) {
    if (n > 1) duplicates += n - 1;
    if (!storedSet.has(k)) unknown++;
  }
  return { received: received.length, distinct: counts.size, missing: stored.filter((k) => !counts.has(k)).length, duplicates, unknown };
}

export const ownerFailover: Scenario = {
  name: 'owner-failover',
  title: 'Alert owner SIGKILLed mid-flood ten times (3 nodes, Mosquitto, PostgreSQL): kill → next change stored and published; the owner\'s serial stage ceiling',
  async run(ctx: BenchContext) {
    const log = (m: string) => ctx.log(`[owner-failover] ${m}`);
    const backgroundCores = await waitForQuiet(90_000, log);
    const failover = await runFailover(ctx, log);
    const backgroundCeiling = await waitForQuiet(90_000, log);
    const ceiling = await runCeiling(log);

    const stored = failover.kills.map((k) => k.storedMs).filter((v): v is number => v !== null);
    const published = failover.kills.map((k) => (k.mqttMs === null || k.webhookMs === null ? null : Math.max(k.mqttMs, k.webhookMs))).filter((v): v is number => v !== null);
    const fig = (xs: number[]) => `p50 ${Math.round(percentile(xs, 50)).toLocaleString('en')} ms, max ${Math.round(Math.max(...xs)).toLocaleString('en')} ms (${xs.length} of ${KILLS} kills)`;
    const once = (d: Delivery) => `${d.received} received, ${d.distinct} distinct of ${failover.storedChanges} stored: ${d.missing} missing, ${d.duplicates} duplicates, ${d.unknown} unknown`;
    const exactlyOnce = (d: Delivery) => d.missing === 0 && d.duplicates === 0 && d.unknown === 0 && failover.storedChanges > 0;
    const best = ceiling.steps.reduce((a, s) => (s.judgedPerS > a.judgedPerS ? s : a), ceiling.steps[0]!);
    const targets: Target[] = [
      { name: 'kill → next change stored', goal: `max < ${GOAL_MS / 1000} s over ${KILLS} kills`, value: stored.length ? fig(stored) : 'never', pass: stored.length === KILLS && Math.max(...stored) < GOAL_MS },
      { name: 'kill → next change published (MQTT and webhook)', goal: `max < ${GOAL_MS / 1000} s over ${KILLS} kills`, value: published.length ? fig(published) : 'never', pass: published.length === KILLS && Math.max(...published) < GOAL_MS },
      { name: 'MQTT: each stored change once', goal: '0 missing, 0 duplicates', value: once(failover.mqtt), pass: exactlyOnce(failover.mqtt) },
      { name: 'webhook: each stored change once', goal: '0 missing, 0 duplicates', value: once(failover.webhook), pass: exactlyOnce(failover.webhook) },
      { name: 'SSE (reconnecting with Last-Event-ID): each stored change once', goal: '0 missing, 0 duplicates', value: once(failover.sse), pass: exactlyOnce(failover.sse) },
      { name: 'stored changes: none made twice', goal: '0', value: `${failover.storedDuplicates} of ${failover.storedChanges}`, pass: failover.storedDuplicates === 0 },
    ];
    const notes = [
      `owner serial stage: at most ${best.judgedPerS.toLocaleString('en')} readings/s judged (offered ${best.offeredPerS.toLocaleString('en')}/s); beyond, the readings wait in alert_feed (PostgreSQL): ${ceiling.steps.filter((s) => s.backlogEnd > 0 && s.judgedPerS < 0.9 * s.offeredPerS).map((s) => `${s.offeredPerS}/s offered → ${s.judgedPerS}/s judged, backlog +${s.backlogGrowthPerS}/s, oldest ${s.oldestAgeS} s at the end`).join('; ') || 'no step saturated it'}`,
      `owner serial stage: owner process RSS peak per step ${ceiling.steps.map((s) => `${s.offeredPerS}/s ${s.rssPeakMiB} MiB`).join(', ')} (the backlog stays in PostgreSQL; the owner takes at most 5,000 rows a cycle)`,
      `failover: background ${round(backgroundCores, 2)} cores before it; ceiling: ${round(backgroundCeiling, 2)} cores before it`,
      `webhook copies after a change's first: ${failover.webhookRepeats.repeats}, of which ${failover.webhookRepeats.sameKey} carried the first copy's Idempotency-Key (a receiver that keeps the keys acts on those once)`,
    ];
    return {
      scenario: this.name,
      title: this.title,
      startedAt: new Date().toISOString(),
      cpuProfiled: false,
      config: { nodes: NODES, role: 'all', kills: KILLS, gauges: GAUGES, readingIntervalMs: INTERVAL_MS, swingMs: SWING_MS, ceilingGauges: CEILING_GAUGES, ceilingStepS: CEILING_STEP_MS / 1000, backgroundCoresBefore: round(backgroundCores, 2), backgroundCoresBeforeCeiling: round(backgroundCeiling, 2) },
      extra: {
        kills: failover.kills,
        storedMs: stored.length ? { p50: percentile(stored, 50), max: Math.max(...stored) } : null,
        publishedMs: published.length ? { p50: percentile(published, 50), max: Math.max(...published) } : null,
        readings: failover.readings,
        storedChanges: failover.storedChanges,
        storedByRule: failover.storedByRule,
        expectedFloodLevelChanges: failover.expectedChanges,
        mqtt: failover.mqtt,
        webhook: failover.webhook,
        webhookRepeats: failover.webhookRepeats,
        sse: failover.sse,
        ceiling: ceiling.steps,
      },
      cpuCores: cpuCores(failover.cpu),
      rssMiB: { ...failover.rssMiB, ownerStagePeak: Math.max(...ceiling.steps.map((s) => s.rssPeakMiB)) },
      targets,
      notes,
    };
  },
};

async function runFailover(ctx: BenchContext, log: (m: string) => void) {
  const dirs: string[] = [];
  const temp = (p: string) => {
    const d = mkdtempSync(join(tmpdir(), p));
    dirs.push(d);
    return d;
  };
  const webhooks: Seen[] = [];
  const mqttSeen: Seen[] = [];
  const sseSeen: Seen[] = [];
  const hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      try {
        webhooks.push({ key: changeKey(JSON.parse(body) as AlertBody), at: Date.now(), idempotencyKey: String(req.headers['idempotency-key'] ?? '') });
      } catch {
        // not an alert change: not counted
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
  const webhookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;
  const mosquitto = await startMosquittoServer(temp('bench-owner-mq-'));
  const [influx, pg] = await Promise.all([startInfluxd(), startPostgres()]);
  const db = new pgModule.Client({ connectionString: pg.url });
  await db.connect();
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-state.mjs')], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  const admin = { authorization: `Bearer ${ctx.adminKey}` };
  const nodes: ClusterNode[] = [];
  const gauges: mqtt.MqttClient[] = [];
  let listener: mqtt.MqttClient | undefined;
  let publishing: NodeJS.Timeout | undefined;
  let sseRunning = true;
  const sseAbort = new AbortController();

  const startNode = async (id: string, port: number, dataDir: string): Promise<ClusterNode> => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [...NODE_FLAGS, PLATFORM_ENTRY], {
      cwd: ROOT,
      env: {
        ...(process.env as Record<string, string>),
        PANTAU_ROLE: 'all', PANTAU_REGISTRY_URL: pg.url, PANTAU_BROKER_URL: mosquitto.url, PANTAU_WORKER_ID: id,
        PANTAU_INFLUX_URL: influx.url, PANTAU_INFLUX_DB: 'bench_owner', PANTAU_DATA_DIR: dataDir, PANTAU_HTTP_PORT: String(port),
        PANTAU_HOST: '127.0.0.1', PANTAU_ADMIN_KEY: ctx.adminKey, PANTAU_WEBHOOK_URL: webhookUrl, PANTAU_WEBHOOK_SECRET: WEBHOOK_SECRET,
        PANTAU_DEVICE_RATE_LIMIT: '0', PANTAU_API_RATE_LIMIT: '0', PANTAU_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const node: ClusterNode = { id, url: `http://127.0.0.1:${port}`, port, dataDir, child, out: '', startMs: 0 };
    const keep = (c: Buffer) => (node.out = (node.out + c.toString()).slice(-50_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`node ${id} exited during start: ${node.out.slice(-2000)}`);
      if (i > 1200) throw new Error(`node ${id} not ready after 120 s: ${node.out.slice(-2000)}`);
      const self = await clusterOf(node).catch(() => undefined);
      // ready, and its broker session subscribed (the shared subscription's share is its)
      if (self?.nodes.find((n) => n.id === id)?.brokerSession === true) break;
      await sleep(100);
    }
    node.startMs = performance.now() - t0;
    return node;
  };
  const clusterOf = async (node: ClusterNode) => {
    const res = await fetch(`${node.url}/api/v1/cluster`, { headers: admin, signal: AbortSignal.timeout(2000) });
    if (!res.ok) throw new Error(`GET /api/v1/cluster answered ${res.status}`);
    return (await res.json()) as { node: string; alertOwner: string | null; nodes: Array<{ id: string; brokerSession: boolean | null }> };
  };
  /** The node that says it is the owner, as of the moment (a node shows itself live in its own answer). */
  const ownerAmong = async (candidates: ClusterNode[]) => {
    for (const n of candidates) {
      const c = await clusterOf(n).catch(() => undefined);
      if (c && c.alertOwner === n.id) return n;
    }
    return undefined;
  };

  try {
    for (let i = 0; i < NODES; i++) {
      const node = await startNode(`owner-bench-${i + 1}`, await freePort(), temp(`bench-owner-node-${i + 1}-`));
      nodes.push(node); // the first runs the migrations and becomes the first owner
    }
    log(`${NODES} nodes up (start ${nodes.map((n) => `${(n.startMs / 1000).toFixed(1)} s`).join(', ')})`);

    // the gauges, through the API of the first node
    for (let g = 0; g < GAUGES; g++) {
      const res = await fetch(`${nodes[0]!.url}/api/v1/devices`, {
        method: 'POST',
        headers: { ...admin, 'content-type': 'application/json' },
        body: JSON.stringify({ id: `og-gauge-${g}`, kind: 'flood', name: `Gauge ${g}`, city: 'Samarinda', district: 'Sungai Pinang', location: { lat: -0.43, lon: 117.17 }, thresholds: GAUGE_THRESHOLDS }),
      });
      if (res.status !== 201) throw new Error(`POST /api/v1/devices answered ${res.status}: ${await res.text()}`);
    }
    await sleep(3000); // every node's registry has them (a change reaches every node within 2 s)

    // listeners: MQTT on the cluster's broker, SSE on a node (moving on with Last-Event-ID when it dies)
    listener = await mqtt.connectAsync(mosquitto.url, { clientId: 'owner-bench-listener', clean: true, reconnectPeriod: 500 });
    listener.on('message', (_topic, payload, packet) => {
      if (packet.retain) return; // the state on subscribing, not a change
      try {
        mqttSeen.push({ key: changeKey(JSON.parse(payload.toString()) as AlertBody), at: Date.now() });
      } catch {
        // not an alert change
      }
    });
    await listener.subscribeAsync('alerts/flood/+', { qos: 1 });
    let sseReconnects = 0;
    const sse = (async () => {
      let lastId: string | undefined;
      let next = 0;
      while (sseRunning) {
        const live = nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
        const node = live[next++ % Math.max(1, live.length)];
        if (!node) {
          await sleep(100);
          continue;
        }
        try {
          const res = await fetch(`${node.url}/api/v1/stream?kind=flood`, { headers: { ...admin, ...(lastId ? { 'last-event-id': lastId } : {}) }, signal: sseAbort.signal });
          if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
          const decoder = new TextDecoder();
          let buffer = '';
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            buffer += decoder.decode(chunk, { stream: true });
            let end: number;
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              const frame = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              let event = '';
              let data = '';
              let id: string | undefined;
              for (const line of frame.split('\n')) {
                if (line.startsWith('event: ')) event = line.slice(7);
                else if (line.startsWith('data: ')) data += line.slice(6);
                else if (line.startsWith('id: ')) id = line.slice(4);
              }
              if (event !== 'alert') continue;
              if (id !== undefined) lastId = id;
              sseSeen.push({ key: changeKey(JSON.parse(data) as AlertBody), at: Date.now() });
            }
          }
        } catch {
          // the node died or the stream ended: reconnect to another with Last-Event-ID
        }
        if (sseRunning) sseReconnects++;
        await sleep(100);
      }
    })();

    // the flood: each gauge swings between Siaga and Awas every SWING_MS, staggered across the fleet
    const acked: Array<{ deviceId: string; ts: number; level: number }> = [];
    let published = 0;
    let unacked = 0;
    for (let g = 0; g < GAUGES; g++) {
      gauges.push(await mqtt.connectAsync(mosquitto.url, { clientId: `og-gauge-${g}`, username: `og-gauge-${g}`, password: 'unused', clean: true, reconnectPeriod: 1000 }));
    }
    const seq = new Array<number>(GAUGES).fill(0);
    const lastTs = new Array<number>(GAUGES).fill(0);
    publishing = setInterval(() => {
      const now = Date.now();
      for (let g = 0; g < GAUGES; g++) {
        const awas = Math.floor((now + (g * SWING_MS) / GAUGES) / SWING_MS) % 2 === 1;
        const n = seq[g]!++;
        const level = (awas ? AWAS_CM : SIAGA_CM) + (n % 10_000) / 1000;
        const ts = (lastTs[g] = Math.max(now, lastTs[g]! + 1));
        const deviceId = `og-gauge-${g}`;
        published++;
        unacked++;
        gauges[g]!.publish(`sensors/flood/${deviceId}/telemetry`, JSON.stringify({ ts, waterLevel: level }), { qos: 1 }, (err) => {
          unacked--;
          if (!err) acked.push({ deviceId, ts, level });
        });
      }
    }, INTERVAL_MS);

    log(`flood running (${GAUGES} gauges, ${Math.round((GAUGES * 1000) / INTERVAL_MS)} readings/s, about ${Math.round((GAUGES * 1000) / SWING_MS)} alert changes/s); 10 s warm-up`);
    await sleep(10_000);
    const meter = new CpuMeter({
      nodes: () => nodes.flatMap((n) => (n.child.pid ? [n.child.pid, ...descendants(n.child.pid)] : [])),
      influxd: () => [influx.process.pid!],
      mosquitto: () => [mosquitto.child.pid!],
      orchestrator: () => [process.pid],
    });
    const rss = new RssSampler({ nodes: () => nodes.flatMap((n) => (n.child.pid ? [n.child.pid] : [])) });
    meter.start();
    rss.start();

    const kills: KillResult[] = [];
    for (let k = 1; k <= KILLS; k++) {
      let owner: ClusterNode | undefined;
      for (let i = 0; i < 200 && !owner; i++) {
        owner = await ownerAmong(nodes);
        if (!owner) await sleep(100);
      }
      if (!owner) throw new Error('no node says it is the alert owner');
      const survivors = nodes.filter((n) => n !== owner);
      const tKill = Date.now();
      const dead = new Promise((r) => owner!.child.once('exit', r));
      owner.child.kill('SIGKILL');
      await dead;
      // every change stored by now was made by the dead owner (a COMMIT it sent just before dying has landed 50 ms
      // later; a new owner's change as early as that would be counted as the old owner's: an overestimate, never less)
      await sleep(50);
      const before = await db.query<{ change: AlertBody }>('SELECT change FROM alert_events');
      const oldChanges = new Set(before.rows.map((r) => changeKey(r.change)));
      const oldStates = new Set(before.rows.map((r) => stateKey(r.change.alert)));
      const firstNew = (seen: Seen[]) => seen.find((s) => s.at >= tKill && !oldChanges.has(s.key))?.at;
      const result: KillResult = { kill: k, killed: owner.id, newOwner: null, newOwnerMs: null, storedMs: null, mqttMs: null, webhookMs: null, sseMs: null, restartMs: 0 };
      const deadline = tKill + 30_000;
      while (Date.now() < deadline) {
        if (result.newOwner === null) {
          const n = await ownerAmong(survivors);
          if (n) {
            result.newOwner = n.id;
            result.newOwnerMs = Date.now() - tKill;
          }
        }
        if (result.storedMs === null) {
          for (const s of survivors) {
            const res = await fetch(`${s.url}/api/v1/alerts?kind=flood`, { headers: admin, signal: AbortSignal.timeout(2000) }).catch(() => undefined);
            if (!res?.ok) continue;
            const items = ((await res.json()) as { items: Array<AlertBody['alert']> }).items;
            if (items.some((a) => a.deviceId.startsWith('og-gauge-') && !oldStates.has(stateKey(a)))) result.storedMs = Date.now() - tKill;
            break;
          }
        }
        const m = firstNew(mqttSeen);
        const w = firstNew(webhooks);
        const e = firstNew(sseSeen);
        if (m !== undefined) result.mqttMs = m - tKill;
        if (w !== undefined) result.webhookMs = w - tKill;
        if (e !== undefined) result.sseMs = e - tKill;
        if (result.newOwner !== null && result.storedMs !== null && m !== undefined && w !== undefined && e !== undefined) break;
        await sleep(50);
      }
      // the killed node again, same worker id and data dir (its spool and broker session)
      const index = nodes.indexOf(owner);
      const again = await startNode(owner.id, owner.port, owner.dataDir);
      nodes[index] = again;
      result.restartMs = Math.round(again.startMs);
      kills.push(result);
      log(`kill ${k}: ${result.killed} → new owner ${result.newOwner ?? 'none'} after ${result.newOwnerMs ?? '–'} ms; next change stored ${result.storedMs ?? 'never'} ms, MQTT ${result.mqttMs ?? 'never'} ms, webhook ${result.webhookMs ?? 'never'} ms, SSE ${result.sseMs ?? 'never'} ms; restarted in ${result.restartMs} ms`);
      await sleep(5000); // settled: the restarted node has its broker session, changes flowing again
    }
    const cpu = meter.stop();
    rss.stop();

    clearInterval(publishing);
    publishing = undefined;
    for (let i = 0; i < 100 && unacked > 0; i++) await sleep(100);
    // the feed judged and every committed change delivered
    for (let i = 0; i < 600; i++) {
      const left = await db.query<{ feed: string; undelivered: string }>('SELECT (SELECT count(*) FROM alert_feed) AS feed, (SELECT count(*) FROM alert_events WHERE NOT (published AND webhooked)) AS undelivered');
      if (Number(left.rows[0]!.feed) === 0 && Number(left.rows[0]!.undelivered) === 0) break;
      await sleep(100);
    }
    await sleep(3000); // the last deliveries reach the listeners
    sseRunning = false;
    sseAbort.abort();
    await sse;

    const all = await db.query<{ change: AlertBody }>("SELECT change FROM alert_events WHERE change->'alert'->>'deviceId' LIKE 'og-gauge-%' ORDER BY seq");
    const storedKeys = all.rows.map((r) => changeKey(r.change));
    const storedByRule: Record<string, number> = {};
    for (const r of all.rows) storedByRule[r.change.alert.rule] = (storedByRule[r.change.alert.rule] ?? 0) + 1;
    // what the readings call for: one change at each swing between the two levels, one alert opened per gauge
    const byGauge = new Map<string, Array<{ ts: number; level: number }>>();
    for (const r of acked) {
      const rs = byGauge.get(r.deviceId);
      if (rs) rs.push(r);
      else byGauge.set(r.deviceId, [r]);
    }
    let expectedChanges = 0;
    for (const rs of byGauge.values()) {
      rs.sort((a, b) => a.ts - b.ts);
      expectedChanges += 1;
      for (let i = 1; i < rs.length; i++) if ((rs[i]!.level >= AWAS_CM) !== (rs[i - 1]!.level >= AWAS_CM)) expectedChanges++;
    }
    const mqttD = compare(storedKeys, mqttSeen);
    const webhookD = compare(storedKeys, webhooks);
    const sseD = compare(storedKeys, sseSeen);
    log(`readings: ${published} published, ${acked.length} acknowledged by Mosquitto; alert changes: ${storedKeys.length} stored (${JSON.stringify(storedByRule)}; ${expectedChanges} flood_level changes called for by the acknowledged readings), MQTT ${mqttD.received}, webhook ${webhookD.received}, SSE ${sseD.received} (${sseReconnects} reconnects)`);
    return {
      kills,
      readings: { published, acked: acked.length },
      storedChanges: storedKeys.length,
      storedDuplicates: storedKeys.length - new Set(storedKeys).size,
      storedByRule,
      expectedChanges,
      mqtt: mqttD,
      webhook: webhookD,
      webhookRepeats: keyedRepeats(webhooks),
      sse: { ...sseD, reconnects: sseReconnects },
      cpu,
      rssMiB: { nodesSumPeak: round(rss.peak.nodes! / 2 ** 20) },
    };
  } finally {
    if (publishing) clearInterval(publishing);
    sseRunning = false;
    sseAbort.abort();
    await Promise.all(gauges.map((c) => c.endAsync(true).catch(() => undefined)));
    await listener?.endAsync(true).catch(() => undefined);
    for (const n of nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGTERM');
    await Promise.all(nodes.map((n) => (n.child.exitCode !== null || n.child.signalCode !== null ? undefined : new Promise((r) => {
      const force = setTimeout(() => n.child.kill('SIGKILL'), 20_000);
      n.child.once('exit', () => r(clearTimeout(force)));
    }))));
    await db.end().catch(() => undefined);
    mosquitto.child.kill('SIGKILL');
    hook.close();
    await influx.stop();
    await pg.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

interface CeilingStep {
  offeredPerS: number;
  /** Readings the owner took off the feed per second over the step. */
  judgedPerS: number;
  backlogEnd: number;
  backlogGrowthPerS: number;
  /** Age of the oldest reading waiting in alert_feed at the end of the step (the owner's lag). */
  oldestAgeS: number;
  feedMiB: number;
  rssPeakMiB: number;
  ownerCores: number;
  machineCores: number;
  /** After the step, until the feed was empty (capped at 60 s). */
  drainS: number;
}

async function runCeiling(log: (m: string) => void): Promise<{ steps: CeilingStep[] }> {
  const quiet = pino({ level: 'warn' });
  const pg = await startPostgres();
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-owner-stage-'));
  let owner: ChildProcess | undefined;
  try {
    const registry = await Registry.open(pg.url, dataDir, { log: quiet }); // migrations
    await pg.sql(`INSERT INTO devices (id, kind, name, city, district, lat, lon, thresholds, token_hash, created_at)
      SELECT 'stage-' || g, 'flood', 'g', 'Samarinda', 'Sungai Pinang', -0.5, 117.1, '${JSON.stringify(GAUGE_THRESHOLDS)}', 'unused', 0 FROM generate_series(1, ${CEILING_GAUGES}) g`);
    const feed = new AlertFeed(registry.postgres!, quiet);
    owner = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'alert-owner.ts'), '--serve', pg.url], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    owner.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    for (let i = 0; !out.includes('owner: judging'); i++) {
      if (owner.exitCode !== null || i > 600) throw new Error(`the bench owner did not start: ${out}`);
      await sleep(100);
    }
    const pid = owner.pid!;
    const count = async () => {
      const r = await pg.sql("SELECT count(*) || '|' || coalesce(extract(epoch FROM clock_timestamp() - min(added_at)), 0) || '|' || pg_total_relation_size('alert_feed') FROM alert_feed");
      const [n, age, bytes] = r.trim().split('|').map(Number);
      return { n: n!, age: age!, bytes: bytes! };
    };
    const counters = new Array<number>(CEILING_GAUGES).fill(0);
    const lastTs = new Array<number>(CEILING_GAUGES).fill(0);
    let next = 0;
    const steps: CeilingStep[] = [];
    for (const rate of CEILING_RATES) {
      const start = await count();
      const meter = new CpuMeter({ owner: () => [pid] });
      let rssPeak = rssBytes(pid) ?? 0;
      meter.start();
      const t0 = Date.now();
      let sent = 0;
      while (Date.now() - t0 < CEILING_STEP_MS) {
        const due = Math.floor((rate * (Date.now() - t0)) / 1000) - sent;
        if (due > 0) {
          const now = Date.now();
          const batch = [];
          for (let i = 0; i < due; i++) {
            const g = next++ % CEILING_GAUGES;
            const c = counters[g]!++;
            // one swing between Siaga and Awas every 50 readings of a gauge: about 2 % of the readings change an alert
            const level = (Math.floor(c / 50) % 2 === 1 ? AWAS_CM : SIAGA_CM) + (c % 1000) / 1000;
            batch.push({ deviceId: `stage-${g + 1}`, kind: 'flood' as const, ts: (lastTs[g] = Math.max(now, lastTs[g]! + 1)), values: { waterLevel: level } });
          }
          await feed.insert(batch);
          sent += due;
        }
        rssPeak = Math.max(rssPeak, rssBytes(pid) ?? 0);
        await sleep(50);
      }
      const seconds = (Date.now() - t0) / 1000;
      const cpu = meter.stop();
      const end = await count();
      const judged = sent - (end.n - start.n);
      const tDrain = Date.now();
      for (;;) {
        rssPeak = Math.max(rssPeak, rssBytes(pid) ?? 0);
        if ((await count()).n === 0 || Date.now() - tDrain > 60_000) break;
        await sleep(250);
      }
      const step: CeilingStep = {
        offeredPerS: Math.round(sent / seconds),
        judgedPerS: Math.round(judged / seconds),
        backlogEnd: end.n,
        backlogGrowthPerS: Math.round((end.n - start.n) / seconds),
        oldestAgeS: round(end.age, 1),
        feedMiB: round(end.bytes / 2 ** 20, 1),
        rssPeakMiB: round(rssPeak / 2 ** 20),
        ownerCores: round(cpu.cores.owner!, 2),
        machineCores: round(cpu.machineCores, 2),
        drainS: round((Date.now() - tDrain) / 1000, 1),
      };
      steps.push(step);
      log(`owner stage: ${step.offeredPerS} readings/s offered → ${step.judgedPerS}/s judged; feed backlog ${step.backlogEnd} (+${step.backlogGrowthPerS}/s), oldest ${step.oldestAgeS} s, alert_feed ${step.feedMiB} MiB; owner RSS peak ${step.rssPeakMiB} MiB, ${step.ownerCores} cores (machine ${step.machineCores}); drained in ${step.drainS} s`);
      // two saturated steps in a row show what lies beyond; more would only take longer to drain
      const saturated = steps.filter((s) => s.judgedPerS < 0.9 * s.offeredPerS);
      if (saturated.length >= 2) break;
    }
    await registry.close();
    return { steps };
  } finally {
    if (owner && owner.exitCode === null) {
      owner.kill('SIGTERM');
      await new Promise((r) => {
        const force = setTimeout(() => owner!.kill('SIGKILL'), 10_000);
        owner!.once('exit', () => r(clearTimeout(force)));
      });
    }
    await pg.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
