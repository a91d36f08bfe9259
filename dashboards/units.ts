// Grafana unit ids for catalog fields. Grafana shows an id it does not know as a literal suffix ("150 lengthcm"),
// so a catalog `grafanaUnit` that is not one of Grafana's ids falls back to the field's own unit as a suffix.
import * as grafanaUnits from '@grafana/grafana-foundation-sdk/units';
import type { FieldSpec } from '../catalog/index.js';

export * as units from '@grafana/grafana-foundation-sdk/units';

const KNOWN: ReadonlySet<string> = new Set(
  Object.values(grafanaUnits as Record<string, unknown>).filter((v): v is string => typeof v === 'string'),
);

/** Grafana's custom unit forms: `suffix: cm`, `prefix:Rp`, `si:g`, `count:kendaraan` … */
const CUSTOM = /^(suffix|prefix|si|count|currency|time|bool):/;

export function isGrafanaUnit(id: string): boolean {
  return KNOWN.has(id) || CUSTOM.test(id);
}

/** A custom unit Grafana prints after the value. */
export function suffix(text: string): string {
  return `suffix: ${text}`;
}

/** The Grafana unit of a catalog field. */
export function unitOf(field: FieldSpec): string {
  return isGrafanaUnit(field.grafanaUnit) ? field.grafanaUnit : suffix(field.unit);
}
