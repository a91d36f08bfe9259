// The open-data catalogue (docs/opendata.md): one dataset per kind and city with public devices, each with CSV files
// of the hourly rollups (one a year) and of the daily rollups, a data dictionary, and the metadata Satu Data
// Indonesia asks for. Pure: the devices, the settings, the first stored reading and the clock come in; CKAN, DCAT
// and the HTML page (api/opendata.ts) are three views of the same list, so they can never disagree.
import { createHash } from 'node:crypto';
import { dayStart, zoneOffsetMs } from './time.js';
import { CATALOG, type Kind } from './kinds.js';
import { isPublicDevice } from './public.js';
import { regionOfCity } from './regions.js';

export interface OpenDataSettings {
  /** Produsen data: the agency that produces the data. */
  producer: string;
  /** Walidata: the agency that publishes it (Satu Data's data steward). */
  publisher: string;
  /** An e-mail address or a URL; unset = none published. */
  contact?: string;
  /** SPDX-style licence id, `CC-BY-4.0`. */
  license: string;
  timezone: string;
}

export interface Column {
  name: string;
  type: 'string' | 'datetime' | 'number';
  unit: string | null;
  description: { id: string; en: string };
}

export interface Resource {
  /** Stable: the same file has the same id in every answer. */
  id: string;
  /** `per-jam-2026.csv`, `per-hari.csv`. */
  file: string;
  resolution: '1h' | '1d';
  title: { id: string; en: string };
  description: { id: string; en: string };
  /** Windows of [from, to): `to` is the end of the last whole day, so the file changes once a day. */
  from: number;
  to: number;
}

export interface Dataset {
  id: string;
  /** `kualitas-udara-kota-samarinda`. */
  name: string;
  kind: Kind;
  city: string;
  /** Kemendagri region code (`64.72`), or null for a city the official list does not name. */
  regionCode: string | null;
  regionName: string;
  title: { id: string; en: string };
  description: { id: string; en: string };
  keywords: { id: string[]; en: string[] };
  /** Public devices, in id order: the rows of every file. */
  deviceIds: string[];
  /** Temporal coverage: first stored reading … end of the last whole day. */
  coverage: { from: number; to: number } | null;
  /** Satu Data's frekuensi: the files are renewed daily. */
  frequency: { id: string; en: string; dcat: string };
  columns: Column[];
  resources: Resource[];
}

/** What each kind's dataset is called (the kinds' own labels are too short for a title: "Banjir"). */
const SUBJECT: Record<Kind, { id: string; en: string; keywords: { id: string[]; en: string[] } }> = {
  air: { id: 'Kualitas udara', en: 'Air quality', keywords: { id: ['kualitas udara', 'polusi udara', 'PM2.5', 'ISPU', 'lingkungan hidup'], en: ['air quality', 'air pollution', 'PM2.5', 'environment'] } },
  flood: { id: 'Pemantauan banjir', en: 'Flood monitoring', keywords: { id: ['banjir', 'tinggi muka air', 'curah hujan', 'kebencanaan'], en: ['flood', 'water level', 'rainfall', 'disaster'] } },
  traffic: { id: 'Lalu lintas', en: 'Traffic', keywords: { id: ['lalu lintas', 'transportasi'], en: ['traffic', 'transport'] } },
};

/** A name CKAN accepts: lowercase letters, digits and `-`, 2–100 characters. */
export function slug(text: string): string {
  return text.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 100) || 'x';
}

/** A UUID-shaped id derived from a name, so ids stay the same across restarts and nodes without being stored. */
export function stableId(name: string): string {
  const h = createHash('sha256').update(`pantau-opendata:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Local midnight of 1 January of `year`. */
function yearStart(timezone: string, year: number): number {
  const utc = Date.UTC(year, 0, 1);
  return dayStart(timezone, utc - zoneOffsetMs(timezone, utc) + 3_600_000);
}

function localYear(timezone: string, t: number): number {
  return new Date(t + zoneOffsetMs(timezone, t)).getUTCFullYear();
}

/** The columns of every file of a kind: who, where, when, then each field of the kind (the window's mean). */
export function columnsOf(kind: Kind, resolution: '1h' | '1d'): Column[] {
  const per = resolution === '1h' ? { id: 'per jam', en: 'hourly' } : { id: 'per hari', en: 'daily' };
  return [
    { name: 'device_id', type: 'string', unit: null, description: { id: 'Kode alat sensor', en: 'Sensor device id' } },
    { name: 'city', type: 'string', unit: null, description: { id: 'Kota/kabupaten tempat alat', en: 'City or regency of the device' } },
    { name: 'district', type: 'string', unit: null, description: { id: 'Kecamatan tempat alat', en: 'District (kecamatan) of the device' } },
    {
      name: 'ts',
      type: 'datetime',
      unit: null,
      description: resolution === '1h'
        ? { id: 'Awal jam (ISO 8601, UTC)', en: 'Start of the hour (ISO 8601, UTC)' }
        : { id: 'Awal hari, tengah malam waktu setempat (ISO 8601, UTC)', en: 'Start of the day, local midnight (ISO 8601, UTC)' },
    },
    ...CATALOG[kind].fields.map((f): Column => ({
      name: f.name,
      type: 'number',
      unit: f.unit,
      description: { id: `${f.label.id}, rata-rata ${per.id} (${f.unit})`, en: `${f.label.en}, ${per.en} mean (${f.unit})` },
    })),
  ];
}

/**
 * The datasets of a fleet at `now`. `firstReading(kind, deviceIds)` is the earliest stored reading of those devices
 * (null when none). Only public devices count; a city without one has no dataset.
 */
export function buildDatasets(
  devices: ReadonlyArray<{ id: string; kind: Kind; city: string; public?: boolean | null }>,
  settings: OpenDataSettings,
  firstReading: (kind: Kind, city: string) => number | null,
  now: number,
): Dataset[] {
  const groups = new Map<string, { kind: Kind; city: string; ids: string[] }>();
  for (const d of devices) {
    if (!isPublicDevice(d)) continue;
    const key = `${d.kind}\u0000${d.city}`;
    const g = groups.get(key) ?? { kind: d.kind, city: d.city, ids: [] };
    g.ids.push(d.id);
    groups.set(key, g);
  }
  const { timezone } = settings;
  // files end at the last whole day: a file's content, and so its ETag, changes once a day
  const end = dayStart(timezone, now);
  const out: Dataset[] = [];
  for (const g of groups.values()) {
    const region = regionOfCity(g.city);
    const regionName = region?.name ?? g.city;
    const subject = SUBJECT[g.kind];
    const name = slug(`${subject.id} ${regionName}`);
    const first = firstReading(g.kind, g.city);
    const coverage = first === null ? null : { from: Math.min(first, end), to: end };
    const firstYear = localYear(timezone, coverage?.from ?? end);
    const lastYear = localYear(timezone, Math.max(end - 1, coverage?.from ?? end));
    const resources: Resource[] = [];
    for (let year = firstYear; year <= lastYear; year++) {
      const from = Math.max(yearStart(timezone, year), coverage ? dayStart(timezone, coverage.from) : end);
      const file = `per-jam-${year}.csv`;
      resources.push({
        id: stableId(`${name}/${file}`),
        file,
        resolution: '1h',
        title: { id: `${subject.id} ${regionName}, per jam, ${year}`, en: `${subject.en}, ${regionName}, hourly, ${year}` },
        description: {
          id: `Rata-rata per jam setiap alat publik tahun ${year}, dari agregasi per jam. File tahun berjalan diperbarui setiap hari sampai akhir hari kemarin.`,
          en: `Hourly means of every public device in ${year}, from the hourly rollups. The current year's file is renewed daily up to the end of yesterday.`,
        },
        from,
        to: Math.max(from, Math.min(yearStart(timezone, year + 1), end)),
      });
    }
    const dailyFrom = coverage ? dayStart(timezone, coverage.from) : end;
    resources.push({
      id: stableId(`${name}/per-hari.csv`),
      file: 'per-hari.csv',
      resolution: '1d',
      title: { id: `${subject.id} ${regionName}, per hari`, en: `${subject.en}, ${regionName}, daily` },
      description: {
        id: 'Rata-rata per hari (hari waktu setempat) setiap alat publik sejak data pertama, dari agregasi per hari. Diperbarui setiap hari.',
        en: 'Daily means (local days) of every public device since the first reading, from the daily rollups. Renewed daily.',
      },
      from: dailyFrom,
      to: Math.max(dailyFrom, end),
    });
    out.push({
      id: stableId(name),
      name,
      kind: g.kind,
      city: g.city,
      regionCode: region?.code ?? null,
      regionName,
      title: { id: `${subject.id} ${regionName}, per jam`, en: `${subject.en}, ${regionName}, hourly` },
      description: {
        id: `${subject.id} di ${regionName} dari ${g.ids.length} alat sensor publik Pantau: rata-rata per jam (satu file per tahun) dan per hari. Kode wilayah Kemendagri ${region?.code ?? '-'}. Nilai mentah tersedia melalui API Pantau.`,
        en: `${subject.en} in ${regionName} from ${g.ids.length} public Pantau sensors: hourly means (one file a year) and daily means. Kemendagri region code ${region?.code ?? '-'}.`,
      },
      keywords: { id: [...subject.keywords.id, regionName], en: [...subject.keywords.en, regionName] },
      deviceIds: [...g.ids].sort(),
      coverage,
      frequency: { id: 'Harian', en: 'Daily', dcat: 'http://publications.europa.eu/resource/authority/frequency/DAILY' },
      columns: columnsOf(g.kind, '1h'),
      resources,
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Where a CSV file of a dataset is downloaded, relative to the site. */
export function downloadPath(dataset: Pick<Dataset, 'name'>, resource: Pick<Resource, 'file'>): string {
  return `/opendata/${dataset.name}/${resource.file}`;
}

/** The strong ETag of a file: it changes when its rows can (a new whole day, a device joining or leaving). */
export function resourceEtag(dataset: Dataset, resource: Resource): string {
  const h = createHash('sha256').update(JSON.stringify([dataset.name, resource.file, resource.from, resource.to, dataset.deviceIds])).digest('base64url');
  return `"${h.slice(0, 32)}"`;
}

export const LICENSES: Record<string, { title: string; url: string }> = {
  'CC-BY-4.0': { title: 'Creative Commons Attribution 4.0', url: 'https://creativecommons.org/licenses/by/4.0/' },
  'CC-BY-SA-4.0': { title: 'Creative Commons Attribution Share-Alike 4.0', url: 'https://creativecommons.org/licenses/by-sa/4.0/' },
  'CC0-1.0': { title: 'Creative Commons CCZero', url: 'https://creativecommons.org/publicdomain/zero/1.0/' },
  'ODbL-1.0': { title: 'Open Data Commons Open Database License 1.0', url: 'https://opendatacommons.org/licenses/odbl/1-0/' },
};
