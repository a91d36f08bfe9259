// Open-data export (docs/contract.md §9): `GET /api/v1/export?kind=&city=&district=&from=&to=&every=&agg=` streams CSV of every
// matching device's aggregated readings — `device_id,city,district,ts,<every field of the kind>` — for portals in
// the style of Satu Data Indonesia. Devices one after another, each in pages of 500 windows, read from the
// rollups where they can answer: memory stays constant however long the range or large the fleet.
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { fieldNames, KINDS, type Kind } from '../catalog/index.js';
import { aggregateWindows, isDayWindow, windowStart, type AggregateRequest } from '../history/source.js';
import type { DeviceRecord } from '../registry/registry.js';
import type { ApiContext } from './context.js';
import { csvCell, csvLine } from './csv.js';
import { badRequest, ProblemSchema } from './problem.js';
import { planAggregateOr400 } from './readings.js';
import { visibleTo } from './scope-guard.js';
import { AGGREGATES, isoMs, parseEvery, parseInstant } from './time-range.js';

/** Windows per InfluxDB query (one page). */
export const EXPORT_PAGE_WINDOWS = 500;
/** Windows per device in one export: ten years of hours fit. */
export const EXPORT_MAX_WINDOWS = 100_000;

const ExportQuery = z.strictObject({
  kind: z.enum(KINDS),
  city: z.string().min(1).max(100).optional(),
  district: z.string().min(1).max(100).optional(),
  from: z.string().max(64).optional(),
  to: z.string().max(64).optional(),
  every: z.string().max(16),
  agg: z.enum(AGGREGATES).optional(),
});

export function exportPlugin(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/api/v1/export', {
      config: { role: 'viewer' },
      schema: {
        tags: ['readings'],
        summary: 'Open-data export: aggregated readings of every matching device as a CSV download (streamed)',
        description: 'Header `device_id,city,district,ts,<field>,…` (every field of the kind; empty cells where a window has no value), one row per device and window, devices in id order. `kind` and `every` (≥ 1h) are required; `from` defaults to -30d, `to` to now, `agg` to mean.',
        querystring: ExportQuery,
        response: { 200: z.string().describe('text/csv'), 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema },
      },
    }, async (request, reply) => {
      const q = request.query;
      const now = Date.now();
      const from = parseInstant('from', q.from ?? '-30d', now);
      const to = parseInstant('to', q.to ?? 'now', now);
      if (from > to) throw badRequest(`from: ${isoMs(from)} is after to ${isoMs(to)}`);
      const every = parseEvery(q.every);
      if (every.ms < 3_600_000) throw badRequest(`every: the export's windows are at least 1h, got ${every.text}`);
      const windows = Math.ceil((to - from) / every.ms);
      if (windows > EXPORT_MAX_WINDOWS) {
        throw badRequest(`every: ${every.text} gives ${windows} windows per device between from and to; the limit is ${EXPORT_MAX_WINDOWS} — use a larger every or a shorter range`);
      }
      const agg = q.agg ?? 'mean';
      const devices = ctx.registry.listDevices({ kind: q.kind, city: q.city, district: q.district }).filter((d) => visibleTo(request, d));
      const fields = fieldNames(q.kind);
      // refuse what cannot be answered (median past raw retention) before the first byte is sent
      planAggregateOr400({ kind: q.kind, deviceId: devices[0]?.id ?? '-', fields, every, agg, from, to, now }, ctx.history);

      const rows = exportRows(ctx, q.kind, devices, fields, { every, agg, from, to, now });
      const stream = Readable.from(rows, { objectMode: false, highWaterMark: 64 * 1024 });
      const name = ['pantau', q.kind, q.city, q.district, stamp(from), stamp(to), every.text, agg].filter(Boolean).map((p) => slug(p!)).join('_');
      return reply
        .header('content-disposition', `attachment; filename="${name}.csv"`)
        .header('cache-control', 'no-store')
        .type('text/csv; charset=utf-8')
        .send(stream as never);
    });
  };
}

/** The export's CSV, page by page (also the open-data downloads, api/opendata.ts). */
export async function* exportRows(
  ctx: ApiContext,
  kind: Kind,
  devices: DeviceRecord[],
  fields: string[],
  range: { every: { text: string; ms: number }; agg: string; from: number; to: number; now: number },
): AsyncGenerator<string> {
  yield `device_id,city,district,ts,${fields.join(',')}\n`;
  const timezone = ctx.history?.timezone ?? 'UTC';
  // an export walks years of many devices once: read page by page from InfluxDB, not through (and out of) the cache
  // that keeps the rows interactive queries ask for again and again
  const history = ctx.history ? { ...ctx.history, rowCache: undefined, rawHours: undefined } : undefined;
  for (const device of devices) {
    const prefix = `${csvCell(device.id)},${csvCell(device.city)},${csvCell(device.district)},`;
    let pageFrom = range.from;
    while (pageFrom < range.to) {
      // pages end on window boundaries, so no window is split between two pages
      let pageTo = windowStart(range.every, timezone, windowStart(range.every, timezone, pageFrom) + EXPORT_PAGE_WINDOWS * range.every.ms + (isDayWindow(range.every) ? 12 * 3_600_000 : 0));
      if (pageTo <= pageFrom || pageTo > range.to) pageTo = range.to;
      const req: AggregateRequest = { kind, deviceId: device.id, fields, every: range.every, agg: range.agg, from: pageFrom, to: pageTo, now: range.now };
      const plan = planAggregateOr400(req, history);
      const windows = await aggregateWindows(ctx.influx, req, plan, history);
      let out = '';
      for (const w of windows) out += `${prefix}${csvLine([isoMs(w.ts), ...fields.map((f) => w.values[f])])}\n`;
      if (out) yield out;
      pageFrom = pageTo;
    }
  }
}

function stamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace(/[-:]/g, '');
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'x';
}
