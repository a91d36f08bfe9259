// A private PostgreSQL server for a test run: Debian's server binaries (/usr/lib/postgresql/<version>/bin), a
// fresh cluster (initdb) in a temp dir, on a free port of 127.0.0.1, trust auth for the user `pantau`.
// PostgreSQL refuses to run as root: as root (CI) the cluster belongs to the `postgres` user and the commands run
// through `runuser -u postgres --`.
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

const run = promisify(execFile);

export interface PostgresServer {
  url: string;
  port: number;
  /** Stop (fast shutdown: clients are disconnected) and start again on the same port and data. */
  restart(downMs?: number): Promise<void>;
  /** Stop the server, keeping its data (start() brings it back). */
  down(): Promise<void>;
  start(): Promise<void>;
  /** Stop for good and remove the data. */
  stop(): Promise<void>;
  /** Run SQL as the superuser (psql), for assertions. */
  sql(text: string): Promise<string>;
}

export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)');
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'pantau-pg-'));
  const data = join(dir, 'data');
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const as = (cmd: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]) : run(join(bin, cmd), args));
  await as('initdb', ['-D', data, '-U', 'pantau', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  const start = async () => {
    await as('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '30', 'start', '-o',
      `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c synchronous_commit=off -c max_connections=200`]);
  };
  const stop = async () => {
    await as('pg_ctl', ['-D', data, '-w', '-t', '30', '-m', 'fast', 'stop']).catch(() => undefined);
  };
  await start();
  const sql = async (text: string) => (await as('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'pantau', '-d', 'postgres', '-At', '-c', text])).stdout;
  return {
    url: `postgres://pantau@127.0.0.1:${port}/postgres`,
    port,
    start,
    down: stop,
    stop: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    async restart(downMs = 0) {
      await stop();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
    sql,
  };
}
