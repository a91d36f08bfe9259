// Pantau started the way `npm start` and the image run it — the compiled `dist/platform/main.js` in one node
// process, configured by the environment (built first when dist/ is missing or stale) — with what the benchmark
// needs: free ports, a temp data dir, limits off, a raised open-file limit, and optionally the V8 CPU profiler.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/support/ports.js';
import { NODE_FLAGS, PLATFORM_ENTRY, waitUntilHealthy } from '../test/support/process.js';
import { ROOT } from './paths.js';
import { descendants } from './proc-stats.js';

export interface PlatformOptions {
  influxUrl: string;
  db: string;
  adminKey: string;
  fleetFile?: string;
  env?: Record<string, string>;
  /** Directory for `--cpu-prof` output; profiling is off when unset. */
  cpuProfDir?: string;
  startTimeoutMs?: number;
}

export interface BenchPlatform {
  httpUrl: string;
  mqttUrl: string;
  dataDir: string;
  /** Milliseconds from spawn until /healthz answered (includes seeding the fleet file). */
  startMs: number;
  /** The node process that runs Pantau (the shell that raised the open-file limit execs it). */
  child: ChildProcess;
  /** The node process that runs Pantau. */
  mainPid(): number;
  /** Pantau and anything it starts. */
  pids(): number[];
  output(): string;
  /** Prometheus metrics, summed over labels. */
  metrics(): Promise<Record<string, number>>;
  /** SIGTERM to Pantau, then wait for its graceful stop (spool flush; the CPU profile is written then). */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
  /** The CPU profile of the main thread of the Pantau process, after `stop()`. */
  profileFile(): string | undefined;
}

export async function startBenchPlatform(options: PlatformOptions): Promise<BenchPlatform> {
  const http = await freePort();
  const mqtt = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'pantau-bench-'));
  const profArgs: string[] = [];
  if (options.cpuProfDir) {
    mkdirSync(options.cpuProfDir, { recursive: true });
    // Node refuses --cpu-prof in NODE_OPTIONS: it goes on the command line.
    profArgs.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`);
  }
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PANTAU_HOST: '127.0.0.1',
    PANTAU_HTTP_PORT: String(http),
    PANTAU_MQTT_PORT: String(mqtt),
    PANTAU_INFLUX_URL: options.influxUrl,
    PANTAU_INFLUX_DB: options.db,
    PANTAU_DATA_DIR: dataDir,
    PANTAU_ADMIN_KEY: options.adminKey,
    PANTAU_LOG_LEVEL: 'warn',
    PANTAU_DEVICE_RATE_LIMIT: '0',
    PANTAU_API_RATE_LIMIT: '0',
    PANTAU_MQTT_MAX_CONNECTIONS_PER_IP: '0',
    ...(options.fleetFile ? { PANTAU_FLEET_FILE: options.fleetFile } : {}),
    ...options.env,
  };
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-state.mjs')], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  // 10,000 connections need more descriptors than a default soft limit of 1024; the shell raises it, then execs.
  const started = performance.now();
  const shell = 'ulimit -n 65535 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"';
  const child = spawn('sh', ['-c', shell, process.execPath, ...NODE_FLAGS, ...profArgs, PLATFORM_ENTRY], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const httpUrl = `http://127.0.0.1:${http}`;
  await waitUntilHealthy(child, httpUrl, options.startTimeoutMs ?? 180_000, () => out);
  const startMs = performance.now() - started;

  let main: number | undefined;
  let stopped: { code: number | null; signal: NodeJS.Signals | null; ms: number } | undefined;
  const platform: BenchPlatform = {
    httpUrl,
    mqttUrl: `mqtt://127.0.0.1:${mqtt}`,
    dataDir,
    startMs,
    child,
    mainPid() {
      // the shell execs node: same pid
      main ??= child.pid!;
      return main;
    },
    pids: () => [child.pid!, ...descendants(child.pid!)],
    output: () => out,
    async metrics() {
      const text = await (await fetch(`${httpUrl}/metrics`)).text();
      const sums: Record<string, number> = {};
      for (const line of text.split('\n')) {
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
        if (m) sums[m[1]!] = (sums[m[1]!] ?? 0) + Number(m[2]);
      }
      return sums;
    },
    async stop() {
      if (stopped) return stopped;
      const mainPid = platform.mainPid();
      const t0 = performance.now();
      const force = setTimeout(() => child.kill('SIGKILL'), 60_000);
      process.kill(mainPid, 'SIGTERM');
      const result = await exited;
      clearTimeout(force);
      // give the profile writer a moment
      for (let i = 0; i < 50 && existsPid(mainPid); i++) await new Promise((r) => setTimeout(r, 100));
      stopped = { ...result, ms: performance.now() - t0 };
      rmSync(dataDir, { recursive: true, force: true });
      return stopped;
    },
    profileFile() {
      if (!options.cpuProfDir || main === undefined) return undefined;
      // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the main thread
      const mine = readdirSync(options.cpuProfDir).filter((n) => n.includes(`.${main}.0.`) && n.endsWith('.cpuprofile'));
      const sized = mine.map((n) => ({ n, size: statSync(join(options.cpuProfDir!, n)).size })).sort((a, b) => b.size - a.size);
      return sized[0] ? join(options.cpuProfDir, sized[0].n) : undefined;
    },
  };
  platform.mainPid();
  return platform;
}

function existsPid(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
