// Summary of a V8 .cpuprofile (what `node --cpu-prof` writes): self time aggregated by function name + script,
// and by package/folder, so a bottleneck can be named without opening DevTools.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './paths.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  where: string;
  selfMs: number;
  /** Share of all samples, idle included. */
  percent: number;
  /** Share of the samples where the process was not idle. */
  percentBusy: number;
}

export interface ProfileSummary {
  file: string;
  /** The thread of the profiled process: 0 is the main thread. */
  thread?: number;
  /** The samples summarised: the measured window only, when one was given. */
  window: 'measured' | 'whole process';
  totalMs: number;
  idleMs: number;
  top: ProfileEntry[];
  byArea: Array<{ area: string; selfMs: number; percentBusy: number }>;
}

const IDLE = new Set(['(idle)']);

/**
 * `window`: only samples between these instants, in µs of CLOCK_MONOTONIC — the clock of the profile's timestamps
 * and of `process.hrtime` in any process on the machine — so the platform's start-up and the drain can be left out.
 */
export function summariseProfile(file: string, topN = 15, window?: { fromUs: number; toUs: number }): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  // timeDeltas[i] is the time since the previous sample; it belongs to the sample before it
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (window && (at < window.fromUs || at > window.toUs)) continue;
    const delta = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + delta);
  }
  const entries = new Map<string, { name: string; where: string; us: number }>();
  const areas = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of self) {
    const frame = byId.get(id)!.callFrame;
    const name = frame.functionName || '(anonymous)';
    const where = shortUrl(frame.url);
    totalUs += us;
    if (IDLE.has(name)) idleUs += us;
    const key = `${name}\u0000${where}`;
    const e = entries.get(key) ?? { name, where, us: 0 };
    e.us += us;
    entries.set(key, e);
    if (!IDLE.has(name)) {
      const area = areaOf(name, frame.url);
      areas.set(area, (areas.get(area) ?? 0) + us);
    }
  }
  const busyUs = Math.max(1, totalUs - idleUs);
  const top = [...entries.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, topN)
    .map((e) => ({
      name: e.name,
      where: e.where,
      selfMs: e.us / 1000,
      percent: (100 * e.us) / Math.max(1, totalUs),
      percentBusy: IDLE.has(e.name) ? NaN : (100 * e.us) / busyUs,
    }));
  const byArea = [...areas.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 15)
    .map(([area, us]) => ({ area, selfMs: us / 1000, percentBusy: (100 * us) / busyUs }));
  return { file, window: window ? 'measured' : 'whole process', totalMs: totalUs / 1000, idleMs: idleUs / 1000, top, byArea };
}

function shortUrl(url: string): string {
  if (!url) return '';
  return url.replace(`file://${ROOT}/`, '').replace(/^file:\/\//, '');
}

/** node_modules/<package>, a folder of this repository, node:internal, or a V8 pseudo-frame. */
function areaOf(name: string, url: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const short = shortUrl(url);
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(short);
  if (nm) return nm[1]!;
  if (short.startsWith('node:')) return 'node: ' + short.replace(/^node:(internal\/)?/, '').split('/')[0];
  return short.split('/')[0]! + '/';
}

export function formatProfile(summary: ProfileSummary): string {
  const thread = summary.thread === undefined ? '' : summary.thread === 0 ? ' main thread' : ` thread ${summary.thread}`;
  const lines = [`CPU profile${thread} ${shortUrl('file://' + summary.file)} (${summary.window}): ${(summary.totalMs / 1000).toFixed(1)} s sampled, ${((100 * summary.idleMs) / summary.totalMs).toFixed(1)} % idle`];
  lines.push('  top self time (function — script): % of samples / % of busy samples');
  for (const e of summary.top) {
    lines.push(`  ${e.percent.toFixed(1).padStart(5)} % ${Number.isNaN(e.percentBusy) ? '      ' : `${e.percentBusy.toFixed(1).padStart(5)} %`}  ${e.name}  ${e.where}`);
  }
  lines.push('  self time by area (% of busy samples):');
  lines.push('  ' + summary.byArea.map((a) => `${a.area} ${a.percentBusy.toFixed(1)}%`).join(', '));
  return lines.join('\n');
}

/** Now, in µs of CLOCK_MONOTONIC (the clock of .cpuprofile timestamps). */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * The profiles `--cpu-prof` wrote for every thread of process `pid` other than the main one (worker threads;
 * under `--import tsx` thread 1 is the module loader's), largest first per thread.
 * Names are CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile.
 */
export function otherThreadProfiles(dir: string, pid: number): Array<{ thread: number; file: string }> {
  const byThread = new Map<number, { file: string; size: number }>();
  for (const name of readdirSync(dir)) {
    const m = /^CPU\.\d+\.\d+\.(\d+)\.(\d+)\.\d+\.cpuprofile$/.exec(name);
    if (!m || Number(m[1]) !== pid || Number(m[2]) === 0) continue;
    const file = join(dir, name);
    const size = statSync(file).size;
    const thread = Number(m[2]);
    if (size > (byThread.get(thread)?.size ?? -1)) byThread.set(thread, { file, size });
  }
  return [...byThread.entries()].sort((a, b) => a[0] - b[0]).map(([thread, { file }]) => ({ thread, file }));
}
