// The codes of flood levels and ISPU categories, as the API and InfluxDB carry them, with nothing attached. The
// glossary (glossary.ts) names each code; flood-levels.ts and ispu.ts compute them and hand these lists on.
// Kept apart so that the words and the computations both stand on the codes, not on each other.

/** Flood alert levels of a river gauge, lowest first. */
export const FLOOD_LEVELS = ['normal', 'waspada', 'siaga', 'awas'] as const;
export type FloodLevel = (typeof FLOOD_LEVELS)[number];

/** ISPU categories, best first, named as the regulation names them. */
export const ISPU_CATEGORY_NAMES = ['Baik', 'Sedang', 'Tidak Sehat', 'Sangat Tidak Sehat', 'Berbahaya'] as const;
export type IspuCategory = (typeof ISPU_CATEGORY_NAMES)[number];
