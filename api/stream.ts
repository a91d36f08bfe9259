// `GET /api/v1/stream` (docs/contract.md §5): Server-Sent Events — `reading`, `status` and `alert` events as they happen, filtered by
// kind and device, a heartbeat comment so proxies keep the connection, and `Last-Event-ID` resume for alert
// events (each carries its sequence number as `id`; readings carry none, so they never move a client's resume
// point). A client that cannot keep up is disconnected rather than buffered without bound.
//
// Scopes (issue 20): a client sees only the readings and alerts of devices inside its caller's scope — live and in
// the Last-Event-ID replay. Revocation reaches live connections: a stream ends at once when its key is revoked or its
// role or scope changes (registry events, which arrive from other nodes through the shared registry too), and every
// second each stream's credential is checked again (`stillValid`: a console session ended, idle or expired on any
// node; a key deleted while a notification was missed), so nothing keeps streaming what its caller no longer has.
import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DeviceIdSchema, KindSchema, type ApiPrincipal } from '../registry/device.js';
import type { DeviceRecord, Registry } from '../registry/registry.js';
import { isUnscoped, scopeAllows, type Scope } from '../registry/scope.js';
import { ProblemSchema } from './problem.js';

interface StreamClient {
  res: ServerResponse;
  kind?: string;
  deviceId?: string;
  /** The caller's scope; unscoped = sees every device. */
  scope: Scope;
  /** Who opened it: ends the stream when that key or person is revoked or changed. */
  principal: { type: ApiPrincipal['type']; id: string };
  /** Is the credential still good, with the same role and scope? Checked every REVALIDATE_MS. */
  stillValid?: () => Promise<boolean>;
}

/** How often each stream's credential is checked again: revocation ends a stream within this (and at once on events). */
export const REVALIDATE_MS = 1000;

export interface AlertEventSource {
  /** Alert events after `seq`, oldest first, as `{ seq, data }` with data already in API shape. */
  alertEventsAfter(seq: number): Array<{ seq: number; kind: string; deviceId: string; data: unknown }>;
  /** A device's city (scoped replay); undefined for a device that no longer exists. */
  cityOf(deviceId: string): string | undefined;
}

const MAX_BUFFERED = 1024 * 1024;

export class StreamHub {
  private readonly clients = new Set<StreamClient>();
  private revalidating = false;
  private readonly revalidator: NodeJS.Timeout;
  /**
   * `cityOf`: a device's city, for scoped clients (the registry's view); undefined = unknown device, which a scoped
   * client does not see.
   */
  constructor(readonly maxClients = 1000, private readonly cityOf: (deviceId: string) => string | undefined = () => undefined) {
    this.revalidator = setInterval(() => void this.revalidate(), REVALIDATE_MS);
    this.revalidator.unref();
  }

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

  /** A device came online or went offline (issue 25): `status` events, so a console changes its marker at once. */
  status(kind: string, deviceId: string, data: unknown): void {
    if (this.clients.size === 0) return;
    this.broadcast(kind, deviceId, `event: status\ndata: ${JSON.stringify(data)}\n\n`);
  }

  alert(seq: number, kind: string, deviceId: string, data: unknown): void {
    if (this.clients.size === 0) return;
    this.broadcast(kind, deviceId, alertFrame(seq, data));
  }

  heartbeat(): void {
    for (const c of this.clients) this.write(c, `: heartbeat ${new Date().toISOString()}\n\n`);
  }

  closeAll(): void {
    clearInterval(this.revalidator);
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }

  /** Ends the streams of a key or person (revoked, disabled, deleted, role or scope changed). Returns how many. */
  endFor(type: ApiPrincipal['type'], id: string): number {
    let ended = 0;
    for (const c of this.clients) {
      if (c.principal.type !== type || c.principal.id !== id) continue;
      this.end(c);
      ended++;
    }
    return ended;
  }

  /** Checks every stream's credential again; ends those no longer valid. */
  async revalidate(): Promise<void> {
    if (this.revalidating || this.clients.size === 0) return;
    this.revalidating = true;
    try {
      await Promise.all([...this.clients].map(async (c) => {
        if (!c.stillValid) return;
        const ok = await c.stillValid().catch(() => true); // a registry that cannot answer now is asked again next time
        if (!ok) this.end(c);
      }));
    } finally {
      this.revalidating = false;
    }
  }

  private end(c: StreamClient): void {
    this.clients.delete(c);
    c.res.end();
  }

  private broadcast(kind: string, deviceId: string, frame: string): void {
    let city: string | null | undefined = null; // looked up once, and only when a scoped client needs it
    for (const c of this.clients) {
      if (c.kind && c.kind !== kind) continue;
      if (c.deviceId && c.deviceId !== deviceId) continue;
      if (!isUnscoped(c.scope)) {
        if (city === null) city = this.cityOf(deviceId);
        if (city === undefined || !scopeAllows(c.scope, { city, kind })) continue;
      }
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

/** Ends streams when the registry says a key or person was revoked or changed (also for changes made through other nodes). */
export function endStreamsOnRevoke(hub: StreamHub, registry: Registry): () => void {
  const onKey = (id: string) => hub.endFor('key', id);
  const onUser = (id: string) => hub.endFor('user', id);
  const events = [['key-revoked', onKey], ['key-changed', onKey], ['user-removed', onUser], ['user-changed', onUser]] as const;
  for (const [event, fn] of events) registry.on(event, fn);
  return () => {
    for (const [event, fn] of events) registry.off(event, fn);
  };
}

/**
 * Sends a `status` event whenever this node's registry sees a device come online or go offline (its broker's
 * CONNECT, DISCONNECT, Last Will or missed keepalive; a status publish).
 */
export function streamStatusChanges(hub: StreamHub, registry: Registry): () => void {
  const onStatus = (d: DeviceRecord) => hub.status(d.kind, d.id, { deviceId: d.id, kind: d.kind, status: d.status, lastSeen: d.lastSeen === null ? null : new Date(d.lastSeen).toISOString() });
  registry.on('status', onStatus);
  return () => registry.off('status', onStatus);
}

export function streamPlugin(hub: StreamHub, source: AlertEventSource): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/api/v1/stream', {
      config: { role: 'viewer', queryToken: true },
      schema: {
        tags: ['stream'],
        summary: 'Live readings and alert changes as Server-Sent Events (resume alerts with Last-Event-ID)',
        description:
          'Events: `reading` {deviceId, kind, ts, values}; `status` {deviceId, kind, status, lastSeen} when a device comes online or goes offline; `alert` {type, alert} with `id` = sequence number. A browser EventSource may pass the key as `access_token`.',
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
      const principal = request.principal!;
      const scope = principal.scope;
      if (resumeFrom !== undefined) {
        for (const e of source.alertEventsAfter(resumeFrom)) {
          if (kind && e.kind !== kind) continue;
          if (deviceId && e.deviceId !== deviceId) continue;
          if (!isUnscoped(scope)) {
            const city = source.cityOf(e.deviceId);
            if (city === undefined || !scopeAllows(scope, { city, kind: e.kind })) continue;
          }
          res.write(alertFrame(e.seq, e.data));
        }
      }
      hub.add({ res, kind, deviceId, scope, principal: { type: principal.type, id: principal.id }, stillValid: request.stillValid ?? undefined });
    });
  };
}
