// The fastify app: one plugin per API area; route schemas (zod) validate input, serialise output and produce
// the OpenAPI document at once.
import { createHash } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Server } from 'node:https';
import { installAuth, presentedKey } from './auth.js';
import type { ApiContext } from './context.js';
import type { Registry } from '../registry/registry.js';
import { devicesPlugin } from './devices.js';
import { healthPlugin } from './health.js';
import { keysPlugin } from './keys.js';
import { installProblemHandlers, sendProblem } from './problem.js';
import { readingsPlugin } from './readings.js';
import { installSessions, Sessions, sessionPlugin } from './session.js';
import { usersPlugin } from './users.js';
import { exportPlugin } from './export.js';
import { installScopeGuard } from './scope-guard.js';
import type { OidcSettings } from './oidc-mapping.js';
import { oidcPlugin } from './oidc.js';

export interface ApiOptions {
  https?: { cert: Buffer; key: Buffer };
  /** Extra plugins (alerts, stream, summary) registered by the platform. */
  plugins?: Array<(app: FastifyInstance) => Promise<void>>;
  /** Console sessions (kept in the registry): absolute lifetime (default 24 h) and idle limit (default 8 h). */
  sessionTtlMs?: number;
  sessionIdleMs?: number;
  /** How long a person's password-setting link lasts (default 72 h). */
  passwordLinkTtlMs?: number;
  /** Whose X-Forwarded-* headers to believe (PANTAU_TRUST_PROXY), as fastify's trustProxy; default none. */
  trustProxy?: boolean | string[];
  /** Console single sign-on (OpenID Connect); unset = off. */
  oidc?: OidcSettings;
}

export async function buildApi(ctx: ApiContext, options: ApiOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    // request lines would drown the log at API load; errors are still logged
    loggerInstance: ctx.log.child({ component: 'api' }, { level: ctx.log.level === 'info' ? 'warn' : ctx.log.level }),
    bodyLimit: 64 * 1024,
    // behind a TLS-terminating proxy named here, X-Forwarded-Proto makes request.protocol https (the Secure cookie)
    // and X-Forwarded-For the client address the login throttle counts; from anyone else both are ignored
    trustProxy: options.trustProxy ?? false,
    ...(options.https ? { https: { cert: options.https.cert, key: options.https.key } } : {}),
    routerOptions: { maxParamLength: 200 },
    // errors fastify raises before routing (a malformed URL, an overlong parameter) are problems too
    frameworkErrors: (error, _request, reply) => {
      const status = error.statusCode ?? 400;
      void sendProblem(reply, status >= 400 && status < 500 ? status : 400, error.message.replace(/\s+at\s.+/gs, '').slice(0, 200));
    },
  }) as unknown as FastifyInstance<Server>;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installProblemHandlers(app);

  await app.register(helmet, {
    // the Swagger UI page needs its own inline script and styles
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'", "'unsafe-inline'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:', 'validator.swagger.io'],
      },
    },
  });
  await app.register(cors, { origin: ctx.corsOrigins.length > 0 ? ctx.corsOrigins : false });
  if (ctx.apiRateLimit > 0) {
    await app.register(rateLimit, {
      max: ctx.apiRateLimit,
      timeWindow: 60_000,
      // per API key when a real one is presented, else per client address
      keyGenerator: async (request) => {
        const key = presentedKey(request);
        return key && (await isRealKey(ctx.registry, key)) ? `key:${fingerprintOf(key)}` : `ip:${request.ip}`;
      },
      errorResponseBuilder: (_request, context) => ({
        statusCode: 429,
        message: `rate limit of ${context.max} requests per minute exceeded; retry in ${Math.ceil(context.ttl / 1000)} s`,
      }),
    });
  }
  const sessions = new Sessions(ctx.registry, { ttlMs: options.sessionTtlMs ?? 24 * 3_600_000, idleMs: options.sessionIdleMs ?? 8 * 3_600_000 });
  installSessions(app, ctx.registry, sessions);
  installAuth(app, ctx.registry, sessions);
  installScopeGuard(app, ctx.registry);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Pantau sensor API',
        description: 'Smart-city sensor platform for East Kalimantan: devices, readings, indices, alerts.',
        version: '1.0.0',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Pantau API key' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
    // the schemas with an id (Alert, Problem …) as components, so that every $ref in the document resolves
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const typed = app.withTypeProvider<ZodTypeProvider>();
  await typed.register(healthPlugin(ctx));
  await typed.register(devicesPlugin(ctx));
  await typed.register(readingsPlugin(ctx));
  await typed.register(exportPlugin(ctx));
  await typed.register(keysPlugin(ctx));
  await typed.register(sessionPlugin(sessions, ctx.registry));
  await typed.register(usersPlugin(ctx, { passwordLinkTtlMs: options.passwordLinkTtlMs ?? 72 * 3_600_000 }));
  await typed.register(oidcPlugin({ sessions, registry: ctx.registry, settings: options.oidc, log: ctx.log }));
  for (const plugin of options.plugins ?? []) await typed.register(plugin);
  return app as unknown as FastifyInstance;
}

/**
 * Whether a presented key has an allowance of its own: a key verified before, or a generated key (`pk_<id>.<secret>`)
 * of an existing id whose secret checks out now. That check is cheap (generated keys are HMAC-hashed,
 * registry/secrets.ts) and runs before authentication, so the owner's first request already draws on its own
 * allowance. A key id alone proves nothing: anyone who knows one could send `pk_<id>.garbage` and spend that key's
 * allowance, shutting its owner out; made-up and wrong keys all count against their client address. Other keys (the
 * scrypt-hashed bootstrap key) are not checked here: they count as verified once authentication has passed them.
 */
async function isRealKey(registry: Registry, key: string): Promise<boolean> {
  if (registry.isVerifiedKey(key)) return true;
  const id = /^pk_([0-9a-f]{12})\./.exec(key)?.[1];
  if (id === undefined || registry.key(id) === undefined) return false;
  return (await registry.authenticateKey(key).catch(() => null)) !== null;
}

/** The rate limiter's name for a verified key: a digest, so the key itself is not kept in the limiter's store. */
function fingerprintOf(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('base64url');
}
