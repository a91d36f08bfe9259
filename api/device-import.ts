// Bulk provisioning (issue 16): a CSV file or a JSON array of devices, judged as a whole before anything is
// created. Every bad row is reported with its number (rows count from 1, the CSV header not counted) and the field
// at fault, so an operator fixes the file once; only a file without a single bad row is imported.
import { thresholdsSchema } from '../catalog/thresholds.js';
import { NewDeviceSchema, type NewDevice } from '../registry/device.js';
import type { DeviceExtras } from '../registry/device-extras.js';
import type { Registry } from '../registry/registry.js';
import { parseCsv } from './csv.js';

export const MAX_IMPORT_ROWS = 10_000;
export const IMPORT_COLUMNS = ['id', 'kind', 'name', 'city', 'district', 'lat', 'lon', 'thresholds', 'devEui'] as const;
const REQUIRED_COLUMNS = ['id', 'kind', 'name', 'city', 'district', 'lat', 'lon'];

export interface RowError {
  row: number;
  field: string;
  detail: string;
}

export type ImportJudgement =
  | { ok: true; devices: NewDevice[] }
  | { ok: false; detail: string; errors: RowError[] };

/** CSV text → one raw object per row in the shape of a create body, or a file-level problem. */
export function rowsFromCsv(text: string): { ok: true; rows: Array<{ value: unknown; cellErrors: RowError[] }> } | { ok: false; detail: string } {
  let table: string[][];
  try {
    table = parseCsv(text);
  } catch (err) {
    return { ok: false, detail: `the CSV is malformed: ${(err as Error).message}` };
  }
  const header = table[0]?.map((h) => h.trim());
  if (!header) return { ok: false, detail: 'the CSV is empty: a header row and at least one device are needed' };
  const unknown = header.filter((h) => !(IMPORT_COLUMNS as readonly string[]).includes(h));
  if (unknown.length > 0) {
    return { ok: false, detail: `unknown column(s) ${unknown.slice(0, 5).map((u) => JSON.stringify(u.slice(0, 40))).join(', ')}; the columns are ${IMPORT_COLUMNS.join(', ')}` };
  }
  const missing = REQUIRED_COLUMNS.filter((c) => !header.includes(c));
  if (missing.length > 0) return { ok: false, detail: `missing column(s) ${missing.join(', ')}; the columns are ${IMPORT_COLUMNS.join(', ')}` };
  if (new Set(header).size !== header.length) return { ok: false, detail: 'a column appears twice in the header' };
  const rows = table.slice(1).map((cells, index) => {
    const row = index + 1;
    const cellErrors: RowError[] = [];
    if (cells.length !== header.length) {
      cellErrors.push({ row, field: '(row)', detail: `${cells.length} cells; the header has ${header.length}` });
    }
    const get = (name: string) => {
      const i = header.indexOf(name);
      return i < 0 ? '' : (cells[i] ?? '');
    };
    const value: Record<string, unknown> = {};
    for (const name of ['id', 'kind', 'name', 'city', 'district']) value[name] = get(name);
    const number = (name: 'lat' | 'lon') => {
      const text = get(name).trim();
      const n = text === '' ? Number.NaN : Number(text);
      if (!Number.isFinite(n)) cellErrors.push({ row, field: `location.${name}`, detail: `${name} must be a number, got ${JSON.stringify(text.slice(0, 30))}` });
      return n;
    };
    value.location = { lat: number('lat'), lon: number('lon') };
    const thresholds = get('thresholds').trim();
    if (thresholds !== '') {
      try {
        value.thresholds = JSON.parse(thresholds);
      } catch {
        cellErrors.push({ row, field: 'thresholds', detail: 'thresholds must be a JSON object, e.g. {"siaga":775,"awas":825}' });
      }
    }
    const devEui = get('devEui').trim();
    if (devEui !== '') value.devEui = devEui;
    return { value, cellErrors };
  });
  return { ok: true, rows };
}

/** Judge every row: shape, the kind's thresholds, duplicates inside the file, clashes with the registry. */
/**
 * `outsideScope` (issue 20): the reason a device lies outside the importing admin's scope, or null; such a row is
 * a numbered row error like any other, and nothing is created.
 */
export function judgeImport(
  rows: Array<{ value: unknown; cellErrors: RowError[] }>,
  registry: Registry,
  extras: DeviceExtras,
  outsideScope: (device: { city: string; kind: string }) => string | null = () => null,
): ImportJudgement {
  if (rows.length === 0) return { ok: false, detail: 'no devices to import', errors: [] };
  if (rows.length > MAX_IMPORT_ROWS) {
    return { ok: false, detail: `${rows.length} rows; at most ${MAX_IMPORT_ROWS} devices per import`, errors: [] };
  }
  const errors: RowError[] = [];
  const devices: NewDevice[] = [];
  const ownerVisible = (id: string) => {
    const d = registry.device(id);
    return d !== undefined && outsideScope(d) === null;
  };
  const firstRowOfId = new Map<string, number>();
  const firstRowOfEui = new Map<string, number>();
  rows.forEach(({ value, cellErrors }, index) => {
    const row = index + 1;
    const rowErrors = [...cellErrors];
    const failedFields = new Set(rowErrors.map((e) => e.field));
    const parsed = NewDeviceSchema.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const field = issue.path.map(String).join('.') || '(row)';
        if (failedFields.has(field)) continue;
        failedFields.add(field);
        rowErrors.push({ row, field, detail: issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message });
      }
    } else {
      const device = parsed.data;
      const outside = outsideScope(device);
      if (outside) rowErrors.push({ row, field: 'city', detail: outside });
      if (device.thresholds) {
        const t = thresholdsSchema(device.kind).safeParse(device.thresholds);
        if (!t.success) {
          const issue = t.error.issues[0]!;
          rowErrors.push({ row, field: ['thresholds', ...issue.path.map(String)].join('.'), detail: issue.message });
        }
      }
      const sameId = firstRowOfId.get(device.id);
      if (sameId !== undefined) rowErrors.push({ row, field: 'id', detail: `id ${device.id} is also on row ${sameId}` });
      else if (registry.device(device.id)) rowErrors.push({ row, field: 'id', detail: `device ${device.id} already exists` });
      else firstRowOfId.set(device.id, row);
      if (device.devEui !== undefined) {
        const sameEui = firstRowOfEui.get(device.devEui);
        const owner = extras.deviceIdByDevEui(device.devEui);
        if (sameEui !== undefined) rowErrors.push({ row, field: 'devEui', detail: `devEui ${device.devEui} is also on row ${sameEui}` });
        // the owner is named only when the importer could see it anyway (same rule as its scope: a device it may import)
        else if (owner) rowErrors.push({ row, field: 'devEui', detail: `devEui ${device.devEui} already belongs to ${ownerVisible(owner) ? `device ${owner}` : 'another device'}` });
        else firstRowOfEui.set(device.devEui, row);
      }
      if (rowErrors.length === 0) devices.push(device);
    }
    errors.push(...rowErrors);
  });
  if (errors.length > 0) {
    const bad = new Set(errors.map((e) => e.row)).size;
    return { ok: false, detail: `${bad} of ${rows.length} rows are invalid; nothing was imported`, errors };
  }
  return { ok: true, devices };
}

/** Create the judged devices in one registry transaction, DevEUIs included. */
export async function importDevices(devices: NewDevice[], registry: Registry, actor: string) {
  return registry.createDevices(devices.map((input) => ({ input })), actor);
}
