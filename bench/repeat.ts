// `--runs N`: a scenario run N times from nothing, each headline figure reported as the median of the runs with
// the lowest and highest value, and the machine's background load beside each run (a shared machine makes single
// runs noisy; the median of 3 is what the targets are judged on).
import type { ScenarioResult, RunSummary, Target } from './result.js';
import type { Scenario } from './scenarios/scenario.js';

/** Headline labels, in print order; the units are in the label. */
export const H = {
  offered: 'offered/s',
  acked: 'acknowledged/s',
  stored: 'stored/s',
  e2eP50: 'publish → stored p50 ms',
  e2eP99: 'publish → stored p99 ms',
  e2eMax: 'publish → stored max ms',
  e2eMissing: 'probed readings never seen',
  lost: 'lost',
  cpuUs: 'platform CPU µs per stored reading',
  gcShare: 'GC share of platform CPU %',
  rssPeak: 'platform peak RSS MiB',
  platformCores: 'platform cores',
  ackP99: 'publish → PUBACK p99 ms',
  lagP99: 'generator schedule lag p99 ms',
  notSent: 'due but not sent',
  background: 'background cores before the run',
  unattributed: 'unattributed cores in the window',
  platformWait: 'platform run-queue wait cores',
} as const;

/** The figures compared across runs, from one run's result. */
export function headlineOf(r: ScenarioResult): Record<string, number> {
  const out: Record<string, number> = {};
  const f = r.ingest;
  if (f) {
    out[H.offered] = f.offeredPerS;
    out[H.acked] = f.ackedPerS;
    out[H.stored] = f.storedPerS;
  }
  const q = r.queryableLatencyMs;
  if (q) {
    out[H.e2eP50] = q.p50;
    out[H.e2eP99] = q.p99;
    out[H.e2eMax] = q.max;
    out[H.e2eMissing] = q.missing;
  }
  if (f) {
    out[H.lost] = f.lost;
    out[H.cpuUs] = f.platformCpuUsPerStored;
    if (f.gcShare !== undefined) out[H.gcShare] = 100 * f.gcShare;
  }
  if (r.rssMiB.platformPeak !== undefined) out[H.rssPeak] = r.rssMiB.platformPeak;
  if (r.cpuCores.platform !== undefined) out[H.platformCores] = r.cpuCores.platform;
  if (f) out[H.ackP99] = f.ackLatencyMs.p99;
  if (f?.scheduleLagMs) out[H.lagP99] = f.scheduleLagMs.p99;
  if (f?.notSent !== undefined) out[H.notSent] = f.notSent;
  const bg = r.config.backgroundCoresBefore;
  if (typeof bg === 'number') out[H.background] = bg;
  if (r.cpuCores.unattributed !== undefined) out[H.unattributed] = r.cpuCores.unattributed;
  if (r.cpuCores.platformRunQueueWait !== undefined) out[H.platformWait] = r.cpuCores.platformRunQueueWait;
  return out;
}

export function median(values: number[]): number {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export function summarise(runs: ScenarioResult[]): RunSummary {
  const summary: RunSummary = {};
  const labels = [...new Set(runs.flatMap((r) => Object.keys(r.headline ?? {})))];
  for (const label of labels) {
    const values = runs.map((r) => r.headline?.[label] ?? NaN);
    const real = values.filter((x) => !Number.isNaN(x));
    summary[label] = { median: median(values), min: real.length ? Math.min(...real) : NaN, max: real.length ? Math.max(...real) : NaN, values };
  }
  return summary;
}

/**
 * One result for N runs: the summary, the runs themselves, and the targets — judged on the medians by the
 * scenario's `judge` when it has one, otherwise a target passes only when it passed in every run.
 */
export function combineRuns(scenario: Scenario, runs: ScenarioResult[]): ScenarioResult {
  const summary = summarise(runs);
  const first = runs[0]!;
  let targets: Target[];
  if (scenario.judge) {
    targets = scenario.judge(summary, runs);
  } else {
    const names = [...new Set(runs.flatMap((r) => r.targets.map((t) => t.name)))];
    targets = names.map((name) => {
      const each = runs.map((r) => r.targets.find((t) => t.name === name));
      return { name, goal: each.find(Boolean)!.goal, value: each.map((t, i) => `run ${i + 1}: ${t?.value ?? '–'}`).join(' | '), pass: each.every((t) => t?.pass) };
    });
  }
  return {
    scenario: first.scenario,
    title: first.title,
    startedAt: first.startedAt,
    cpuProfiled: first.cpuProfiled,
    config: { ...first.config, runs: runs.length, backgroundCoresBefore: runs.map((r) => r.config.backgroundCoresBefore) },
    // the run whose stored/s is the median stands for the scenario where a single set of figures is needed
    ingest: medianRun(runs).ingest,
    queryableLatencyMs: medianRun(runs).queryableLatencyMs,
    cpuCores: medianRun(runs).cpuCores,
    rssMiB: Object.fromEntries(Object.keys(first.rssMiB).map((k) => [k, Math.max(...runs.map((r) => r.rssMiB[k] ?? 0))])),
    targets,
    notes: runs.flatMap((r, i) => r.notes.map((n) => (runs.length > 1 ? `run ${i + 1}: ${n}` : n))),
    runs,
    summary,
  };
}

function medianRun(runs: ScenarioResult[]): ScenarioResult {
  const sorted = [...runs].sort((a, b) => (a.ingest?.storedPerS ?? 0) - (b.ingest?.storedPerS ?? 0));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** "19,990 (median of 3; 19,900–20,010)". */
export function describe(summary: RunSummary, label: string, digits = 0): string {
  const s = summary[label];
  if (!s) return '–';
  if (s.values.length === 1 || Number.isNaN(s.min)) return fmt(s.median, digits);
  return `${fmt(s.median, digits)} (median of ${s.values.length}; ${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}

export function fmt(v: number, digits = 0): string {
  if (v === undefined || Number.isNaN(v)) return '–';
  return v.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Digits worth printing for a headline figure. */
export function digitsOf(label: string): number {
  if (label.includes('cores')) return 2;
  if (label.includes('µs') || label.includes('PUBACK') || label.includes('lag')) return 1;
  return 0;
}

/** The block printed after the runs: one line per run with its background load, then median [min–max] per figure. */
export function formatRuns(r: ScenarioResult): string {
  const runs = r.runs ?? [];
  const summary = r.summary ?? {};
  const out: string[] = [`\n== ${r.scenario}: ${r.title}${r.cpuProfiled ? '  [under the CPU profiler]' : ''} — ${runs.length} run${runs.length === 1 ? '' : 's'}`];
  runs.forEach((run, i) => {
    const h = run.headline ?? {};
    const parts = [
      `offered ${fmt(h[H.offered]!)}/s`,
      `acked ${fmt(h[H.acked]!)}/s`,
      `stored ${fmt(h[H.stored]!)}/s`,
      h[H.e2eP99] !== undefined ? `stored p50/p99/max ${fmt(h[H.e2eP50]!)}/${fmt(h[H.e2eP99]!)}/${fmt(h[H.e2eMax]!)} ms` : undefined,
      `lost ${fmt(h[H.lost]!)}`,
      `${fmt(h[H.cpuUs]!, 1)} µs CPU/reading`,
      h[H.gcShare] !== undefined ? `GC ${fmt(h[H.gcShare]!, 1)} %` : undefined,
      h[H.rssPeak] !== undefined ? `RSS peak ${fmt(h[H.rssPeak]!)} MiB` : undefined,
      `PUBACK p99 ${fmt(h[H.ackP99]!, 1)} ms`,
      h[H.lagP99] !== undefined ? `lag p99 ${fmt(h[H.lagP99]!, 1)} ms` : undefined,
    ].filter(Boolean);
    const platformWait = h[H.platformWait] !== undefined ? `, platform waited ${fmt(h[H.platformWait]!, 2)} cores for a CPU` : '';
    out.push(`  run ${i + 1}: background ${fmt(h[H.background]!, 2)} cores before, ${fmt(h[H.unattributed]!, 2)} unattributed in the window${platformWait} · ${parts.join(' · ')}`);
  });
  const width = Math.max(...Object.keys(summary).map((k) => k.length));
  out.push(runs.length > 1 ? `  median of ${runs.length} runs [min–max]:` : '  figures:');
  for (const [label, s] of Object.entries(summary)) {
    const d = digitsOf(label);
    const range = Number.isNaN(s.min) ? '[–]' : `[${fmt(s.min, d)}–${fmt(s.max, d)}]`;
    out.push(`    ${label.padEnd(width)}  ${fmt(s.median, d).padStart(9)}${runs.length > 1 ? `  ${range}` : ''}`);
  }
  for (const t of r.targets) out.push(`  ${t.pass ? 'PASS' : 'MISS'}  ${t.name} ${t.goal}: ${t.value}`);
  for (const note of r.notes) out.push(`  note: ${note}`);
  return out.join('\n');
}
