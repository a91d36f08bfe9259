// A private InfluxDB 1.x server for one test run: own config, temp data dir, free ports. Real, not a mock.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export interface InfluxServer {
  url: string;
  port: number;
  dir: string;
  process: ChildProcess;
  stop(): Promise<void>;
  /** Stop the server but keep its data, so `start()` brings the same database back (outage tests). */
  pause(): Promise<void>;
  start(): Promise<void>;
}

const INFLUXD = process.env.PANTAU_TEST_INFLUXD ?? '/usr/bin/influxd';

export interface InfluxdOptions {
  /** How often influxd deletes shard groups past their retention (default 30m); history tests use seconds. */
  retentionCheckInterval?: string;
}

export async function startInfluxd(options: InfluxdOptions = {}): Promise<InfluxServer> {
  const dir = mkdtempSync(join(tmpdir(), 'pantau-influxd-'));
  const port = await freePort();
  const rpcPort = await freePort();
  const config = `
reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
  wal-fsync-delay = "0s"
[coordinator]
  log-queries-after = "0s"
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:${port}"
  log-enabled = false
  max-body-size = 0
[logging]
  level = "warn"
[continuous_queries]
  enabled = false
[retention]
  enabled = true
  check-interval = "${options.retentionCheckInterval ?? '30m'}"
`;
  writeFileSync(join(dir, 'influxdb.conf'), config);
  const server: InfluxServer = {
    url: `http://127.0.0.1:${port}`,
    port,
    dir,
    process: undefined as unknown as ChildProcess,
    async start() {
      const child = spawn(INFLUXD, ['-config', join(dir, 'influxdb.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-4000);
      });
      server.process = child;
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`influxd exited (${child.exitCode}): ${stderr}`);
        try {
          const res = await fetch(`${server.url}/ping`);
          if (res.status === 204) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      child.kill('SIGKILL');
      throw new Error(`influxd did not answer /ping within 30 s: ${stderr}`);
    },
    async pause() {
      const child = server.process;
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    },
    async stop() {
      await server.pause();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

/** Run an InfluxQL query against a test server and return the first statement's series. */
export async function influxQuery(
  url: string,
  db: string,
  q: string,
  params?: Record<string, unknown>,
): Promise<Array<{ name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }>> {
  const body = new URLSearchParams({ db, q, epoch: 'ms' });
  if (params) body.set('params', JSON.stringify(params));
  const res = await fetch(`${url}/query`, { method: 'POST', body });
  const json = (await res.json()) as { results?: Array<{ series?: any[]; error?: string }>; error?: string };
  if (json.error) throw new Error(json.error);
  const first = json.results?.[0];
  if (first?.error) throw new Error(first.error);
  return first?.series ?? [];
}
