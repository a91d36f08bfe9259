// One simulator per state directory: two would share client ids (kicking each other off the broker) and write
// the same outgoing stores. The lock is a pid file; a stale one (its process is gone) is taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class StateDirBusyError extends Error {}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Take the state directory for this process; returns the release function. */
export function lockStateDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'simulator.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      let released = false;
      return () => {
        if (released) return;
        released = true;
        rmSync(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(pid) && pid !== process.pid && alive(pid)) {
        throw new StateDirBusyError(
          `another simulator (pid ${pid}) uses the state directory ${dir}; stop it or pass a different --state-dir`,
        );
      }
      rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  throw new StateDirBusyError(`could not lock the state directory ${dir}`);
}
