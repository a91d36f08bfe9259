// Accept-Encoding as RFC 9110 §12.5.3 reads it: a coding is acceptable unless its quality is 0, `*` stands for every
// coding not named, and no header means any coding is fine (we still send identity then: a client that sends no
// header is a tool, and curl without --compressed would print binary). `gzip;q=0` refuses gzip.

/** Whether the client accepts `gzip` (or `x-gzip`) by its Accept-Encoding header. */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  let named: number | null = null;
  let star: number | null = null;
  for (const part of (Array.isArray(header) ? header.join(',') : header).split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/.exec(p);
      if (m) q = Number(m[1]);
    }
    if (coding === 'gzip' || coding === 'x-gzip') named = Math.max(named ?? 0, q);
    else if (coding === '*') star = q;
  }
  return (named ?? star ?? 0) > 0;
}
