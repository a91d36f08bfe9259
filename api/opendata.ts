// Open data (docs/opendata.md): the catalogue of catalog/datasets.ts served three ways — the part of CKAN's Action API
// that harvesters (Satu Data portals, data.go.id) call, DCAT-AP 2 as JSON-LD, and a page for people — plus the CSV
// downloads themselves, streamed from the rollups with api/export.ts's paging generator and cached by ETag.
// Every route is public: only public devices (catalog/public.ts) contribute, and what is published is aggregated
// readings, device ids, cities and districts — never a token, a key or a person.
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { fieldNames, type Kind } from '../catalog/index.js';
import { buildDatasets, columnsOf, downloadPath, LICENSES, resourceEtag, slug, stableId, type Dataset, type OpenDataSettings, type Resource } from '../catalog/datasets.js';
import { isPublicDevice } from '../catalog/public.js';
import { quoteIdentifier } from '../influx/client.js';
import { rollupFrom } from '../history/schema.js';
import { DAY_MS, HOUR_MS } from '../catalog/time.js';
import type { DeviceRecord } from '../registry/registry.js';
import type { ApiContext } from './context.js';
import { exportRows } from './export.js';
import { HttpProblem, notFound, ProblemSchema } from './problem.js';
import { unavailable } from './readings.js';
import { escapeHtml } from './html.js';

export interface OpenDataOptions extends Omit<OpenDataSettings, 'timezone'> {
  /** PANTAU_PUBLIC_URL: the start of every absolute URL; unset = the request's scheme and Host. */
  publicUrl?: string;
  /** Requests per minute per client address (PANTAU_OPENDATA_RATE_LIMIT); 0 = no limit of its own. */
  rateLimit: number;
}

/** The CKAN version whose Action API answers are copied (docs.ckan.org/en/2.10/api). */
const CKAN_VERSION = '2.10.4';
const ROWS_DEFAULT = 10;
const ROWS_MAX = 1000;
/** How long the first stored reading of a device is remembered (it only moves when history is backfilled). */
const FIRST_READING_TTL_MS = 10 * 60_000;

/** A CKAN error: its `__type` and HTTP status as CKAN's action API gives them. */
class CkanError extends Error {
  constructor(
    readonly status: 404 | 409 | 403,
    readonly type: 'Not Found Error' | 'Validation Error' | 'Authorization Error',
    message: string,
    readonly fields: Record<string, string[]> = {},
  ) {
    super(message);
  }
}

const validation = (field: string, message: string) => new CkanError(409, 'Validation Error', `${field}: ${message}`, { [field]: [message] });

export function opendataPlugin(ctx: ApiContext, options: OpenDataOptions): FastifyPluginAsyncZod {
  const settings: OpenDataSettings = { ...options, timezone: ctx.history?.timezone ?? 'UTC' };
  const license = LICENSES[settings.license] ?? { title: settings.license, url: null };
  const firstReadings = new Map<string, { at: number; value: number | null }>();
  // the catalogue's own limit, per client address (keys play no part in public routes)
  const rateLimit = options.rateLimit > 0 ? { max: options.rateLimit, timeWindow: 60_000, keyGenerator: (r: FastifyRequest) => `opendata:${r.ip}` } : false;

  /** Earliest stored reading of a device: its first hourly rollup or its first raw reading, whichever is older. */
  async function firstReadingOf(kind: Kind, deviceId: string, now: number): Promise<number | null> {
    const hit = firstReadings.get(deviceId);
    // a device without readings yet is asked again sooner: its first reading makes its dataset's coverage
    if (hit && now - hit.at < (hit.value === null ? 60_000 : FIRST_READING_TTL_MS)) return hit.value;
    const sources = [quoteIdentifier(kind), ...(ctx.history ? [rollupFrom(ctx.history.rollupRp, kind, '1h')] : [])];
    let first: number | null = null;
    for (const source of sources) {
      const series = await ctx.influx.query(`SELECT * FROM ${source} WHERE "device_id" = $device ORDER BY time ASC LIMIT 1`, { device: deviceId });
      const t = series[0]?.values[0]?.[0];
      if (typeof t === 'number' && (first === null || t < first)) first = t;
    }
    firstReadings.set(deviceId, { at: now, value: first });
    return first;
  }

  async function catalogue(now: number): Promise<Dataset[]> {
    const devices = ctx.registry.listDevices().filter(isPublicDevice);
    const firsts = new Map<string, number>();
    const ids = new Set(devices.map((d) => d.id));
    for (const id of firstReadings.keys()) if (!ids.has(id)) firstReadings.delete(id);
    try {
      // a few devices at a time: a cold cache on a large fleet must not queue thousands of queries at once
      for (let i = 0; i < devices.length; i += 16) {
        const batch = devices.slice(i, i + 16);
        const times = await Promise.all(batch.map((d) => firstReadingOf(d.kind, d.id, now)));
        batch.forEach((d, j) => {
          const t = times[j]!;
          const key = `${d.kind}\u0000${d.city}`;
          if (t !== null && t < (firsts.get(key) ?? Infinity)) firsts.set(key, t);
        });
      }
    } catch (err) {
      unavailable(err);
    }
    return buildDatasets(devices, settings, (kind, city) => firsts.get(`${kind}\u0000${city}`) ?? null, now);
  }

  function baseUrl(request: FastifyRequest): string {
    if (options.publicUrl) return options.publicUrl;
    const host = request.headers.host ?? '';
    if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host)) {
      throw new HttpProblem(400, 'the request has no usable Host header; the open-data URLs are absolute (or set PANTAU_PUBLIC_URL)', 'bad-request');
    }
    return `${request.protocol}://${host}`;
  }

  // ---- CKAN shapes ----------------------------------------------------------------------------------------------

  const ckanTime = (ms: number) => new Date(ms).toISOString().replace(/Z$/, ''); // CKAN writes naive UTC timestamps
  const organizationName = slug(settings.producer);
  const organization = (packageCount?: number) => ({
    id: stableId(`organization:${organizationName}`),
    name: organizationName,
    title: settings.producer,
    display_name: settings.producer,
    description: `Produsen data: ${settings.producer}. Walidata: ${settings.publisher}.`,
    image_url: '',
    created: ckanTime(0),
    type: 'organization',
    state: 'active',
    is_organization: true,
    approval_status: 'approved',
    ...(packageCount === undefined ? {} : { package_count: packageCount }),
  });

  function packageDict(d: Dataset, base: string) {
    const tags = d.keywords.id.map((name) => ({ id: stableId(`tag:${name}`), name, display_name: name, state: 'active', vocabulary_id: null }));
    const modified = d.resources.reduce((m, r) => Math.max(m, r.to), d.coverage?.to ?? 0);
    const extras: Array<{ key: string; value: string }> = [
      { key: 'produsen_data', value: settings.producer },
      { key: 'walidata', value: settings.publisher },
      { key: 'kode_wilayah', value: d.regionCode ?? '' },
      { key: 'wilayah', value: d.regionName },
      { key: 'city', value: d.city },
      { key: 'kind', value: d.kind },
      { key: 'frekuensi', value: d.frequency.id },
      { key: 'frequency', value: d.frequency.dcat },
      { key: 'temporal_start', value: d.coverage ? new Date(d.coverage.from).toISOString() : '' },
      { key: 'temporal_end', value: d.coverage ? new Date(d.coverage.to).toISOString() : '' },
      { key: 'bahasa', value: 'id' },
      { key: 'title_en', value: d.title.en },
      { key: 'notes_en', value: d.description.en },
      { key: 'data_dictionary', value: JSON.stringify(d.columns) },
    ];
    const email = settings.contact && !/^https?:/.test(settings.contact) ? settings.contact : null;
    return {
      id: d.id,
      name: d.name,
      title: d.title.id,
      notes: d.description.id,
      url: `${base}/publik/data#${d.name}`,
      version: null,
      author: settings.producer,
      author_email: null,
      maintainer: settings.publisher,
      maintainer_email: email,
      license_id: settings.license,
      license_title: license.title,
      license_url: license.url,
      isopen: true,
      owner_org: organization().id,
      organization: organization(),
      groups: [],
      tags,
      extras,
      resources: d.resources.map((r, position) => resourceDict(d, r, position, base)),
      metadata_created: ckanTime(d.coverage?.from ?? modified),
      metadata_modified: ckanTime(modified),
      num_resources: d.resources.length,
      num_tags: tags.length,
      state: 'active',
      private: false,
      type: 'dataset',
      creator_user_id: null,
      relationships_as_object: [],
      relationships_as_subject: [],
    };
  }

  function resourceDict(d: Dataset, r: Resource, position: number, base: string) {
    const columns = columnsOf(d.kind, r.resolution);
    return {
      id: r.id,
      package_id: d.id,
      name: r.title.id,
      description: r.description.id,
      url: `${base}${downloadPath(d, r)}`,
      format: 'CSV',
      mimetype: 'text/csv',
      last_modified: ckanTime(r.to),
      created: ckanTime(r.from),
      metadata_modified: ckanTime(r.to),
      position,
      state: 'active',
      url_type: null,
      datastore_active: false,
      // the data dictionary of the file, column by column (Indonesian and English)
      data_dictionary: columns,
    };
  }

  // ---- CKAN Action API --------------------------------------------------------------------------------------------

  const Query = z.record(z.string(), z.union([z.string(), z.array(z.string())])).describe('CKAN parameters');
  const ckanSchema = (summary: string, querystring: z.ZodType, description?: string) => ({
    tags: ['opendata'],
    summary,
    ...(description ? { description } : {}),
    security: [],
    querystring,
    response: { 200: z.looseObject({ help: z.string(), success: z.boolean(), result: z.unknown().optional(), error: z.unknown().optional() }) },
  });

  /** One action: parameters in, `{"help","success","result"}` out; a CkanError as CKAN answers it. */
  const action = <T>(name: string, run: (q: Record<string, string | undefined>, request: FastifyRequest) => Promise<T> | T) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      const base = baseUrl(request);
      const help = `${base}/api/3/action/help_show?name=${name}`;
      try {
        const raw = (request.query ?? {}) as Record<string, string | string[]>;
        const q: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(raw)) {
          if (Array.isArray(v)) throw validation(k, 'Given more than once');
          if (v.length > 2000) throw validation(k, 'Too long');
          q[k] = v;
        }
        return reply.header('cache-control', 'no-cache').send({ help, success: true, result: await run(q, request) });
      } catch (err) {
        if (!(err instanceof CkanError)) throw err;
        return reply.code(err.status).send({ help, success: false, error: { ...err.fields, __type: err.type, message: err.message } });
      }
    };

  function findDataset(datasets: Dataset[], id: string | undefined): Dataset {
    if (id === undefined || id === '') throw validation('id', 'Missing value');
    const d = datasets.find((x) => x.id === id || x.name === id);
    if (!d) throw new CkanError(404, 'Not Found Error', 'Not found');
    return d;
  }

  function checkOrganization(id: string | undefined): void {
    if (id === undefined || id === '') throw validation('id', 'Missing value');
    if (id !== organizationName && id !== organization().id) throw new CkanError(404, 'Not Found Error', 'Not found');
  }

  function natural(q: Record<string, string | undefined>, field: string, fallback: number): number {
    const v = q[field];
    if (v === undefined || v === '') return fallback;
    if (!/^\d{1,9}$/.test(v)) throw validation(field, 'Invalid integer');
    return Number(v);
  }

  return async (app) => {
    app.get('/api/3/action/status_show', { config: { rateLimit }, schema: ckanSchema('CKAN: the site and its API version', z.object({})) },
      action('status_show', (_q, request) => ({
        site_title: 'Pantau — data terbuka sensor kota',
        site_description: 'Data sensor kualitas udara dan banjir Kalimantan Timur (Pantau)',
        site_url: baseUrl(request),
        ckan_version: CKAN_VERSION,
        error_emails_to: null,
        locale_default: 'id',
        extensions: ['dcat'],
      })));

    app.get('/api/3/action/package_list', { config: { rateLimit }, schema: ckanSchema('CKAN: the names of every dataset', Query) },
      action('package_list', async (q) => {
        const names = (await catalogue(Date.now())).map((d) => d.name);
        const offset = natural(q, 'offset', 0);
        return q.limit === undefined ? names.slice(offset) : names.slice(offset, offset + natural(q, 'limit', names.length));
      }));

    app.get('/api/3/action/package_show', { config: { rateLimit }, schema: ckanSchema('CKAN: one dataset by id or name', Query) },
      action('package_show', async (q, request) => packageDict(findDataset(await catalogue(Date.now()), q.id), baseUrl(request))));

    app.get('/api/3/action/package_search', {
      config: { rateLimit },
      schema: ckanSchema('CKAN: search datasets', Query, '`q` (words of title, description, tags, name; `*:*` all), `fq` (`organization:`, `tags:`, `res_format:`, `name:`, `kind:`, `kode_wilayah:`, `wilayah:`, `city:`; terms joined by spaces or AND), `rows` (default 10, at most 1000), `start`, `sort` (`name`, `title`, `metadata_modified`, `metadata_created`, `score` with `asc`/`desc`).'),
    }, action('package_search', async (q, request) => {
      const base = baseUrl(request);
      const rows = Math.min(natural(q, 'rows', ROWS_DEFAULT), ROWS_MAX);
      const start = natural(q, 'start', 0);
      const sort = q.sort?.trim() || 'score desc, metadata_modified desc';
      const order = parseSort(sort);
      const filters = parseFq(q.fq ?? '');
      const words = (q.q ?? '').trim() === '*:*' ? [] : (q.q ?? '').toLowerCase().split(/\s+/).filter(Boolean);
      const all = (await catalogue(Date.now())).map((d) => packageDict(d, base));
      const hits = all.filter((p) => {
        const text = [p.name, p.title, p.notes, ...p.tags.map((t) => t.name), ...p.extras.map((e) => e.value)].join(' ').toLowerCase();
        if (!words.every((w) => text.includes(w.replace(/^[a-z_]+:/, '')))) return false;
        return filters.every(([field, value]) => fieldValues(p, field).some((v) => v.toLowerCase() === value.toLowerCase()));
      });
      hits.sort((a, b) => {
        for (const [field, dir] of order) {
          const c = field === 'score' ? 0 : String(a[field]).localeCompare(String(b[field]));
          if (c !== 0) return dir === 'asc' ? c : -c;
        }
        return 0;
      });
      return { count: hits.length, sort, facets: {}, search_facets: {}, results: hits.slice(start, start + rows) };
    }));

    app.get('/api/3/action/organization_list', { config: { rateLimit }, schema: ckanSchema('CKAN: the organizations (one: the producer of the data)', Query) },
      action('organization_list', async (q) => {
        const allFields = q.all_fields === 'true' || q.all_fields === 'True' || q.all_fields === '1';
        return allFields ? [organization((await catalogue(Date.now())).length)] : [organizationName];
      }));

    app.get('/api/3/action/organization_show', { config: { rateLimit }, schema: ckanSchema('CKAN: the organization', Query) },
      action('organization_show', async (q, request) => {
        checkOrganization(q.id);
        const datasets = await catalogue(Date.now());
        const include = q.include_datasets === 'true' || q.include_datasets === 'True';
        return { ...organization(datasets.length), users: [], ...(include ? { packages: datasets.map((d) => packageDict(d, baseUrl(request))) } : {}) };
      }));

    // ---- DCAT-AP 2, JSON-LD ---------------------------------------------------------------------------------------

    app.get('/catalog.jsonld', {
      config: { rateLimit },
      schema: { tags: ['opendata'], summary: 'DCAT-AP 2 catalogue of the open datasets (JSON-LD)', security: [], response: { 200: z.looseObject({}) } },
    }, async (request, reply) => {
      const base = baseUrl(request);
      const datasets = await catalogue(Date.now());
      return reply.type('application/ld+json; charset=utf-8').header('cache-control', 'no-cache').send(dcatCatalog(datasets, base));
    });

    // ---- the page for people ----------------------------------------------------------------------------------------

    app.get('/publik/data', {
      config: { rateLimit },
      schema: { tags: ['opendata'], summary: 'Open data: the datasets and their downloads, as a page (Indonesian; ?lang=en English)', security: [], querystring: z.object({ lang: z.enum(['id', 'en']).optional() }), response: { 200: z.string().describe('text/html') } },
    }, async (request, reply) => {
      const base = baseUrl(request);
      const datasets = await catalogue(Date.now());
      return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(page(datasets, base, request.query.lang ?? 'id', { producer: settings.producer, publisher: settings.publisher, license: settings.license, licenseUrl: license.url }));
    });

    // ---- downloads --------------------------------------------------------------------------------------------------

    app.get('/opendata/:dataset/:file', {
      config: { rateLimit },
      schema: {
        tags: ['opendata'],
        summary: 'Open data: one CSV file of a dataset (streamed; ETag, 304 on If-None-Match)',
        security: [],
        params: z.object({ dataset: z.string().max(120), file: z.string().max(60) }),
        response: { 200: z.string().describe('text/csv'), 304: z.null().describe('not modified'), 400: ProblemSchema, 404: ProblemSchema, 503: ProblemSchema },
      },
    }, async (request, reply) => {
      const now = Date.now();
      const datasets = await catalogue(now);
      const dataset = datasets.find((d) => d.name === request.params.dataset);
      if (!dataset) throw notFound(`no open dataset named ${JSON.stringify(request.params.dataset.slice(0, 120))}; the list: /api/3/action/package_list`);
      const resource = dataset.resources.find((r) => r.file === request.params.file);
      if (!resource) throw notFound(`dataset ${dataset.name} has no file ${JSON.stringify(request.params.file.slice(0, 60))}; its files: ${dataset.resources.map((r) => r.file).join(', ')}`);
      const etag = resourceEtag(dataset, resource);
      reply
        .header('etag', etag)
        .header('last-modified', new Date(resource.to).toUTCString())
        .header('cache-control', 'public, no-cache')
        .header('content-disposition', `attachment; filename="pantau_${dataset.name}_${resource.file}"`);
      const match = request.headers['if-none-match'];
      if (match && (match.trim() === '*' || match.split(',').map((t) => t.trim()).includes(etag))) return reply.code(304).send(null);
      // the registry's records, in the dataset's order; a device removed since the catalogue was read is left out
      const devices = dataset.deviceIds.map((id) => ctx.registry.device(id)).filter((d): d is DeviceRecord => d !== undefined && isPublicDevice(d));
      const every = resource.resolution === '1h' ? { text: '1h', ms: HOUR_MS } : { text: '1d', ms: DAY_MS };
      const rows = exportRows(ctx, dataset.kind, devices, fieldNames(dataset.kind), { every, agg: 'mean', from: resource.from, to: resource.to, now });
      return reply.type('text/csv; charset=utf-8').send(Readable.from(rows, { objectMode: false, highWaterMark: 64 * 1024 }) as never);
    });
  };

  // ---- DCAT ---------------------------------------------------------------------------------------------------------

  function dcatCatalog(datasets: Dataset[], base: string) {
    const text = (t: { id: string; en: string }) => [{ '@value': t.id, '@language': 'id' }, { '@value': t.en, '@language': 'en' }];
    const agent = (name: string) => ({ '@type': 'foaf:Agent', 'foaf:name': name });
    const licenseRef = license.url ? { '@id': license.url } : { '@type': 'dct:LicenseDocument', 'dct:identifier': settings.license };
    const contact = {
      '@type': 'vcard:Organization',
      'vcard:fn': settings.publisher,
      ...(settings.contact ? (/^https?:/.test(settings.contact) ? { 'vcard:hasURL': { '@id': settings.contact } } : { 'vcard:hasEmail': { '@id': `mailto:${settings.contact}` } }) : {}),
    };
    const dateTime = (ms: number) => ({ '@value': new Date(ms).toISOString(), '@type': 'xsd:dateTime' });
    return {
      '@context': {
        dcat: 'http://www.w3.org/ns/dcat#',
        dct: 'http://purl.org/dc/terms/',
        foaf: 'http://xmlns.com/foaf/0.1/',
        vcard: 'http://www.w3.org/2006/vcard/ns#',
        skos: 'http://www.w3.org/2004/02/skos/core#',
        xsd: 'http://www.w3.org/2001/XMLSchema#',
      },
      '@id': `${base}/catalog.jsonld`,
      '@type': 'dcat:Catalog',
      'dct:title': text({ id: 'Data terbuka Pantau', en: 'Pantau open data' }),
      'dct:description': text({ id: 'Data sensor kota Kalimantan Timur: rata-rata per jam dan per hari.', en: 'City sensor data of East Kalimantan: hourly and daily means.' }),
      'dct:publisher': agent(settings.publisher),
      'dct:license': licenseRef,
      'foaf:homepage': { '@id': `${base}/publik/data` },
      'dcat:dataset': datasets.map((d) => ({
        '@id': `${base}/publik/data#${d.name}`,
        '@type': 'dcat:Dataset',
        'dct:identifier': d.id,
        'dct:title': text(d.title),
        'dct:description': text(d.description),
        'dct:publisher': agent(settings.publisher),
        'dct:creator': agent(settings.producer),
        'dct:license': licenseRef,
        'dct:spatial': { '@type': 'dct:Location', 'dct:identifier': d.regionCode ?? d.city, 'skos:prefLabel': d.regionName },
        ...(d.coverage ? { 'dct:temporal': { '@type': 'dct:PeriodOfTime', 'dcat:startDate': dateTime(d.coverage.from), 'dcat:endDate': dateTime(d.coverage.to) } } : {}),
        'dct:accrualPeriodicity': { '@id': d.frequency.dcat },
        'dcat:contactPoint': contact,
        'dcat:keyword': [...d.keywords.id.map((k) => ({ '@value': k, '@language': 'id' })), ...d.keywords.en.map((k) => ({ '@value': k, '@language': 'en' }))],
        'dcat:landingPage': { '@id': `${base}/publik/data#${d.name}` },
        'dcat:distribution': d.resources.map((r) => ({
          '@id': `${base}${downloadPath(d, r)}`,
          '@type': 'dcat:Distribution',
          'dct:identifier': r.id,
          'dct:title': text(r.title),
          'dct:description': text(r.description),
          'dcat:downloadURL': { '@id': `${base}${downloadPath(d, r)}` },
          'dcat:accessURL': { '@id': `${base}${downloadPath(d, r)}` },
          'dcat:mediaType': { '@id': 'http://www.iana.org/assignments/media-types/text/csv' },
          'dct:format': { '@id': 'http://publications.europa.eu/resource/authority/file-type/CSV' },
          'dct:license': licenseRef,
          'dct:modified': dateTime(r.to),
          'dct:temporal': { '@type': 'dct:PeriodOfTime', 'dcat:startDate': dateTime(r.from), 'dcat:endDate': dateTime(r.to) },
        })),
      })),
    };
  }
}

// ---- search parameters --------------------------------------------------------------------------------------------

const SORTABLE = ['name', 'title', 'metadata_modified', 'metadata_created', 'score'] as const;
type Sortable = (typeof SORTABLE)[number];

/** `metadata_modified desc, name asc` → pairs; anything else is CKAN's Validation Error. */
function parseSort(sort: string): Array<[Sortable, 'asc' | 'desc']> {
  return sort.split(',').map((part) => {
    const [field, dir = 'asc', ...rest] = part.trim().split(/\s+/);
    if (!(SORTABLE as readonly string[]).includes(field ?? '') || !['asc', 'desc'].includes(dir.toLowerCase()) || rest.length > 0) {
      throw validation('sort', `Cannot sort by ${JSON.stringify(part.trim().slice(0, 60))}; use ${SORTABLE.join(', ')} with asc or desc`);
    }
    return [field as Sortable, dir.toLowerCase() as 'asc' | 'desc'];
  });
}

const FILTERABLE = ['organization', 'tags', 'res_format', 'name', 'kind', 'kode_wilayah', 'wilayah', 'city', 'license_id'];

/** `organization:x tags:"kualitas udara" AND res_format:CSV` → [field, value] pairs, all of which must hold. */
function parseFq(fq: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const re = /\s*(?:(AND|\+)\s*)?([a-z_]+):(?:"([^"]*)"|(\S+))\s*/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < fq.length && (m = re.exec(fq)) !== null) {
    const field = m[2]!;
    if (!FILTERABLE.includes(field)) throw validation('fq', `Cannot filter on ${JSON.stringify(field)}; use ${FILTERABLE.join(', ')}`);
    out.push([field, m[3] ?? m[4]!]);
    at = re.lastIndex;
  }
  if (fq.slice(at).trim() !== '') throw validation('fq', `Cannot read ${JSON.stringify(fq.slice(at).trim().slice(0, 60))}; write field:value or field:"a value"`);
  return out;
}

/** The values a package has for an fq field. */
function fieldValues(p: { name: string; license_id: string; organization: { name: string }; tags: Array<{ name: string }>; resources: Array<{ format: string }>; extras: Array<{ key: string; value: string }> }, field: string): string[] {
  const extra = (key: string) => p.extras.filter((e) => e.key === key).map((e) => e.value);
  switch (field) {
    case 'organization': return [p.organization.name];
    case 'tags': return p.tags.map((t) => t.name);
    case 'res_format': return p.resources.map((r) => r.format);
    case 'name': return [p.name];
    case 'license_id': return [p.license_id];
    default: return extra(field);
  }
}

// ---- HTML -----------------------------------------------------------------------------------------------------------

const esc = escapeHtml;

const WORDS = {
  id: {
    title: 'Data terbuka Pantau',
    intro: 'Data sensor publik Pantau, bebas diunduh: rata-rata per jam (satu file per tahun) dan per hari. File diperbarui setiap hari. Portal Satu Data dapat memanen katalog ini melalui',
    other: 'English',
    region: 'Kode wilayah',
    coverage: 'Cakupan waktu',
    frequency: 'Frekuensi',
    producer: 'Produsen data',
    publisher: 'Walidata',
    license: 'Lisensi',
    files: 'Unduh (CSV)',
    dictionary: 'Kamus data',
    column: 'Kolom',
    type: 'Tipe',
    unit: 'Satuan',
    description: 'Keterangan',
    none: 'Belum ada dataset: belum ada alat sensor publik.',
    nodata: 'belum ada data',
  },
  en: {
    title: 'Pantau open data',
    intro: 'Pantau\'s public sensor data, free to download: hourly means (one file a year) and daily means. The files are renewed daily. Satu Data portals can harvest this catalogue through',
    other: 'Bahasa Indonesia',
    region: 'Region code',
    coverage: 'Temporal coverage',
    frequency: 'Frequency',
    producer: 'Data producer',
    publisher: 'Publisher',
    license: 'Licence',
    files: 'Download (CSV)',
    dictionary: 'Data dictionary',
    column: 'Column',
    type: 'Type',
    unit: 'Unit',
    description: 'Description',
    none: 'No datasets yet: there is no public sensor.',
    nodata: 'no data yet',
  },
};

/** Server-rendered, no script: one section per dataset with its metadata, files and data dictionary. */
function page(datasets: Dataset[], base: string, lang: 'id' | 'en', who: { producer: string; publisher: string; license: string; licenseUrl: string | null }): string {
  const w = WORDS[lang];
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const sections = datasets.map((d) => `
<section id="${esc(d.name)}" aria-labelledby="h-${esc(d.name)}">
<h2 id="h-${esc(d.name)}">${esc(d.title[lang])}</h2>
<p>${esc(d.description[lang])}</p>
<dl>
<dt>${w.region}</dt><dd>${esc(d.regionCode ?? '-')} (${esc(d.regionName)})</dd>
<dt>${w.coverage}</dt><dd>${d.coverage ? `${day(d.coverage.from)} – ${day(d.coverage.to)}` : w.nodata}</dd>
<dt>${w.frequency}</dt><dd>${esc(d.frequency[lang])}</dd>
</dl>
<h3>${w.files}</h3>
<ul>
${d.resources.map((r) => `<li><a href="${esc(`${base}${downloadPath(d, r)}`)}" download>${esc(r.title[lang])}</a> <span>(${esc(r.file)})</span></li>`).join('\n')}
</ul>
<details>
<summary>${w.dictionary}</summary>
<table>
<caption>${w.dictionary}: ${esc(d.title[lang])}</caption>
<thead><tr><th scope="col">${w.column}</th><th scope="col">${w.type}</th><th scope="col">${w.unit}</th><th scope="col">${w.description}</th></tr></thead>
<tbody>
${d.columns.map((c) => `<tr><td><code>${esc(c.name)}</code></td><td>${c.type}</td><td>${esc(c.unit ?? '-')}</td><td>${esc(c.description[lang])}</td></tr>`).join('\n')}
</tbody>
</table>
</details>
</section>`).join('\n');
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${w.title}</title>
<link rel="alternate" type="application/ld+json" href="${esc(base)}/catalog.jsonld">
<style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem;line-height:1.5;color:#1a1a1a;background:#fff}
a{color:#0645ad}table{border-collapse:collapse}th,td{border:1px solid #999;padding:.25rem .5rem;text-align:left}
dt{font-weight:bold}dd{margin:0 0 .5rem 0}section{border-top:1px solid #ccc;margin-top:1.5rem}
</style>
</head>
<body>
<header>
<p><a href="/publik/data?lang=${lang === 'id' ? 'en' : 'id'}" lang="${lang === 'id' ? 'en' : 'id'}" hreflang="${lang === 'id' ? 'en' : 'id'}">${w.other}</a></p>
<h1>${w.title}</h1>
</header>
<main>
<p>${w.intro} <a href="${esc(base)}/api/3/action/package_list">CKAN API</a> &middot; <a href="${esc(base)}/catalog.jsonld">DCAT (JSON-LD)</a>.</p>
<p>${w.producer}: ${esc(who.producer)} &middot; ${w.publisher}: ${esc(who.publisher)} &middot; ${w.license}: ${who.licenseUrl ? `<a href="${esc(who.licenseUrl)}">${esc(who.license)}</a>` : esc(who.license)}</p>
${sections || `<p>${w.none}</p>`}
</main>
</body>
</html>
`;
}
