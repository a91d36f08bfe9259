// CAP messages checked against the vendored OASIS schema with Debian's xmllint (libxml2-utils), as a child process.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const CAP_XSD = resolve(import.meta.dirname, '../../vendor/cap/CAP-v1.2.xsd');

/** xmllint's verdict on `xml`: with `schema`, validity against it; without, well-formedness. '' when it passes. */
export function xmllint(xml: string, schema?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pantau-cap-'));
  try {
    const file = join(dir, 'doc.xml');
    writeFileSync(file, xml);
    const r = spawnSync('/usr/bin/xmllint', ['--noout', ...(schema ? ['--schema', schema] : []), file], { encoding: 'utf8' });
    return r.status === 0 ? '' : `${r.stderr}${r.error?.message ?? ''}`.trim() || `xmllint exited ${r.status}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The text of the first (or every) `<name>` element of a message, unescaped enough for the tests. */
export function tag(xml: string, name: string): string | undefined {
  return tags(xml, name)[0];
}

export function tags(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([^<]*)</${name}>`, 'g'))].map((m) => m[1]!);
}
