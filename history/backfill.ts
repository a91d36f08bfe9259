// Backfill: rollups for history that predates them (`npm run rollups -- --from 2025-01-01`, and at the first start
// on a database that already holds readings). It walks local days a week at a time, every kind at once (one query
// per kind and week), and records how far it got after each week, so an interrupted backfill resumes there.
import { KINDS } from '../catalog/index.js';
import { quoteIdentifier, type InfluxClient } from '../influx/client.js';
import type { RollupState } from './dirty.js';
import type { RollupComputer } from './rollup.js';
import { dayStart, nextDayStart } from '../catalog/time.js';

export interface BackfillPlan {
  from: number;
  to: number;
  /** Where to continue (a local midnight); equals `to` when finished. */
  next: number;
}

export interface BackfillProgress {
  done: number;
  total: number;
  /** Raw readings rolled up so far (this run). */
  readings: number;
  rows: number;
  elapsedMs: number;
  /** Span done by this run (a resumed run starts part-way). */
  doneThisRun: number;
  at: number;
}

const STATE_KEY = 'backfill';
const CHUNK_DAYS = 7;

export function savedPlan(state: RollupState): BackfillPlan | undefined {
  const text = state.get(STATE_KEY);
  if (!text) return undefined;
  try {
    const p = JSON.parse(text) as BackfillPlan;
    return Number.isFinite(p.from) && Number.isFinite(p.to) && Number.isFinite(p.next) ? p : undefined;
  } catch {
    return undefined;
  }
}

/** A new plan, or the saved one when it covers the same range and is unfinished (resume). */
export function planBackfill(state: RollupState, from: number, to: number, timezone: string): { plan: BackfillPlan; resumed: boolean } {
  const start = dayStart(timezone, from);
  const saved = savedPlan(state);
  if (saved && saved.from === start && saved.next < saved.to && saved.to >= to - 86_400_000) return { plan: saved, resumed: true };
  const plan = { from: start, to, next: start };
  state.set(STATE_KEY, JSON.stringify(plan));
  return { plan, resumed: false };
}

export async function runBackfill(options: {
  computer: RollupComputer;
  state: RollupState;
  timezone: string;
  plan: BackfillPlan;
  onProgress?: (p: BackfillProgress) => void;
  shouldStop?: () => boolean;
}): Promise<BackfillProgress> {
  const { computer, state, timezone, plan } = options;
  const started = performance.now();
  const progress: BackfillProgress = { done: plan.next - plan.from, total: plan.to - plan.from, readings: 0, rows: 0, elapsedMs: 0, doneThisRun: 0, at: plan.next };
  const startDone = progress.done;
  while (plan.next < plan.to && !options.shouldStop?.()) {
    let end = plan.next;
    for (let i = 0; i < CHUNK_DAYS && end < plan.to; i++) end = nextDayStart(timezone, end);
    for (const kind of KINDS) {
      const h = await computer.hours(kind, plan.next, end);
      const d = await computer.days(kind, plan.next, end);
      progress.readings += h.readings;
      progress.rows += h.rows + d.rows;
    }
    plan.next = Math.min(end, plan.to);
    state.set(STATE_KEY, JSON.stringify(plan));
    progress.done = plan.next - plan.from;
    progress.doneThisRun = progress.done - startDone;
    progress.at = plan.next;
    progress.elapsedMs = performance.now() - started;
    options.onProgress?.({ ...progress });
  }
  progress.elapsedMs = performance.now() - started;
  return progress;
}

/** Time of the oldest raw reading of any kind, or null when there is none. */
export async function oldestReading(influx: InfluxClient): Promise<number | null> {
  let oldest: number | null = null;
  for (const kind of KINDS) {
    const series = await influx.query(`SELECT * FROM ${quoteIdentifier(kind)} ORDER BY time ASC LIMIT 1`);
    const t = series[0]?.values[0]?.[0];
    if (typeof t === 'number' && (oldest === null || t < oldest)) oldest = t;
  }
  return oldest;
}

/** `[#########.........] 47%  2025-06-12  1,234,567 readings  412,000/s  ETA 1 min`. */
export function progressLine(p: BackfillProgress, timezone: string): string {
  const fraction = p.total > 0 ? p.done / p.total : 1;
  const width = 30;
  const filled = Math.round(fraction * width);
  const rate = p.elapsedMs > 0 ? (p.readings * 1000) / p.elapsedMs : 0;
  const etaS = p.doneThisRun > 0 && p.done < p.total ? ((p.elapsedMs / 1000) * (p.total - p.done)) / p.doneThisRun : 0;
  const day = new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(p.at));
  const eta = etaS > 0 ? `  ETA ${etaS >= 90 ? `${Math.round(etaS / 60)} min` : `${Math.round(etaS)} s`}` : '';
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor(fraction * 100).toString().padStart(3)}%  ${day}  ${p.readings.toLocaleString('en')} readings  ${Math.round(rate).toLocaleString('en')}/s${eta}`;
}
