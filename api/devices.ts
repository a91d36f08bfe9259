// Devices (docs/contract.md §5, §10): list with filters (JSON, or CSV without secrets), get, create (admin, token shown once),
// bulk import, patch, delete, token rotation. A device may carry a LoRaWAN devEui (kept in DeviceExtras).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  DeviceIdSchema,
  DevicePatchSchema,
  DeviceSchema,
  DeviceStatusSchema,
  KindSchema,
  NewDeviceSchema,
} from '../registry/device.js';
import { deviceExtras, type DeviceExtras } from '../registry/device-extras.js';
import { toApiDevice, type DeviceRecord } from '../registry/registry.js';
import { csvCell, csvLine, csvSecretCell, wantsCsv } from './csv.js';
import { IMPORT_COLUMNS, MAX_IMPORT_ROWS, importDevices, judgeImport, rowsFromCsv } from './device-import.js';
import { actorOf } from './auth.js';
import type { ApiContext } from './context.js';
import { HttpProblem, ProblemSchema, badRequest } from './problem.js';
import { outsideScopeReason, visibleDevice, visibleTo } from './scope-guard.js';
import { thresholdsSchema } from '../catalog/thresholds.js';
import type { Kind } from '../catalog/index.js';

/** Thresholds are checked against the device kind's own schema (flood levels, road capacity, rule overrides). */
function checkThresholds(kind: Kind, thresholds: unknown): void {
  if (thresholds === undefined || thresholds === null) return;
  const result = thresholdsSchema(kind).safeParse(thresholds);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = ['thresholds', ...issue.path.map(String)].join('.');
    throw badRequest(`body.${path}: ${issue.message}`);
  }
}

const IdParams = z.object({ id: DeviceIdSchema });
const IMPORT_BODY_LIMIT = 16 * 1024 * 1024;
const EXPORT_COLUMNS = ['id', 'kind', 'name', 'city', 'district', 'lat', 'lon', 'thresholds', 'devEui', 'status', 'lastSeen'];

const ImportProblemSchema = ProblemSchema.extend({
  errors: z.array(z.object({ row: z.number().int(), field: z.string(), detail: z.string() })).optional(),
});

/** The API's Device, with its devEui when it has one. */
export function deviceWithEui(extras: DeviceExtras, d: DeviceRecord) {
  const eui = extras.devEui(d.id);
  return eui === undefined ? toApiDevice(d) : { ...toApiDevice(d), devEui: eui };
}
const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema };

export function devicesPlugin(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    const { registry } = ctx;
    const extras = deviceExtras(registry);

    app.get('/api/v1/devices', {
      config: { role: 'viewer' },
      schema: {
        tags: ['devices'],
        summary: 'List devices',
        querystring: z.strictObject({
          kind: KindSchema.optional(),
          city: z.string().max(100).optional(),
          district: z.string().max(100).optional(),
          status: DeviceStatusSchema.optional(),
          format: z.enum(['json', 'csv']).optional().describe('csv: the fleet as CSV, without secrets'),
        }),
        response: { 200: z.object({ items: z.array(DeviceSchema), total: z.number().int() }), ...errors },
      },
    }, async (request, reply) => {
      const { format, ...filter } = request.query;
      const devices = registry.listDevices(filter).filter((d) => visibleTo(request, d));
      if (format === 'csv') {
        let out = `${EXPORT_COLUMNS.join(',')}\n`;
        for (const d of devices) {
          out += `${csvLine([d.id, d.kind, d.name, d.city, d.district, d.lat, d.lon, d.thresholds ? JSON.stringify(d.thresholds) : '',
            extras.devEui(d.id), d.status, d.lastSeen === null ? '' : new Date(d.lastSeen).toISOString()])}\n`;
        }
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', 'attachment; filename="pantau-devices.csv"')
          .serializer((x: unknown) => x as string)
          .send(out as never);
      }
      const items = devices.map((d) => deviceWithEui(extras, d));
      return { items, total: items.length };
    });

    app.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: IMPORT_BODY_LIMIT }, (_request, body, done) => done(null, body));

    app.post('/api/v1/devices/import', {
      config: { role: 'admin' },
      bodyLimit: IMPORT_BODY_LIMIT,
      schema: {
        tags: ['devices'],
        summary: `Register up to ${MAX_IMPORT_ROWS} devices at once from CSV (text/csv: header ${IMPORT_COLUMNS.join(',')}; thresholds as a JSON cell) or a JSON array of create bodies. All rows are checked first: any bad row → 400 listing every bad row, nothing created. Tokens are shown only in this answer (as CSV id,token with Accept: text/csv).`,
        body: z.unknown(),
        response: {
          201: z.object({ items: z.array(z.object({ device: DeviceSchema, token: z.string() })) }),
          400: ImportProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 409: ProblemSchema, 413: ProblemSchema, 415: ProblemSchema,
        },
      },
    }, async (request, reply) => {
      let rows: Array<{ value: unknown; cellErrors: [] }> | ReturnType<typeof rowsFromCsv>;
      if (typeof request.body === 'string') {
        rows = rowsFromCsv(request.body);
        if (!rows.ok) throw badRequest(rows.detail);
      } else if (Array.isArray(request.body)) {
        rows = { ok: true, rows: request.body.map((value: unknown) => ({ value, cellErrors: [] })) };
      } else {
        // JSON, but not an array: the body is wrong, not its media type
        throw badRequest('a JSON body must be an array of devices (or send text/csv: a header row, then one device per row)');
      }
      const judged = judgeImport(rows.rows, registry, extras, (device) => outsideScopeReason(request, device));
      if (!judged.ok) {
        return reply.code(400).type('application/problem+json').send({
          type: 'https://pantau.dev/problems/invalid-import', title: 'Bad request', status: 400, detail: judged.detail, errors: judged.errors,
        });
      }
      const created = await importDevices(judged.devices, registry, actorOf(request));
      request.log.info({ count: created.length, actor: actorOf(request) }, 'devices imported');
      if (wantsCsv(request.headers.accept)) {
        let out = 'id,token\n';
        for (const c of created) out += `${csvCell(c.device.id)},${csvSecretCell(c.token)}\n`;
        return reply.code(201).type('text/csv; charset=utf-8').serializer((x: unknown) => x as string).send(out as never);
      }
      return reply.code(201).send({ items: created.map((c) => ({ device: deviceWithEui(extras, c.device), token: c.token })) });
    });

    app.get('/api/v1/devices/:id', {
      config: { role: 'viewer' },
      schema: { tags: ['devices'], summary: 'One device', params: IdParams, response: { 200: DeviceSchema, ...errors } },
    }, async (request) => {
      return deviceWithEui(extras, await visibleDevice(registry, request, request.params.id));
    });

    app.post('/api/v1/devices', {
      config: { role: 'admin' },
      schema: {
        tags: ['devices'],
        summary: 'Register a device; its MQTT token is shown only in this answer',
        body: NewDeviceSchema,
        response: { 201: z.object({ device: DeviceSchema, token: z.string() }), 409: ProblemSchema, ...errors },
      },
    }, async (request, reply) => {
      checkThresholds(request.body.kind, request.body.thresholds);
      const outside = outsideScopeReason(request, request.body);
      if (outside) throw new HttpProblem(403, outside, 'forbidden');
      const eui = request.body.devEui;
      const owner = eui === undefined ? undefined : extras.deviceIdByDevEui(eui);
      if (owner) throw new HttpProblem(409, `devEui ${eui} already belongs to device ${owner}`, 'conflict');
      const [{ device, token }] = (await importDevices([request.body], registry, actorOf(request))) as [{ device: DeviceRecord; token: string }];
      return reply.code(201).header('location', `/api/v1/devices/${device.id}`).send({ device: deviceWithEui(extras, device), token });
    });

    app.patch('/api/v1/devices/:id', {
      config: { role: 'admin' },
      schema: {
        tags: ['devices'],
        summary: 'Change name, city, district, location, thresholds or devEui (null removes it)',
        params: IdParams,
        body: DevicePatchSchema,
        response: { 200: DeviceSchema, 409: ProblemSchema, ...errors },
      },
    }, async (request) => {
      const current = await visibleDevice(registry, request, request.params.id);
      checkThresholds(current.kind, request.body.thresholds);
      // a scoped admin cannot move a device out of its scope (it would lose it, and another scope gain it)
      const outside = request.body.city === undefined ? null : outsideScopeReason(request, { city: request.body.city, kind: current.kind });
      if (outside) throw new HttpProblem(403, `city: ${outside}`, 'forbidden');
      const { devEui, ...patch } = request.body;
      if (devEui !== undefined) await extras.setDevEui(current.id, devEui, actorOf(request));
      return deviceWithEui(extras, await registry.updateDevice(request.params.id, patch, actorOf(request)));
    });

    app.delete('/api/v1/devices/:id', {
      config: { role: 'admin' },
      schema: {
        tags: ['devices'],
        summary: 'Remove a device: it is disconnected and can no longer connect; its data stays',
        params: IdParams,
        response: { 204: z.null().describe('removed'), ...errors },
      },
    }, async (request, reply) => {
      await visibleDevice(registry, request, request.params.id);
      await registry.deleteDevice(request.params.id, actorOf(request));
      return reply.code(204).send(null);
    });

    app.post('/api/v1/devices/:id/token', {
      config: { role: 'admin' },
      schema: {
        tags: ['devices'],
        summary: 'Issue a new token; the old one stops working at once',
        params: IdParams,
        response: { 200: z.object({ token: z.string() }), ...errors },
      },
    }, async (request) => {
      await visibleDevice(registry, request, request.params.id);
      return { token: await registry.rotateToken(request.params.id, actorOf(request)) };
    });
  };
}
