// The citizens' routes (docs/public.md): the page `/publik` (and `/publik/{city}`), the embeddable card
// `/publik/embed/{city}` and the JSON API `/api/public/v1/…`. No authentication; every answer comes from the public
// snapshot (api/public-snapshot.ts) with a strong ETag and `Cache-Control: public, max-age=60`, so an anonymous
// crowd never reaches InfluxDB or the registry. Each route has its own per-address rate limit.
import type { FastifyContextConfig, FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { embedCard, publicPage, PUBLIC_CSS, type Lang } from './public-page.js';
import type { PublicCity, PublicSnapshot, PublicSnapshots, Rendered } from './public-snapshot.js';
import { HttpProblem, ProblemSchema } from './problem.js';
import { acceptsGzip } from './accept-encoding.js';

/** The page's policy: its own stylesheet, no script at all, framed by nobody (the embed by anybody). */
const PAGE_CSP = ["default-src 'none'", "style-src 'self'", "img-src 'self' data:", "base-uri 'none'", "form-action 'none'"];

export interface PublicRoutesOptions {
  /** Requests per minute per client address (PANTAU_PUBLIC_RATE_LIMIT); 0 = no limit of their own. */
  rateLimit: number;
}

const LangQuery = z.object({ lang: z.enum(['id', 'en']).default('id') });
const CityQuery = z.object({ city: z.string().max(100).optional() });
const CityParams = z.object({ city: z.string().min(1).max(100) });

const TermSchema = z.object({ id: z.string(), en: z.string() });
const IspuSchema = z.object({ value: z.number(), category: z.string(), color: z.string(), label: TermSchema, advice: TermSchema, hoursCovered: z.number() });
const Location = z.object({ lat: z.number(), lon: z.number() });
const AirItem = z.object({ city: z.string(), id: z.string(), name: z.string(), district: z.string(), location: Location, ispu: IspuSchema.nullable(), updatedAt: z.string().nullable() });
const RiverItem = z.object({
  city: z.string(), id: z.string(), name: z.string(), district: z.string(), location: Location,
  waterLevel: z.number().nullable(), level: z.string().nullable(), levelLabel: TermSchema.nullable(),
  thresholds: z.object({ waspada: z.number().optional(), siaga: z.number().optional(), awas: z.number().optional() }),
  updatedAt: z.string().nullable(), last24h: z.array(z.object({ ts: z.string(), waterLevel: z.number() })),
});
const WarningItem = z.object({ city: z.string(), type: z.enum(['flood', 'haze']), severity: z.string(), severityLabel: TermSchema, deviceId: z.string(), place: z.string(), since: z.string(), text: TermSchema });
const CityItem = z.object({
  city: z.string(),
  ispu: IspuSchema.extend({ monitor: z.string() }).nullable(),
  worstGauge: z.object({ id: z.string(), name: z.string(), level: z.string(), levelLabel: TermSchema, waterLevel: z.number().nullable() }).nullable(),
  airMonitors: z.number(), gauges: z.number(), warnings: z.number(),
});
const list = <T extends z.ZodTypeAny>(item: T) => z.object({ generatedAt: z.string(), items: z.array(item) });

export function publicPlugin(snapshots: PublicSnapshots, options: PublicRoutesOptions): FastifyPluginAsyncZod {
  return async (app) => {
    // per client address, separate from the API's per-key allowance (@fastify/rate-limit route config)
    const config: FastifyContextConfig = options.rateLimit > 0
      ? { rateLimit: { max: options.rateLimit, timeWindow: 60_000, keyGenerator: (r: FastifyRequest) => `public:${r.ip}` } }
      : {};
    const findCity = (s: PublicSnapshot, name: string): PublicCity => {
      const c = s.cities.find((x) => x.city.toLowerCase() === name.toLowerCase() || x.city.toLowerCase().replace(/[^a-z0-9]+/g, '-') === name.toLowerCase());
      if (!c) throw new HttpProblem(404, `no public data for the city "${name.slice(0, 100)}"`, 'not-found');
      return c;
    };
    const cities = (s: PublicSnapshot, city: string | undefined) =>
      city === undefined ? s.cities : s.cities.filter((c) => c.city.toLowerCase() === city.toLowerCase());
    // the cache key of a `?city=` answer: the city when the snapshot has it, one shared key for every unknown name
    // (so that made-up names cannot fill the cache between two snapshots)
    const cityKey = (city: string | undefined) =>
      city === undefined ? '*' : cities(snapshots.snapshot, city).length > 0 ? city.toLowerCase() : '\u0000unknown';

    const send = (request: FastifyRequest, reply: FastifyReply, r: Rendered, type: string, extra: Record<string, string> = {}) => {
      // gzip when the client takes it (a slow phone connection gets a quarter of the bytes), made once per snapshot
      const gz = acceptsGzip(request.headers['accept-encoding']) ? r.gzipped() : null;
      const etag = gz ? gz.etag : r.etag;
      reply.header('cache-control', 'public, max-age=60').header('etag', etag).header('vary', 'accept-encoding');
      for (const [k, v] of Object.entries(extra)) reply.header(k, v);
      const match = request.headers['if-none-match'];
      if (match && match.split(',').some((m) => m.trim() === etag || m.trim() === '*')) return reply.code(304).send();
      if (gz) return reply.type(type).header('content-encoding', 'gzip').send(gz.body);
      return reply.type(type).send(r.body);
    };
    const html = (request: FastifyRequest, reply: FastifyReply, r: Rendered, embed = false) => {
      // the embed is meant for other sites' iframes; the page itself is framed by nobody
      if (embed) reply.removeHeader('x-frame-options');
      return send(request, reply, r, 'text/html; charset=utf-8', {
        'content-security-policy': [...PAGE_CSP, `frame-ancestors ${embed ? '*' : "'none'"}`].join('; '),
        ...(embed ? { 'cross-origin-resource-policy': 'cross-origin' } : {}),
      });
    };
    const json = (request: FastifyRequest, reply: FastifyReply, key: string, make: (s: PublicSnapshot) => unknown) =>
      send(request, reply, snapshots.render(key, (s) => JSON.stringify(make(s))), 'application/json; charset=utf-8', {
        // anyone's page may read the public API; the rest of the API keeps PANTAU_CORS_ORIGINS
        'access-control-allow-origin': '*',
        'cross-origin-resource-policy': 'cross-origin',
      });

    const hidden = { hide: true } as const;
    app.get('/publik', { config, schema: { ...hidden, querystring: LangQuery } }, async (request, reply) =>
      html(request, reply, snapshots.render(`page:${request.query.lang}`, (s) => publicPage(s, request.query.lang))));
    app.get('/publik/publik.css', { config, schema: hidden }, async (request, reply) =>
      send(request, reply, snapshots.render('css', () => PUBLIC_CSS), 'text/css; charset=utf-8'));
    app.get('/publik/embed/:city', { config, schema: { ...hidden, params: CityParams, querystring: LangQuery } }, async (request, reply) => {
      const lang: Lang = request.query.lang;
      const city = findCity(snapshots.snapshot, request.params.city);
      return html(request, reply, snapshots.render(`embed:${city.city}:${lang}`, (s) => embedCard(s, lang, findCity(s, city.city))), true);
    });
    app.get('/publik/:city', { config, schema: { ...hidden, params: CityParams, querystring: LangQuery } }, async (request, reply) => {
      const lang: Lang = request.query.lang;
      const city = findCity(snapshots.snapshot, request.params.city);
      return html(request, reply, snapshots.render(`city:${city.city}:${lang}`, (s) => publicPage(s, lang, findCity(s, city.city))));
    });

    const pub = (summary: string, querystring: z.ZodTypeAny, item: z.ZodTypeAny) => ({
      config,
      schema: { tags: ['public'], summary, security: [], querystring, response: { 200: list(item), 400: ProblemSchema, 429: ProblemSchema } },
    });
    app.get('/api/public/v1/cities', pub('Cities with public devices: current ISPU, worst river gauge, warning count', z.object({}), CityItem), async (request, reply) =>
      json(request, reply, 'api:cities', (s) => ({
        generatedAt: s.generatedAt,
        items: s.cities.map((c) => ({ city: c.city, ispu: c.ispu, worstGauge: c.worstGauge, airMonitors: c.airMonitors.length, gauges: c.gauges.length, warnings: c.warnings.length })),
      })));
    app.get('/api/public/v1/air', pub('Public air monitors and their ISPU, with the health advice of its category', CityQuery, AirItem), async (request, reply) => {
      const city = (request.query as z.infer<typeof CityQuery>).city;
      return json(request, reply, `api:air:${cityKey(city)}`, (s) => ({ generatedAt: s.generatedAt, items: cities(s, city).flatMap((c) => c.airMonitors.map((m) => ({ city: c.city, ...m }))) }));
    });
    app.get('/api/public/v1/rivers', pub('Public river gauges: water level, flood level, thresholds and the last 24 hours', CityQuery, RiverItem), async (request, reply) => {
      const city = (request.query as z.infer<typeof CityQuery>).city;
      return json(request, reply, `api:rivers:${cityKey(city)}`, (s) => ({ generatedAt: s.generatedAt, items: cities(s, city).flatMap((c) => c.gauges.map((g) => ({ city: c.city, ...g }))) }));
    });
    app.get('/api/public/v1/warnings', pub('Open flood and haze warnings of public devices, in plain words', CityQuery, WarningItem), async (request, reply) => {
      const city = (request.query as z.infer<typeof CityQuery>).city;
      return json(request, reply, `api:warnings:${cityKey(city)}`, (s) => ({ generatedAt: s.generatedAt, items: cities(s, city).flatMap((c) => c.warnings.map((w) => ({ city: c.city, ...w }))) }));
    });
  };
}
