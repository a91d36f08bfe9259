// Device authentication and topic rules for an external broker (docs/contract.md §7), in the shape EMQX 5's HTTP
// authenticator and HTTP authorizer expect: `POST /api/v1/broker/auth` answers CONNECT, `POST
// /api/v1/broker/acl` answers each PUBLISH and SUBSCRIBE, both with `{"result": "allow" | "deny" | "ignore"}`.
// The rules are docs/contract.md §3's, as broker/authorize.ts applies them in the embedded broker, plus the ingest worker
// account. Only the broker may ask: every request must carry the shared secret (PANTAU_BROKER_AUTH_SECRET) in
// `x-pantau-broker-secret`, or these routes would be a device-token oracle for anyone who can reach the API.
//
// "ignore" (let the broker's next authenticator or authorizer decide) is the answer for usernames that are none
// of Pantau's: an operator may keep their own accounts (monitoring, bridges) in the broker's built-in database.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { API_KEY_USERNAME } from '../broker/authenticate.js';
import { SHARED_SUBSCRIPTIONS, isDeviceId, parseDeviceTopic } from '../catalog/index.js';
import { parseExtraTopic } from '../catalog/device-config.js';
import type { ApiPrincipal } from '../registry/device.js';
import type { Registry } from '../registry/registry.js';
import { UNSCOPED, describeScope, isUnscoped, scopeAllows, scopeAllowsKind, type Scope } from '../registry/scope.js';
import type { ApiContext } from './context.js';
import { HttpProblem, ProblemSchema } from './problem.js';

/** The account ingest workers log in to the external broker with. */
export const INGEST_WORKER_USERNAME = 'pantau-ingest';
/** Client ids ingest workers use; reserved, because taking over a worker's session means reading its telemetry. */
export const INGEST_CLIENT_ID_PREFIX = 'pantau-ingest';
export const BROKER_SECRET_HEADER = 'x-pantau-broker-secret';
/** Internal topic of a cluster: each node's acknowledged readings, for every node's `latest` and live stream. */
export const CLUSTER_READINGS_TOPIC = 'pantau/cluster/readings';

export interface BrokerAuthOptions {
  /** Shared secret the broker sends in `x-pantau-broker-secret`. Unset: both routes answer 404. */
  secret?: string;
  /** Password of the `pantau-ingest` worker account (the workers' PANTAU_BROKER_PASSWORD). Unset: no worker account. */
  workerPassword?: string;
}

const Result = z.enum(['allow', 'deny', 'ignore']);
type Result = z.infer<typeof Result>;

// EMQX sends what its request template names; fields beyond these (peerhost, qos, retain…) are accepted and ignored.
const AuthRequest = z.object({
  username: z.string().max(1024).optional(),
  password: z.string().max(1024).optional(),
  clientid: z.string().max(1024).optional(),
  peerhost: z.string().max(256).optional().describe('the client\'s address; failed logins are throttled per address when it is sent, per username otherwise'),
}).meta({ description: 'EMQX HTTP authentication request; body template {"username":"${username}","password":"${password}","clientid":"${clientid}","peerhost":"${peerhost}"}' });

const AuthResponse = z.object({
  result: Result,
  is_superuser: z.boolean(),
});

const AclRequest = z.object({
  username: z.string().max(1024).optional(),
  clientid: z.string().max(1024).optional(),
  topic: z.string().max(65535),
  action: z.string().max(32).describe('publish | subscribe'),
}).meta({ description: 'EMQX HTTP authorization request; body template {"username":"${username}","clientid":"${clientid}","topic":"${topic}","action":"${action}"}' });

const AclResponse = z.object({ result: Result });

const errors = { 401: ProblemSchema, 404: ProblemSchema };

/** Topic filters city systems logged in with an API key may subscribe to (as in broker/authorize.ts). */
const ALERT_FILTER = /^alerts\/(#|[a-z]+\/(#|\+|[a-z0-9-]+))$/;
/** Where ingest workers publish: rejection notices and alerts for city systems. */
const ALERT_TOPIC = /^alerts\/[a-z]+\/[a-z0-9][a-z0-9-]{1,62}$/;
const WORKER_SUBSCRIPTIONS = new Set([...SHARED_SUBSCRIPTIONS, ...SHARED_SUBSCRIPTIONS.map((s) => s.replace(/^\$share\/[^/]+\//, '')), CLUSTER_READINGS_TOPIC]);

/** What API key ids look like (registry.createKey): the part of a client id before its first `-`. */
const KEY_ID = /^[0-9a-f]{12}$/;

/**
 * True when `clientId` is `<keyId>` or `<keyId>-<anything>`: the client ids of a scoped key's logins at an external
 * broker. The broker's ACL request carries the client id but not the password, so the client id is how the ACL
 * knows which key logged in (docs/contract.md §7).
 */
export function clientIdNamesKey(clientId: string | undefined, keyId: string): boolean {
  return clientId !== undefined && (clientId === keyId || clientId.startsWith(`${keyId}-`));
}

/** CONNECT of an API key whose secret holds: a scoped key must name itself in the client id. */
function apiKeyLogin(principal: ApiPrincipal | null, clientid: string | undefined): { result: Result; why: string } {
  if (!principal) return { result: 'deny', why: 'unknown API key' };
  if (isUnscoped(principal.scope) || clientIdNamesKey(clientid, principal.id)) return { result: 'allow', why: 'API key' };
  return { result: 'deny', why: `API key ${principal.id} is scoped (${describeScope(principal.scope)}): its client id must be ${principal.id} or start with ${principal.id}-` };
}

/**
 * The scope an API-key session's subscriptions are judged by, from its client id: the key it names (a scoped key
 * cannot log in under another one's, apiKeyLogin; an unscoped key that names another narrows only itself); null
 * when it names a key that no longer exists (revoked: its session is being kicked); unscoped for any other id,
 * which only an unscoped key can log in with.
 */
function sessionScope(registry: Registry, clientid: string | undefined): Scope | null {
  const prefix = clientid?.split('-', 1)[0] ?? '';
  const key = registry.key(prefix);
  if (key) return key.scope;
  return KEY_ID.test(prefix) ? null : UNSCOPED;
}

/**
 * SUBSCRIBE of a city system: alerts only, and a scoped key only those inside its scope — one device's topic
 * (`alerts/{kind}/{id}`) of a device it sees, or a whole kind (`alerts/{kind}/+`, `…/#`) when its scope restricts
 * no cities and holds the kind. `alerts/#` is for unscoped keys.
 */
async function authorizeKeySubscription(registry: Registry, clientid: string | undefined, topic: string, action: string): Promise<{ result: Result; why: string }> {
  if (action !== 'subscribe' || !ALERT_FILTER.test(topic)) return { result: 'deny', why: 'API-key logins only subscribe to alerts' };
  const scope = sessionScope(registry, clientid);
  if (!scope) return { result: 'deny', why: 'the client id names an API key that does not exist (revoked)' };
  if (isUnscoped(scope)) return { result: 'allow', why: 'alerts for city systems' };
  const outside = { result: 'deny' as const, why: `outside the API key's scope (${describeScope(scope)}): subscribe to alerts/{kind}/{deviceId} of its devices, or alerts/{kind}/+ when it restricts no cities` };
  const [, kind, rest] = topic.split('/');
  if (kind === '#') return outside;
  if (rest === '#' || rest === '+') return scope.cities.length === 0 && scopeAllowsKind(scope, kind!) ? { result: 'allow', why: 'alerts of a kind inside the key\'s scope' } : outside;
  const device = await registry.lookupDevice(rest!);
  return device && device.kind === kind && scopeAllows(scope, device) ? { result: 'allow', why: 'alerts of a device inside the key\'s scope' } : outside;
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
/** Constant-time equality of two secrets of any length. */
const sameSecret = (given: string, expected: Buffer) => timingSafeEqual(digest(given), expected);

export function brokerAuthPlugin(ctx: ApiContext, options: BrokerAuthOptions): FastifyPluginAsyncZod {
  return async (app) => {
    const { registry, log } = ctx;
    const secret = options.secret ? digest(options.secret) : undefined;
    const workerPassword = options.workerPassword ? digest(options.workerPassword) : undefined;

    const presentsSecret = (request: FastifyRequest) => {
      const given = request.headers[BROKER_SECRET_HEADER];
      return secret !== undefined && typeof given === 'string' && sameSecret(given, secret);
    };

    // preValidation, not onRequest: the rate limiter (an onRequest hook of the route) must count a wrong secret first
    app.addHook('preValidation', async (request) => {
      if (!secret) throw new HttpProblem(404, 'the broker auth endpoints are off: set PANTAU_BROKER_AUTH_SECRET and send it in x-pantau-broker-secret', 'broker-auth-off');
      if (!presentsSecret(request)) {
        log.warn({ ip: request.ip, route: request.url }, 'broker auth: request without the shared secret refused');
        throw new HttpProblem(401, `this route is for the MQTT broker only: send the shared secret in ${BROKER_SECRET_HEADER}`, 'unauthorized');
      }
    });
    // every CONNECT and (uncached) PUBLISH/SUBSCRIBE of the fleet comes through here: the broker, once it has shown
    // the secret, is not held to the per-client API rate limit; guessing the secret still is
    const rateLimit = { allowList: (request: FastifyRequest) => presentsSecret(request) };

    const authenticate = async (body: z.infer<typeof AuthRequest>): Promise<{ result: Result; why: string }> => {
      const { username, password, clientid } = body;
      const reservedClientId = clientid?.startsWith(INGEST_CLIENT_ID_PREFIX) ?? false;
      if (username === INGEST_WORKER_USERNAME) {
        if (!workerPassword) return { result: 'deny', why: 'no ingest worker account configured' };
        if (!password || !sameSecret(password, workerPassword)) return { result: 'deny', why: 'wrong ingest worker password' };
        if (!reservedClientId) return { result: 'deny', why: `ingest workers use client ids starting with ${INGEST_CLIENT_ID_PREFIX}` };
        return { result: 'allow', why: 'ingest worker' };
      }
      if (reservedClientId) return { result: 'deny', why: `client id prefix ${INGEST_CLIENT_ID_PREFIX} is reserved for ingest workers` };
      if (username !== API_KEY_USERNAME && !isDeviceId(username)) return { result: 'ignore', why: 'not a Pantau account' };
      if (!password || password.length > 512) return { result: 'deny', why: 'missing credentials' };
      // As the embedded broker does: credentials not seen before cost a hash check, so the attempt is counted
      // against the client's address (or, when the broker does not send it, the username) before the check.
      const known = username === API_KEY_USERNAME ? registry.isVerifiedKey(password) : registry.isVerifiedToken(username!, password);
      const throttleKey = body.peerhost ? `peer:${body.peerhost}` : `user:${username}`;
      if (!known && !registry.authThrottle.reserve(throttleKey)) return { result: 'deny', why: 'too many failed logins' };
      const ok = username === API_KEY_USERNAME ? (await registry.authenticateKey(password)) !== null : (await registry.authenticateDevice(username!, password)) !== null;
      if (ok && !known) registry.authThrottle.succeeded(throttleKey);
      if (!ok) return username === API_KEY_USERNAME ? { result: 'deny', why: 'unknown API key' } : { result: 'deny', why: 'unknown device or wrong token' };
      // As broker/authenticate.ts: the broker would hand the session of a client id to whoever connects with it last,
      // so no login may use another device's id as its client id (checked after the credentials: no device-id oracle).
      if (clientid !== undefined && clientid !== username && registry.device(clientid) !== undefined) {
        return { result: 'deny', why: 'client id is another device\'s id' };
      }
      // (the key is verified by now: authenticateKey answers from its cache)
      if (username === API_KEY_USERNAME) return apiKeyLogin(await registry.authenticateKey(password), clientid);
      return { result: 'allow', why: 'device' };
    };

    const authorize = async (body: z.infer<typeof AclRequest>): Promise<{ result: Result; why: string }> => {
      const { username, topic, action } = body;
      if (action !== 'publish' && action !== 'subscribe') return { result: 'deny', why: `unknown action ${action.slice(0, 32)}` };
      if (username === INGEST_WORKER_USERNAME) {
        if (action === 'subscribe') {
          if (WORKER_SUBSCRIPTIONS.has(topic)) return { result: 'allow', why: 'ingest worker subscription' };
          // a new alert owner reads back the retained alert of each device whose publish it cannot tell was made
          // (alerts/owner-publish.ts); one device's topic at a time, never a wildcard
          if (ALERT_TOPIC.test(topic)) return { result: 'allow', why: 'alert owner reading back a retained alert' };
          return { result: 'deny', why: 'ingest workers subscribe only to the shared telemetry, senml and config/reported subscriptions, the cluster readings view and single alert topics' };
        }
        if (parseDeviceTopic(topic)?.channel === 'rejections' || ALERT_TOPIC.test(topic)) return { result: 'allow', why: 'ingest worker notice' };
        // configuration pushes (retained, QoS 1) go out through the ingest workers' broker sessions
        if (parseExtraTopic(topic)?.channel === 'config') return { result: 'allow', why: 'configuration push' };
        if (topic === CLUSTER_READINGS_TOPIC) return { result: 'allow', why: 'cluster readings view' };
        return { result: 'deny', why: 'ingest workers publish only rejections, alerts, configuration pushes and the cluster readings view' };
      }
      if (username === API_KEY_USERNAME) return authorizeKeySubscription(registry, body.clientid, topic, action);
      if (!isDeviceId(username)) return { result: 'ignore', why: 'not a Pantau account' };
      // shared registry: a device created through another node a moment ago is read from PostgreSQL
      const device = await registry.lookupDevice(username);
      if (!device) return { result: 'deny', why: 'unknown device' };
      const parsed = parseDeviceTopic(topic) ?? parseExtraTopic(topic);
      const own = parsed !== null && parsed.deviceId === device.id && parsed.kind === device.kind;
      if (action === 'publish') {
        return own && parsed.channel !== 'rejections' && parsed.channel !== 'config'
          ? { result: 'allow', why: 'own telemetry, SenML, status or config report' }
          : { result: 'deny', why: 'devices publish only to their own telemetry, senml, status and config/reported topics' };
      }
      return own && (parsed.channel === 'rejections' || parsed.channel === 'config')
        ? { result: 'allow', why: `own ${parsed.channel}` }
        : { result: 'deny', why: 'devices subscribe only to their own rejections and config topics' };
    };

    app.post('/api/v1/broker/auth', {
      config: { rateLimit },
      schema: {
        tags: ['broker'],
        summary: 'MQTT CONNECT check for an external broker (EMQX HTTP authentication)',
        description: `For the broker only: needs the ${BROKER_SECRET_HEADER} header. Devices log in with their id and token, city systems with username ${API_KEY_USERNAME} and an API key (a scoped key with client id <key id> or <key id>-…), ingest workers with username ${INGEST_WORKER_USERNAME}; other usernames are "ignore".`,
        security: [],
        body: AuthRequest,
        response: { 200: AuthResponse, ...errors },
      },
    }, async (request) => {
      const { result, why } = await authenticate(request.body);
      if (result === 'deny') {
        ctx.metrics.authFailures.inc();
        log.info({ username: request.body.username?.slice(0, 100), clientId: request.body.clientid?.slice(0, 100), why }, 'broker auth: CONNECT denied');
      }
      return { result, is_superuser: false };
    });

    app.post('/api/v1/broker/acl', {
      config: { rateLimit },
      schema: {
        tags: ['broker'],
        summary: 'MQTT PUBLISH/SUBSCRIBE check for an external broker (EMQX HTTP authorization)',
        description: `For the broker only: needs the ${BROKER_SECRET_HEADER} header. docs/contract.md §3 and §10 topic rules: a device publishes only to its own telemetry, senml, status and config/reported topics and subscribes only to its own rejections and config topics; an API-key login subscribes only to alerts, a scoped key's (named by its client id) only inside its scope.`,
        security: [],
        body: AclRequest,
        response: { 200: AclResponse, ...errors },
      },
    }, async (request) => {
      const { result, why } = await authorize(request.body);
      if (result === 'deny') {
        ctx.metrics.aclDenials.inc({ action: request.body.action === 'subscribe' ? 'subscribe' : 'publish' });
        log.warn({ username: request.body.username?.slice(0, 100), action: request.body.action.slice(0, 32), topic: request.body.topic.slice(0, 200), why }, 'broker ACL: denied');
      }
      return { result };
    });
  };
}
