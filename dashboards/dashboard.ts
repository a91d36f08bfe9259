// What every Pantau dashboard shares: wall-screen refresh and time range, the place variables, alert
// annotations, and links to its sibling dashboards.
import {
  DashboardBuilder,
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
  FieldColorBuilder,
  FieldColorModeId,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { fieldSpec, type FieldSpec, type Kind } from '../catalog/index.js';
import { alertAnnotation } from './annotations.js';
import { Grid } from './layout.js';
import { placeVariables } from './variables.js';

export const DASHBOARD_TAG = 'pantau';
export const REFRESH = '30s';

export interface DashboardSpec {
  uid: string;
  /** Indonesian first, English second; shown as "Indonesian · English". */
  title: { id: string; en: string };
  description: string;
  tags: string[];
  /** Limits the place variables and alert annotations to one kind of sensor. */
  kind?: Kind;
  /** Relative start of the default time range, e.g. `now-6h`. */
  from?: string;
}

export function pantauDashboard(spec: DashboardSpec): { dashboard: DashboardBuilder; grid: Grid } {
  const dashboard = new DashboardBuilder(`Pantau · ${spec.title.id} (${spec.title.en})`)
    .uid(spec.uid)
    .description(spec.description)
    .tags([DASHBOARD_TAG, ...spec.tags])
    .readonly()
    .timezone('browser')
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh(REFRESH)
    .time({ from: spec.from ?? 'now-6h', to: 'now' })
    .variables(placeVariables(spec.kind))
    .annotation(alertAnnotation(spec.kind))
    .link(
      new DashboardLinkBuilder('Dasbor Pantau')
        .type(DashboardLinkType.Dashboards)
        .tags([DASHBOARD_TAG])
        .asDropdown(true)
        .icon('external link')
        .tooltip('Other Pantau dashboards')
        .includeVars(true)
        .keepTime(true)
        .targetBlank(false),
    );
  return { dashboard, grid: new Grid(dashboard) };
}

/** A panel description: the English title, then what the panel shows and where the numbers come from. */
export function describe(enTitle: string, detail: string): string {
  return `${enTitle}. ${detail}`;
}

/** A field of the sensor catalog; throws at generation time if a dashboard names one that does not exist. */
export function field(kind: Kind, name: string): FieldSpec {
  const spec = fieldSpec(kind, name);
  if (!spec) throw new Error(`dashboards: field ${kind}.${name} is not in the sensor catalog`);
  return spec;
}

/** Colour each value by the panel's thresholds (category colours). */
export function thresholdColors(): FieldColorBuilder {
  return new FieldColorBuilder().mode(FieldColorModeId.Thresholds);
}
