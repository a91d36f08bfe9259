// The layout of the code (docs/architecture.md): no two files import each other, directly or around a circle, and
// no folder imports one above it. Type-only imports count: they tie files together as much as value imports.
// A new top-level folder must be given a place below before this passes.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkImports, sourceFiles, type Layering } from './support/import-graph.js';
import { ROOT } from './support/process.js';

/** The allowed imports, as docs/architecture.md draws them. */
export const LAYERING: Layering = {
  // the server, lowest first: each folder imports its own files and the folders of the layers below it
  layers: [
    ['lib', 'catalog'],
    ['influx', 'registry'],
    ['ingest'],
    ['broker', 'history', 'alerts'],
    ['notify'],
    ['api'],
    ['platform'],
  ],
  // programs of their own, beside the server
  beside: {
    devices: ['catalog'],
    console: ['catalog'],
    dashboards: ['catalog', 'alerts'],
  },
  // they test, measure or start the rest
  free: ['test', 'bench', 'scripts', '(root)'],
};

describe('the layout of the code', () => {
  it('has no import circle and no import from a lower layer to a higher one', () => {
    expect(checkImports(ROOT, LAYERING).map((p) => p.message)).toEqual([]);
  });

  describe('the check itself', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'pantau-layers-'));
    // a copy of the repository's sources, so the scratch files below meet the real layering and the real files
    beforeAll(() => {
      for (const file of sourceFiles(ROOT)) {
        mkdirSync(dirname(join(scratch, file)), { recursive: true });
        copyFileSync(join(ROOT, file), join(scratch, file));
      }
    });
    afterAll(() => rmSync(scratch, { recursive: true, force: true }));
    const add = (file: string, text: string) => writeFileSync(join(scratch, file), text);
    /** What the check says about the scratch files (the copy may hold problems of its own, reported by the test above). */
    const about = (kind: string) => checkImports(scratch, LAYERING).filter((p) => p.kind === kind && p.files.some((f) => f.includes('scratch')));

    it('fails on a circle of type-only and dynamic imports, naming its files in order', () => {
      add('catalog/scratch-a.ts', "import type { B } from './scratch-b.js';\nexport type A = B | 1;\n");
      add('catalog/scratch-b.ts', "export type B = 2;\nexport const load = () => import('./scratch-c.js');\n");
      add('catalog/scratch-c.ts', "export type { A } from './scratch-a.js';\n");
      expect(about('circle')).toEqual([{
        kind: 'circle',
        files: ['catalog/scratch-a.ts', 'catalog/scratch-b.ts', 'catalog/scratch-c.ts'],
        message: 'import circle: catalog/scratch-a.ts → catalog/scratch-b.ts → catalog/scratch-c.ts → catalog/scratch-a.ts',
      }]);
    });

    it('fails on an import from a lower layer to a higher one, naming both files', () => {
      add('registry/scratch-up.ts', "import type { ApiContext } from '../api/context.js';\nexport type Up = ApiContext;\n");
      const upward = about('upward');
      expect(upward).toHaveLength(1);
      expect(upward[0]!.files).toEqual(['registry/scratch-up.ts', 'api/context.ts']);
      expect(upward[0]!.message).toBe('registry/scratch-up.ts imports api/context.ts: registry/ may import catalog, lib');
    });

    it('fails on a folder the layers do not place', () => {
      mkdirSync(join(scratch, 'scratch-folder'));
      add('scratch-folder/tool.ts', "export { redactUrl } from '../lib/redact.js';\n");
      expect(about('unplaced').map((p) => p.message))
        .toEqual(['folder scratch-folder/ has no place in the layers']);
    });
  });
});
