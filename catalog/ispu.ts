// ISPU — Indonesia's air pollution standard index (Permen LHK P.14/MENLHK/SETJEN/KUM.1/7/2020).
// The breakpoint table is the regulation's, in µg/m³, and exists only here: the API, the alert engine and the
// dashboards all import it.
//
// Averaging (a Pantau choice): the regulation labels its concentrations as 24-hour averages, so callers feed `ispu()`
// the trailing 24-hour mean of each pollutant and say how many hours of data the means cover; the window itself is
// defined once, in `ispu-window.ts`, with the hourly PM2.5 sub-index KLHK publishes every hour beside it.
import { ISPU_CATEGORY_NAMES, type IspuCategory } from './codes.js';
import { GLOSSARY, type Term } from './glossary.js';

export { ISPU_CATEGORY_NAMES, type IspuCategory };

/** The pollutants of the ISPU table, in the regulation's column order (ties for dominant go to the first). */
export const ISPU_POLLUTANTS = ['pm10', 'pm25', 'so2', 'co', 'o3', 'no2', 'hc'] as const;
export type IspuPollutant = (typeof ISPU_POLLUTANTS)[number];

/** ISPU at the breakpoints: `ISPU_BREAKPOINTS[p][i]` is the concentration at which the index is `ISPU_LEVELS[i]`. */
export const ISPU_LEVELS = [0, 50, 100, 200, 300, 500] as const;

type Breakpoints = readonly [number, number, number, number, number, number];

export const ISPU_BREAKPOINTS: Readonly<Record<IspuPollutant, Breakpoints>> = {
  pm10: [0, 50, 150, 350, 420, 500],
  pm25: [0, 15.5, 55.4, 150.4, 250.4, 500],
  so2: [0, 52, 180, 400, 800, 1200],
  co: [0, 4000, 8000, 15000, 30000, 45000],
  o3: [0, 120, 235, 400, 800, 1000],
  no2: [0, 80, 200, 1130, 2260, 3000],
  hc: [0, 45, 100, 215, 432, 648],
};

/** The index of a concentration beyond the last breakpoint: the top of the scale. */
export const ISPU_MAX = 500;

/** Category colours of the regulation (green, blue, yellow, red, black), as hex for dashboards. */
export const ISPU_COLORS: Readonly<Record<IspuCategory, string>> = {
  Baik: '#1a9850',
  Sedang: '#2166ac',
  'Tidak Sehat': '#fdd835',
  'Sangat Tidak Sehat': '#d73027',
  Berbahaya: '#000000',
};

export interface IspuCategorySpec {
  readonly category: IspuCategory;
  /** Lowest rounded index in the category. */
  readonly from: number;
  /** Highest rounded index in the category (Infinity for the last: values beyond 500 do not occur). */
  readonly to: number;
  readonly color: string;
  readonly label: Term;
}

export const ISPU_CATEGORIES: readonly IspuCategorySpec[] = [
  { category: 'Baik', from: 0, to: 50, color: ISPU_COLORS.Baik, label: GLOSSARY.ispuCategory.Baik },
  { category: 'Sedang', from: 51, to: 100, color: ISPU_COLORS.Sedang, label: GLOSSARY.ispuCategory.Sedang },
  {
    category: 'Tidak Sehat',
    from: 101,
    to: 200,
    color: ISPU_COLORS['Tidak Sehat'],
    label: GLOSSARY.ispuCategory['Tidak Sehat'],
  },
  {
    category: 'Sangat Tidak Sehat',
    from: 201,
    to: 300,
    color: ISPU_COLORS['Sangat Tidak Sehat'],
    label: GLOSSARY.ispuCategory['Sangat Tidak Sehat'],
  },
  {
    category: 'Berbahaya',
    from: 301,
    to: Infinity,
    color: ISPU_COLORS.Berbahaya,
    label: GLOSSARY.ispuCategory.Berbahaya,
  },
];

export interface IspuResult {
  /** The overall index, rounded to an integer: the highest sub-index. */
  value: number;
  category: IspuCategory;
  /** The pollutant whose sub-index is the overall index. */
  dominant: IspuPollutant;
  /** Rounded sub-index of every pollutant that was given. */
  subIndices: Partial<Record<IspuPollutant, number>>;
}

function assertIndexInput(what: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`${what} must be a finite number ≥ 0, got ${value}`);
  }
}

/**
 * Sub-index of one pollutant, linearly interpolated inside its band (unrounded):
 * `I = (Ia − Ib) / (Xa − Xb) × (X − Xb) + Ib`. Beyond the last breakpoint the index is 500.
 */
export function subIndex(pollutant: IspuPollutant, concentration: number): number {
  assertIndexInput(`${pollutant} concentration`, concentration);
  const x = ISPU_BREAKPOINTS[pollutant];
  for (let band = 1; band < x.length; band++) {
    const xa = x[band]!;
    if (concentration > xa) continue;
    const ia = ISPU_LEVELS[band]!;
    // Exactly at a breakpoint the table's value, free of floating-point residue.
    if (concentration === xa) return ia;
    const xb = x[band - 1]!;
    const ib = ISPU_LEVELS[band - 1]!;
    return ((ia - ib) / (xa - xb)) * (concentration - xb) + ib;
  }
  return ISPU_MAX;
}

/** Category of an index value; the value is rounded first, so 50.4 is Baik and 50.5 is Sedang. */
export function ispuCategory(value: number): IspuCategory {
  assertIndexInput('ISPU value', value);
  const rounded = Math.round(value);
  const spec = ISPU_CATEGORIES.find((c) => rounded <= c.to);
  return (spec ?? ISPU_CATEGORIES[ISPU_CATEGORIES.length - 1]!).category;
}

/** The overall ISPU of the given pollutant means, or null when none of the ISPU pollutants is given. */
export function ispu(means: Partial<Record<IspuPollutant, number>>): IspuResult | null {
  let dominant: IspuPollutant | null = null;
  let highest = -1;
  const subIndices: Partial<Record<IspuPollutant, number>> = {};
  for (const pollutant of ISPU_POLLUTANTS) {
    const mean = means[pollutant];
    if (mean === undefined) continue;
    const index = subIndex(pollutant, mean);
    subIndices[pollutant] = Math.round(index);
    // Compared unrounded, so two sub-indices that round alike still have one clear dominant.
    if (index > highest) {
      highest = index;
      dominant = pollutant;
    }
  }
  if (dominant === null) return null;
  const value = Math.round(highest);
  return { value, category: ispuCategory(value), dominant, subIndices };
}

/**
 * What the regulation (Permen LHK P.14/MENLHK/SETJEN/KUM.1/7/2020, the table of categories with their health
 * statements and advice, as KLHK's ISPU service publishes it beside each reading) advises for each category,
 * condensed: the words for sensitive groups first, then everyone. KLHK stations word the Sedang advice "kelompok
 * sensitif diimbau agar mengurangi aktivitas fisik yang terlalu lama atau berat" (a KLHK Palu station report, as
 * quoted by likein.id on 2023-08-25). Shown on the citizens' page and in the public API beside the index.
 */
export const ISPU_ADVICE: Readonly<Record<IspuCategory, Term>> = {
  Baik: {
    id: 'Sangat baik untuk melakukan kegiatan di luar ruangan.',
    en: 'Very good for outdoor activities.',
  },
  Sedang: {
    id: 'Kelompok sensitif: kurangi aktivitas fisik yang terlalu lama atau berat. Setiap orang: masih dapat beraktivitas di luar ruangan.',
    en: 'Sensitive groups: reduce prolonged or heavy exertion. Everyone else: outdoor activities are still fine.',
  },
  'Tidak Sehat': {
    id: 'Kelompok sensitif: boleh beraktivitas di luar, tetapi lebih sering beristirahat dan pilih aktivitas ringan; waspadai batuk atau napas sesak. Setiap orang: kurangi aktivitas fisik yang terlalu lama atau berat di luar ruangan.',
    en: 'Sensitive groups: outdoor activities are possible with more frequent breaks and lighter effort; watch for coughing or shortness of breath. Everyone: reduce prolonged or heavy exertion outdoors.',
  },
  'Sangat Tidak Sehat': {
    id: 'Kelompok sensitif: hindari semua aktivitas di luar ruangan; pindahkan kegiatan ke dalam ruangan atau jadwalkan ulang. Setiap orang: hindari aktivitas fisik yang terlalu lama di luar ruangan.',
    en: 'Sensitive groups: avoid all outdoor activities; move them indoors or reschedule. Everyone: avoid prolonged exertion outdoors.',
  },
  Berbahaya: {
    id: 'Kelompok sensitif: tetap di dalam ruangan dan batasi aktivitas. Setiap orang: hindari semua aktivitas di luar ruangan.',
    en: 'Sensitive groups: stay indoors and keep activity low. Everyone: avoid all outdoor activities.',
  },
};
