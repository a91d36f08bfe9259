// NGSI-LD, read-only (issue 16, docs/contract.md §10): the newest observation of every device as a Smart Data Models entity,
// so a FIWARE consumer (an Orion-LD federation, QuantumLeap, a city data portal) reads Pantau without an adapter.
// `GET /ngsi-ld/v1/entities?type=…` and `GET /ngsi-ld/v1/entities/{id}`; normalized by default, `options=keyValues`
// for plain values; `Accept: application/ld+json` puts the @context in the body, otherwise it is linked in a
// `Link` header, as NGSI-LD §6.3.5 prescribes. Devices that never reported have no observation and no entity.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { fieldNames, type Kind } from '../catalog/index.js';
import { quoteIdentifier } from '../influx/client.js';
import type { DeviceRecord } from '../registry/registry.js';
import type { ApiContext } from './context.js';
import type { LatestReading } from './latest-cache.js';
import { visibleTo } from './scope-guard.js';
import {
  KIND_OF_TYPE,
  NGSI_LD_CONTEXT,
  NGSI_LD_TYPES,
  keyValuesEntity,
  normalizedEntity,
  parseEntityId,
  type EntitySource,
  type NgsiLdType,
} from './ngsi-ld-entities.js';

const LINK = `<${NGSI_LD_CONTEXT[0]}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`;
const MAX_LIMIT = 1000;

const Options = z.string().max(100).optional().describe('keyValues (or simplified): plain values; normalized (default)');
const ListQuery = z.object({
  type: z.string().max(200).optional().describe('AirQualityObserved, WaterObserved, TrafficFlowObserved; comma-separated for several'),
  options: Options,
  limit: z.coerce.number().int().min(0).max(MAX_LIMIT).optional(),
  offset: z.coerce.number().int().min(0).optional(),
  count: z.enum(['true', 'false']).optional(),
});

/** NGSI-LD's own error shape (§5.5.2): type from the ETSI error URIs. */
function ngsiError(reply: FastifyReply, status: number, kind: 'BadRequestData' | 'ResourceNotFound', detail: string) {
  return reply
    .code(status)
    .type('application/json')
    .send({ type: `https://uri.etsi.org/ngsi-ld/errors/${kind}`, title: kind === 'BadRequestData' ? 'Bad request data' : 'Resource not found', status, detail });
}

export function ngsiLdPlugin(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    const { registry, influx, latest } = ctx;

    /** The device's newest reading: the in-memory cache, else InfluxDB (after a restart). */
    const newest = async (device: DeviceRecord): Promise<LatestReading | undefined> => {
      const cached = latest.get(device.id);
      if (cached) return cached;
      const fields = fieldNames(device.kind);
      const series = await influx.query(
        `SELECT ${fields.map(quoteIdentifier).join(', ')} FROM ${quoteIdentifier(device.kind)} WHERE "device_id" = $device ORDER BY time DESC LIMIT 1`,
        { device: device.id },
      );
      const row = series[0]?.values[0];
      if (!row) return undefined;
      const values: Record<string, number> = {};
      series[0]!.columns.forEach((c, i) => {
        if (i > 0 && typeof row[i] === 'number') values[c] = row[i] as number;
      });
      const reading = { deviceId: device.id, kind: device.kind, ts: Number(row[0]), values };
      latest.update(reading);
      return reading;
    };

    const source = async (device: DeviceRecord): Promise<EntitySource | undefined> => {
      const reading = await newest(device);
      if (!reading) return undefined;
      const indices = await ctx.indices.of(device, reading);
      return { device, reading, indices };
    };

    const render = (sources: EntitySource[], options: string | undefined, accept: string | undefined, reply: FastifyReply) => {
      const ld = /application\/ld\+json/i.test(accept ?? '');
      const keyValues = (options ?? '').split(',').some((o) => o === 'keyValues' || o === 'simplified');
      const entities = sources.map((s) => (keyValues ? keyValuesEntity(s, ld) : normalizedEntity(s, ld)));
      if (ld) reply.type('application/ld+json');
      else reply.type('application/json').header('link', LINK);
      return entities;
    };

    app.get('/ngsi-ld/v1/entities', {
      config: { role: 'viewer' },
      schema: {
        tags: ['ngsi-ld'],
        summary: 'NGSI-LD entities (Smart Data Models) of a type: the newest observation of each device of that kind',
        querystring: ListQuery,
      },
    }, async (request, reply) => {
      const q = request.query;
      if (!q.type) return ngsiError(reply, 400, 'BadRequestData', 'type is required: AirQualityObserved, WaterObserved or TrafficFlowObserved');
      const kinds = new Set<Kind>();
      for (const t of q.type.split(',')) {
        const name = t.trim().replace(/^https:\/\/smartdatamodels\.org\/dataModel\.(Environment|Transportation)\//, '');
        if (name in KIND_OF_TYPE) kinds.add(KIND_OF_TYPE[name as NgsiLdType]);
      }
      const devices = registry.listDevices().filter((d) => kinds.has(d.kind) && visibleTo(request, d));
      const sources: EntitySource[] = [];
      // sequential: a cold cache after a restart must not fire thousands of InfluxDB queries at once
      for (const d of devices) {
        const s = await source(d);
        if (s) sources.push(s);
      }
      const offset = q.offset ?? 0;
      const page = sources.slice(offset, offset + (q.limit ?? 20));
      if (q.count === 'true') reply.header('ngsild-results-count', String(sources.length));
      return render(page, q.options, request.headers.accept, reply);
    });

    app.get('/ngsi-ld/v1/entities/:id', {
      config: { role: 'viewer' },
      schema: {
        tags: ['ngsi-ld'],
        summary: 'One NGSI-LD entity: urn:ngsi-ld:<AirQualityObserved|WaterObserved|TrafficFlowObserved>:<deviceId>',
        params: z.object({ id: z.string().max(200) }),
        querystring: z.object({ options: Options }),
      },
    }, async (request, reply) => {
      const parsed = parseEntityId(request.params.id);
      if (!parsed) {
        return ngsiError(reply, 400, 'BadRequestData', `entity ids are urn:ngsi-ld:<${Object.values(NGSI_LD_TYPES).join('|')}>:<deviceId>`);
      }
      const found = registry.device(parsed.deviceId);
      // outside the caller's scope: no such entity (docs/contract.md §5, Scopes)
      const device = found && visibleTo(request, found) ? found : undefined;
      const s = device && device.kind === parsed.kind ? await source(device) : undefined;
      if (!s) return ngsiError(reply, 404, 'ResourceNotFound', `no entity ${request.params.id}${device ? ' (the device has not reported yet)' : ''}`);
      return render([s], request.query.options, request.headers.accept, reply)[0];
    });
  };
}
