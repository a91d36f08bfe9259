// Colour scales, thresholds and value mappings, derived from the catalog's domain tables so that no breakpoint or
// category name is typed twice. Colours that the regulations do not fix (flood levels, device state) live here.
import {
  MappingType,
  type Threshold,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  type ValueMapping,
} from '@grafana/grafana-foundation-sdk/dashboard';
import {
  FLOOD_ALERT_LEVELS,
  FLOOD_LEVEL_LABELS,
  FLOOD_LEVEL_ORDER,
  FLOOD_LEVELS,
  type FloodLevel,
} from '../catalog/flood-levels.js';
import {
  ISPU_BREAKPOINTS,
  ISPU_CATEGORIES,
  ISPU_LEVELS,
  ISPU_MAX,
  type IspuPollutant,
} from '../catalog/ispu.js';
import { LOS_GRADES, LOS_ORDER, type Los } from '../catalog/traffic-los.js';
import { GLOSSARY, bilingual, type Term } from '../catalog/glossary.js';
import { NO_FLOOD_LEVEL } from '../catalog/derived.js';
import { SEVERITIES, SEVERITY_RANK, type Severity } from '../alerts/rules.js';

export const OFFLINE_COLOR = '#8e8e8e';

/** Flood levels as the BPBD signboards colour them. */
export const FLOOD_LEVEL_COLORS: Readonly<Record<FloodLevel, string>> = {
  normal: 'green',
  waspada: 'yellow',
  siaga: 'orange',
  awas: 'red',
};

function thresholds(steps: Threshold[]): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps);
}

// --- ISPU -------------------------------------------------------------------------------------------------

/**
 * Where each ISPU category starts on the unrounded index: the index is rounded before categorising, so
 * "Sedang from 51" begins at 50.5.
 */
function ispuCategoryStarts(): Array<{ start: number | null; color: string }> {
  return ISPU_CATEGORIES.map((c, i) => ({ start: i === 0 ? null : c.from - 0.5, color: c.color }));
}

/** Thresholds colouring an ISPU value by its official category. */
export function ispuThresholds(): ThresholdsConfigBuilder {
  return thresholds(ispuCategoryStarts().map(({ start, color }) => ({ value: start, color })));
}

/** "Baik (good)" … "Berbahaya (hazardous)" for an ISPU value, in the category colour. */
export function ispuMappings(): ValueMapping[] {
  return ISPU_CATEGORIES.map((c, i) => ({
    type: MappingType.RangeToText,
    options: {
      from: i === 0 ? 0 : c.from - 0.5,
      // Grafana's ranges include both ends; stop just short of where the next category starts.
      to: Number.isFinite(c.to) ? c.to + 0.499 : ISPU_MAX,
      result: { text: bilingual(c.label), color: c.color, index: i },
    },
  }));
}

/** The concentration at which a pollutant's unrounded sub-index reaches `index` (inverse of the band interpolation). */
export function concentrationAtIndex(pollutant: IspuPollutant, index: number): number {
  const x = ISPU_BREAKPOINTS[pollutant];
  for (let band = 1; band < ISPU_LEVELS.length; band++) {
    const ia = ISPU_LEVELS[band]!;
    if (index > ia) continue;
    const ib = ISPU_LEVELS[band - 1]!;
    const xb = x[band - 1]!;
    const xa = x[band]!;
    return Number((xb + ((index - ib) * (xa - xb)) / (ia - ib)).toFixed(3));
  }
  return x[x.length - 1]!;
}

/**
 * Thresholds on a pollutant's concentration that colour it by the ISPU category its sub-index would fall in.
 * The ISPU breakpoints are 24-hour means; on an hourly series the bands are a guide, not a verdict.
 */
export function concentrationThresholds(pollutant: IspuPollutant): ThresholdsConfigBuilder {
  return thresholds(
    ispuCategoryStarts().map(({ start, color }) => ({
      value: start === null ? null : concentrationAtIndex(pollutant, start),
      color,
    })),
  );
}

// --- flood levels -------------------------------------------------------------------------------------------

/**
 * `alert_level_num` (0–3) → "Siaga (warning)" in the level's colour; −1, a gauge without thresholds, → "Tanpa ambang
 * batas (no thresholds)" in grey: no level can be judged there, so none is shown.
 */
export function floodLevelMappings(): ValueMapping[] {
  return [
    {
      type: MappingType.ValueToText,
      options: Object.fromEntries([
        ...FLOOD_LEVELS.map((level, index) => [
          String(FLOOD_LEVEL_ORDER[level]),
          { text: bilingual(FLOOD_LEVEL_LABELS[level]), color: FLOOD_LEVEL_COLORS[level], index },
        ]),
        [String(NO_FLOOD_LEVEL.num), { text: bilingual(GLOSSARY.concept.noThresholds), color: OFFLINE_COLOR, index: FLOOD_LEVELS.length }],
      ]),
    },
  ];
}

export function floodLevelThresholds(): ThresholdsConfigBuilder {
  return thresholds([
    { value: null, color: OFFLINE_COLOR },
    ...FLOOD_LEVELS.map((level) => ({ value: FLOOD_LEVEL_ORDER[level], color: FLOOD_LEVEL_COLORS[level] })),
  ]);
}

// --- traffic level of service ------------------------------------------------------------------------------

/** Level of service A–F, from free flow to forced flow: the glossary's words, in the grade's colour. */
const LOS_COLORS: Readonly<Record<Los, string>> = {
  A: 'dark-green',
  B: 'green',
  C: 'yellow',
  D: 'orange',
  E: 'red',
  F: 'dark-red',
};
export const LOS_DISPLAY: Readonly<Record<Los, Term & { readonly color: string }>> = Object.fromEntries(
  LOS_GRADES.map((grade) => [grade, { ...GLOSSARY.los[grade], color: LOS_COLORS[grade] }]),
) as Record<Los, Term & { readonly color: string }>;

/** `los_num` (A = 1 … F = 6) → "C — stabil, mulai terbatas (stable, restricted)" in the grade's colour. */
export function losMappings(): ValueMapping[] {
  return [
    {
      type: MappingType.ValueToText,
      options: Object.fromEntries(
        LOS_GRADES.map((grade, index) => [
          String(LOS_ORDER[grade]),
          {
            text: `${grade} — ${bilingual(LOS_DISPLAY[grade])}`,
            color: LOS_DISPLAY[grade].color,
            index,
          },
        ]),
      ),
    },
  ];
}

export function losThresholds(): ThresholdsConfigBuilder {
  return thresholds(
    LOS_GRADES.map((grade, i) => ({ value: i === 0 ? null : LOS_ORDER[grade], color: LOS_DISPLAY[grade].color })),
  );
}

// --- device state (city map) -----------------------------------------------------------------------------------

/**
 * One number per device for the map: 0 offline, else 1 + severity (`device_state.severity`: 0 none, 1 waspada,
 * 2 siaga, 3 awas). Computed in InfluxQL as `(last(severity) + 1) * last(online)`.
 */
export const DEVICE_STATES: ReadonlyArray<Term & { readonly value: number; readonly color: string }> = [
  { value: 0, ...GLOSSARY.deviceStatus.offline, color: OFFLINE_COLOR },
  { value: 1, ...GLOSSARY.floodLevel.normal, color: FLOOD_LEVEL_COLORS.normal },
  ...[1, 2, 3].map((rank) => ({ value: rank + 1, ...severitiesOfRank(rank), color: FLOOD_LEVEL_COLORS[FLOOD_ALERT_LEVELS[rank - 1]!] })),
];

export function deviceStateThresholds(): ThresholdsConfigBuilder {
  return thresholds(DEVICE_STATES.map((s, i) => ({ value: i === 0 ? null : s.value, color: s.color })));
}

export function deviceStateMappings(): ValueMapping[] {
  return [
    {
      type: MappingType.ValueToText,
      options: Object.fromEntries(
        DEVICE_STATES.map((s, index) => [String(s.value), { text: bilingual(s), color: s.color, index }]),
      ),
    },
  ];
}

// --- alert severities -------------------------------------------------------------------------------------------

const SEVERITY_LABELS: Readonly<Record<Severity, Term>> = GLOSSARY.alertSeverity;

/** "Waspada / Perhatian": every severity of one rank (1–3), as the map colours them alike. */
function severitiesOfRank(rank: number): Term {
  const terms = SEVERITIES.filter((s) => SEVERITY_RANK[s] === rank).map((s) => GLOSSARY.alertSeverity[s]);
  return { id: terms.map((t) => t.id).join(' / '), en: terms.map((t) => t.en).join(' / ') };
}

/** An alert's `severity` tag → its name in the colour of the device state it gives (rank 1 yellow … 3 red). */
export function severityMappings(): ValueMapping[] {
  return [
    {
      type: MappingType.ValueToText,
      options: Object.fromEntries(
        SEVERITIES.map((severity, index) => [
          severity,
          { text: bilingual(SEVERITY_LABELS[severity]), color: DEVICE_STATES[SEVERITY_RANK[severity] + 1]!.color, index },
        ]),
      ),
    },
  ];
}

// --- helpers ----------------------------------------------------------------------------------------------------

export { bilingual };

/** Plain thresholds: one colour below `value`, another from it. */
export function twoStep(below: string, value: number, from: string): ThresholdsConfigBuilder {
  return thresholds([
    { value: null, color: below },
    { value, color: from },
  ]);
}

/** A single colour, for values with no good or bad. */
export function neutral(color = 'blue'): ThresholdsConfigBuilder {
  return thresholds([{ value: null, color }]);
}
