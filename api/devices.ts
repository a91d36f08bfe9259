// Devices (SPEC §5): list with filters, get, create (admin, token shown once), patch, delete, token rotation.
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
import { toApiDevice } from '../registry/registry.js';
import { actorOf } from './auth.js';
import type { ApiContext } from './context.js';
import { ProblemSchema, badRequest, notFound } from './problem.js';
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
const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema };

export function devicesPlugin(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    const { registry } = ctx;

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
        }),
        response: { 200: z.object({ items: z.array(DeviceSchema), total: z.number().int() }), ...errors },
      },
    }, async (request) => {
      const items = registry.listDevices(request.query).map(toApiDevice);
      return { items, total: items.length };
    });

    app.get('/api/v1/devices/:id', {
      config: { role: 'viewer' },
      schema: { tags: ['devices'], summary: 'One device', params: IdParams, response: { 200: DeviceSchema, ...errors } },
    }, async (request) => {
      const device = registry.device(request.params.id);
      if (!device) throw notFound(`device ${request.params.id} does not exist`);
      return toApiDevice(device);
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
      const { device, token } = await registry.createDevice(request.body, actorOf(request));
      return reply.code(201).header('location', `/api/v1/devices/${device.id}`).send({ device: toApiDevice(device), token });
    });

    app.patch('/api/v1/devices/:id', {
      config: { role: 'admin' },
      schema: {
        tags: ['devices'],
        summary: 'Change name, city, district, location or thresholds',
        params: IdParams,
        body: DevicePatchSchema,
        response: { 200: DeviceSchema, ...errors },
      },
    }, async (request) => {
      const current = registry.device(request.params.id);
      if (!current) throw notFound(`device ${request.params.id} does not exist`);
      checkThresholds(current.kind, request.body.thresholds);
      return toApiDevice(await registry.updateDevice(request.params.id, request.body, actorOf(request)));
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
      return { token: await registry.rotateToken(request.params.id, actorOf(request)) };
    });
  };
}
