// Printing: one block per scenario as it finishes, and a compact table of all of them at the end.
import { H } from './repeat.js';
import type { ScenarioResult } from './result.js';

const n = (v: number | undefined, digits = 0) => (v === undefined || Number.isNaN(v) ? '–' : Math.round(v * 10 ** digits) / 10 ** digits).toLocaleString('en');

export function formatScenario(r: ScenarioResult, label?: string): string {
  const out: string[] = [`\n== ${r.scenario}: ${r.title}${label ? ` — ${label}` : ''}${r.cpuProfiled ? '  [under the CPU profiler]' : ''}`];
  const ingestLines = (x: ScenarioResult, indent: string) => {
    const f = x.ingest;
    if (!f) return;
    if (f.scheduledPerS !== undefined) {
      const lag = f.scheduleLagMs;
      out.push(`${indent}open loop: ${n(f.scheduledPerS)} readings/s scheduled, ${n(f.offeredPerS)}/s sent · due but not sent ${n(f.notSent)} · generator lag behind schedule ms: p50 ${n(lag?.p50, 1)} · p99 ${n(lag?.p99, 1)} · max ${n(lag?.max, 1)} · generator socket backlog at the end ${n(f.generatorSocketBacklogKiB)} KiB`);
    }
    out.push(`${indent}offered ${n(f.offeredPerS)}/s · acknowledged ${n(f.ackedPerS)}/s · stored ${n(f.storedPerS)}/s over ${n(f.durationS, 1)} s (${f.devices} devices); with the drain ${n(f.storedInclDrainPerS)}/s; spool at the end ${n(f.spoolMiBAtEnd)} MiB`);
    out.push(`${indent}published ${n(f.published)} · acknowledged ${n(f.acked)} · stored ${n(f.stored)} · lost ${n(f.lost)} · unacked ${n(f.unacked)} · rejected ${n(f.rejected)} · skipped ${n(f.skipped)} · disconnects ${f.disconnects} · drain ${n(f.drainS, 1)} s`);
    out.push(`${indent}InfluxDB writer: ${n(f.influxWritesPerS, 1)} requests/s · ${n(f.pointsPerWrite)} points per request · ${n(f.influxWriteMeanMs, 1)} ms mean`);
    out.push(`${indent}platform CPU per stored reading: ${n(f.platformCpuUsPerStored, 1)} µs (platform process tree, every thread, over the window ÷ readings stored in it)${f.gcShare !== undefined ? `; garbage collection ${n(100 * f.gcShare, 1)} % of the platform's CPU (main-thread GC pauses, perf_hooks)` : ''}`);
    out.push(`${indent}publish → PUBACK ms: p50 ${n(f.ackLatencyMs.p50, 1)} · p95 ${n(f.ackLatencyMs.p95, 1)} · p99 ${n(f.ackLatencyMs.p99, 1)} · max ${n(f.ackLatencyMs.max, 1)}`);
  };
  const common = (x: ScenarioResult, indent: string) => {
    if (typeof x.config.backgroundCoresBefore === 'number') out.push(`${indent}background load before the run: ${x.config.backgroundCoresBefore.toFixed(2)} cores busy (machine, /proc/stat)`);
    out.push(`${indent}CPU cores: ${Object.entries(x.cpuCores).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(' · ')}  (machine has 2)`);
    out.push(`${indent}RSS MiB: ${Object.entries(x.rssMiB).map(([k, v]) => `${k} ${n(v)}`).join(' · ')}`);
  };
  if (r.phases && r.phases.length > 0) {
    for (const p of r.phases) {
      out.push(`  -- ${p.scenario}: ${p.title}`);
      ingestLines(p, '     ');
      if (p.extra) out.push(`     ${JSON.stringify(p.extra)}`);
      common(p, '     ');
    }
  } else {
    ingestLines(r, '  ');
    common(r, '  ');
  }
  if (r.queryableLatencyMs) {
    const q = r.queryableLatencyMs;
    out.push(`  publish → ${r.scenario.startsWith('open-') ? 'stored' : 'queryable'} ms: p50 ${n(q.p50)} · p95 ${n(q.p95)} · p99 ${n(q.p99)} · max ${n(q.max)} (${q.count} of ${q.samples} samples seen)`);
  }
  if (r.extra && !(r.phases && r.phases.some((p) => p.extra))) out.push(`  ${JSON.stringify(r.extra)}`);
  else if (r.extra && r.scenario === 'durability-cost') out.push(`  ${JSON.stringify(r.extra)}`);
  for (const t of r.targets) out.push(`  ${t.pass ? 'PASS' : 'MISS'}  ${t.name} ${t.goal}: ${t.value}`);
  for (const note of r.notes) out.push(`  note: ${note}`);
  return out.join('\n');
}

export function formatTable(results: ScenarioResult[]): string {
  const rows: string[][] = [['scenario', 'offered/s', 'acked/s', 'stored/s', 'lost', 'µs/reading', 'latency ms p50/p95/p99', 'CPU plat/influx/gen', 'plat RSS', 'result']];
  const cpu = (r: ScenarioResult) => ['platform', 'influxd', 'generators'].map((k) => (r.cpuCores[k] ?? 0).toFixed(2)).join('/');
  const verdict = (r: ScenarioResult) => (r.targets.length === 0 ? '–' : r.targets.every((t) => t.pass) ? 'PASS' : `MISS (${r.targets.filter((t) => !t.pass).map((t) => t.name).join(', ')})`);
  for (const r of results) {
    if (r.summary && r.runs) {
      // several runs: the medians (min–max in the block above)
      const m = (label: string, digits = 0) => n(r.summary![label]?.median, digits);
      const latency = r.summary[H.e2eP99] ? `e2e ${m(H.e2eP50)}/–/${m(H.e2eP99)}` : `ack –/–/${m(H.ackP99, 1)}`;
      rows.push([`${r.scenario} (median of ${r.runs.length})`, m(H.offered), m(H.acked), m(H.stored), n(r.summary[H.lost]?.max), m(H.cpuUs, 1), latency, cpu(r), `${n(r.rssMiB.platformPeak)} MiB`, verdict(r)]);
      continue;
    }
    const lines = r.phases && r.scenario !== 'api' ? r.phases : [r];
    for (const x of lines) {
      const f = x.ingest;
      let latency = '–';
      if (x.queryableLatencyMs) latency = `e2e ${n(x.queryableLatencyMs.p50)}/${n(x.queryableLatencyMs.p95)}/${n(x.queryableLatencyMs.p99)}`;
      else if (f) latency = `ack ${n(f.ackLatencyMs.p50, 1)}/${n(f.ackLatencyMs.p95, 1)}/${n(f.ackLatencyMs.p99, 1)}`;
      rows.push([
        x.scenario,
        f ? n(f.offeredPerS) : '–',
        f ? n(f.ackedPerS) : '–',
        f ? n(f.storedPerS) : '–',
        f ? n(f.lost) : '–',
        f ? n(f.platformCpuUsPerStored, 1) : '–',
        latency,
        cpu(x),
        `${n(x.rssMiB.platformPeak)} MiB`,
        x === r ? verdict(r) : '',
      ]);
    }
    if (r.phases && r.scenario !== 'api') {
      // a comparison's cost: `durability-cost` one percentage, others (`ack-after-store`) a label of their own
      const e = r.extra as { costAckedPercent?: number; costLabel?: string } | undefined;
      rows.push([r.scenario, '', '', '', '', '', e?.costLabel ?? `cost ${String(e?.costAckedPercent ?? '–')} %`, '', '', verdict(r)]);
    }
    if (r.scenario === 'api' && r.phases) {
      for (const p of r.phases) {
        const e = p.extra as { requestsPerS: number; latencyMs: { p50: number; p90: number; p99: number } };
        rows.push([`  ${p.scenario}`, `${n(e.requestsPerS)} req/s`, '', '', '', '', `http ${e.latencyMs.p50}/p90 ${e.latencyMs.p90}/${e.latencyMs.p99}`, cpu(p), `${n(p.rssMiB.platformPeak)} MiB`, '']);
      }
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows.map((row, j) => row.map((c, i) => (i === 0 || i >= 6 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd() + (j === 0 ? '\n' + widths.map((w) => '-'.repeat(w)).join('  ') : '')).join('\n');
}
