// Every word the console shows, in Indonesian (default) and English. Domain words come from the glossary
// (catalog/glossary.ts: concepts, device states, alert states and severities, LOS) and the catalog's label objects
// (kinds and fields, flood levels, ISPU categories), so the console, the dashboards and the API name things alike;
// the console's own words are below. The choice of language is remembered in localStorage
// (a preference, never a credential).
import { CATALOG, type Kind } from '../../catalog/kinds.js';
import { ISPU_CATEGORIES } from '../../catalog/ispu.js';
import { FLOOD_LEVEL_LABELS } from '../../catalog/flood-levels.js';
import { GLOSSARY } from '../../catalog/glossary.js';

const { concept, deviceStatus, alertState, alertSeverity, los } = GLOSSARY;

export type Lang = 'id' | 'en';
export type Label = { readonly id: string; readonly en: string };

const STORAGE_KEY = 'pantau.lang';

let current: Lang = (() => {
  try {
    return localStorage.getItem(STORAGE_KEY) === 'en' ? 'en' : 'id';
  } catch {
    return 'id';
  }
})();

const listeners = new Set<() => void>();

export function lang(): Lang {
  return current;
}

export function setLang(next: Lang): void {
  current = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // private mode: the choice lasts for this page only
  }
  document.documentElement.lang = next;
  for (const l of listeners) l();
}

export function onLangChange(fn: () => void): void {
  listeners.add(fn);
}

export const pick = (label: Label): string => label[current];

/** The console's own words. */
export const UI = {
  appName: { id: 'Pantau · Konsol', en: 'Pantau · Console' },
  skip: { id: 'Lompat ke isi', en: 'Skip to content' },
  signInTitle: { id: 'Masuk ke konsol', en: 'Sign in to the console' },
  signInHelp: { id: 'Masukkan kunci API Anda. Kunci ditukar dengan sesi; kunci tidak disimpan di peramban.', en: 'Enter your API key. It is exchanged for a session; the key is not kept in the browser.' },
  signInHelpPassword: { id: 'Masuk dengan nama pengguna dan kata sandi Anda.', en: 'Sign in with your username and password.' },
  username: { id: 'Nama pengguna', en: 'Username' },
  password: { id: 'Kata sandi', en: 'Password' },
  useKey: { id: 'Masuk dengan kunci API', en: 'Sign in with an API key' },
  usePassword: { id: 'Masuk dengan nama pengguna dan kata sandi', en: 'Sign in with username and password' },
  badPassword: { id: 'Nama pengguna atau kata sandi salah.', en: 'Wrong username or password.' },
  locked: { id: 'Akun ini dikunci karena terlalu banyak percobaan gagal, sampai', en: 'This account is locked after too many failed attempts, until' },
  disabled: { id: 'Akun ini dinonaktifkan. Hubungi admin.', en: 'This account is disabled. Ask an admin.' },
  setPasswordTitle: { id: 'Buat kata sandi', en: 'Set your password' },
  setPasswordHelp: { id: 'Minimal 12 karakter, tanpa nama pengguna Anda. Tautan ini hanya berlaku sekali.', en: 'At least 12 characters, without your username. This link works once.' },
  newPassword: { id: 'Kata sandi baru', en: 'New password' },
  confirmPassword: { id: 'Ulangi kata sandi', en: 'Repeat the password' },
  savePassword: { id: 'Simpan kata sandi', en: 'Save password' },
  passwordMismatch: { id: 'Kedua kata sandi tidak sama.', en: 'The two passwords differ.' },
  passwordTooShort: { id: 'Kata sandi minimal 12 karakter.', en: 'The password needs at least 12 characters.' },
  passwordHasUsername: { id: 'Kata sandi tidak boleh memuat nama pengguna.', en: 'The password must not contain the username.' },
  passwordSet: { id: 'Kata sandi tersimpan. Silakan masuk.', en: 'Your password is set. You can sign in now.' },
  linkMissing: { id: 'Tautan ini tidak lengkap. Buka tautan dari admin Anda sekali lagi.', en: 'This link is incomplete. Open the link from your admin again.' },
  linkInvalid: { id: 'Tautan ini tidak valid. Minta tautan baru kepada admin.', en: 'This link is not valid. Ask an admin for a new one.' },
  linkUsed: { id: 'Tautan ini sudah dipakai. Minta tautan baru kepada admin.', en: 'This link was already used. Ask an admin for a new one.' },
  linkReplaced: { id: 'Tautan ini sudah diganti dengan yang lebih baru. Pakai tautan terbaru.', en: 'This link was replaced by a newer one. Use the newest link.' },
  linkExpired: { id: 'Tautan ini sudah kedaluwarsa. Minta tautan baru kepada admin.', en: 'This link has expired. Ask an admin for a new one.' },
  goToSignIn: { id: 'Ke halaman masuk', en: 'Go to sign-in' },
  apiKey: { id: 'Kunci API', en: 'API key' },
  signIn: { id: 'Masuk', en: 'Sign in' },
  signOut: { id: 'Keluar', en: 'Sign out' },
  badKey: { id: 'Kunci API tidak valid.', en: 'The API key is not valid.' },
  // single sign-on (api/oidc.ts); the sso* reasons answer its `/?sso_error=` codes
  signInSso: { id: 'Masuk dengan SSO', en: 'Sign in with SSO' },
  ssoDenied: { id: 'Masuk dengan SSO dibatalkan atau ditolak oleh penyedia identitas.', en: 'Single sign-on was cancelled or refused by the identity provider.' },
  ssoState: { id: 'Proses masuk dengan SSO kedaluwarsa atau tidak dimulai di peramban ini. Coba lagi.', en: 'The single sign-on expired or was not started in this browser. Try again.' },
  ssoToken: { id: 'Jawaban penyedia identitas tidak dapat diverifikasi. Coba lagi atau hubungi admin.', en: 'The identity provider\'s answer could not be verified. Try again or contact an admin.' },
  ssoUnmapped: { id: 'Akun Anda belum diberi peran di Pantau. Hubungi admin.', en: 'Your account has no role in Pantau yet. Contact an admin.' },
  ssoProvider: { id: 'Penyedia identitas tidak dapat dihubungi. Coba lagi nanti.', en: 'The identity provider could not be reached. Try again later.' },
  tooMany: { id: 'Terlalu banyak percobaan gagal. Coba lagi nanti.', en: 'Too many failed attempts. Try again later.' },
  failed: { id: 'Permintaan gagal', en: 'Request failed' },
  navMap: { id: 'Peta', en: 'Map' },
  navAlerts: { id: 'Peringatan', en: 'Alerts' },
  navSummary: { id: 'Ringkasan', en: 'Summary' },
  // the cluster's health (views/platform.ts), for admins only
  navPlatform: { id: 'Platform', en: 'Platform' },
  langToggle: { id: 'English', en: 'Bahasa Indonesia' },
  langToggleLabel: { id: 'Ganti bahasa ke English', en: 'Switch language to Bahasa Indonesia' },
  role: { id: 'Peran', en: 'Role' },
  roleViewer: { id: 'pemantau', en: 'viewer' },
  roleOperator: { id: 'operator', en: 'operator' },
  roleAdmin: { id: 'admin', en: 'admin' },
  live: { id: 'Langsung', en: 'Live' },
  reconnecting: { id: 'Menyambung ulang…', en: 'Reconnecting…' },
  loading: { id: 'Memuat…', en: 'Loading…' },
  devices: { id: 'Perangkat', en: 'Devices' },
  device: concept.device,
  name: { id: 'Nama', en: 'Name' },
  kind: concept.kind,
  city: concept.city,
  district: concept.district,
  status: { id: 'Status', en: 'Status' },
  lastSeen: { id: 'Terakhir terlihat', en: 'Last seen' },
  never: { id: 'belum pernah', en: 'never' },
  alert: concept.alert,
  all: { id: 'Semua', en: 'All' },
  colourBy: { id: 'Warna menurut', en: 'Colour by' },
  colourCondition: { id: 'Kondisi', en: 'Condition' },
  colourStatus: { id: 'Status', en: 'Status' },
  colourAlert: { id: 'Peringatan terparah', en: 'Worst alert' },
  colourIndex: { id: 'Indeks', en: 'Index' },
  legend: { id: 'Keterangan', en: 'Legend' },
  mapLabel: { id: 'Peta perangkat di Kalimantan Timur', en: 'Map of devices in East Kalimantan' },
  deviceList: { id: 'Daftar perangkat', en: 'Device list' },
  shown: { id: 'ditampilkan', en: 'shown' },
  noAlert: { id: 'tidak ada', en: 'none' },
  online: deviceStatus.online,
  offline: deviceStatus.offline,
  neverSeen: deviceStatus.never_seen,
  alertsTitle: { id: 'Peringatan aktif', en: 'Active alerts' },
  state: { id: 'Keadaan', en: 'State' },
  severity: { id: 'Tingkat', en: 'Severity' },
  rule: { id: 'Aturan', en: 'Rule' },
  value: { id: 'Nilai', en: 'Value' },
  opened: { id: 'Dibuka', en: 'Opened' },
  message: { id: 'Pesan', en: 'Message' },
  action: { id: 'Tindakan', en: 'Action' },
  acknowledge: concept.acknowledge,
  acknowledgedBy: alertState.acknowledged,
  stateOpen: alertState.open,
  stateAcknowledged: alertState.acknowledged,
  stateResolved: alertState.resolved,
  noAlerts: { id: 'Tidak ada peringatan aktif.', en: 'No active alerts.' },
  newAlert: { id: 'Peringatan baru', en: 'New alert' },
  changedAlert: { id: 'Peringatan berubah', en: 'Alert changed' },
  viewOnly: { id: 'Hanya operator yang dapat mengakui peringatan.', en: 'Only operators can acknowledge alerts.' },
  latest: { id: 'Nilai terbaru', en: 'Latest values' },
  measured: { id: 'Diukur', en: 'Measured' },
  noReading: { id: 'Perangkat ini belum pernah mengirim data.', en: 'This device has never reported.' },
  index: { id: 'Indeks', en: 'Index' },
  chart24h: { id: '24 jam terakhir', en: 'Last 24 hours' },
  thresholds: { id: 'Ambang batas', en: 'Thresholds' },
  ispuBands: { id: 'Kategori ISPU', en: 'ISPU categories' },
  noData24h: { id: 'Tidak ada data dalam 24 jam terakhir.', en: 'No data in the last 24 hours.' },
  rejections: { id: 'Penolakan terbaru', en: 'Recent rejections' },
  rejectionsHelp: { id: 'Data dari perangkat yang ditolak, dengan alasannya.', en: 'Readings from the device that were refused, and why.' },
  noRejections: { id: 'Tidak ada penolakan.', en: 'No rejections.' },
  reason: { id: 'Alasan', en: 'Reason' },
  detail: { id: 'Rincian', en: 'Detail' },
  time: { id: 'Waktu', en: 'Time' },
  location: { id: 'Lokasi', en: 'Location' },
  notFound: { id: 'Perangkat tidak ditemukan.', en: 'Device not found.' },
  back: { id: 'Kembali ke peta', en: 'Back to the map' },
  summaryTitle: { id: 'Ringkasan per kota dan jenis', en: 'Summary by city and kind' },
  total: { id: 'Jumlah', en: 'Total' },
  openAlerts: { id: 'Peringatan terbuka', en: 'Open alerts' },
  worstIndex: { id: 'Indeks terburuk', en: 'Worst index' },
  updated: { id: 'Diperbarui', en: 'Updated' },
  freeFlow: { id: 'Kecepatan arus bebas', en: 'Free-flow speed' },
  zoneNote: { id: 'Waktu dalam WITA (UTC+8)', en: 'Times in WITA (UTC+8)' },
  mapAttribution: { id: 'Garis pantai dan batas negara: Natural Earth (domain publik); sungai dan letak kota: perkiraan', en: 'Coastline and borders: Natural Earth (public domain); rivers and towns: approximate' },
  legendEmpty: { id: 'Tidak ada perangkat di layar.', en: 'No device on screen.' },
  legendOnScreen: { id: 'Keterangan (yang tampak di layar)', en: 'Legend (what is on screen)' },
  clusterLabel: { id: 'perangkat; tekan Enter untuk memperbesar', en: 'devices; press Enter to zoom in' },
  openDevice: { id: 'buka perangkat', en: 'open device' },
  floodLevel: { id: 'Tinggi air', en: 'Water level' },
  apiKeyNamed: { id: 'Kunci API', en: 'API key' },
  timeWita: { id: 'Waktu (WITA, UTC+8)', en: 'Time (WITA, UTC+8)' },
} as const satisfies Record<string, Label>;

export type UiKey = keyof typeof UI;

export const t = (key: UiKey): string => UI[key][current];

export const STATUS_LABELS: Record<'online' | 'offline' | 'never_seen', Label> = {
  online: UI.online,
  offline: UI.offline,
  never_seen: UI.neverSeen,
};

export const ALERT_STATE_LABELS: Record<string, Label> = {
  open: UI.stateOpen,
  acknowledged: UI.stateAcknowledged,
  resolved: UI.stateResolved,
};

/** Alert severities as the API names them (the glossary's: flood levels, then "Perhatian" and "Kritis"). */
export const SEVERITY_LABELS: Record<string, Label> = alertSeverity;

export const RULE_LABELS: Record<string, Label> = {
  flood_level: { id: 'Tinggi muka air', en: 'Water level' },
  ispu: { id: 'ISPU', en: 'ISPU' },
  traffic_los: { id: 'Tingkat pelayanan jalan', en: 'Level of service' },
  silent: { id: 'Tidak melapor', en: 'Not reporting' },
  stuck: { id: 'Nilai tidak berubah', en: 'Stuck value' },
  spike: { id: 'Lonjakan tidak wajar', en: 'Implausible spike' },
};

/** Level of service, HCM urban-street grades: "B · arus stabil". */
export const LOS_LABELS: Record<string, Label> = Object.fromEntries(
  Object.entries(los).map(([grade, term]) => [grade, { id: `${grade} · ${term.id.toLowerCase()}`, en: `${grade} · ${term.en.toLowerCase()}` }]),
);

export const KIND_LABELS: Record<Kind, Label> = {
  air: CATALOG.air.label,
  flood: CATALOG.flood.label,
  traffic: CATALOG.traffic.label,
};

export const FLOOD_LABELS = FLOOD_LEVEL_LABELS;

export const ISPU_LABELS: Record<string, Label> = Object.fromEntries(ISPU_CATEGORIES.map((c) => [c.category, c.label]));

export function ruleLabel(rule: string): string {
  const base = rule.split(':')[0]!;
  const field = rule.includes(':') ? rule.slice(base.length + 1) : '';
  const label = RULE_LABELS[base] ? pick(RULE_LABELS[base]) : rule;
  return field ? `${label} (${fieldLabel(field)})` : label;
}

export function fieldLabel(field: string): string {
  for (const spec of Object.values(CATALOG)) {
    const f = spec.fields.find((x) => x.name === field);
    if (f) return pick(f.label);
  }
  return field;
}

/** An index category in words: ISPU category, flood level or LOS grade. */
export function categoryLabel(category: string): string {
  const l = ISPU_LABELS[category] ?? (FLOOD_LABELS as Record<string, Label>)[category] ?? LOS_LABELS[category];
  return l ? pick(l) : category;
}

export const roleLabel = (role: string): string =>
  t(role === 'admin' ? 'roleAdmin' : role === 'operator' ? 'roleOperator' : 'roleViewer');
