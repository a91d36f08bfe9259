// `npm run demo` (scripts/demo.sh) with real processes: a private InfluxDB, the compiled platform and the
// simulated fleet. Ctrl-C in a terminal sends SIGINT to the whole foreground process group; here the script runs
// as the leader of its own group and the group gets the SIGINT, as from a terminal. The demo must stop the fleet,
// then the platform, then InfluxDB, each once and cleanly (exit 0), and nobody takes a "second signal" path.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from './support/platform.js';
import { freePort } from './support/ports.js';
import { ROOT } from './support/process.js';

describe('npm run demo', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pantau-demo-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('Ctrl-C stops fleet, platform and InfluxDB once each, in that order, cleanly', async () => {
    const [http, mqtt, influx] = [await freePort(), await freePort(), await freePort()];
    const child = spawn('bash', [join(ROOT, 'scripts', 'demo.sh')], {
      cwd: ROOT,
      detached: true, // its own process group, like a shell's foreground job
      env: {
        ...process.env,
        PANTAU_DEMO_DIR: dir,
        PANTAU_HTTP_PORT: String(http),
        PANTAU_MQTT_PORT: String(mqtt),
        PANTAU_INFLUX_URL: `http://127.0.0.1:${influx}`,
        PANTAU_ADMIN_KEY: 'demo-test-admin-key-0123456789',
        PANTAU_DEMO_SIMULATE_ARGS: '--devices 6 --speed 60',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      // the fleet is up once its devices are registered and the platform has taken readings from them
      await eventually(() => out.includes('Starting the simulated Kaltim fleet'), 180_000, 200);
      await eventually(async () => {
        const res = await fetch(`http://127.0.0.1:${http}/api/v1/devices`, { headers: { authorization: 'Bearer demo-test-admin-key-0123456789' } });
        const { items } = (await res.json()) as { items: Array<{ status: string }> };
        return items.filter((d) => d.status === 'online').length >= 6;
      }, 60_000, 500);
    } catch (err) {
      process.kill(-child.pid!, 'SIGKILL');
      throw new Error(`${(err as Error).message}\n${out.slice(-3000)}`);
    }

    process.kill(-child.pid!, 'SIGINT');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 60_000))]);
    if (code === 'timeout') process.kill(-child.pid!, 'SIGKILL');
    const platformLog = readFileSync(join(dir, 'pantau.log'), 'utf8');
    const context = `${out.slice(-3000)}\n--- pantau.log ---\n${platformLog.slice(-2000)}`;

    expect(code, context).toBe(130);
    expect(out.match(/pantau demo: stopping…/g), context).toHaveLength(1);
    const stops = [...out.matchAll(/pantau demo: (\S+) stopped \(exit (\d+)\)/g)].map((m) => [m[1], Number(m[2])]);
    expect(stops, context).toEqual([['fleet', 0], ['platform', 0], ['InfluxDB', 0]]);
    // the fleet said goodbye on the demo's SIGTERM; nothing took a second signal
    expect(out, context).toContain('terminated: publishing offline and closing');
    expect(out + platformLog, context).not.toMatch(/second signal/);
    expect(platformLog.match(/shutting down/g), context).toHaveLength(1);
    // nothing is left running: the InfluxDB port is free again
    await expect(fetch(`http://127.0.0.1:${influx}/ping`)).rejects.toThrow();
  }, 300_000);
});
