// The sensor catalog: every kind, field, unit and plausibility range of docs/contract.md §2, stated once.
// Ingest validates against it, the API documents and queries with it, the simulator and dashboards read it.

export const KINDS = ['air', 'flood', 'traffic'] as const;
export type Kind = (typeof KINDS)[number];

export interface FieldSpec {
  /** Field name, exactly as it appears in payloads, InfluxDB and the API. */
  readonly name: string;
  /** Unit as shown to people (Grafana, docs). */
  readonly unit: string;
  /** Grafana unit id (or Grafana's custom `suffix: …` form), so dashboards never retype units. */
  readonly grafanaUnit: string;
  readonly min: number;
  readonly max: number;
  readonly label: { readonly id: string; readonly en: string };
}

export interface KindSpec {
  readonly kind: Kind;
  readonly label: { readonly id: string; readonly en: string };
  readonly fields: readonly FieldSpec[];
  /** A reading must carry at least one of these. */
  readonly requiredOneOf: readonly string[];
}

const f = (
  name: string,
  unit: string,
  grafanaUnit: string,
  min: number,
  max: number,
  id: string,
  en: string,
): FieldSpec => ({ name, unit, grafanaUnit, min, max, label: { id, en } });

const COMMON: readonly FieldSpec[] = [
  f('battery', '%', 'percent', 0, 100, 'Baterai', 'Battery'),
  f('rssi', 'dBm', 'dBm', -150, 0, 'Kekuatan sinyal', 'Signal strength'),
];

const UG = 'µg/m³';
const UG_GRAFANA = 'conμgm3';

export const CATALOG: Readonly<Record<Kind, KindSpec>> = {
  air: {
    kind: 'air',
    label: { id: 'Kualitas udara', en: 'Air quality' },
    requiredOneOf: ['pm25', 'pm10', 'co', 'no2', 'so2', 'o3', 'hc'],
    fields: [
      f('pm25', UG, UG_GRAFANA, 0, 1000, 'PM2.5', 'PM2.5'),
      f('pm10', UG, UG_GRAFANA, 0, 2000, 'PM10', 'PM10'),
      f('co', UG, UG_GRAFANA, 0, 100000, 'Karbon monoksida (CO)', 'Carbon monoxide (CO)'),
      f('no2', UG, UG_GRAFANA, 0, 5000, 'Nitrogen dioksida (NO₂)', 'Nitrogen dioxide (NO₂)'),
      f('so2', UG, UG_GRAFANA, 0, 5000, 'Sulfur dioksida (SO₂)', 'Sulphur dioxide (SO₂)'),
      f('o3', UG, UG_GRAFANA, 0, 2000, 'Ozon (O₃)', 'Ozone (O₃)'),
      f('hc', UG, UG_GRAFANA, 0, 10000, 'Hidrokarbon (HC)', 'Hydrocarbons (HC)'),
      f('temperature', '°C', 'celsius', -30, 70, 'Suhu', 'Temperature'),
      f('humidity', '%', 'humidity', 0, 100, 'Kelembapan', 'Humidity'),
      ...COMMON,
    ],
  },
  flood: {
    kind: 'flood',
    label: { id: 'Banjir', en: 'Flood' },
    requiredOneOf: ['waterLevel', 'rainfall'],
    fields: [
      f('waterLevel', 'cm', 'suffix: cm', -1000, 10000, 'Tinggi muka air', 'Water level'),
      f('rainfall', 'mm/h', 'suffix: mm/h', 0, 500, 'Curah hujan', 'Rainfall'),
      f('flowRate', 'm³/s', 'flowcms', 0, 100000, 'Debit', 'Flow rate'),
      ...COMMON,
    ],
  },
  traffic: {
    kind: 'traffic',
    label: { id: 'Lalu lintas', en: 'Traffic' },
    requiredOneOf: ['vehicleCount', 'avgSpeed'],
    fields: [
      f('vehicleCount', 'vehicles', 'short', 0, 100000, 'Jumlah kendaraan', 'Vehicle count'),
      f('intervalSeconds', 's', 's', 1, 3600, 'Interval hitung', 'Count interval'),
      f('avgSpeed', 'km/h', 'velocitykmh', 0, 250, 'Kecepatan rata-rata', 'Average speed'),
      f('occupancy', '%', 'percent', 0, 100, 'Okupansi detektor', 'Detector occupancy'),
      ...COMMON,
    ],
  },
};

/** Default counting interval of a traffic reading without `intervalSeconds` (docs/contract.md §2). */
export const DEFAULT_TRAFFIC_INTERVAL_SECONDS = 60;

export function isKind(value: unknown): value is Kind {
  return typeof value === 'string' && (KINDS as readonly string[]).includes(value);
}

export function fieldNames(kind: Kind): string[] {
  return CATALOG[kind].fields.map((field) => field.name);
}

export function fieldSpec(kind: Kind, name: string): FieldSpec | undefined {
  return CATALOG[kind].fields.find((field) => field.name === name);
}
