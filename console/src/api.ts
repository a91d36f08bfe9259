// Calls to Pantau's own API, signed in by the session cookie. State-changing calls carry the session's CSRF
// token; the token lives in this module's memory only. A 401 anywhere means the session ended: back to sign-in.
export interface SessionInfo {
  /** Signed in as a person (username and password) or with an API key. */
  type: 'user' | 'key';
  /** The person's display name, or the key's name. */
  name: string;
  username: string | null;
  role: 'viewer' | 'operator' | 'admin';
  scope: { cities: string[]; kinds: string[] };
  /** The person's language; null for a key. */
  language: 'id' | 'en' | null;
  expiresAt: string;
  csrfToken: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    detail: string,
    /** The problem's type, e.g. https://pantau.dev/problems/account-locked. */
    readonly type = '',
    /** Extension members of the problem (lockedUntil). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
  }

  /** The last part of the problem type: `account-locked`, `account-disabled`, `link-gone`… */
  get slug(): string {
    return this.type.slice(this.type.lastIndexOf('/') + 1);
  }
}

let session: SessionInfo | null = null;
let onSignedOut: () => void = () => undefined;

export const currentSession = () => session;
export const canAcknowledge = () => session !== null && session.role !== 'viewer';

export function whenSignedOut(fn: () => void): void {
  onSignedOut = fn;
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && session) headers['x-csrf-token'] = session.csrfToken;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  const parsed = text ? (JSON.parse(text) as unknown) : null;
  if (!res.ok) {
    const problem = (parsed ?? {}) as { detail?: string; type?: string } & Record<string, unknown>;
    if (res.status === 401 && path !== '/api/v1/session') {
      session = null;
      onSignedOut();
    }
    throw new ApiError(res.status, problem.detail ?? res.statusText, problem.type ?? '', problem);
  }
  return parsed as T;
}

export const get = <T>(path: string) => call<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => call<T>('POST', path, body);

/** The session of this browser's cookie, or null when signed out. */
export async function loadSession(): Promise<SessionInfo | null> {
  // the session cookie is HttpOnly; its companion only says that one was set (and has not expired)
  if (!/(^|;\s*)pantau_signed_in=1/.test(document.cookie)) return null;
  try {
    session = await call<SessionInfo>('GET', '/api/v1/session');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) session = null;
    else throw err;
  }
  return session;
}

/**
 * Asks whether the session still holds (the live stream broke: the session may have been ended, the person disabled
 * or re-scoped); when it does not, back to the sign-in form at once rather than at the next refresh.
 */
export async function checkSignedIn(): Promise<void> {
  if (!session) return;
  try {
    await call('GET', '/api/v1/session');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      session = null;
      onSignedOut();
    }
  }
}

/** Signs in with a username and password, or (`{ key }`) an API key; both are sent once and never kept. */
export async function signIn(credentials: { username: string; password: string } | { key: string }): Promise<SessionInfo> {
  session = await call<SessionInfo>('POST', '/api/v1/session', credentials);
  return session;
}

/** Sets a person's password with the token of their one-time link. */
export function setPassword(token: string, password: string): Promise<{ username: string; name: string }> {
  return call('POST', '/api/v1/password', { token, password });
}

/** Single sign-on (OpenID Connect): a full-page navigation to this route starts it at the province's provider. */
export const SSO_LOGIN = '/api/v1/session/oidc/login';

/** Whether Pantau offers single sign-on; asked by the signed-out page. */
export async function ssoEnabled(): Promise<boolean> {
  return (await call<{ enabled: boolean }>('GET', '/api/v1/session/oidc')).enabled;
}

/** The reason a single sign-on came back refused (`/?sso_error=…`), taken from the address once. */
export function takeSsoError(): 'ssoDenied' | 'ssoState' | 'ssoToken' | 'ssoUnmapped' | 'ssoProvider' | 'disabled' | null {
  const code = new URLSearchParams(location.search).get('sso_error');
  if (code === null) return null;
  history.replaceState(null, '', location.pathname);
  const reasons = { denied: 'ssoDenied', state: 'ssoState', token: 'ssoToken', unmapped: 'ssoUnmapped', provider: 'ssoProvider', disabled: 'disabled' } as const;
  return reasons[code as keyof typeof reasons] ?? 'ssoProvider';
}

export async function signOut(): Promise<void> {
  try {
    await call('DELETE', '/api/v1/session');
  } finally {
    session = null;
  }
}

export interface MapDevice {
  id: string;
  kind: 'air' | 'flood' | 'traffic';
  name: string;
  city: string;
  district: string;
  lat: number;
  lon: number;
  status: 'online' | 'offline' | 'never_seen';
  lastSeen: string | null;
  alertSeverity: string | null;
  thresholds: Record<string, unknown> | null;
  index: { category: string; value?: number } | null;
}

export interface Alert {
  id: string;
  deviceId: string;
  kind: string;
  rule: string;
  severity: string;
  state: 'open' | 'acknowledged' | 'resolved';
  value: number | null;
  message: string;
  openedAt: string;
  acknowledgedAt: string | null;
  resolvedAt: string | null;
}
