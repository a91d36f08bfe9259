// The repository's imports as a graph of files, read with the TypeScript compiler's own import scanner
// (`ts.preProcessFile`): every `import`, `import type`, `export … from`, `import()` and `require()` of a relative
// path is an edge, type-only ones included, since a type import ties two files together as much as a value one.
// Imports of packages are not edges; an import whose path is computed at run time cannot be followed.
// test/architecture.test.ts holds the layers and checks them against this graph.
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import ts from 'typescript';

/** Which folder may import which: the server's layers, the programs beside it, and the folders free of rules. */
export interface Layering {
  /** Lowest first. A file imports files of its own folder and of folders in lower layers, nothing else. */
  layers: ReadonlyArray<readonly string[]>;
  /** Programs of their own beside the server, each with the folders it may import. */
  beside: Readonly<Record<string, readonly string[]>>;
  /** Folders that may import anything: tests, benchmarks, scripts. `(root)` names the files at the root. */
  free: readonly string[];
}

export interface ImportProblem {
  kind: 'circle' | 'upward' | 'unplaced';
  /** Repository-relative paths of the files concerned. */
  files: string[];
  message: string;
}

const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'vendor', 'coverage']);
const SOURCE = /\.(ts|mts|cts|tsx)$/;

/** Every TypeScript source file under `root` (declaration files and build output left out), repository-relative. */
export function sourceFiles(root: string, dir = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    if (entry.name.startsWith('.') || SKIPPED_DIRS.has(entry.name)) continue;
    const path = dir === '' ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...sourceFiles(root, path));
    else if (SOURCE.test(entry.name) && !/\.d\.[cm]?ts$/.test(entry.name)) out.push(path);
  }
  return out.sort();
}

/** The source file a relative specifier names (`./x.js` is `./x.ts` under NodeNext; vite's `./x` is `./x.ts`). */
function resolve(known: ReadonlySet<string>, from: string, specifier: string): string | undefined {
  const base = posix.normalize(posix.join(posix.dirname(from), specifier));
  const candidates = [
    base,
    base.replace(/\.js$/, '.ts'), base.replace(/\.js$/, '.tsx'), base.replace(/\.mjs$/, '.mts'), base.replace(/\.cjs$/, '.cts'),
    `${base}.ts`, `${base}.tsx`, `${base}/index.ts`,
  ];
  return candidates.find((c) => known.has(c));
}

/** File → the files it imports (sorted, repository-relative). */
export function importGraph(root: string, files: readonly string[] = sourceFiles(root)): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(root, file), 'utf8');
    const targets = new Set<string>();
    for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = resolve(known, file, fileName);
      if (target !== undefined && target !== file) targets.add(target);
    }
    graph.set(file, [...targets].sort());
  }
  return graph;
}

/** A circle: its files, and the shortest loop through them from the first (alphabetically) back to it. */
export interface Circle {
  files: string[];
  loop: string[];
}

/** The circles of the graph: its strongly connected parts of two files or more. */
export function circles(graph: ReadonlyMap<string, readonly string[]>): Circle[] {
  // Tarjan's algorithm, iterative so a long chain of imports cannot overflow the stack
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const parts: Circle[] = [];
  let counter = 0;
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: Array<{ node: string; next: number }> = [{ node: start, next: 0 }];
    index.set(start, counter); low.set(start, counter++); stack.push(start); onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const edges = graph.get(frame.node) ?? [];
      if (frame.next < edges.length) {
        const to = edges[frame.next++]!;
        if (!index.has(to)) {
          index.set(to, counter); low.set(to, counter++); stack.push(to); onStack.add(to);
          work.push({ node: to, next: 0 });
        } else if (onStack.has(to)) low.set(frame.node, Math.min(low.get(frame.node)!, index.get(to)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) !== index.get(frame.node)) continue;
      const part: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        part.push(member);
      } while (member !== frame.node);
      if (part.length > 1) parts.push({ files: part.sort(), loop: loopThrough(graph, new Set(part)) });
    }
  }
  return parts.sort((a, b) => a.files[0]!.localeCompare(b.files[0]!));
}

/** One loop through a circle's files, from its first file (alphabetically) back to it: the shortest such loop. */
function loopThrough(graph: ReadonlyMap<string, readonly string[]>, members: ReadonlySet<string>): string[] {
  const first = [...members].sort()[0]!;
  const cameFrom = new Map<string, string>();
  const queue = [first];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const to of graph.get(node) ?? []) {
      if (!members.has(to)) continue;
      if (to === first) {
        const loop = [node];
        while (loop[0] !== first) loop.unshift(cameFrom.get(loop[0]!)!);
        return [...loop, first];
      }
      if (!cameFrom.has(to)) {
        cameFrom.set(to, node);
        queue.push(to);
      }
    }
  }
  return [...members].sort();
}

/** The folder a file belongs to for the layering: its top-level folder, or `(root)`. */
export const folderOf = (file: string) => (file.includes('/') ? file.slice(0, file.indexOf('/')) : '(root)');

/** The folders `folder` may import besides itself; undefined when the layering does not place it. */
export function mayImport(layering: Layering, folder: string): ReadonlySet<string> | 'anything' | undefined {
  if (layering.free.includes(folder)) return 'anything';
  if (folder in layering.beside) return new Set(layering.beside[folder]);
  const level = layering.layers.findIndex((layer) => layer.includes(folder));
  return level < 0 ? undefined : new Set(layering.layers.slice(0, level).flat());
}

/** Every circle, every import the layering does not allow, and every folder it does not place. */
export function checkImports(root: string, layering: Layering): ImportProblem[] {
  const graph = importGraph(root);
  const problems: ImportProblem[] = [];
  for (const { files, loop } of circles(graph)) {
    const others = files.filter((f) => !loop.includes(f));
    const more = others.length > 0 ? `, and in the same circle ${others.join(', ')}` : '';
    problems.push({ kind: 'circle', files, message: `import circle: ${loop.join(' → ')}${more}` });
  }
  const unplaced = new Set<string>();
  for (const [file, targets] of graph) {
    const folder = folderOf(file);
    const allowed = mayImport(layering, folder);
    if (allowed === undefined) {
      if (!unplaced.has(folder)) problems.push({ kind: 'unplaced', files: [file], message: `folder ${folder}/ has no place in the layers` });
      unplaced.add(folder);
      continue;
    }
    if (allowed === 'anything') continue;
    for (const target of targets) {
      const to = folderOf(target);
      if (to === folder || allowed.has(to)) continue;
      const may = allowed.size > 0 ? [...allowed].sort().join(', ') : 'nothing outside itself';
      problems.push({ kind: 'upward', files: [file, target], message: `${file} imports ${target}: ${folder}/ may import ${may}` });
    }
  }
  return problems;
}
