// Colours of states and indices. ISPU categories use the regulation's colours from the catalog; flood levels
// follow the BPBD convention (green, yellow, orange, red); LOS runs green to dark red.
import { ISPU_COLORS } from '../../catalog/ispu.js';

export const STATUS_COLORS: Record<string, string> = { online: '#2f9e44', offline: '#868e96', never_seen: '#ffffff' };

export const SEVERITY_COLORS: Record<string, string> = {
  waspada: '#f7c948',
  warning: '#f7c948',
  siaga: '#f08c00',
  awas: '#d6336c',
  critical: '#c92a2a',
};

export const FLOOD_COLORS: Record<string, string> = { normal: '#2f9e44', waspada: '#f7c948', siaga: '#f08c00', awas: '#c92a2a' };

export const LOS_COLORS: Record<string, string> = { A: '#1b7837', B: '#5aae61', C: '#d9f0a3', D: '#fdae61', E: '#f46d43', F: '#a50026' };

export const INDEX_COLORS: Record<string, string> = { ...ISPU_COLORS, ...FLOOD_COLORS, ...LOS_COLORS };

/** Black or white, whichever reads better on `bg` (WCAG relative luminance). */
export function textOn(bg: string): string {
  const n = parseInt(bg.slice(1), 16);
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const l = 0.2126 * lin((n >> 16) & 255) + 0.7152 * lin((n >> 8) & 255) + 0.0722 * lin(n & 255);
  return l > 0.179 ? '#000000' : '#ffffff';
}

/** Class names for the status and severity chips of long lists, built as HTML text (no inline style there). */
export const statusClass = (status: string) => `c-status-${status}`;
export const severityClass = (severity: string) => `c-sev-${severity.replace(/[^a-z]/g, '')}`;

/**
 * Installs those classes from the colours above as a constructed stylesheet (the CSSOM, which the page's
 * Content-Security-Policy allows, unlike inline style), so the colours stay defined once.
 */
export function installColourClasses(): void {
  const rules: string[] = [];
  for (const [s, c] of Object.entries(STATUS_COLORS)) rules.push(`.${statusClass(s)}{background:${c};color:${textOn(c)}}`);
  for (const [s, c] of Object.entries(SEVERITY_COLORS)) rules.push(`.${severityClass(s)}{background:${c};color:${textOn(c)}}`);
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(rules.join('\n'));
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
}
