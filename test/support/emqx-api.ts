// EMQX 5's REST API for the clients, as its documentation shows it, over sessions a test sets: `GET /clients`
// (filters `username`, `like_clientid`; `page`, `limit`) answers `{"data": [...], "meta": {count, limit, page,
// hasnext}}`; `DELETE /clients/{clientid}` answers 204, or 404 `{"code":"CLIENTID_NOT_FOUND",...}`; both need HTTP
// Basic with the API key and secret (401 `BAD_API_KEY_OR_SECRET` otherwise). Every kick is recorded.
import { createServer } from 'node:http';
import { eventually } from './platform.js';

export interface EmqxClient {
  clientid: string;
  username: string;
}

export interface EmqxApi {
  /** …/api/v5, for PANTAU_BROKER_ADMIN_URL. */
  url: string;
  /** The sessions EMQX would list, by client id. */
  sessions: Map<string, EmqxClient>;
  kicked: Array<{ clientid: string; at: number }>;
  /** Answer the next `count` requests 503. */
  failNext: { count: number };
  /** Milliseconds from `since` until `clientid` was kicked (waits up to 5 s). */
  kickedWithin(clientid: string, since: number): Promise<number>;
  close(): Promise<void>;
}

export async function startEmqxApi(key: string, secret: string): Promise<EmqxApi> {
  const sessions = new Map<string, EmqxClient>();
  const kicked: Array<{ clientid: string; at: number }> = [];
  const failNext = { count: 0 };
  const basic = `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}`;
  const server = createServer((req, res) => {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== basic) return json(401, { code: 'BAD_API_KEY_OR_SECRET', message: 'Check api_key/api_secret' });
    if (failNext.count > 0) {
      failNext.count--;
      return json(503, { code: 'SERVICE_UNAVAILABLE', message: 'Service unavailable' });
    }
    const url = new URL(req.url!, 'http://emqx');
    if (req.method === 'GET' && url.pathname === '/api/v5/clients') {
      const q = url.searchParams;
      const page = Number(q.get('page') ?? 1);
      const limit = Number(q.get('limit') ?? 100);
      const all = [...sessions.values()].filter((c) =>
        (!q.has('username') || q.getAll('username').includes(c.username)) && (!q.has('like_clientid') || c.clientid.includes(q.get('like_clientid')!)));
      const data = all.slice((page - 1) * limit, page * limit).map((c) => ({
        node: 'emqx@127.0.0.1', clientid: c.clientid, username: c.username, proto_name: 'MQTT', proto_ver: 4, ip_address: '127.0.0.1', port: 52_571,
        is_bridge: false, connected_at: '2026-12-05T08:00:00.000+00:00', connected: true, zone: 'default', keepalive: 60, clean_start: true,
        expiry_interval: 0, created_at: '2026-12-05T08:00:00.000+00:00', subscriptions_cnt: 1, max_subscriptions: 'infinity', inflight_cnt: 0,
        inflight_max: 32, mqueue_len: 0, mqueue_max: 1000, mqueue_dropped: 0,
      }));
      return json(200, { data, meta: { count: all.length, limit, page, hasnext: page * limit < all.length } });
    }
    const m = /^\/api\/v5\/clients\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'DELETE' && m) {
      const clientid = decodeURIComponent(m[1]!);
      if (!sessions.delete(clientid)) return json(404, { code: 'CLIENTID_NOT_FOUND', message: 'Client ID not found' });
      kicked.push({ clientid, at: Date.now() });
      res.writeHead(204);
      return res.end();
    }
    json(404, { code: 'NOT_FOUND', message: 'Request Path Not Found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/api/v5`,
    sessions,
    kicked,
    failNext,
    async kickedWithin(clientid, since) {
      const k = await eventually(() => kicked.find((x) => x.clientid === clientid), 5000, 20);
      return k.at - since;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
