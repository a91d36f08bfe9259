// A real Mosquitto for scale-out and cluster tests, configured never to drop a QoS 1 message it has acknowledged.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { eventually } from './platform.js';
import { freePort } from './ports.js';

const MOSQUITTO = process.env.PANTAU_TEST_MOSQUITTO ?? '/usr/sbin/mosquitto';

export async function startMosquittoServer(dir: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  writeFileSync(join(dir, 'mosquitto.conf'), [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    // no per-session queue limit: the share of a dead worker waits for it instead of being dropped
    'max_queued_messages 0',
    'max_inflight_messages 100',
    // tests run as root; mosquitto would otherwise switch to the (maybe missing) user `mosquitto`
    'user root',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    '',
  ].join('\n'));
  const child = spawn(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`mosquitto exited: ${stderr}`);
    return new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
  }, 10_000, 50);
  return { url: `mqtt://127.0.0.1:${port}`, child };
}
