// Device registration through the Pantau API (docs/contract.md §5): create each device (201 with its token) or, when it
// already exists (409), bring its metadata up to date and rotate its token. Waits for the API while the platform
// is still starting; stops with a clear message on a refused admin key or a problem the operator must fix.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type FleetDevice, registrationBody } from './fleet-schema.js';

/** An RFC 9457 problem answered by the API, or a transport failure that outlived the retries. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string | undefined,
    readonly hint?: string,
  ) {
    super(`${status ? `${status} ` : ''}${title}${detail ? `: ${detail}` : ''}`);
  }

  /** Lines for the operator: what the API said, then what to do about it. */
  describe(): string {
    return this.hint ? `${this.message}\n  → ${this.hint}` : this.message;
  }
}

export interface ApiClientOptions {
  apiUrl: string;
  /** The admin key, looked up afresh on each request: a starting platform may write its admin.key late. */
  adminKey: () => string | undefined;
  /** How long to keep retrying while the API is unreachable or unavailable, seconds. */
  waitSeconds: number;
  log: (line: string) => void;
  fetch?: typeof fetch;
}

/** PANTAU_ADMIN_KEY, else the key the platform generated at first start in `<data dir>/admin.key`. */
export function adminKeySource(explicit: string | undefined, dataDir: string): () => string | undefined {
  if (explicit) return () => explicit;
  const file = join(dataDir, 'admin.key');
  return () => {
    if (!existsSync(file)) return undefined;
    const key = readFileSync(file, 'utf8').trim();
    return key === '' ? undefined : key;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ApiAnswer {
  status: number;
  body: unknown;
}

function problemFrom(answer: ApiAnswer, fallbackTitle: string): ApiProblem {
  const body = answer.body;
  if (body !== null && typeof body === 'object') {
    const p = body as { title?: unknown; detail?: unknown };
    const title = typeof p.title === 'string' ? p.title : fallbackTitle;
    const detail = typeof p.detail === 'string' ? p.detail : undefined;
    return new ApiProblem(answer.status, title, detail);
  }
  const text = typeof body === 'string' && body.trim() !== '' ? body.trim().slice(0, 300) : undefined;
  return new ApiProblem(answer.status, fallbackTitle, text);
}

export class PantauApi {
  private readonly base: string;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly options: ApiClientOptions) {
    this.base = options.apiUrl.replace(/\/+$/, '');
    this.fetchFn = options.fetch ?? fetch;
  }

  /** Wait until `GET /healthz` answers 200 and an admin key is at hand. */
  async waitUntilUp(): Promise<void> {
    const deadline = Date.now() + this.options.waitSeconds * 1000;
    let told = false;
    for (;;) {
      let up = false;
      let why = '';
      try {
        const res = await this.fetchFn(`${this.base}/healthz`, { signal: AbortSignal.timeout(5000) });
        up = res.ok;
        why = `HTTP ${res.status}`;
        await res.body?.cancel();
      } catch (error) {
        why = describeNetworkError(error);
      }
      if (up && this.options.adminKey()) return;
      if (up) why = 'no admin key yet';
      if (Date.now() >= deadline) {
        if (up) {
          throw new ApiProblem(0, 'No admin API key', 'PANTAU_ADMIN_KEY is not set and the platform wrote no admin.key', 'set PANTAU_ADMIN_KEY to an admin key of the platform (it prints one at its first start and keeps it in <data dir>/admin.key)');
        }
        throw new ApiProblem(0, `Pantau API not reachable at ${this.base}`, why, 'start the platform (npm start) or point PANTAU_API_URL at it');
      }
      if (!told) {
        this.options.log(`waiting for the Pantau API at ${this.base} (${why}) …`);
        told = true;
      }
      await sleep(1000);
    }
  }

  /** One API call, retried while the API is unreachable, overloaded or rate-limiting us. */
  private async call(method: string, path: string, body?: unknown): Promise<ApiAnswer> {
    const deadline = Date.now() + this.options.waitSeconds * 1000;
    for (;;) {
      const key = this.options.adminKey();
      const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
      if (key) headers.authorization = `Bearer ${key}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      let retryIn = 1000;
      let why: string;
      try {
        const res = await this.fetchFn(`${this.base}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(15_000),
        });
        const text = await res.text();
        let parsed: unknown = text;
        try {
          parsed = text === '' ? null : JSON.parse(text);
        } catch {
          // not JSON: keep the text for the error message
        }
        if (res.status === 429) {
          const after = Number(res.headers.get('retry-after'));
          retryIn = Number.isFinite(after) && after > 0 ? after * 1000 : 1000;
          why = 'rate limited (429)';
        } else if (res.status === 502 || res.status === 503 || res.status === 504) {
          why = `HTTP ${res.status}`;
        } else {
          return { status: res.status, body: parsed };
        }
      } catch (error) {
        why = describeNetworkError(error);
      }
      if (Date.now() + retryIn > deadline) {
        throw new ApiProblem(0, `${method} ${path} failed`, why, `is the platform running at ${this.base}?`);
      }
      await sleep(retryIn);
    }
  }

  private refuse(answer: ApiAnswer, what: string): never {
    const problem = problemFrom(answer, what);
    if (answer.status === 401) {
      throw new ApiProblem(401, problem.title, problem.detail, 'the admin key was refused: set PANTAU_ADMIN_KEY to a valid admin key (the platform prints one at first start and keeps it in <data dir>/admin.key)');
    }
    if (answer.status === 403) {
      throw new ApiProblem(403, problem.title, problem.detail, 'this key lacks the admin role: set PANTAU_ADMIN_KEY to a key created with role "admin"');
    }
    throw problem;
  }

  /** Register a device; returns its MQTT token and whether it was new. */
  async register(device: FleetDevice): Promise<{ token: string; created: boolean }> {
    const body = registrationBody(device);
    const created = await this.call('POST', '/api/v1/devices', body);
    if (created.status === 201) return { token: tokenOf(created, device.id), created: true };
    if (created.status !== 409) this.refuse(created, `Could not register ${device.id}`);

    // Already registered (an earlier run): bring its metadata up to date if the fleet changed, then take a
    // fresh token (tokens are shown only once, so a restarted simulator cannot know the old one).
    const { id, kind: _kind, ...metadata } = body;
    const path = `/api/v1/devices/${encodeURIComponent(id)}`;
    const current = await this.call('GET', path);
    if (current.status !== 200) this.refuse(current, `Could not read ${id}`);
    const existing = current.body as Record<string, unknown> | null;
    if (existing && typeof existing.kind === 'string' && existing.kind !== device.kind) {
      throw new ApiProblem(409, `Device ${id} exists as a ${existing.kind} device`, `the fleet has it as ${device.kind}`, `delete it (DELETE ${path}) or run with another fleet`);
    }
    const changed = Object.entries(metadata).some(([key, value]) => JSON.stringify(existing?.[key]) !== JSON.stringify(value));
    if (changed) {
      const patched = await this.call('PATCH', path, metadata);
      if (patched.status === 401 || patched.status === 403) this.refuse(patched, `Could not update ${id}`);
      if (patched.status !== 200) {
        this.options.log(`warning: could not update ${id}'s metadata: ${problemFrom(patched, 'PATCH failed').message}`);
      }
    }
    const rotated = await this.call('POST', `${path}/token`, undefined);
    if (rotated.status !== 200 && rotated.status !== 201) this.refuse(rotated, `Could not rotate the token of ${id}`);
    return { token: tokenOf(rotated, id), created: false };
  }

  /** A fresh token for a registered device (after a refused CONNECT); null when the device is gone (404). */
  async rotateToken(id: string): Promise<string | null> {
    const answer = await this.call('POST', `/api/v1/devices/${encodeURIComponent(id)}/token`, undefined);
    if (answer.status === 404) return null;
    if (answer.status !== 200 && answer.status !== 201) this.refuse(answer, `Could not rotate the token of ${id}`);
    return tokenOf(answer, id);
  }
}

function tokenOf(answer: ApiAnswer, id: string): string {
  const token = (answer.body as { token?: unknown } | null)?.token;
  if (typeof token !== 'string' || token === '') {
    throw new ApiProblem(answer.status, `The API answered without a token for ${id}`, JSON.stringify(answer.body)?.slice(0, 200));
  }
  return token;
}

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return cause.code;
  if ((error as Error).name === 'TimeoutError') return 'timed out';
  return (error as Error).message ?? String(error);
}

export interface RegistrationResult {
  tokens: Map<string, string>;
  created: number;
  existing: number;
  /** Devices the API would not take (e.g. registered with another kind), with the reason. */
  skipped: Map<string, string>;
}

/** Register every device, a few at a time. Fatal problems (auth, contract mismatches) reject the whole run. */
export async function registerFleet(
  api: PantauApi,
  devices: readonly FleetDevice[],
  onProgress: (done: number, total: number) => void = () => {},
  concurrency = 8,
): Promise<RegistrationResult> {
  const result: RegistrationResult = { tokens: new Map(), created: 0, existing: 0, skipped: new Map() };
  let next = 0;
  let done = 0;
  let failed = false;
  const worker = async () => {
    while (next < devices.length && !failed) {
      const device = devices[next++] as FleetDevice;
      try {
        const { token, created } = await api.register(device);
        result.tokens.set(device.id, token);
        if (created) result.created++;
        else result.existing++;
      } catch (error) {
        if (error instanceof ApiProblem && error.status === 409) {
          result.skipped.set(device.id, error.describe());
        } else {
          failed = true; // stop the other workers too: the run is over
          throw error;
        }
      }
      onProgress(++done, devices.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, devices.length) }, worker));
  return result;
}
