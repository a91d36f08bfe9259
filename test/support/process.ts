// Pantau as a real child process, for tests that kill it, stop it or restart it: the compiled platform
// (`dist/platform/main.js`, what `npm start` and the image run), which the suite's global setup builds when stale.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { freePort } from './ports.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The compiled entry point the image runs. */
export const PLATFORM_ENTRY = join(ROOT, 'dist', 'platform', 'main.js');

/**
 * Node's flags for the platform, as `npm start` (package.json), the image (Dockerfile) and `npm run demo`
 * (scripts/demo.sh) give them; test/unit/node-flags.test.ts holds those to this list. A 64 MiB semi-space lets the
 * short-lived objects of 20,000 messages a second die young instead of being copied into the old generation
 * (README, *Memory*).
 */
export const NODE_FLAGS = ['--enable-source-maps', '--max-semi-space-size=64'];

/** `spawn(...platformCommand())`: node itself on the compiled platform, so a signal sent to the child reaches Pantau. */
export function platformCommand(): [string, string[]] {
  return [process.execPath, [...NODE_FLAGS, PLATFORM_ENTRY]];
}

export interface PlatformProcess {
  child: ChildProcess;
  httpUrl: string;
  mqttUrl: string;
  mqttPort: number;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function spawnPlatform(env: Record<string, string>, ports?: { http: number; mqtt: number }): Promise<PlatformProcess> {
  const http = ports?.http ?? (await freePort());
  const mqtt = ports?.mqtt ?? (await freePort());
  const [node, args] = platformCommand();
  const child = spawn(node, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      PANTAU_HOST: '127.0.0.1',
      PANTAU_HTTP_PORT: String(http),
      PANTAU_MQTT_PORT: String(mqtt),
      PANTAU_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-200_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const httpUrl = `http://127.0.0.1:${http}`;
  await waitUntilHealthy(child, httpUrl, 90_000, () => out);
  return { child, httpUrl, mqttUrl: `mqtt://127.0.0.1:${mqtt}`, mqttPort: mqtt, output: () => out, exited };
}

/** Poll `/healthz` until the platform answers; fail at once if it exits, and kill it if it takes too long. */
export async function waitUntilHealthy(child: ChildProcess, httpUrl: string, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`platform exited during start (${child.exitCode}): ${output().slice(-2000)}`);
    try {
      const res = await fetch(`${httpUrl}/healthz`);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`platform did not answer /healthz within ${timeoutMs / 1000} s: ${output().slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A JSON API call to a platform process with a bearer key: status, headers and the parsed body (null if none). */
export async function callApi(httpUrl: string, key: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, headers: res.headers, body: (await res.json().catch(() => null)) as any };
}
