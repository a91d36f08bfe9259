// Notification channels (docs/notifications.md, docs/contract.md §5): admins, within their scope, make the places
// alert messages go to. A channel's owner scope is its creator's; a channel outside the caller's scope does not exist
// for it (404), as keys and people do. Secrets are shown masked in every answer, the one that made them included.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  ChannelInputSchema,
  ChannelPatchSchema,
  ChannelSchema,
  channelForApi,
  mergeConfig,
  type ChannelStore,
  type StoredChannel,
} from '../notify/channels.js';
import { RuleInputSchema, RulePatchSchema, RuleSchema, ruleForApi, ruleScope, type RuleInput, type RuleStore, type StoredRule } from '../notify/rules.js';
import { sendToChannel, type ProviderUrls } from '../notify/send.js';
import type { AckLinks } from '../notify/ack.js';
import type { Registry } from '../registry/registry.js';
import { actorOf } from './auth.js';
import { HttpProblem, notFound, ProblemSchema } from './problem.js';
import { callerScope, checkGrant } from './scope-guard.js';
import { normalizeScope, scopeWithin } from '../registry/scope.js';
import { escapeHtml } from './html.js';

export interface ChannelsOptions {
  registry: Registry;
  channels: ChannelStore;
  rules: RuleStore;
  providerUrls: ProviderUrls;
  ackLinks: AckLinks;
  /** The alert service's acknowledgement: null when the alert is not open. */
  acknowledge: (id: string, actor: string) => unknown | Promise<unknown>;
  /** Counts a send per channel type and outcome (platform/metrics.ts). */
  counted?: (type: string, ok: boolean) => void;
}

const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema };
const IdParams = z.object({ id: z.string().min(1).max(64).regex(/^[A-Za-z0-9-]+$/, 'not a channel id') });

/** The channel, or 404 when it does not exist or lies outside the caller's scope (the same answer for both). */
export async function visibleChannel(channels: ChannelStore, request: FastifyRequest, id: string): Promise<StoredChannel> {
  const c = await channels.get(id);
  if (!c || !scopeWithin(c.scope, callerScope(request))) throw notFound(`channel ${id} does not exist`);
  return c;
}

export function channelsPlugin(options: ChannelsOptions): FastifyPluginAsyncZod {
  return async (app) => {
    const { registry, channels } = options;

    app.post('/api/v1/channels', {
      config: { role: 'admin' },
      schema: {
        tags: ['notifications'],
        summary: 'Create a notification channel (email, telegram, whatsapp, http); its secrets are never shown again',
        description: '`scope` optional: the creator\'s own when left out; a scoped admin gives a channel only a scope inside its own (403).',
        body: ChannelInputSchema,
        response: { 201: ChannelSchema, ...errors },
      },
    }, async (request, reply) => {
      // a channel for a narrower scope than one's own (an unscoped admin making BPBD Samarinda's); never a wider one
      const scope = normalizeScope(request.body.scope ?? callerScope(request));
      checkGrant(request.principal, scope);
      const created = await channels.create(request.body, scope);
      registry.audit(actorOf(request), 'channel.created', `${created.id} (${created.type} ${created.name})`);
      return reply.code(201).send(channelForApi(created));
    });

    app.get('/api/v1/channels', {
      config: { role: 'admin' },
      schema: { tags: ['notifications'], summary: 'Notification channels inside the caller\'s scope, secrets masked', response: { 200: z.object({ items: z.array(ChannelSchema) }), ...errors } },
    }, async (request) => ({ items: (await channels.visible(callerScope(request))).map(channelForApi) }));

    app.get('/api/v1/channels/:id', {
      config: { role: 'admin' },
      schema: { tags: ['notifications'], summary: 'One notification channel, secrets masked', params: IdParams, response: { 200: ChannelSchema, ...errors } },
    }, async (request) => channelForApi(await visibleChannel(channels, request, request.params.id)));

    app.patch('/api/v1/channels/:id', {
      config: { role: 'admin' },
      schema: {
        tags: ['notifications'],
        summary: 'Rename a channel or change its config; a secret left out or sent back masked keeps its stored value',
        params: IdParams,
        body: ChannelPatchSchema,
        response: { 200: ChannelSchema, ...errors },
      },
    }, async (request) => {
      const c = await visibleChannel(channels, request, request.params.id);
      let config = c.config;
      if (request.body.config) {
        const merged = mergeConfig(c, request.body.config);
        if (merged instanceof z.ZodError) {
          const issue = merged.issues[0]!;
          throw new HttpProblem(400, `config.${issue.path.map(String).join('.')}: ${issue.message}`, 'bad-request');
        }
        config = merged;
      }
      const updated: StoredChannel = { ...c, name: request.body.name ?? c.name, config };
      await channels.update(updated);
      registry.audit(actorOf(request), 'channel.updated', `${c.id} (${c.type} ${updated.name})`);
      return channelForApi(updated);
    });

    app.delete('/api/v1/channels/:id', {
      config: { role: 'admin' },
      schema: { tags: ['notifications'], summary: 'Delete a notification channel', params: IdParams, response: { 204: z.null(), ...errors } },
    }, async (request, reply) => {
      const c = await visibleChannel(channels, request, request.params.id);
      await channels.remove(c.id);
      registry.audit(actorOf(request), 'channel.deleted', `${c.id} (${c.type} ${c.name})`);
      return reply.code(204).send(null);
    });

    app.post('/api/v1/channels/:id/test', {
      config: { role: 'admin' },
      schema: {
        tags: ['notifications'],
        summary: 'Send a test message; answers with what the provider said (status, body excerpt, secrets masked)',
        params: IdParams,
        response: { 200: z.object({ ok: z.boolean(), status: z.number().int().nullable(), body: z.string() }), ...errors },
      },
    }, async (request) => {
      const c = await visibleChannel(channels, request, request.params.id);
      const answer = await sendToChannel(c, { text: `Pantau: pesan uji kanal "${c.name}" / test message of channel "${c.name}"` }, options.providerUrls);
      options.counted?.(c.type, answer.ok);
      registry.audit(actorOf(request), 'channel.tested', `${c.id} (${c.type} ${c.name}) → ${answer.status ?? 'no answer'}`);
      return answer;
    });

    // ---- notification rules ------------------------------------------------------------------------

    const { rules } = options;
    const RuleIdParams = z.object({ id: z.string().min(1).max(64).regex(/^[A-Za-z0-9-]+$/, 'not a rule id') });
    const visibleRule = async (request: FastifyRequest, id: string): Promise<StoredRule> => {
      const r = await rules.get(id);
      if (!r || !scopeWithin(r.owner, callerScope(request))) throw notFound(`notification rule ${id} does not exist`);
      return r;
    };
    /** The rule as it would be stored: its scope inside the owner's (403), its channels ones the caller sees (400). */
    const checked = async (request: FastifyRequest, input: RuleInput, owner = callerScope(request)): Promise<Omit<StoredRule, 'id' | 'createdAt'>> => {
      const scope = ruleScope(input.scope, owner);
      if (typeof scope === 'string') throw new HttpProblem(403, scope, 'forbidden');
      for (const id of [...input.channels, ...input.escalation.flatMap((t) => t.channels)]) {
        const c = await channels.get(id);
        if (!c || !scopeWithin(c.scope, callerScope(request))) throw new HttpProblem(400, `channel ${id} does not exist`, 'bad-request');
      }
      return { ...input, scope, owner };
    };

    app.post('/api/v1/notification-rules', {
      config: { role: 'admin' },
      schema: { tags: ['notifications'], summary: 'Create a notification rule (alerts in its scope at or above minSeverity → its channels)', body: RuleInputSchema, response: { 201: RuleSchema, ...errors } },
    }, async (request, reply) => {
      const created = await rules.create(await checked(request, request.body));
      registry.audit(actorOf(request), 'notification_rule.created', `${created.id} (${created.name})`);
      return reply.code(201).send(ruleForApi(created));
    });

    app.get('/api/v1/notification-rules', {
      config: { role: 'admin' },
      schema: { tags: ['notifications'], summary: 'Notification rules inside the caller\'s scope', response: { 200: z.object({ items: z.array(RuleSchema) }), ...errors } },
    }, async (request) => ({ items: (await rules.visible(callerScope(request))).map(ruleForApi) }));

    app.get('/api/v1/notification-rules/:id', {
      config: { role: 'admin' },
      schema: { tags: ['notifications'], summary: 'One notification rule', params: RuleIdParams, response: { 200: RuleSchema, ...errors } },
    }, async (request) => ruleForApi(await visibleRule(request, request.params.id)));

    app.patch('/api/v1/notification-rules/:id', {
      config: { role: 'admin' },
      schema: { tags: ['notifications'], summary: 'Change a notification rule (any of its fields)', params: RuleIdParams, body: RulePatchSchema, response: { 200: RuleSchema, ...errors } },
    }, async (request) => {
      const r = await visibleRule(request, request.params.id);
      const parsed = RuleInputSchema.safeParse({
        name: r.name, scope: r.scope, minSeverity: r.minSeverity, channels: r.channels, language: r.language, quietHours: r.quietHours, escalation: r.escalation,
        ...Object.fromEntries(Object.entries(request.body).filter(([, v]) => v !== undefined)),
      });
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new HttpProblem(400, `${issue.path.map(String).join('.') || 'body'}: ${issue.message}`, 'bad-request');
      }
      const merged = parsed.data;
      const updated: StoredRule = { ...r, ...(await checked(request, merged, r.owner)) };
      await rules.update(updated);
      registry.audit(actorOf(request), 'notification_rule.updated', `${r.id} (${updated.name})`);
      return ruleForApi(updated);
    });

    app.delete('/api/v1/notification-rules/:id', {
      config: { role: 'admin' },
      schema: { tags: ['notifications'], summary: 'Delete a notification rule', params: RuleIdParams, response: { 204: z.null(), ...errors } },
    }, async (request, reply) => {
      const r = await visibleRule(request, request.params.id);
      await rules.remove(r.id);
      registry.audit(actorOf(request), 'notification_rule.deleted', `${r.id} (${r.name})`);
      return reply.code(204).send(null);
    });

    // ---- acknowledgement links ---------------------------------------------------------------------
    // The token is the credential (no key). A GET only shows a confirm page: link previewers (Telegram, WhatsApp,
    // mail scanners) fetch URLs, and fetching must not acknowledge. The POST acknowledges in the channel's name.

    const TokenParams = z.object({ token: z.string().min(10).max(600).regex(/^[A-Za-z0-9_.-]+$/, 'not an acknowledgement link') });
    const refusal = (reason: 'invalid' | 'expired' | 'used') => reason === 'invalid'
      ? new HttpProblem(400, 'this acknowledgement link is not valid', 'link-invalid')
      : new HttpProblem(410, reason === 'used' ? 'this acknowledgement link has already been used' : 'this acknowledgement link has expired', reason === 'used' ? 'link-used' : 'link-expired');

    app.get('/api/v1/ack/:token', {
      schema: {
        tags: ['notifications'],
        summary: 'Confirm page of a message\'s acknowledgement link (changes nothing)',
        params: TokenParams,
        response: { 200: z.string(), 400: ProblemSchema, 410: ProblemSchema },
      },
    }, async (request, reply) => {
      const check = await options.ackLinks.check(request.params.token);
      if (!check.ok) throw refusal(check.reason);
      const channel = await channels.get(check.channelId);
      return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(`<!doctype html><html lang="id"><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Pantau: akui peringatan</title><h1>Akui peringatan / Acknowledge alert</h1><p>${escapeHtml(check.alertId)} — ${escapeHtml(channel?.name ?? check.channelId)}</p>
<form method="post"><button type="submit">Akui / Acknowledge</button></form></html>`);
    });

    app.post('/api/v1/ack/:token', {
      schema: {
        tags: ['notifications'],
        summary: 'Acknowledge the alert of a message\'s link, in the channel\'s name; the link works once',
        params: TokenParams,
        response: { 200: z.object({ alertId: z.string(), acknowledged: z.boolean(), by: z.string() }), 400: ProblemSchema, 410: ProblemSchema },
      },
    }, async (request) => {
      const check = await options.ackLinks.check(request.params.token);
      if (!check.ok) throw refusal(check.reason);
      if (!(await options.ackLinks.consume(request.params.token))) throw refusal('used');
      const channel = await channels.get(check.channelId);
      const by = `channel:${check.channelId} (${channel?.name ?? 'deleted'})`;
      const acked = await options.acknowledge(check.alertId, by);
      return { alertId: check.alertId, acknowledged: acked !== null, by };
    });
  };
}
