// Device configuration (issue 16, docs/contract.md §10), a device shadow: an admin PUTs the desired config, Pantau bumps its
// version and publishes it (retained, QoS 1) on the device's config topic; the device answers what it applied on
// config/reported. GET shows both sides, so an operator sees whether the gauge upriver has taken the change.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MAX_CONFIG_BYTES, deviceConfigSchema } from '../catalog/device-config.js';
import { DeviceIdSchema } from '../registry/device.js';
import { deviceExtras, type ConfigState } from '../registry/device-extras.js';
import { actorOf } from './auth.js';
import type { ApiContext } from './context.js';
import { ProblemSchema, badRequest, notFound } from './problem.js';

const ConfigAnswer = z.object({
  desired: z.record(z.string(), z.unknown()).nullable(),
  version: z.number().int().describe('0 until a config is first pushed'),
  updatedAt: z.string().nullable(),
  reported: z.record(z.string(), z.unknown()).nullable(),
  reportedVersion: z.number().int().nullable(),
  reportedAt: z.string().nullable().describe('when the device reported it applied reportedVersion'),
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function configAnswer(state: ConfigState): z.infer<typeof ConfigAnswer> {
  return {
    desired: state.desired,
    version: state.version,
    updatedAt: iso(state.updatedAt),
    reported: state.reported,
    reportedVersion: state.reportedVersion,
    reportedAt: iso(state.reportedAt),
  };
}

const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema };

export function deviceConfigPlugin(ctx: Pick<ApiContext, 'registry'>): FastifyPluginAsyncZod {
  return async (app) => {
    const { registry } = ctx;
    const extras = deviceExtras(registry);
    // a device created through another node a moment ago is read from the shared registry
    const requireDevice = async (id: string) => {
      const device = await registry.lookupDevice(id);
      if (!device) throw notFound(`device ${id} does not exist`);
      return device;
    };

    app.get('/api/v1/devices/:id/config', {
      config: { role: 'viewer' },
      schema: {
        tags: ['devices'],
        summary: 'Desired and reported configuration of a device, with versions',
        params: z.object({ id: DeviceIdSchema }),
        response: { 200: ConfigAnswer, ...errors },
      },
    }, async (request) => configAnswer(extras.config((await requireDevice(request.params.id)).id)));

    // admin, not operator: a configuration changes what a device measures (calibration offsets) and when it alarms,
    // so it is device management, like PATCH of a device's thresholds (docs/devices.md)
    app.put('/api/v1/devices/:id/config', {
      config: { role: 'admin' },
      bodyLimit: MAX_CONFIG_BYTES,
      schema: {
        tags: ['devices'],
        summary: 'Push a configuration (admin; reportIntervalSeconds 10–86400, calibration offsets within a tenth of each field\'s range, thresholds within it; at most 4 KiB): published retained, QoS 1, on sensors/{kind}/{id}/config',
        params: z.object({ id: DeviceIdSchema }),
        body: z.record(z.string(), z.unknown()),
        response: { 200: ConfigAnswer, 413: ProblemSchema, ...errors },
      },
    }, async (request) => {
      const device = await requireDevice(request.params.id);
      const parsed = deviceConfigSchema(device.kind).safeParse(request.body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const path = issue.path.map(String).join('.');
        const detail = issue.code === 'unrecognized_keys'
          ? `unknown key(s) ${issue.keys.slice(0, 5).join(', ')}${path ? ` in ${path}` : ''} for a ${device.kind} device`
          : issue.message;
        throw badRequest(`body${path ? `.${path}` : ''}: ${detail}`);
      }
      return configAnswer(await extras.putDesired(device.id, parsed.data as Record<string, unknown>, actorOf(request)));
    });
  };
}
