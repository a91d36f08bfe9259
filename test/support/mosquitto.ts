// A real Mosquitto for scale-out and cluster tests, configured never to drop a QoS 1 message it has acknowledged.
// With `dynsec`, it loads the dynamic security plugin (an admin account that may send it commands) and logs its
// other clients in from a password file the test sets (`setPasswords`), as a deployment's password file would.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import mqtt from 'mqtt';
import { join } from 'node:path';
import { eventually } from './platform.js';
import { freePort } from './ports.js';

const MOSQUITTO = process.env.PANTAU_TEST_MOSQUITTO ?? '/usr/sbin/mosquitto';
const DYNSEC_PLUGIN = process.env.PANTAU_TEST_MOSQUITTO_DYNSEC ?? '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so';

export interface MosquittoServer {
  url: string;
  child: ChildProcess;
  /** `dynsec` only: the password file's accounts (username → password), in force once this resolves. */
  setPasswords(passwords: Record<string, string>): Promise<void>;
}

export interface MosquittoOptions {
  dynsec?: { username: string; password: string };
  /** Messages in flight per client at once (default here 100; Mosquitto's own default is 20). */
  maxInflight?: number;
  /** Messages a session may queue (default here 0 = no limit; Mosquitto's own default 1000 drops beyond it). */
  maxQueued?: number;
  /** Seconds between `$SYS` updates (Mosquitto's default 10), e.g. 1 to watch `$SYS/broker/store/messages/count`. */
  sysInterval?: number;
}

export async function startMosquittoServer(dir: string, options: MosquittoOptions = {}): Promise<MosquittoServer> {
  const port = await freePort();
  const passwordFile = join(dir, 'passwords');
  const dynsec = options.dynsec
    ? (() => {
        writeFileSync(passwordFile, '');
        execFileSync('mosquitto_ctrl', ['dynsec', 'init', join(dir, 'dynsec.json'), options.dynsec.username, options.dynsec.password], { stdio: 'ignore' });
        return ['allow_anonymous false', `password_file ${passwordFile}`, `plugin ${DYNSEC_PLUGIN}`, `plugin_opt_config_file ${join(dir, 'dynsec.json')}`];
      })()
    : ['allow_anonymous true'];
  writeFileSync(join(dir, 'mosquitto.conf'), [
    `listener ${port} 127.0.0.1`,
    ...dynsec,
    'persistence false',
    // no per-session queue limit: the share of a dead worker waits for it instead of being dropped
    `max_queued_messages ${options.maxQueued ?? 0}`,
    `max_inflight_messages ${options.maxInflight ?? 100}`,
    ...(options.sysInterval !== undefined ? [`sys_interval ${options.sysInterval}`] : []),
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
  const url = `mqtt://127.0.0.1:${port}`;
  return {
    url,
    child,
    async setPasswords(passwords) {
      writeFileSync(passwordFile, Object.entries(passwords).map(([u, p]) => `${u}:${p}\n`).join(''));
      execFileSync('mosquitto_passwd', ['-U', passwordFile]);
      child.kill('SIGHUP');
      // the reload is asynchronous: in force once the last account logs in
      const [username, password] = Object.entries(passwords).at(-1) ?? [];
      if (username === undefined) return;
      await eventually(() => canLogIn(url, username, password!), 10_000, 50);
    },
  };
}

function canLogIn(url: string, username: string, password: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = mqtt.connect(url, { username, password, clientId: `probe-${process.pid}-${Date.now()}`, reconnectPeriod: 0, connectTimeout: 2000 });
    const done = (ok: boolean) => (c.end(true), resolve(ok));
    c.once('connect', () => done(true));
    c.once('error', () => done(false));
    c.once('close', () => done(false));
  });
}
