// What every scenario gets from the orchestrator: options from the command line and a place to log.
export interface BenchContext {
  /** Start the platform under the V8 CPU profiler (`--cpu-prof`). */
  cpuProf: boolean;
  /** Where profiles go (bench/results/profiles). */
  profileDir: string;
  /** `--duration`: seconds for every timed phase, overriding each scenario's default. */
  durationS: number | undefined;
  adminKey: string;
  log(message: string): void;
}

export const seconds = (ctx: BenchContext, fallback: number) => (ctx.durationS ?? fallback) * 1000;
