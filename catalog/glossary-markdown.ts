// docs/glossary.md, rendered from the glossary (catalog/glossary.ts) so the document cannot drift from the words the
// dashboards and the console show. `npm run dashboards` writes it; test/unit/glossary.test.ts fails when it is stale.
import { GLOSSARY, GLOSSARY_SECTIONS, type DefinedTerm, type GlossarySection } from './glossary.js';

const ORDER: readonly GlossarySection[] = [
  'concept',
  'floodLevel',
  'alertSeverity',
  'alertState',
  'ispuCategory',
  'los',
  'deviceStatus',
  'kind',
];

const cell = (text: string) => text.replaceAll('|', '\\|');

export function renderGlossaryMarkdown(): string {
  const out: string[] = [
    '# Glosarium / Glossary',
    '',
    '<!-- Generated from catalog/glossary.ts by `npm run dashboards`; do not edit by hand. -->',
    '',
    'One term per concept, in Bahasa Indonesia (the default on every screen) and English. The code is what the API,',
    'MQTT and InfluxDB carry; the words are what people read. Dashboards, alert messages and the console take their',
    'words from `catalog/glossary.ts`, the single source of this page.',
    '',
    '"Peringatan" always means an alert. The first grade of the non-flood rules (`warning`) is "Perhatian"; the',
    'flood level `siaga` is "Siaga" (warning).',
  ];
  for (const section of ORDER) {
    const heading = GLOSSARY_SECTIONS[section];
    out.push('', `## ${heading.id} / ${heading.en}`, '', '| code | Bahasa Indonesia | English | keterangan / note |', '|---|---|---|---|');
    for (const [code, term] of Object.entries(GLOSSARY[section]) as Array<[string, DefinedTerm]>) {
      const note = term.note ? `${term.note.id} / ${term.note.en}` : '';
      out.push(`| \`${cell(code)}\` | ${cell(term.id)} | ${cell(term.en)} | ${cell(note)} |`);
    }
  }
  return `${out.join('\n')}\n`;
}
