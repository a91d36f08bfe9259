// RFC 9457 problem details: every error the API answers is `application/problem+json` with type, title,
// status and detail — never a stack trace.
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ConflictError, NotFoundError, RegistryUnavailableError } from '../registry/registry.js';
import { HashQueueFullError } from '../registry/secrets.js';

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  406: 'Not acceptable',
  409: 'Conflict',
  413: 'Payload too large',
  410: 'Gone',
  415: 'Unsupported media type',
  423: 'Locked',
  429: 'Too many requests',
  500: 'Internal error',
  503: 'Service unavailable',
};

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly slug?: string,
    readonly headers: Record<string, string> = {},
    /** Extension members of the problem (RFC 9457 §3.2), e.g. `lockedUntil`. */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
  }
}

export const badRequest = (detail: string) => new HttpProblem(400, detail, 'bad-request');
export const notFound = (detail: string) => new HttpProblem(404, detail, 'not-found');

export function sendProblem(reply: FastifyReply, status: number, detail: string, slug?: string, extensions: Record<string, unknown> = {}): FastifyReply {
  const title = TITLES[status] ?? (status >= 500 ? 'Server error' : 'Client error');
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ ...extensions, type: `https://pantau.dev/problems/${slug ?? title.toLowerCase().replace(/\s+/g, '-')}`, title, status, detail });
}

export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    // the registry's own refusals, wherever a route meets them
    if (error instanceof NotFoundError) return sendProblem(reply, 404, error.message, 'not-found');
    if (error instanceof ConflictError) return sendProblem(reply, 409, error.message, 'conflict');
    // the shared registry (PostgreSQL) is restarting or unreachable: nothing was changed, try again
    if (error instanceof RegistryUnavailableError) return sendProblem(reply.header('retry-after', '5'), 503, error.message, 'registry-unavailable');
    if (error instanceof HttpProblem) {
      for (const [k, v] of Object.entries(error.headers)) reply.header(k, v);
      return sendProblem(reply, error.status, error.detail, error.slug, error.extensions);
    }
    // every credential check is waiting behind a full scrypt queue (a login flood): come back shortly
    if (error instanceof HashQueueFullError) return sendProblem(reply.header('retry-after', '5'), 503, error.message, 'busy');
    if (hasZodFastifySchemaValidationErrors(error)) {
      const where = error.validationContext ?? 'request';
      const first = error.validation[0];
      const path = first ? String(first.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.') : '';
      const message = first?.message ?? 'invalid';
      return sendProblem(reply, 400, `${where}${path ? `.${path}` : ''}: ${message}`, 'invalid-parameter');
    }
    // The registry's storage cannot take the write now (disk full, I/O error, locked, or its server is
    // unreachable): the request is fine and worth retrying later, so 503 with Retry-After, not 500.
    if (isStorageUnavailable(error)) {
      request.log.error({ err: error }, 'registry storage unavailable');
      reply.header('retry-after', '30');
      return sendProblem(reply, 503, `the registry cannot store this now (${storageReason(error)}); retry later`, 'storage-unavailable');
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      if (status === 429) return sendProblem(reply, 429, error.message || 'rate limit exceeded', 'rate-limited');
      // fastify's own client errors (bad JSON body, unsupported content type, body too large)
      return sendProblem(reply, status, sanitize(error.message), undefined);
    }
    request.log.error({ err: error }, 'request failed');
    return sendProblem(reply, status >= 500 && status < 600 ? status : 500, 'the server could not complete the request; the error is logged');
  });
  app.setNotFoundHandler((request, reply) => sendProblem(reply, 404, `no route ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`));
}

const STORAGE_CODES = /^(SQLITE_(FULL|IOERR|BUSY|LOCKED|READONLY|CANTOPEN)|ENOSPC|EIO|EROFS|ECONNREFUSED|ECONNRESET|ETIMEDOUT|57P0[1-3]|08\d{3})/;

/** An error of the registry's storage that a retry may get past (SQLite full or busy, PostgreSQL unreachable). */
export function isStorageUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && STORAGE_CODES.test(code);
}

function storageReason(error: unknown): string {
  const code = String((error as { code?: unknown }).code);
  if (/FULL|ENOSPC/.test(code)) return 'disk full';
  if (/BUSY|LOCKED/.test(code)) return 'busy';
  if (/^(57P|08|ECONN|ETIMEDOUT)/.test(code)) return 'database unreachable';
  return 'storage error';
}

function sanitize(message: string): string {
  return message.replace(/\s+at\s.+/gs, '').slice(0, 300);
}
