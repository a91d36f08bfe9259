// `GET /api/v1/stream` (docs/contract.md §5): Server-Sent Events — `reading` and `alert` events as they happen, filtered by
// kind and device, a heartbeat comment so proxies keep the connection, and `Last-Event-ID` resume for alert
// events (each carries its sequence number as `id`; readings carry none, so they never move a client's resume
// point). A client that cannot keep up is disconnected rather than buffered without bound.
import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DeviceIdSchema, KindSchema } from '../registry/device.js';
import { ProblemSchema } from './problem.js';

interface StreamClient {
  res: ServerResponse;
  kind?: string;
  deviceId?: string;
}

export interface AlertEventSource {
  /** Alert events after `seq`, oldest first, as `{ seq, data }` with data already in API shape. */
  alertEventsAfter(seq: number): Array<{ seq: number; kind: string; deviceId: string; data: unknown }>;
}

const MAX_BUFFERED = 1024 * 1024;

export class StreamHub {
  private readonly clients = new Set<StreamClient>();
  constructor(readonly maxClients = 1000) {}

  get size(): number {
    return this.clients.size;
  }

  add(client: StreamClient): boolean {
    if (this.clients.size >= this.maxClients) return false;
    this.clients.add(client);
    client.res.on('close', () => this.clients.delete(client));
    return true;
  }

  reading(kind: string, deviceId: string, data: unknown): void {
    if (this.clients.size === 0) return;
    const frame = `event: reading\ndata: ${JSON.stringify(data)}\n\n`;
    this.broadcast(kind, deviceId, frame);
  }

  alert(seq: number, kind: string, deviceId: string, data: unknown): void {
    if (this.clients.size === 0) return;
    this.broadcast(kind, deviceId, alertFrame(seq, data));
  }

  heartbeat(): void {
    for (const c of this.clients) this.write(c, `: heartbeat ${new Date().toISOString()}\n\n`);
  }

  closeAll(): void {
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }

  private broadcast(kind: string, deviceId: string, frame: string): void {
    for (const c of this.clients) {
      if (c.kind && c.kind !== kind) continue;
      if (c.deviceId && c.deviceId !== deviceId) continue;
      this.write(c, frame);
    }
  }

  private write(c: StreamClient, frame: string): void {
    if (c.res.writableLength > MAX_BUFFERED) {
      c.res.destroy();
      this.clients.delete(c);
      return;
    }
    c.res.write(frame);
  }
}

function alertFrame(seq: number, data: unknown): string {
  return `id: ${seq}\nevent: alert\ndata: ${JSON.stringify(data)}\n\n`;
}

export function streamPlugin(hub: StreamHub, source: AlertEventSource): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/api/v1/stream', {
      config: { role: 'viewer', queryToken: true },
      schema: {
        tags: ['stream'],
        summary: 'Live readings and alert changes as Server-Sent Events (resume alerts with Last-Event-ID)',
        description:
          'Events: `reading` {deviceId, kind, ts, values}; `alert` {type, alert} with `id` = sequence number. A browser EventSource may pass the key as `access_token`.',
        produces: ['text/event-stream'],
        querystring: z.strictObject({
          kind: KindSchema.optional(),
          deviceId: DeviceIdSchema.optional(),
          access_token: z.string().max(512).optional(),
          lastEventId: z.coerce.number().int().min(0).optional(),
        }),
        headers: z.object({ 'last-event-id': z.string().regex(/^\d{1,15}$/, 'Last-Event-ID must be a sequence number').optional() }).passthrough(),
        response: { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 503: ProblemSchema },
      },
    }, async (request, reply) => {
      const { kind, deviceId } = request.query;
      const resumeHeader = request.headers['last-event-id'];
      const resumeFrom = resumeHeader !== undefined ? Number(resumeHeader) : request.query.lastEventId;
      const res = reply.raw;
      if (hub.size >= hub.maxClients) {
        const problem = { type: 'https://pantau.dev/problems/service-unavailable', title: 'Service unavailable', status: 503, detail: 'too many stream clients; retry later' };
        return reply.code(503).type('application/problem+json').header('retry-after', '30').send(problem);
      }
      reply.hijack();
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(`retry: 3000\n: connected\n\n`);
      if (resumeFrom !== undefined) {
        for (const e of source.alertEventsAfter(resumeFrom)) {
          if (kind && e.kind !== kind) continue;
          if (deviceId && e.deviceId !== deviceId) continue;
          res.write(alertFrame(e.seq, e.data));
        }
      }
      hub.add({ res, kind, deviceId });
    });
  };
}
