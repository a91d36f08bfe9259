import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SEVERITIES } from '../../alerts/rules.js';
import { ALERT_STATES } from '../../alerts/engine.js';
import { renderGlossaryMarkdown } from '../../catalog/glossary-markdown.js';
import {
  FLOOD_LEVELS,
  FLOOD_LEVEL_LABELS,
  GLOSSARY,
  ISPU_CATEGORIES,
  ISPU_CATEGORY_NAMES,
  KINDS,
  LOS_GRADES,
  type Term,
} from '../../catalog/index.js';
import { DeviceStatusSchema } from '../../registry/device.js';
import { renderDashboards } from '../../dashboards/index.js';

const sections = Object.entries(GLOSSARY) as Array<[string, Record<string, Term>]>;

/** Every string inside the generated dashboards' JSON. */
function dashboardStrings(): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  for (const json of renderDashboards().values()) walk(JSON.parse(json));
  return out;
}

describe('the glossary', () => {
  it('names every code the API and InfluxDB carry', () => {
    expect(Object.keys(GLOSSARY.floodLevel)).toEqual([...FLOOD_LEVELS]);
    expect(Object.keys(GLOSSARY.alertSeverity).sort()).toEqual([...SEVERITIES].sort());
    expect(Object.keys(GLOSSARY.alertState)).toEqual([...ALERT_STATES]);
    expect(Object.keys(GLOSSARY.ispuCategory)).toEqual([...ISPU_CATEGORY_NAMES]);
    expect(Object.keys(GLOSSARY.los)).toEqual([...LOS_GRADES]);
    expect(Object.keys(GLOSSARY.deviceStatus).sort()).toEqual([...DeviceStatusSchema.options].sort());
    expect(Object.keys(GLOSSARY.kind)).toEqual([...KINDS]);
    expect(GLOSSARY.floodLevel.siaga).toEqual({ id: 'Siaga', en: 'Warning', note: expect.any(Object) });
  });

  it('has one term per concept: no Indonesian or English word names two different things', () => {
    for (const language of ['id', 'en'] as const) {
      const owner = new Map<string, { term: Term; where: string }>();
      for (const [section, terms] of sections) {
        for (const [code, term] of Object.entries(terms)) {
          const word = term[language].toLowerCase();
          const seen = owner.get(word);
          // the same object under two codes is one concept (a flood alert's severity is its level)
          if (seen && seen.term !== term) expect.fail(`"${term[language]}" means both ${seen.where} and ${section}.${code}`);
          owner.set(word, { term, where: `${section}.${code}` });
        }
      }
    }
  });

  it('"Peringatan" is an alert and nothing else', () => {
    expect(GLOSSARY.concept.alert.id).toBe('Peringatan');
    for (const [section, terms] of sections) {
      for (const [code, term] of Object.entries(terms)) {
        if (term.id.includes('Peringatan') && term !== GLOSSARY.concept.alert) {
          expect(term.en.toLowerCase(), `${section}.${code}`).toContain('alert');
        }
      }
    }
  });

  it('is the source of the catalog labels', () => {
    expect(FLOOD_LEVEL_LABELS).toBe(GLOSSARY.floodLevel);
    for (const c of ISPU_CATEGORIES) expect(c.label).toBe(GLOSSARY.ispuCategory[c.category]);
  });

  it('docs/glossary.md is generated from it (run `npm run dashboards` when this fails)', () => {
    const onDisk = readFileSync(new URL('../../docs/glossary.md', import.meta.url), 'utf8');
    expect(onDisk).toBe(renderGlossaryMarkdown());
    for (const [, terms] of sections) for (const term of Object.values(terms)) expect(onDisk).toContain(`| ${term.id} | ${term.en} |`);
  });
});

describe('dashboard words', () => {
  const strings = dashboardStrings();

  it('"Peringatan" on a dashboard always means alerts, never a severity', () => {
    const uses = strings.flatMap((s) => [...s.matchAll(/Peringatan \(([^)]*)\)/g)].map((m) => m[1]!));
    expect(uses.length).toBeGreaterThan(0);
    for (const english of uses) expect(english).toMatch(/^alerts?/);
  });

  it('"(warning)" is only ever Siaga, the flood level', () => {
    const uses = strings.flatMap((s) => [...s.matchAll(/([\p{L} /]+) \((?:[^)]*\/ )?warning(?: \/[^)]*)?\)/gu)].map((m) => m[1]!.trim()));
    expect(uses.length).toBeGreaterThan(0);
    for (const indonesian of uses) expect(indonesian.split(' / ')).toContain('Siaga');
  });

  it('a gauge without thresholds (alert_level_num −1) reads "Tanpa ambang batas", not Normal', () => {
    const flood = JSON.parse(renderDashboards().get('flood.json')!) as { panels: Array<{ fieldConfig?: { defaults?: { mappings?: Array<{ options: Record<string, { text: string }> }> } } }> };
    const mapped = flood.panels.flatMap((p) => p.fieldConfig?.defaults?.mappings ?? []).map((m) => m.options['-1']?.text);
    expect(mapped.length).toBeGreaterThan(0);
    for (const text of mapped) expect(text).toBe('Tanpa ambang batas (no thresholds)');
  });

  it('every alert severity, flood level and LOS grade label is the glossary term', () => {
    const labels = new Set(strings);
    for (const term of Object.values(GLOSSARY.alertSeverity)) {
      expect([...labels].some((s) => s.includes(term.id)), term.id).toBe(true);
    }
    for (const grade of LOS_GRADES) {
      expect(labels.has(`${grade} — ${GLOSSARY.los[grade].id} (${GLOSSARY.los[grade].en.toLowerCase()})`), grade).toBe(true);
    }
  });
});
