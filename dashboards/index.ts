// Every Pantau dashboard, and how each becomes the JSON file Grafana provisions.
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { airQuality } from './air-quality.js';
import { cityOverview } from './city-overview.js';
import { flood } from './flood.js';
import { history } from './history.js';
import { platform } from './platform.js';
import { traffic } from './traffic.js';

export interface DashboardSource {
  /** File name inside dashboards/generated/. */
  file: string;
  build(): Dashboard;
}

export const DASHBOARDS: readonly DashboardSource[] = [
  { file: 'city-overview.json', build: cityOverview },
  { file: 'air-quality.json', build: airQuality },
  { file: 'flood.json', build: flood },
  { file: 'traffic.json', build: traffic },
  { file: 'platform.json', build: platform },
  { file: 'history.json', build: history },
];

/** The folder the JSON is generated into (committed; mounted read-only into Grafana). */
export const GENERATED_DIR = new URL('./generated/', import.meta.url);

/** File name → file content, exactly as `npm run dashboards` writes it. */
export function renderDashboards(): Map<string, string> {
  return new Map(DASHBOARDS.map((d) => [d.file, `${JSON.stringify(d.build(), null, 2)}\n`]));
}
