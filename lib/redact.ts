// URLs in logs and unauthenticated answers never carry credentials: neither the user and password of the URL nor a
// query parameter that holds a secret (`?token=`, `?password=`, a signed URL's `sig`, InfluxDB 1.x's `p`).

/** Query parameters whose value is taken for a secret: anything named like a token, password, secret, key or signature. */
const SECRET_PARAM = /token|passw|pwd|secret|key|sig|auth|credential|session|^p$/i;
const REDACTED = 'redacted';

/**
 * `mqtt://user:secret@host:1883/?token=x&db=pantau` → `mqtt://host:1883/?token=redacted&db=pantau`; anything
 * unparsable → `(hidden)`.
 */
export function redactUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    for (const name of new Set(u.searchParams.keys())) {
      if (SECRET_PARAM.test(name)) u.searchParams.set(name, REDACTED);
    }
    return u.toString();
  } catch {
    return '(hidden)';
  }
}

/** Every URL in a free text (an error message that names the URL it failed on) redacted as redactUrl does. */
export function redactUrlsIn(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi, (url) => {
    // a URL that ends a sentence keeps its full stop, comma or closing bracket outside
    const tail = /[.,;:)\]]+$/.exec(url)?.[0] ?? '';
    return redactUrl(url.slice(0, url.length - tail.length))! + tail;
  });
}

/** A JSON-like value with every URL in its strings redacted (status documents of public answers). */
export function redactUrlsDeep<T>(value: T): T {
  if (typeof value === 'string') return redactUrlsIn(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactUrlsDeep(v)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactUrlsDeep(v)])) as T;
  }
  return value;
}
