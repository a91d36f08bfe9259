// One node of a test cluster as a real process (test/cluster.test.ts, test/cluster-loss.test.ts): spawned with its
// role, id, data dir and port beside the environment the test gives, and ready once its log says so (an ingest
// worker subscribed to the shares, an API node receiving the cluster view); its output is kept for assertions.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './platform.js';
import { freePort } from './ports.js';
import { ROOT } from './process.js';

export interface ClusterNode {
  id: string;
  role: 'api' | 'ingest';
  child: ChildProcess;
  httpUrl: string;
  dataDir: string;
  output(): string;
  exited: Promise<number | null>;
}

/** A temporary directory, remembered in `dirs` for the test's clean-up. */
export function tempDirIn(dirs: string[], prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

export async function startClusterNode(options: {
  id: string;
  role: 'api' | 'ingest';
  dataDir: string;
  /** node and its arguments: tsx on the sources, or the compiled platform (support/process.ts platformCommand). */
  command: [string, string[]];
  /** Everything else the node needs (registry, broker, InfluxDB, secrets, …). */
  env: Record<string, string>;
  /** Every process spawned, for the test's clean-up. */
  children: ChildProcess[];
}): Promise<ClusterNode> {
  const { id, role, dataDir } = options;
  const httpPort = await freePort();
  const child = spawn(options.command[0], options.command[1], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...options.env,
      PANTAU_ROLE: role,
      PANTAU_WORKER_ID: id,
      PANTAU_DATA_DIR: dataDir,
      PANTAU_HTTP_PORT: String(httpPort),
      PANTAU_HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  options.children.push(child);
  let out = '';
  const keep = (c: Buffer) => (out = (out + c.toString()).slice(-300_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = role === 'ingest' ? 'subscribed to the shared telemetry, SenML and config-report subscriptions' : 'cluster view: receiving';
  await eventually(() => {
    if (child.exitCode !== null) throw new Error(`node ${id} exited during start: ${out.slice(-3000)}`);
    return out.includes(ready) && out.includes('Pantau is running');
  }, 60_000, 100).catch((err: Error) => {
    throw new Error(`node ${id} did not start: ${err.message}\n${out.slice(-3000)}`);
  });
  return { id, role, child, httpUrl: `http://127.0.0.1:${httpPort}`, dataDir, output: () => out, exited };
}

/** The cluster's webhook receiver: every body POSTed to `url` is handed to `onBody` with its Idempotency-Key, answered 204. */
export async function startWebhookReceiver(onBody: (body: string, idempotencyKey: string) => void): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      onBody(body, String(req.headers['idempotency-key'] ?? ''));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook` };
}
