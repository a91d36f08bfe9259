// What a scenario is, and the pieces of a result every ingest scenario shares.
import type { BenchContext } from '../context.js';
import type { IngestFigures, RunSummary, ScenarioResult, Target } from '../result.js';
import type { CpuReport } from '../proc-stats.js';
import type { IngestRunResult } from './ingest-run.js';

export interface Scenario {
  name: string;
  title: string;
  /** How many times the scenario runs when `--runs` is not given (1 when unset). */
  defaultRuns?: number;
  run(ctx: BenchContext): Promise<ScenarioResult>;
  /** Targets judged on the medians of several runs; without it, a target passes when it passed in every run. */
  judge?(summary: RunSummary, runs: ScenarioResult[]): Target[];
}

export function fromIngestRun(name: string, title: string, ctx: BenchContext, config: Record<string, unknown>, run: IngestRunResult): ScenarioResult {
  const cores = cpuCores(run.cpu);
  const notes: string[] = [];
  if (isDisturbed(run)) {
    notes.push(`DISTURBED: ${cores.unattributed} cores of the machine went to work outside the measured processes during the window (others' jobs on this machine); the rates are low by about that much`);
  }
  const f = run.figures;
  if (f.spoolMiBAtEnd >= 50) {
    const perS = f.spoolMiBAtEnd / f.durationS;
    notes.push(`the spool grew ${perS.toFixed(1)} MiB/s (${f.spoolMiBAtEnd} MiB at the end): InfluxDB got ${Math.round(f.storedPerS)} readings/s while ${Math.round(f.ackedPerS)}/s were acknowledged; at the default 1 GiB budget (PANTAU_SPOOL_MAX_BYTES) acknowledgements would start waiting after about ${Math.round(1024 / perS)} s of this load`);
  }
  return {
    scenario: name,
    title,
    startedAt: new Date().toISOString(),
    cpuProfiled: ctx.cpuProf,
    config: { ...config, platformStartS: round(run.startMs / 1000, 1), connectS: round(run.connect.ms / 1000, 1), connected: run.connect.connected, connectFailed: run.connect.failed, backgroundCoresBefore: round(run.backgroundCores, 2) },
    ingest: run.figures,
    cpuCores: cores,
    rssMiB: Object.fromEntries(Object.entries(run.rssMiB).map(([k, v]) => [k, round(v, 0)])),
    targets: [],
    notes,
    profile: run.profile,
    ...(run.threadProfiles?.length ? { threadProfiles: run.threadProfiles } : {}),
  };
}

/** Every acknowledged reading is in InfluxDB. */
export function zeroLoss(f: IngestFigures): Target {
  return { name: 'zero loss', goal: 'stored ≥ acknowledged', value: `${f.lost} lost of ${f.acked} acknowledged (${f.stored} stored)`, pass: f.lost === 0 && f.acked > 0 };
}

/**
 * Sustained = what is both acknowledged and stored per second within the window; readings that pile up in the
 * spool do not count — at that rate the spool reaches its budget and acknowledgements wait.
 */
export function sustainedRate(f: IngestFigures, goal: number): Target {
  const sustained = Math.min(f.ackedPerS, f.storedPerS);
  return { name: 'sustained readings/s', goal: `≥ ${goal.toLocaleString('en')}`, value: `${Math.round(sustained).toLocaleString('en')} (acked ${Math.round(f.ackedPerS).toLocaleString('en')}, stored ${Math.round(f.storedPerS).toLocaleString('en')})`, pass: sustained >= goal };
}

export function round(n: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Cores per process group, the machine's busy cores, and what no measured process accounts for (kernel work
 * such as loopback TCP and fsync, and any other process on the machine). */
export function cpuCores(cpu: CpuReport): Record<string, number> {
  const measured = Object.values(cpu.cores).reduce((a, b) => a + b, 0);
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(cpu.cores)) out[k] = round(v, 2);
  // runnable but not running: the CPU each group wanted and did not get (contention on the machine)
  for (const k of ['platform', 'influxd', 'generators']) if (cpu.waitCores?.[k] !== undefined) out[`${k}RunQueueWait`] = round(cpu.waitCores[k]!, 2);
  out.machine = round(cpu.machineCores, 2);
  out.unattributed = round(Math.max(0, cpu.machineCores - measured), 2);
  out.machineSystem = round((cpu.machine.system ?? 0) + (cpu.machine.irq ?? 0) + (cpu.machine.softirq ?? 0), 2);
  out.machineSoftirq = round(cpu.machine.softirq ?? 0, 2);
  out.steal = round(cpu.machine.steal ?? 0, 2);
  out.iowait = round(cpu.machine.iowait ?? 0, 2);
  return out;
}

/** Background work took a noticeable share of the 2 cores during the measured window. */
export function isDisturbed(run: Pick<IngestRunResult, 'cpu'>): boolean {
  return cpuCores(run.cpu).unattributed! > DISTURBED_CORES;
}

/** Unattributed cores above which a window counts as disturbed (kernel work alone stays well below). */
export const DISTURBED_CORES = 0.3;
