// Kemendagri region codes (Permendagri's kode wilayah, e.g. Kota Samarinda 64.72) for the cities devices carry, from
// the official list as the npm package `idn-area-data` ships it (its data/regencies.csv and data/districts.csv; read
// directly, not typed by hand). Used where Pantau publishes to systems that key on region codes: CAP 1.2 `geocode`,
// Satu Data metadata.
//
// A device's `city` is matched to a regency by its name without "Kota " / "Kabupaten ", case-insensitively, in
// Kalimantan Timur (64) first and then nationally (a city name that is both a Kota and a Kabupaten, e.g. Kota and
// Kabupaten Bogor, matches the Kota). "Nusantara", the capital's authority area, is not a regency of the list: it is
// given the code of Kabupaten Penajam Paser Utara (64.09), where its core area (Kecamatan Sepaku) lies.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export interface Region {
  /** Kemendagri code, `64.72`. */
  code: string;
  /** As the list names it, `Kota Samarinda`. */
  name: string;
  /** Province code, `64`. */
  provinceCode: string;
}

/** City names that are not regencies of the list, and the regency that stands for them (see above). */
const ALIASES: Record<string, string> = { nusantara: '64.09', ikn: '64.09' };
const HOME_PROVINCE = '64';

let regencies: Region[] | undefined;

function load(): Region[] {
  if (regencies) return regencies;
  const require = createRequire(import.meta.url);
  const csv = readFileSync(require.resolve('idn-area-data/data/regencies.csv'), 'utf8');
  regencies = csv
    .split(/\r?\n/)
    .slice(1)
    .filter((line) => line.trim())
    .map((line) => {
      const [code, provinceCode, ...name] = line.split(',');
      return { code: code!, provinceCode: provinceCode!, name: name.join(',').replace(/^"|"$/g, '') };
    });
  return regencies;
}

const bare = (name: string) => name.trim().toLowerCase().replace(/^(kota|kabupaten|kab\.)\s+/, '');

/** The regency of a device's city, or undefined when the list has none of that name. */
export function regionOfCity(city: string): Region | undefined {
  const list = load();
  const key = bare(city);
  const alias = ALIASES[key];
  if (alias) return list.find((r) => r.code === alias);
  const named = list.filter((r) => bare(r.name) === key);
  const rank = (r: Region) => (r.provinceCode === HOME_PROVINCE ? 0 : 2) + (r.name.startsWith('Kota ') ? 0 : 1);
  return named.sort((a, b) => rank(a) - rank(b))[0];
}
