// CPU and memory of the processes under test, from /proc: utime+stime deltas → cores used over a window, VmRSS
// sampled for the peak. Linux only, which is where the benchmark runs.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process, in seconds; undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after "(comm)": state is field 3, utime 14, stime 15
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/**
 * Seconds the threads of a process spent runnable but waiting for a CPU (run-queue wait, the second field of
 * /proc/<pid>/task/<tid>/schedstat), summed over its live threads; undefined once it is gone. Over a window this
 * is the CPU a process wanted and did not get: contention from everything else on the machine.
 */
export function runQueueWaitSeconds(pid: number): number | undefined {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]) || 0;
      } catch {
        // thread gone meanwhile
      }
    }
    return ns / 1e9;
  } catch {
    return undefined;
  }
}

/** Resident set size in bytes (VmRSS). */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** Every process below `pid` (children, grandchildren …). */
export function descendants(pid: number): number[] {
  const parentOf = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = parentOf.get(ppid) ?? [];
      list.push(Number(name));
      parentOf.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of parentOf.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

const MACHINE_FIELDS = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

/** CPU time of the whole machine by state, in seconds (all cores), from the first line of /proc/stat. */
function machineTimes(): Record<(typeof MACHINE_FIELDS)[number], number> {
  const first = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(MACHINE_FIELDS.map((f, i) => [f, (first[i] ?? 0) / CLK_TCK])) as Record<(typeof MACHINE_FIELDS)[number], number>;
}

export type ProcessGroups = Record<string, () => number[]>;

export interface CpuReport {
  seconds: number;
  /** Cores used per group (1.0 = one core fully busy). */
  cores: Record<string, number>;
  /** Per group: time its threads were runnable but waited for a CPU, per second of the window (in cores). */
  waitCores: Record<string, number>;
  /** Whole machine: cores busy (any process or the kernel; idle, iowait and steal excluded). */
  machineCores: number;
  /** Whole machine by CPU state (cores): user, system, softirq, iowait, steal … */
  machine: Record<string, number>;
}

/** CPU use of named groups of processes between `start()` and `stop()`. */
export class CpuMeter {
  private startAt = 0;
  private startTimes = new Map<number, number>();
  private startWaits = new Map<number, number>();
  private startMachine = machineTimes();

  constructor(private readonly groups: ProcessGroups) {}

  start(): void {
    this.startAt = performance.now();
    this.startTimes.clear();
    this.startWaits.clear();
    for (const pid of this.allPids()) {
      this.startTimes.set(pid, cpuSeconds(pid) ?? 0);
      this.startWaits.set(pid, runQueueWaitSeconds(pid) ?? 0);
    }
    this.startMachine = machineTimes();
  }

  stop(): CpuReport {
    const seconds = (performance.now() - this.startAt) / 1000;
    const cores: Record<string, number> = {};
    const waitCores: Record<string, number> = {};
    for (const [name, pids] of Object.entries(this.groups)) {
      let used = 0;
      let waited = 0;
      for (const pid of pids()) {
        const now = cpuSeconds(pid);
        if (now !== undefined) used += now - (this.startTimes.get(pid) ?? 0);
        const wait = runQueueWaitSeconds(pid);
        if (wait !== undefined) waited += Math.max(0, wait - (this.startWaits.get(pid) ?? 0));
      }
      cores[name] = used / seconds;
      waitCores[name] = waited / seconds;
    }
    const m = machineTimes();
    const machine: Record<string, number> = {};
    for (const f of MACHINE_FIELDS) machine[f] = (m[f] - this.startMachine[f]) / seconds;
    const machineCores = machine.user! + machine.nice! + machine.system! + machine.irq! + machine.softirq!;
    return { seconds, cores, waitCores, machineCores, machine };
  }

  private allPids(): number[] {
    return Object.values(this.groups).flatMap((f) => f());
  }
}

/** Samples the RSS of a few processes every second and keeps the peaks. */
export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  readonly peak: Record<string, number> = {};
  readonly last: Record<string, number> = {};

  constructor(private readonly targets: Record<string, () => number[]>) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), 1000);
    this.timer.unref();
  }

  stop(): void {
    this.sample();
    clearInterval(this.timer);
  }

  private sample(): void {
    for (const [name, pids] of Object.entries(this.targets)) {
      const rss = pids().reduce((n, pid) => n + (rssBytes(pid) ?? 0), 0);
      this.last[name] = rss;
      this.peak[name] = Math.max(this.peak[name] ?? 0, rss);
    }
  }
}

/** Cores busy on the whole machine over `ms`. */
export async function machineBusy(ms = 1000): Promise<number> {
  const meter = new CpuMeter({});
  meter.start();
  await new Promise((r) => setTimeout(r, ms));
  return meter.stop().machineCores;
}

/**
 * Wait (up to `maxWaitMs`) for the machine to be quiet — other work on a shared 2-core machine distorts every
 * figure — and return the background load seen last, in cores.
 */
export async function waitForQuiet(maxWaitMs: number, log: (m: string) => void, threshold = 0.25): Promise<number> {
  const until = Date.now() + maxWaitMs;
  let busy = await machineBusy();
  let logged = false;
  while (busy > threshold && Date.now() < until) {
    if (!logged) log(`machine busy with other work (${busy.toFixed(2)} cores); waiting up to ${Math.round(maxWaitMs / 1000)} s for it to settle…`);
    logged = true;
    busy = await machineBusy(2000);
  }
  if (busy > threshold) log(`WARNING: starting with ${busy.toFixed(2)} cores of background load; figures will be low`);
  return busy;
}
