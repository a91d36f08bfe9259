// `npm run bench`: Pantau's benchmarks on this machine. Each scenario starts its own private InfluxDB and its own
// platform process (as `npm start` runs it), drives it from separate load-generator processes, checks in
// InfluxDB that nothing acknowledged was lost, and reports rates, latencies, CPU per process and memory.
//
//   npm run bench -- [--scenario a,b] [--duration seconds] [--runs n] [--cpu-prof]
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { BenchContext } from './context.js';
import { combineRuns, formatRuns, headlineOf } from './repeat.js';
import { formatScenario, formatTable } from './report.js';
import type { ScenarioResult } from './result.js';
import { RESULTS_DIR } from './paths.js';
import { ackAfterStore } from './scenarios/ack-after-store.js';
import { api } from './scenarios/api.js';
import { connections } from './scenarios/connections.js';
import { consoleScenario } from './scenarios/console.js';
import { deviceImport } from './scenarios/device-import.js';
import { durabilityCost } from './scenarios/durability-cost.js';
import { gateway } from './scenarios/gateway.js';
import { history } from './scenarios/history.js';
import { latency } from './scenarios/latency.js';
import { openBatch, openOverload, openSingle } from './scenarios/open-loop.js';
import { ownerFailover } from './scenarios/owner-failover.js';
import { qos1Single } from './scenarios/qos1-single.js';
import { publicScenario } from './scenarios/public.js';
import type { Scenario } from './scenarios/scenario.js';

const SCENARIOS: Scenario[] = [openSingle, openBatch, openOverload, durabilityCost, ackAfterStore, qos1Single, gateway, latency, connections, api, deviceImport, history, consoleScenario, publicScenario, ownerFailover];

interface Options {
  scenarios: Scenario[];
  durationS: number | undefined;
  /** `--runs`: overrides each scenario's default (3 for the open-loop ones, 1 for the rest). */
  runs: number | undefined;
  cpuProf: boolean;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { scenarios: SCENARIOS, durationS: undefined, runs: undefined, cpuProf: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) usage(`${flag} needs a value`);
      return v!;
    };
    if (flag === '--scenario' || flag === '--scenarios') {
      const names = value().split(',').map((s) => s.trim()).filter(Boolean);
      options.scenarios = names.map((name) => SCENARIOS.find((s) => s.name === name) ?? usage(`unknown scenario "${name}"`));
    } else if (flag === '--duration') {
      const s = Number(value());
      if (!Number.isFinite(s) || s < 1) usage('--duration must be a number of seconds ≥ 1');
      options.durationS = s;
    } else if (flag === '--runs') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) usage('--runs must be a whole number ≥ 1');
      options.runs = n;
    } else if (flag === '--cpu-prof') {
      options.cpuProf = true;
    } else if (flag === '--help' || flag === '-h') {
      usage();
    } else {
      usage(`unknown argument "${argv[i]}"`);
    }
  }
  return options;
}

function usage(problem?: string): never {
  const text = `usage: npm run bench -- [--scenario ${SCENARIOS.map((s) => s.name).join(',')}] [--duration seconds] [--runs n] [--cpu-prof]\n${SCENARIOS.map((s) => `  ${s.name.padEnd(16)} ${s.title}`).join('\n')}\n`;
  if (problem) {
    process.stderr.write(`bench: ${problem}\n${text}`);
    process.exit(2);
  }
  process.stdout.write(text);
  process.exit(0);
}

function machine() {
  let influxd = 'unknown';
  try {
    influxd = execFileSync(process.env.PANTAU_TEST_INFLUXD ?? '/usr/bin/influxd', ['version'], { encoding: 'utf8' }).trim();
  } catch {
    // reported as unknown
  }
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, influxd, kernel: readFileSync('/proc/version', 'utf8').split(' ').slice(0, 3).join(' ') };
}

const options = parseArgs(process.argv.slice(2));
const started = performance.now();
const ctx: BenchContext = {
  cpuProf: options.cpuProf,
  profileDir: join(RESULTS_DIR, 'profiles'),
  durationS: options.durationS,
  adminKey: `bench-admin-${randomBytes(12).toString('hex')}`,
  log: (message) => process.stdout.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}\n`),
};

ctx.log(`scenarios: ${options.scenarios.map((s) => s.name).join(', ')}${options.durationS ? `; duration ${options.durationS} s each` : ''}${options.runs ? `; ${options.runs} run(s) each` : ''}${options.cpuProf ? '; CPU profiler on' : ''}`);
const results: ScenarioResult[] = [];
const failures: string[] = [];
for (const scenario of options.scenarios) {
  try {
    // profiled figures are not the real ones: one profiled run explains a miss, unless --runs asks for more
    const runs = options.runs ?? (options.cpuProf ? 1 : (scenario.defaultRuns ?? 1));
    if (runs === 1 && !scenario.judge) {
      const result = await scenario.run(ctx);
      results.push(result);
      process.stdout.write(formatScenario(result) + '\n\n');
      continue;
    }
    const each: ScenarioResult[] = [];
    for (let i = 1; i <= runs; i++) {
      if (runs > 1) ctx.log(`${scenario.name}: run ${i} of ${runs}`);
      const result = await scenario.run(ctx);
      result.headline ??= headlineOf(result);
      each.push(result);
      process.stdout.write(formatScenario(result, runs > 1 ? `run ${i} of ${runs}` : undefined) + '\n\n');
    }
    const combined = combineRuns(scenario, each);
    results.push(combined);
    process.stdout.write(formatRuns(combined) + '\n\n');
  } catch (err) {
    failures.push(`${scenario.name}: ${(err as Error).stack ?? String(err)}`);
    ctx.log(`scenario ${scenario.name} failed: ${(err as Error).message}`);
  }
}

process.stdout.write(`\n${formatTable(results)}\n`);
for (const f of failures) process.stdout.write(`\nFAILED ${f}\n`);

mkdirSync(RESULTS_DIR, { recursive: true });
// Profiled runs are slower; their figures go to a file of their own so they never replace the real ones.
const file = join(RESULTS_DIR, options.cpuProf ? 'latest-cpu-prof.json' : 'latest.json');
let previous: { scenarios?: Record<string, ScenarioResult> } = {};
if (existsSync(file)) {
  try {
    previous = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    // unreadable: start over
  }
}
const scenarios: Record<string, ScenarioResult> = { ...(previous.scenarios ?? {}) };
const command = ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
for (const r of results) scenarios[r.scenario] = { ...r, config: { ...r.config, command } };
writeFileSync(file, JSON.stringify({ command, updatedAt: new Date().toISOString(), machine: machine(), scenarios }, null, 2) + '\n');
ctx.log(`figures written to ${file.replace(process.cwd() + '/', '')} (${((performance.now() - started) / 60_000).toFixed(1)} min in all)`);
process.exit(failures.length > 0 ? 1 : 0);
