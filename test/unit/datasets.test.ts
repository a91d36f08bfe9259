// The open-data catalogue (catalog/datasets.ts) without a platform: which devices make which datasets, how the
// hourly files split by local year and end at the last whole day, and when a file's ETag changes.
import { describe, expect, it } from 'vitest';
import { buildDatasets, resourceEtag, type OpenDataSettings } from '../../catalog/datasets.js';

const H = 3_600_000;
const WITA = 8 * H;
const SETTINGS: OpenDataSettings = { producer: 'DLH Kaltim', publisher: 'Diskominfo Kaltim', license: 'CC-BY-4.0', timezone: 'Asia/Makassar' };
const NOW = Date.UTC(2026, 11, 5, 1, 30); // 09:30 WITA, 5 December 2026
const FIRST = Date.UTC(2025, 5, 12, 7, 15);

const devices = [
  { id: 'smd-air-2', kind: 'air' as const, city: 'Samarinda' },
  { id: 'smd-air-1', kind: 'air' as const, city: 'Samarinda' },
  { id: 'smd-air-private', kind: 'air' as const, city: 'Samarinda', public: false },
  { id: 'smd-traffic-1', kind: 'traffic' as const, city: 'Samarinda' },
  { id: 'ikn-flood-1', kind: 'flood' as const, city: 'Nusantara' },
  { id: 'bpn-traffic-public', kind: 'traffic' as const, city: 'Balikpapan', public: true },
];

describe('open-data catalogue', () => {
  const datasets = buildDatasets(devices, SETTINGS, (kind) => (kind === 'air' ? FIRST : null), NOW);

  it('one dataset per kind and city with public devices, named by the official region', () => {
    expect(datasets.map((d) => [d.name, d.regionCode, d.deviceIds])).toEqual([
      ['kualitas-udara-kota-samarinda', '64.72', ['smd-air-1', 'smd-air-2']],
      ['lalu-lintas-kota-balikpapan', '64.71', ['bpn-traffic-public']],
      ['pemantauan-banjir-kabupaten-penajam-paser-utara', '64.09', ['ikn-flood-1']],
    ]);
    expect(datasets[0]!.title.id).toBe('Kualitas udara Kota Samarinda, per jam');
  });

  it('hourly files per local year from the first reading to the last whole day, and a daily file', () => {
    const air = datasets[0]!;
    const today = Date.UTC(2026, 11, 5) - WITA;
    const year2026 = Date.UTC(2026, 0, 1) - WITA;
    const firstDay = Date.UTC(2025, 5, 12) - WITA;
    expect(air.coverage).toEqual({ from: FIRST, to: today });
    expect(air.resources.map((r) => [r.file, r.from, r.to])).toEqual([
      ['per-jam-2025.csv', firstDay, year2026],
      ['per-jam-2026.csv', year2026, today],
      ['per-hari.csv', firstDay, today],
    ]);
    // a dataset without readings yet: this year's (empty) file and the daily one
    expect(datasets[2]!.coverage).toBeNull();
    expect(datasets[2]!.resources.map((r) => [r.file, r.to - r.from])).toEqual([['per-jam-2026.csv', 0], ['per-hari.csv', 0]]);
  });

  it('a file\'s ETag holds through the day and changes with the next day or another device', () => {
    const at = (now: number, list = devices) => {
      const d = buildDatasets(list, SETTINGS, () => FIRST, now)[0]!;
      return resourceEtag(d, d.resources[1]!);
    };
    expect(at(NOW + 10 * H)).toBe(at(NOW));
    expect(at(NOW + 15 * H)).not.toBe(at(NOW));
    expect(at(NOW, [...devices, { id: 'smd-air-3', kind: 'air', city: 'Samarinda' }])).not.toBe(at(NOW));
    expect(at(NOW)).toMatch(/^"[A-Za-z0-9_-]{32}"$/);
  });

  it('columns: who, where, when, then every field of the kind with its unit, in Indonesian and English', () => {
    const cols = datasets[0]!.columns;
    expect(cols.slice(0, 4).map((c) => c.name)).toEqual(['device_id', 'city', 'district', 'ts']);
    expect(cols.find((c) => c.name === 'pm25')).toEqual({ name: 'pm25', type: 'number', unit: 'µg/m³', description: { id: 'PM2.5, rata-rata per jam (µg/m³)', en: 'PM2.5, hourly mean (µg/m³)' } });
  });
});
