// LoRaWAN network servers (issue 16, docs/contract.md §10). ChirpStack v4's HTTP integration and The Things Stack v3's webhooks
// POST decoded uplinks here. Each is authenticated by its own bearer secret (PANTAU_CHIRPSTACK_SECRET,
// PANTAU_TTN_SECRET; unset = the route answers 404), the uplink's DevEUI picks the Pantau device (its `devEui`), and
// the decoded object is one reading of §2 fields, timestamped with the uplink's own time so a replayed uplink is
// stored once. The reading takes the MQTT path through ingest: 200 only once it is durable in the spool (InfluxDB
// may be down), 422 with the rejection reasons when nothing could be stored.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { AcceptOutcome } from '../ingest/ingest.js';
import type { DeviceRecord, Registry } from '../registry/registry.js';
import { HttpProblem, ProblemSchema } from './problem.js';

export interface IntegrationsOptions {
  registry: Registry;
  log: Logger;
  chirpstackSecret?: string;
  ttnSecret?: string;
  /** Ingest's accept: resolves once the reading and its rejections are durable. */
  accept: (device: DeviceRecord, payload: Buffer) => Promise<AcceptOutcome>;
}

const DevEui = z.string().regex(/^[0-9a-fA-F]{16}$/, 'must be 16 hex digits');
const Decoded = z.record(z.string(), z.unknown());

const ChirpstackUplink = z.object({
  deduplicationId: z.string().optional(),
  time: z.string().optional(),
  deviceInfo: z.object({ devEui: DevEui, deviceName: z.string().optional() }),
  object: Decoded.optional(),
});

const TtnUplink = z.object({
  end_device_ids: z.object({ device_id: z.string().optional(), dev_eui: DevEui }),
  received_at: z.string().optional(),
  uplink_message: z.object({ decoded_payload: Decoded.optional(), received_at: z.string().optional() }).optional(),
});

const Stored = z.object({
  deviceId: z.string(),
  stored: z.number().int(),
  rejected: z.array(z.object({ reason: z.string(), detail: z.string() })),
});
const UplinkProblem = ProblemSchema.extend({ rejected: z.array(z.object({ reason: z.string(), detail: z.string() })).optional() });
const responses = {
  200: Stored,
  204: z.null().describe('not an uplink (join, status, ack …): nothing to store'),
  400: ProblemSchema, 401: ProblemSchema, 404: ProblemSchema, 422: UplinkProblem, 429: UplinkProblem,
};

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

export function integrationsPlugin(options: IntegrationsOptions): FastifyPluginAsyncZod {
  return async (app) => {
    const { registry, log } = options;

    /** preValidation: the rate limiter (onRequest) has counted the request before a secret is compared. */
    const requireSecret = (name: string, variable: string, secret: string | undefined) => {
      const expected = secret === undefined ? undefined : digest(secret);
      return async (request: FastifyRequest) => {
        if (!expected) throw new HttpProblem(404, `the ${name} integration is off: set ${variable}`, 'integration-off');
        const wait = registry.authThrottle.blockedFor(request.ip);
        if (wait > 0) throw new HttpProblem(429, `too many failed logins from this address; retry in ${wait} s`, 'rate-limited', { 'retry-after': String(wait) });
        const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
        if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
          registry.authThrottle.fail(request.ip);
          log.warn({ ip: request.ip, integration: name }, 'integration: request without the right secret refused');
          throw new HttpProblem(401, `send the ${name} integration secret (${variable}) as Authorization: Bearer <secret>`, 'unauthorized', {
            'www-authenticate': 'Bearer realm="pantau-integrations"',
          });
        }
      };
    };

    /** One decoded uplink → one reading through ingest; the answer says what was stored and what was not. */
    const store = async (devEui: string, decoded: Record<string, unknown> | undefined, time: string | undefined, source: string) => {
      // memory; in a cluster, a DevEUI set through another node a moment ago is asked of PostgreSQL
      const device = await registry.lookupDevEui(devEui);
      if (!device) throw new HttpProblem(404, `no device has devEui ${devEui.toLowerCase()}; register it with that devEui`, 'unknown-dev-eui');
      if (!decoded) {
        throw new HttpProblem(422, `the ${source} uplink carries no decoded payload: configure a payload decoder (codec) for this device`, 'no-decoded-payload');
      }
      const reading: Record<string, unknown> = { ...decoded };
      if (time !== undefined && reading.ts === undefined) {
        const ms = Date.parse(time);
        if (!Number.isFinite(ms)) throw new HttpProblem(400, `time ${JSON.stringify(time.slice(0, 40))} is not an RFC 3339 timestamp`, 'bad-request');
        reading.ts = ms;
      }
      const outcome = await options.accept(device, Buffer.from(JSON.stringify(reading)));
      const rejected = outcome.rejections.map((r) => ({ reason: r.reason, detail: r.detail }));
      if (outcome.readings > 0) return { status: 200 as const, body: { deviceId: device.id, stored: outcome.readings, rejected } };
      const limited = rejected.some((r) => r.reason === 'rate_limited');
      const status = limited ? (429 as const) : (422 as const);
      return {
        status,
        body: {
          type: `https://pantau.dev/problems/${limited ? 'rate-limited' : 'rejected'}`,
          title: limited ? 'Too many requests' : 'Unprocessable content',
          status,
          detail: `nothing stored for device ${device.id}: ${rejected.map((r) => `${r.reason} (${r.detail})`).join('; ').slice(0, 400)}`,
          rejected,
        },
      };
    };

    app.post('/api/v1/integrations/chirpstack', {
      preValidation: requireSecret('ChirpStack', 'PANTAU_CHIRPSTACK_SECRET', options.chirpstackSecret),
      schema: {
        tags: ['integrations'],
        summary: 'ChirpStack v4 HTTP integration (JSON marshaler): ?event=up stores deviceInfo.devEui\'s decoded object at its time; other events → 204',
        querystring: z.object({ event: z.string().max(40) }),
        body: z.unknown(),
        response: responses,
      },
    }, async (request, reply) => {
      if (request.query.event !== 'up') return reply.code(204).send(null);
      const up = ChirpstackUplink.safeParse(request.body);
      if (!up.success) throw new HttpProblem(400, `not a ChirpStack uplink event: ${describe(up.error)}`, 'bad-request');
      const answer = await store(up.data.deviceInfo.devEui, up.data.object, up.data.time, 'ChirpStack');
      if (answer.status !== 200) reply.type('application/problem+json');
      return reply.code(answer.status).send(answer.body);
    });

    app.post('/api/v1/integrations/ttn', {
      preValidation: requireSecret('The Things Stack', 'PANTAU_TTN_SECRET', options.ttnSecret),
      schema: {
        tags: ['integrations'],
        summary: 'The Things Stack v3 webhook: an uplink message stores end_device_ids.dev_eui\'s decoded_payload at uplink_message.received_at; other messages → 204',
        body: z.unknown(),
        response: responses,
      },
    }, async (request, reply) => {
      const body = request.body as Record<string, unknown> | null;
      if (body === null || typeof body !== 'object' || body.uplink_message === undefined) {
        if (body !== null && typeof body === 'object' && body.end_device_ids !== undefined) return reply.code(204).send(null);
        throw new HttpProblem(400, 'not a The Things Stack webhook message (end_device_ids missing)', 'bad-request');
      }
      const up = TtnUplink.safeParse(body);
      if (!up.success) throw new HttpProblem(400, `not a The Things Stack uplink message: ${describe(up.error)}`, 'bad-request');
      const message = up.data.uplink_message!;
      const answer = await store(up.data.end_device_ids.dev_eui, message.decoded_payload, message.received_at ?? up.data.received_at, 'The Things Stack');
      if (answer.status !== 200) reply.type('application/problem+json');
      return reply.code(answer.status).send(answer.body);
    });
  };
}

function describe(error: z.ZodError): string {
  const issue = error.issues[0]!;
  return `${issue.path.map(String).join('.') || 'body'}: ${issue.message}`;
}
