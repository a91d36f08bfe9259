// Readings (docs/contract.md §5): `latest` with indices, raw readings with cursor paging, aggregated windows, CSV, and the
// rejections of a device. Every parameter is parsed to a number or a whitelisted word before it is used; values
// go to InfluxDB as bound parameters.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { fieldNames, type Kind } from '../catalog/index.js';
import { InfluxUnavailableError, quoteIdentifier } from '../influx/client.js';
import { DeviceIdSchema } from '../registry/device.js';
import type { DeviceRecord } from '../registry/registry.js';
import type { ApiContext } from './context.js';
import { csvLine, wantsCsv } from './csv.js';
import { badRequest, HttpProblem, notFound, ProblemSchema } from './problem.js';
import { AGGREGATES, isoMs, parseEvery, parseInstant } from './time-range.js';
import { AggregateRefused, aggregateWindows, planAggregate, type AggregateRequest, type AggregateTiming, type HistorySettings, type Plan } from '../history/source.js';

/** InfluxDB slow or away: 503 with Retry-After, not an internal error. */
export function unavailable(err: unknown): never {
  if (err instanceof InfluxUnavailableError) throw new HttpProblem(503, `InfluxDB could not answer: ${err.message}`, 'unavailable', { 'retry-after': '10' });
  throw err;
}

/** The source of an aggregated answer (docs/contract.md §9); a refusal (median/last past raw retention) is a 400. */
export function planAggregateOr400(req: AggregateRequest, history: HistorySettings | undefined): Plan {
  try {
    return planAggregate(req, history);
  } catch (err) {
    if (err instanceof AggregateRefused) throw badRequest(err.message);
    throw err;
  }
}

const IdParams = z.object({ id: DeviceIdSchema });
const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema, 503: ProblemSchema };
const MAX_RAW = 10_000;
const MAX_WINDOWS = 10_000;

const Point = z.object({ ts: z.string(), values: z.record(z.string(), z.number()) });
const ReadingsAnswer = z.object({
  deviceId: z.string(),
  kind: z.string(),
  from: z.string(),
  to: z.string(),
  every: z.string().nullable(),
  agg: z.string().nullable(),
  source: z.enum(['raw', '1h', '1d']),
  points: z.array(Point),
  next: z.string().optional(),
});

const ReadingsQuery = z.strictObject({
  from: z.string().max(64).optional(),
  to: z.string().max(64).optional(),
  fields: z.string().max(1000).optional(),
  every: z.string().max(16).optional(),
  agg: z.enum(AGGREGATES).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_RAW).optional(),
  cursor: z.string().max(200).optional(),
});

/**
 * Aggregated answers for one second. Wall screens and dashboards poll the same "last 24 h, hourly" query many
 * times a second; with relative times resolved against a clock rounded to the second, those requests are one
 * InfluxDB query. Raw readings are never cached (paging must see every point).
 */
type Windows = Array<{ ts: number; values: Record<string, number> }>;

class AggregateCache {
  private readonly entries = new Map<string, { at: number; series: Promise<Windows> }>();

  get(key: string, now: number, run: () => Promise<Windows>): Promise<Windows> {
    const hit = this.entries.get(key);
    if (hit && now - hit.at < 1000) return hit.series;
    if (this.entries.size > 2000) {
      for (const [k, e] of this.entries) if (now - e.at >= 1000) this.entries.delete(k);
      if (this.entries.size > 2000) this.entries.clear();
    }
    const series = run();
    this.entries.set(key, { at: now, series });
    series.catch(() => this.entries.delete(key));
    return series;
  }
}

export function readingsPlugin(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    const { registry, influx, latest } = ctx;
    const aggregates = new AggregateCache();

    // a device created through another node a moment ago is read from the shared registry
    const requireDevice = async (id: string): Promise<DeviceRecord> => {
      const device = await registry.lookupDevice(id);
      if (!device) throw notFound(`device ${id} does not exist`);
      return device;
    };

    app.get('/api/v1/devices/:id/latest', {
      config: { role: 'viewer' },
      schema: {
        tags: ['readings'],
        summary: 'Newest reading of a device, with its indices (ISPU, flood alert level, level of service)',
        params: IdParams,
        response: {
          200: z.object({
            deviceId: z.string(),
            kind: z.string(),
            ts: z.string(),
            values: z.record(z.string(), z.number()),
            indices: z.record(z.string(), z.unknown()),
          }),
          ...errors,
        },
      },
    }, async (request) => {
      const device = await requireDevice(request.params.id);
      let reading = latest.get(device.id);
      if (!reading) {
        const fields = fieldNames(device.kind);
        const series = await influx.query(
          `SELECT ${fields.map(quoteIdentifier).join(', ')} FROM ${quoteIdentifier(device.kind)} WHERE "device_id" = $device ORDER BY time DESC LIMIT 1`,
          { device: device.id },
        );
        const row = series[0]?.values[0];
        if (!row) throw notFound(`device ${device.id} has never reported`);
        reading = { deviceId: device.id, kind: device.kind, ts: Number(row[0]), values: rowValues(series[0]!.columns, row) };
        latest.update(reading);
      }
      const indices = await ctx.indices.of(device, reading);
      return { deviceId: device.id, kind: device.kind, ts: isoMs(reading.ts), values: reading.values, indices: indices as Record<string, unknown> };
    });

    app.get('/api/v1/devices/:id/readings', {
      config: { role: 'viewer' },
      schema: {
        tags: ['readings'],
        summary: 'Readings in a time range: raw (cursor paging) or aggregated per window; JSON or CSV (Accept: text/csv)',
        params: IdParams,
        querystring: ReadingsQuery,
        response: { 200: ReadingsAnswer, ...errors },
      },
    }, async (request, reply) => {
      const device = await requireDevice(request.params.id);
      const q = request.query;
      // aggregated answers resolve relative times against a clock rounded to the second (see AggregateCache)
      const now = q.every !== undefined ? Math.floor(Date.now() / 1000) * 1000 : Date.now();
      const from = parseInstant('from', q.from ?? '-1h', now);
      const to = parseInstant('to', q.to ?? 'now', now);
      if (from > to) throw badRequest(`from: ${isoMs(from)} is after to ${isoMs(to)}`);
      const fields = parseFields(device.kind, q.fields);
      const select = () => fields.map(quoteIdentifier).join(', ');
      const measurement = quoteIdentifier(device.kind);
      const params: Record<string, string> = { device: device.id, from: isoMs(from), to: isoMs(to) };

      let answer: z.infer<typeof ReadingsAnswer>;
      let timing: AggregateTiming | undefined;
      if (q.every !== undefined) {
        if (q.cursor !== undefined) throw badRequest('cursor: paging applies to raw readings, not to aggregated ones');
        const every = parseEvery(q.every);
        const windows = Math.ceil((to - from) / every.ms);
        if (windows > MAX_WINDOWS) {
          throw badRequest(`every: ${every.text} gives ${windows} windows between from and to; the limit is ${MAX_WINDOWS} — use a larger every`);
        }
        const agg = q.agg ?? 'mean';
        const req: AggregateRequest = { kind: device.kind, deviceId: device.id, fields, every, agg, from, to, now };
        const plan = planAggregateOr400(req, ctx.history);
        timing = { influxMs: 0 };
        const key = JSON.stringify([device.id, fields, every.text, agg, from, to, plan]);
        const result = await aggregates.get(key, Date.now(), () => aggregateWindows(influx, req, plan, ctx.history, timing)).catch(unavailable);
        answer = {
          deviceId: device.id, kind: device.kind, from: isoMs(plan.from), to: isoMs(to), every: every.text, agg, source: plan.source,
          points: result.map((w) => ({ ts: isoMs(w.ts), values: w.values })),
        };
      } else {
        if (q.agg !== undefined) throw badRequest('agg: needs every (the aggregation window)');
        const limit = q.limit ?? 1000;
        let after = from - 1;
        if (q.cursor !== undefined) after = decodeCursor(q.cursor, from, to);
        params.after = isoMs(after);
        const series = await influx.query(
          `SELECT ${select()} FROM ${measurement} WHERE "device_id" = $device AND time > $after AND time >= $from AND time <= $to ORDER BY time ASC LIMIT ${limit + 1}`,
          params,
        );
        const points = toPoints(series[0]);
        answer = { deviceId: device.id, kind: device.kind, from: isoMs(from), to: isoMs(to), every: null, agg: null, source: 'raw', points };
        if (points.length > limit) {
          points.length = limit;
          const last = Date.parse(points[limit - 1]!.ts);
          answer.next = nextUrl(request, from, to, encodeCursor(last));
        }
      }
      if (wantsCsv(request.headers.accept)) return sendCsv(reply, fields, answer.points);
      // an aggregated answer is built here from numbers and ISO times, in ReadingsAnswer's shape and key order:
      // written out as it is, without checking a year of hourly points against the schema on every request
      if (q.every !== undefined) {
        const text = JSON.stringify(answer);
        // where a long-range answer's time went (browsers' developer tools show it): InfluxDB, then the whole request
        return sendJson(reply.header('server-timing', serverTiming(timing!.influxMs, reply.elapsedTime)), text);
      }
      return answer;
    });

    app.get('/api/v1/devices/:id/rejections', {
      config: { role: 'viewer' },
      schema: {
        tags: ['readings'],
        summary: 'Rejected readings of a device, newest first',
        params: IdParams,
        querystring: z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).optional() }),
        response: {
          200: z.object({ items: z.array(z.object({ ts: z.string(), reason: z.string(), detail: z.string() })) }),
          ...errors,
        },
      },
    }, async (request) => {
      const id = request.params.id;
      if (!(await registry.lookupDevice(id))) {
        // a removed device's rejections stay readable only while it is registered
        throw notFound(`device ${id} does not exist`);
      }
      const series = await influx.query(
        `SELECT "detail", "reason" FROM "rejections" WHERE "device_id" = $device ORDER BY time DESC LIMIT ${request.query.limit ?? 100}`,
        { device: id },
      );
      const s = series[0];
      const items = (s?.values ?? []).map((row) => ({
        ts: isoMs(Number(row[0])),
        detail: String(row[s!.columns.indexOf('detail')] ?? ''),
        reason: String(row[s!.columns.indexOf('reason')] ?? ''),
      }));
      return { items };
    });
  };
}

function parseFields(kind: Kind, text: string | undefined): string[] {
  const known = fieldNames(kind);
  if (text === undefined || text.trim() === '') return known;
  const asked = text.split(',').map((f) => f.trim()).filter(Boolean);
  const unknown = asked.filter((f) => !known.includes(f));
  if (unknown.length > 0) {
    throw badRequest(`fields: ${unknown.slice(0, 3).map((f) => JSON.stringify(f.slice(0, 40))).join(', ')} not a field of ${kind}; known: ${known.join(', ')}`);
  }
  if (asked.length === 0) throw badRequest('fields: name at least one field');
  return [...new Set(asked)];
}

function rowValues(columns: string[], row: unknown[]): Record<string, number> {
  const values: Record<string, number> = {};
  for (let i = 1; i < columns.length; i++) {
    const v = row[i];
    if (typeof v === 'number') values[columns[i]!] = v;
  }
  return values;
}

function toPoints(series: { columns: string[]; values: unknown[][] } | undefined): Array<z.infer<typeof Point>> {
  if (!series) return [];
  const out: Array<z.infer<typeof Point>> = [];
  for (const row of series.values) {
    const values = rowValues(series.columns, row);
    if (Object.keys(values).length === 0) continue;
    out.push({ ts: isoMs(Number(row[0])), values });
  }
  return out;
}

// Cursor: the last returned timestamp, opaque to clients. Checked strictly so it cannot carry anything else.
function encodeCursor(lastTs: number): string {
  return Buffer.from(`t${lastTs}`).toString('base64url');
}

function decodeCursor(cursor: string, from: number, to: number): number {
  const text = /^[A-Za-z0-9_-]{1,40}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const m = /^t(\d{1,16})$/.exec(text);
  const ts = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(ts) || ts < from - 1 || ts > to) {
    throw badRequest('cursor: not a cursor from this query; take the next URL of the previous page as it is');
  }
  return ts;
}

function nextUrl(request: FastifyRequest, from: number, to: number, cursor: string): string {
  const url = new URL(request.url, 'http://placeholder');
  url.searchParams.set('from', isoMs(from));
  url.searchParams.set('to', isoMs(to));
  url.searchParams.set('cursor', cursor);
  return `${url.pathname}?${url.searchParams.toString()}`;
}

/** A Server-Timing header: time waiting for InfluxDB (0 for an answer from the one-second cache) and in total. */
export function serverTiming(influxMs: number, totalMs: number): string {
  return `influx;dur=${influxMs.toFixed(1)};desc="InfluxDB", total;dur=${totalMs.toFixed(1)}`;
}

function sendJson(reply: FastifyReply, text: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').serializer((x: unknown) => x as string).send(text);
}

function sendCsv(reply: FastifyReply, fields: string[], points: Array<z.infer<typeof Point>>): FastifyReply {
  let out = `${csvLine(['ts', ...fields])}\n`;
  for (const p of points) out += `${csvLine([p.ts, ...fields.map((f) => p.values[f])])}\n`;
  return reply.type('text/csv; charset=utf-8').serializer((x: unknown) => x as string).send(out);
}

