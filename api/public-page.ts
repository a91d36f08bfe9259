// The citizens' page (docs/public.md): server-rendered HTML from the public snapshot, Indonesian first and English
// one link away, for a cheap phone on a slow connection — no script, no framework, one small stylesheet, the 24-hour
// river level drawn as inline SVG on the server.
import { GLOSSARY, type Term } from '../catalog/glossary.js';
import { FLOOD_LEVEL_LABELS, type FloodLevel } from '../catalog/flood-levels.js';
import { ISPU_CATEGORY_NAMES, ISPU_COLORS } from '../catalog/ispu.js';
import type { PublicCity, PublicGauge, PublicSnapshot } from './public-snapshot.js';
import { escapeHtml } from './html.js';
import { witaTime } from '../notify/message.js';

/** `10.32 WITA` / `10:32 WITA`: the clock of East Kalimantan (UTC+8), which is what residents read. */
const clockWita = (iso: string, lang: Lang) => witaTime(Date.parse(iso), lang).split(' ').slice(3).join(' ');

export type Lang = 'id' | 'en';

const esc = escapeHtml;
const t = (term: Term, lang: Lang) => esc(term[lang]);

const WORDS = {
  title: { id: 'Pantau — udara dan sungai Kalimantan Timur', en: 'Pantau — air and rivers of East Kalimantan' },
  heading: { id: 'Udara dan sungai hari ini', en: 'Air and rivers today' },
  other: { id: 'English', en: 'Bahasa Indonesia' },
  updated: { id: 'Diperbarui', en: 'Updated' },
  air: { id: 'Kualitas udara', en: 'Air quality' },
  river: { id: 'Sungai', en: 'Rivers' },
  noAir: { id: 'Belum ada data ISPU.', en: 'No ISPU data yet.' },
  noRiver: { id: 'Belum ada data tinggi muka air.', en: 'No water level data yet.' },
  warnings: { id: 'Peringatan aktif', en: 'Active warnings' },
  noWarnings: { id: 'Tidak ada peringatan banjir atau kabut asap.', en: 'No flood or haze warnings.' },
  worstAt: { id: 'terburuk di', en: 'worst at' },
  chart: { id: 'Tinggi muka air 24 jam terakhir (cm) dan ambang batas', en: 'Water level over the last 24 hours (cm) and thresholds' },
  noChart: { id: 'Belum ada data 24 jam.', en: 'No data for the last 24 hours yet.' },
  noCities: { id: 'Belum ada perangkat publik.', en: 'No public devices yet.' },
  source: { id: 'Data terbuka dari Pantau. ISPU menurut Permen LHK P.14/2020.', en: 'Open data from Pantau. ISPU per KLHK regulation P.14/2020.' },
} as const satisfies Record<string, Term>;

const LEVEL_CLASS: Record<FloodLevel, string> = { normal: 'l0', waspada: 'l1', siaga: 'l2', awas: 'l3' };
// dark enough for small text on white (WCAG AA, 4.5:1)
const THRESHOLD_COLOURS = { waspada: '#7a5c00', siaga: '#a04000', awas: '#b71c1c' } as const;

/** Black or white text, whichever has the higher WCAG contrast on the category colour. */
const inkOn = (hex: string) => {
  const n = parseInt(hex.slice(1), 16);
  const lin = (c: number) => (c / 255 <= 0.03928 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
  const l = 0.2126 * lin((n >> 16) & 255) + 0.7152 * lin((n >> 8) & 255) + 0.0722 * lin(n & 255);
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? '#000' : '#fff';
};

/** The gauge's last 24 h against its thresholds, as an inline SVG (viewBox units; scales to the screen). */
export function levelChart(g: PublicGauge, lang: Lang): string {
  const W = 300;
  const H = 120;
  const pts = g.last24h;
  if (pts.length === 0) return `<p class="muted">${t(WORDS.noChart, lang)}</p>`;
  const th = Object.entries(g.thresholds) as Array<[keyof typeof THRESHOLD_COLOURS, number]>;
  const values = [...pts.map((p) => p.waterLevel), ...th.map(([, v]) => v)];
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (hi - lo < 1) { hi += 1; lo -= 1; }
  const pad = (hi - lo) * 0.1;
  lo -= pad;
  hi += pad;
  const end = Date.parse(pts[pts.length - 1]!.ts);
  const start = Math.min(Date.parse(pts[0]!.ts), end - 23 * 3_600_000);
  const x = (ts: string) => (((Date.parse(ts) - start) / Math.max(1, end - start)) * (W - 40) + 36).toFixed(1);
  const y = (v: number) => (H - 14 - ((v - lo) / (hi - lo)) * (H - 20)).toFixed(1);
  const lines = th
    .map(([k, v]) => `<line x1="36" x2="${W - 4}" y1="${y(v)}" y2="${y(v)}" stroke="${THRESHOLD_COLOURS[k]}" stroke-dasharray="4 3"/><text x="${W - 4}" y="${Number(y(v)) - 2}" text-anchor="end" fill="${THRESHOLD_COLOURS[k]}">${t(FLOOD_LEVEL_LABELS[k], lang)} ${v}</text>`)
    .join('');
  const path = pts.map((p) => `${x(p.ts)},${y(p.waterLevel)}`).join(' ');
  const last = pts[pts.length - 1]!;
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${t(WORDS.chart, lang)}: ${esc(g.name)}"><title>${t(WORDS.chart, lang)}</title>` +
    `<text x="2" y="12">${Math.round(hi)}</text><text x="2" y="${H - 14}">${Math.round(lo)}</text>` +
    `<line x1="36" x2="36" y1="4" y2="${H - 14}" stroke="#777"/>${lines}` +
    `<polyline points="${path}" fill="none" stroke="#0b5394" stroke-width="2"/><circle cx="${x(last.ts)}" cy="${y(last.waterLevel)}" r="3" fill="#0b5394"/>` +
    `<text x="36" y="${H - 2}">−24 h</text><text x="${W - 4}" y="${H - 2}" text-anchor="end">${esc(clockWita(last.ts, lang))}</text></svg>`;
}

function ispuBlock(c: PublicCity, lang: Lang): string {
  if (!c.ispu) return `<p class="muted">${t(WORDS.noAir, lang)}</p>`;
  const i = c.ispu;
  return `<div class="ispu k${ISPU_CATEGORY_NAMES.indexOf(i.category)}"><span class="big">${i.value}</span> ` +
    `<span>ISPU · <strong>${t(i.label, lang)}</strong></span></div>` +
    `<p class="advice">${t(i.advice, lang)}</p><p class="muted">${t(WORDS.worstAt, lang)} ${esc(i.monitor)}</p>`;
}

function gaugeBlock(g: PublicGauge, lang: Lang): string {
  const level = g.levelLabel ? `<span class="lvl ${LEVEL_CLASS[g.level!]}">${t(g.levelLabel, lang)}</span>` : `<span class="lvl">${t(GLOSSARY.concept.noThresholds, lang)}</span>`;
  const value = g.waterLevel === null ? '—' : `${g.waterLevel} cm`;
  return `<li><h4>${esc(g.name)} <small>${esc(g.district)}</small></h4><p>${value} ${level}</p>${levelChart(g, lang)}</li>`;
}

/** One city's card: the page's section and the embed's whole body. */
export function cityCard(c: PublicCity, lang: Lang, headingLevel = 2): string {
  const h = `h${headingLevel}`;
  const sub = `h${headingLevel + 1}`;
  const warnings = c.warnings.length === 0
    ? `<p class="muted">${t(WORDS.noWarnings, lang)}</p>`
    : `<ul class="warn">${c.warnings.map((w) => `<li>${t(w.text, lang)}</li>`).join('')}</ul>`;
  const worst = c.worstGauge
    ? `<p>${t(GLOSSARY.concept.floodLevel, lang)}: <span class="lvl ${LEVEL_CLASS[c.worstGauge.level]}">${t(c.worstGauge.levelLabel, lang)}</span> — ${esc(c.worstGauge.name)}</p>`
    : '';
  return `<section class="city" aria-labelledby="c-${esc(slug(c.city))}"><${h} id="c-${esc(slug(c.city))}">${esc(c.city)}</${h}>` +
    `<${sub}>${t(WORDS.warnings, lang)}</${sub}>${warnings}` +
    `<${sub}>${t(WORDS.air, lang)}</${sub}>${ispuBlock(c, lang)}` +
    `<${sub}>${t(WORDS.river, lang)}</${sub}>${worst}` +
    (c.gauges.length === 0 ? `<p class="muted">${t(WORDS.noRiver, lang)}</p>` : `<ul class="gauges">${c.gauges.map((g) => gaugeBlock(g, lang)).join('')}</ul>`) +
    `</section>`;
}

export const slug = (city: string) => city.toLowerCase().replace(/[^a-z0-9]+/g, '-');

function shell(lang: Lang, title: string, path: string, body: string, updated: string): string {
  const other: Lang = lang === 'id' ? 'en' : 'id';
  const href = other === 'id' ? path : `${path}?lang=en`;
  return `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>${esc(title)}</title><link rel="stylesheet" href="/publik/publik.css"></head><body>` +
    `<header><p class="lang"><a href="${esc(href)}" hreflang="${other}" lang="${other}">${t(WORDS.other, lang)}</a></p>` +
    `<h1>${esc(title)}</h1><p class="muted">${t(WORDS.updated, lang)} ${esc(witaTime(Date.parse(updated), lang))}</p></header>` +
    `<main>${body}</main><footer><p class="muted">${t(WORDS.source, lang)}</p></footer></body></html>`;
}

export function publicPage(s: PublicSnapshot, lang: Lang, city?: PublicCity): string {
  const cities = city ? [city] : s.cities;
  const body = cities.length === 0 ? `<p>${t(WORDS.noCities, lang)}</p>` : cities.map((c) => cityCard(c, lang)).join('');
  const path = city ? `/publik/${encodeURIComponent(slug(city.city))}` : '/publik';
  return shell(lang, city ? `${WORDS.heading[lang]} — ${city.city}` : WORDS.title[lang], path, body, s.generatedAt);
}

export function embedCard(s: PublicSnapshot, lang: Lang, city: PublicCity): string {
  return `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>Pantau — ${esc(city.city)}</title><link rel="stylesheet" href="/publik/publik.css"></head><body class="embed"><main>` +
    cityCard(city, lang, 1) +
    `<p class="muted"><a href="/publik/${encodeURIComponent(slug(city.city))}${lang === 'en' ? '?lang=en' : ''}" target="_blank" rel="noopener">Pantau</a> · ${esc(witaTime(Date.parse(s.generatedAt), lang))}</p></main></body></html>`;
}

/** The page's one stylesheet (about 1.5 KiB). */
export const PUBLIC_CSS = `body{font:16px/1.4 system-ui,sans-serif;margin:0 auto;max-width:44rem;padding:.5rem 1rem;color:#111;background:#fff}
h1{font-size:1.4rem}h2{font-size:1.25rem;border-top:2px solid #ccc;padding-top:.5rem}h3,h4{font-size:1.05rem;margin:.8rem 0 .3rem}
small,.muted{color:#555}a{color:#0b4f8a}.lang{text-align:right;margin:0}
.ispu{display:flex;align-items:center;gap:.6rem;padding:.5rem .8rem;border-radius:.4rem}.big{font-size:2rem;font-weight:700}
.advice{margin:.4rem 0}.warn{padding-left:1.2rem}.warn li{font-weight:600;color:#8b0000}
.gauges{list-style:none;padding:0}.gauges li{margin-bottom:1rem}
.lvl{display:inline-block;padding:0 .4rem;border-radius:.3rem;background:#e8e8e8;color:#111}
.l1{background:#fff3b0}.l2{background:#ffd0a8}.l3{background:#8b0000;color:#fff}
${ISPU_CATEGORY_NAMES.map((c, i) => `.k${i}{background:${ISPU_COLORS[c]};color:${inkOn(ISPU_COLORS[c])}}`).join('')}
svg{width:100%;height:auto;max-height:10rem;font-size:9px;fill:#333}svg text{fill:#333}
.embed{padding:.3rem .6rem}.embed h1{font-size:1.2rem;margin:.2rem 0}`;
