// URLs in logs and unauthenticated answers never carry credentials.

/** `mqtt://user:secret@host:1883` → `mqtt://host:1883`; anything unparsable → `(hidden)`. */
export function redactUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(hidden)';
  }
}
