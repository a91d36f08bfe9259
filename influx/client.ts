// A small client for InfluxDB's v1 HTTP API (`/write` line protocol, `/query` InfluxQL, `/ping`). The same API is
// served by InfluxDB 1.x, 2.x (compatibility endpoints) and 3.x, so it is the one dialect Pantau speaks.
// `@influxdata/influxdb-client` only writes through `/api/v2/write`, which 1.x lacks.
import http from 'node:http';
import https from 'node:https';
import { redactUrl } from '../lib/redact.js';

export interface InfluxOptions {
  url: string;
  database: string;
  token?: string;
  username?: string;
  password?: string;
  timeoutMs?: number;
  /** Queries sent at once; more wait in line (first come, first served). */
  maxConcurrentQueries?: number;
}

export interface Series {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

/** InfluxDB answered, and refused the request (4xx): retrying the same body will not help. */
export class InfluxRefusedError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'InfluxRefusedError';
  }
}

/** InfluxDB could not be reached or failed (network error, timeout, 5xx): retry later. */
export class InfluxUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InfluxUnavailableError';
  }
}

export class InfluxClient {
  readonly database: string;
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  // Many concurrent InfluxQL queries make InfluxDB share its cores between all of them, so every one of them is
  // slow; a short line in front of it keeps each answer's time close to the mean.
  private readonly maxQueries: number;
  private runningQueries = 0;
  private readonly queryLine: Array<() => void> = [];
  /** Kept-alive connections for `/write` (node:http, not fetch: see `post`). */
  private readonly agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

  constructor(options: InfluxOptions) {
    // A user and password in the URL (http://pantau:secret@influx:8086) would make fetch refuse every request and
    // would be shown wherever the URL is (error messages, /readyz): they become the Basic authorisation instead.
    const { base, username, password } = splitCredentials(options.url);
    this.base = base.replace(/\/+$/, '');
    this.database = options.database;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxQueries = options.maxConcurrentQueries ?? 4;
    this.headers = {};
    const user = options.username ?? username;
    if (options.token) this.headers.authorization = `Token ${options.token}`;
    else if (user)
      this.headers.authorization = `Basic ${Buffer.from(`${user}:${options.password ?? password ?? ''}`).toString('base64')}`;
  }

  async ping(): Promise<boolean> {
    try {
      const res = await this.request('/ping', { method: 'GET' }, 2_000);
      return res.status === 204 || res.status === 200;
    } catch {
      return false;
    }
  }

  /** Write line protocol (timestamps in ms). Throws InfluxRefusedError on 4xx, InfluxUnavailableError otherwise. */
  async write(body: string | Uint8Array): Promise<void> {
    return this.writeTo(undefined, body);
  }

  /** Write line protocol into a named retention policy (`undefined` = the database's default one). */
  async writeTo(rp: string | undefined, body: string | Uint8Array): Promise<void> {
    const query = new URLSearchParams({ db: this.database, precision: 'ms' });
    if (rp !== undefined) query.set('rp', rp);
    const res = await this.post(`/write?${query}`, body, 'text/plain; charset=utf-8');
    if (res.status === 204 || res.status === 200) return;
    const message = errorMessage(res.text) ?? `HTTP ${res.status}`;
    if (res.status >= 400 && res.status < 500) throw new InfluxRefusedError(res.status, message);
    throw new InfluxUnavailableError(`InfluxDB write failed: ${message}`);
  }

  /**
   * Run one InfluxQL statement. Values must come in `params` (bound by InfluxDB); only identifiers and
   * durations from Pantau's own whitelists may be part of `q`.
   */
  async query(q: string, params?: Record<string, string | number>): Promise<Series[]> {
    return (await this.queryEach([q], params))[0]!;
  }

  /**
   * Several InfluxQL statements in one request (one place in the line in front of InfluxDB, one HTTP exchange): the
   * series of each, in order. They share `params`, so each statement names its own (`$from1`, `$to1`, …).
   */
  async queryEach(statements: string[], params?: Record<string, string | number>): Promise<Series[][]> {
    if (statements.length === 0) return [];
    if (statements.some((q) => q.includes(';'))) throw new Error('one statement per query');
    // a finishing query hands its slot straight to the next in line
    if (this.runningQueries >= this.maxQueries) await new Promise<void>((resolve) => this.queryLine.push(resolve));
    else this.runningQueries++;
    try {
      return await this.runQuery(statements, params);
    } finally {
      const next = this.queryLine.shift();
      if (next) next();
      else this.runningQueries--;
    }
  }

  private async runQuery(statements: string[], params?: Record<string, string | number>): Promise<Series[][]> {
    const form = new URLSearchParams({ db: this.database, q: statements.join(';\n'), epoch: 'ms' });
    if (params) form.set('params', JSON.stringify(params));
    const res = await this.request('/query', {
      method: 'POST',
      body: form,
    });
    const text = await res.text();
    if (res.status >= 500) throw new InfluxUnavailableError(`InfluxDB query failed: HTTP ${res.status}`);
    let json: { results?: Array<{ statement_id?: number; series?: Series[]; error?: string }>; error?: string };
    try {
      json = JSON.parse(text);
    } catch {
      throw new InfluxUnavailableError(`InfluxDB answered HTTP ${res.status} with a body that is not JSON`);
    }
    const error = json.error ?? json.results?.find((r) => r.error)?.error;
    if (error) throw new InfluxRefusedError(res.status, error);
    const out: Series[][] = statements.map(() => []);
    (json.results ?? []).forEach((r, i) => {
      const at = r.statement_id ?? i;
      if (at >= 0 && at < out.length) out[at] = r.series ?? [];
    });
    return out;
  }

  async createDatabase(): Promise<void> {
    const form = new URLSearchParams({ q: `CREATE DATABASE ${quoteIdentifier(this.database)}` });
    const res = await this.request('/query', { method: 'POST', body: form });
    const text = await res.text();
    if (res.status >= 500) throw new InfluxUnavailableError(`CREATE DATABASE failed: HTTP ${res.status}`);
    const error = errorMessage(text);
    if (res.status >= 400 || error) throw new InfluxRefusedError(res.status, `CREATE DATABASE failed: ${error ?? res.status}`);
  }

  /**
   * POST `body` with node:http. The writer's bodies are megabytes of line protocol at tens of requests a second:
   * fetch would turn a string into bytes again and pass them through a web stream, copying each chunk (in a
   * profile of the single-reading benchmark, 40 % of the writer thread's time); a buffer is written as it is.
   * The same errors as `request`: InfluxUnavailableError for no answer or none within the time-out.
   */
  private post(path: string, body: string | Uint8Array, contentType: string, timeoutMs = this.timeoutMs, retried = false): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (cause: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(this.unreachable(cause));
      };
      let req: http.ClientRequest;
      try {
        const url = new URL(`${this.base}${path}`);
        const secure = url.protocol === 'https:';
        if (!secure && url.protocol !== 'http:') throw new TypeError(`unsupported protocol ${url.protocol}`);
        req = (secure ? https : http).request(url, {
          method: 'POST',
          agent: secure ? this.agents.https : this.agents.http,
          headers: { ...this.headers, 'content-type': contentType, 'content-length': String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength) },
        });
      } catch (err) {
        settled = true;
        reject(this.unreachable((err as Error).name));
        return;
      }
      const timer = setTimeout(() => {
        fail('TimeoutError');
        req.destroy();
      }, timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        // a kept-alive connection that InfluxDB closed while it was idle: once more on a new one
        if (!settled && !retried && req.reusedSocket && err.code === 'ECONNRESET') {
          settled = true;
          clearTimeout(timer);
          this.post(path, body, contentType, timeoutMs, true).then(resolve, reject);
          return;
        }
        fail(err.code ?? err.name);
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.name));
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
      });
      req.end(body);
    });
  }

  /** No answer from InfluxDB (`cause`: an error code or name), naming the URL without its credentials. */
  private unreachable(cause: string): InfluxUnavailableError {
    return new InfluxUnavailableError(`InfluxDB unreachable at ${redactUrl(this.base)} (${cause})`);
  }

  private async request(path: string, init: RequestInit, timeoutMs = this.timeoutMs): Promise<Response> {
    try {
      return await fetch(`${this.base}${path}`, {
        ...init,
        headers: { ...this.headers, ...(init.headers as Record<string, string> | undefined) },
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw this.unreachable(cause);
    }
  }
}

/** The URL without its user and password, and those (percent-decoded); an unparsable URL is left as it is. */
function splitCredentials(url: string): { base: string; username?: string; password?: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { base: url };
  }
  if (!u.username && !u.password) return { base: url };
  const username = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  u.username = '';
  u.password = '';
  return { base: u.toString(), username, password };
}

/** Double-quoted InfluxQL identifier. Used only for names from Pantau's own whitelists and config. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function errorMessage(body: string): string | undefined {
  try {
    const json = JSON.parse(body) as { error?: string; results?: Array<{ error?: string }> };
    return json.error ?? json.results?.[0]?.error;
  } catch {
    return body.trim() || undefined;
  }
}
