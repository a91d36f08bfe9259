// CAP 1.2 over HTTP (docs/cap.md): an alert's latest message, each message by its identifier, and an Atom feed of the
// current and recent messages. Messages are rebuilt from the stored alert events on every request (alerts/cap.ts),
// so every node answers the same bytes for the same change. Access: a viewer key, scoped like api/alerts.ts; with
// PANTAU_CAP_PUBLIC=true the feed and the messages are public, of public devices only (catalog/public.ts).
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { capMessages, escapeXml, isCapRule, parseCapIdentifier, witaTime, type CapMessage } from '../alerts/cap.js';
import type { StoredEvent } from '../alerts/store.js';
import { isPublicDevice } from '../catalog/public.js';
import type { Role } from '../registry/device.js';
import type { Registry } from '../registry/registry.js';
import { alertVisible } from './alerts.js';
import { HttpProblem, notFound, ProblemSchema } from './problem.js';
import { callerScope } from './scope-guard.js';

export interface CapBackend {
  get(id: string): { id: string; deviceId: string; rule: string; state: string } | undefined | Promise<{ id: string; deviceId: string; rule: string; state: string } | undefined>;
  alertEvents(alertId: string): StoredEvent[] | Promise<StoredEvent[]>;
  recentAlertEvents(sinceMs: number): StoredEvent[] | Promise<StoredEvent[]>;
}

export interface CapOptions {
  sender: string;
  /** PANTAU_CAP_PUBLIC. */
  public: boolean;
  /** PANTAU_PUBLIC_URL; unset = the request's origin. */
  publicUrl: string | undefined;
}

/** How far back the feed reaches; an alert still active is in it however old its messages. */
export const CAP_FEED_DAYS = 7;
const CAP_TYPE = 'application/cap+xml; charset=utf-8';
const errors = { 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema };
const alertId = z.string().min(1).max(64).regex(/^[A-Za-z0-9-]+$/, 'not an alert id');

export function capPlugin(backend: CapBackend, registry: Registry, options: CapOptions): FastifyPluginAsyncZod {
  const baseUrl = (request: FastifyRequest) => options.publicUrl ?? `${request.protocol}://${request.host}`;
  /** The routes that follow PANTAU_CAP_PUBLIC: no role when public. */
  const access: { role?: Role } = options.public ? {} : { role: 'viewer' };

  /** Whether the caller sees the alert's device's messages; public mode: public devices only. */
  const sees = (request: FastifyRequest, deviceId: string) => {
    if (!request.routeOptions.config.role) {
      const device = registry.device(deviceId);
      return device !== undefined && isPublicDevice(device);
    }
    return alertVisible(registry, callerScope(request), { deviceId });
  };

  const messagesOf = (request: FastifyRequest, events: StoredEvent[]): CapMessage[] => {
    const byAlert = new Map<string, StoredEvent[]>();
    for (const e of events) {
      if (!isCapRule(e.change.alert.rule)) continue;
      const list = byAlert.get(e.change.alert.id) ?? [];
      list.push(e);
      byAlert.set(e.change.alert.id, list);
    }
    const out: CapMessage[] = [];
    for (const list of byAlert.values()) {
      const deviceId = list[0]!.change.alert.deviceId;
      out.push(...capMessages(list, { sender: options.sender, baseUrl: baseUrl(request), device: registry.device(deviceId) }));
    }
    return out;
  };

  return async (app) => {
    app.get('/api/v1/alerts/:id/cap', {
      config: { role: 'viewer' },
      schema: {
        tags: ['alerts'],
        summary: "The alert's latest CAP 1.2 message (flood and air-quality alerts; docs/cap.md)",
        params: z.object({ id: alertId }),
        response: { 200: z.string().describe('application/cap+xml'), 400: ProblemSchema, ...errors },
      },
    }, async (request, reply) => {
      const alert = await backend.get(request.params.id);
      if (!alert || !alertVisible(registry, callerScope(request), alert)) throw notFound(`alert ${request.params.id} does not exist`);
      if (!isCapRule(alert.rule)) {
        throw new HttpProblem(404, `alert ${alert.id} (rule ${alert.rule}) has no CAP message: only flood-level and ISPU alerts are published as CAP`, 'not-found');
      }
      const messages = capMessages(await backend.alertEvents(alert.id), { sender: options.sender, baseUrl: baseUrl(request), device: registry.device(alert.deviceId) });
      const latest = messages[messages.length - 1];
      if (!latest) throw new HttpProblem(404, `alert ${alert.id} has no stored CAP message (its events are older than the event log keeps)`, 'not-found');
      return reply.header('cache-control', 'no-store').type(CAP_TYPE).send(latest.xml);
    });

    app.get('/cap/messages/:file', {
      config: access,
      schema: {
        tags: ['alerts'],
        summary: 'One CAP 1.2 message by its identifier (`{identifier}.xml`, as the feed links it)',
        params: z.object({ file: z.string().min(1).max(300).regex(/^[^/]+\.xml$/, 'must be {identifier}.xml') }),
        response: { 200: z.string().describe('application/cap+xml'), 400: ProblemSchema, ...errors },
      },
    }, async (request, reply) => {
      const identifier = request.params.file.slice(0, -'.xml'.length);
      const parsed = parseCapIdentifier(identifier);
      const alert = parsed ? await backend.get(parsed.alertId) : undefined;
      if (!parsed || !alert || !isCapRule(alert.rule) || !sees(request, alert.deviceId)) throw notFound(`CAP message ${identifier} does not exist`);
      const message = messagesOf(request, await backend.alertEvents(alert.id)).find((m) => m.identifier === identifier);
      if (!message) throw notFound(`CAP message ${identifier} does not exist`);
      // a message never changes once sent: caches may keep it (a private one: it may be scoped)
      return reply.header('cache-control', options.public ? 'public, max-age=300' : 'private, max-age=300').type(CAP_TYPE).send(message.xml);
    });

    app.get('/cap/feed.atom', {
      config: access,
      schema: {
        tags: ['alerts'],
        summary: `Atom feed of the CAP messages of the last ${CAP_FEED_DAYS} days and of every active alert, newest first`,
        response: { 200: z.string().describe('application/atom+xml'), ...errors },
      },
    }, async (request, reply) => {
      const now = Date.now();
      const since = now - CAP_FEED_DAYS * 86_400_000;
      const all = messagesOf(request, await backend.recentAlertEvents(since));
      const latestOf = new Map<string, CapMessage>();
      for (const m of all) latestOf.set(m.alertId, m);
      const entries = all
        .filter((m) => sees(request, m.deviceId))
        // recent ones, and the latest of an alert still active (not cancelled) however old
        .filter((m) => m.sentMs >= since || (latestOf.get(m.alertId) === m && m.msgType !== 'Cancel'))
        .sort((a, b) => b.sentMs - a.sentMs || b.seq - a.seq);
      const base = baseUrl(request);
      const updated = witaTime(entries[0]?.sentMs ?? now);
      const xml =
        '<?xml version="1.0" encoding="UTF-8"?>\n' +
        '<feed xmlns="http://www.w3.org/2005/Atom">\n' +
        `  <id>${escapeXml(`${base}/cap/feed.atom`)}</id>\n` +
        '  <title>Pantau: peringatan CAP / CAP alerts</title>\n' +
        `  <updated>${updated}</updated>\n` +
        `  <author><name>${escapeXml(options.sender)}</name></author>\n` +
        `  <link rel="self" href="${escapeXml(`${base}/cap/feed.atom`)}"/>\n` +
        entries
          .map((m) => {
            const href = `${base}/cap/messages/${encodeURIComponent(m.identifier)}.xml`;
            return (
              '  <entry>\n' +
              `    <id>${escapeXml(`urn:cap:${m.identifier}`)}</id>\n` +
              `    <title>${escapeXml(`${m.msgType}: ${m.headline.id}`)}</title>\n` +
              `    <updated>${m.sent}</updated>\n` +
              `    <summary>${escapeXml(m.headline.en)}</summary>\n` +
              `    <link rel="alternate" type="application/cap+xml" href="${escapeXml(href)}"/>\n` +
              '  </entry>\n'
            );
          })
          .join('') +
        '</feed>\n';
      return reply.header('cache-control', 'no-store').type('application/atom+xml; charset=utf-8').send(xml);
    });
  };
}
