// `npm run dashboards`: regenerate dashboards/generated/*.json from the TypeScript sources, and docs/glossary.md.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderGlossaryMarkdown } from '../catalog/glossary-markdown.js';
import { GENERATED_DIR, renderDashboards } from './index.js';

const dir = fileURLToPath(GENERATED_DIR);
mkdirSync(dir, { recursive: true });
const files = renderDashboards();
// A dashboard removed from the sources must disappear from Grafana too.
for (const name of readdirSync(dir)) {
  if (name.endsWith('.json') && !files.has(name)) rmSync(new URL(name, GENERATED_DIR));
}
for (const [name, content] of files) writeFileSync(new URL(name, GENERATED_DIR), content);
console.log(`dashboards: wrote ${files.size} dashboards to ${dir}`);

// The glossary page is generated from the same words the dashboards use.
const glossary = new URL('../docs/glossary.md', import.meta.url);
writeFileSync(glossary, renderGlossaryMarkdown());
console.log(`dashboards: wrote ${fileURLToPath(glossary)}`);
