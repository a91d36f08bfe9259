// Ending live sessions at an external broker (docs/scale-out.md, "Ending sessions at the broker"). With
// PANTAU_BROKER_URL the broker, not Pantau, holds the devices' and city systems' connections: refusing a revoked
// credential at the next CONNECT is not enough, an open connection keeps publishing and receiving. Each broker
// offers its own way to cut one, chosen by PANTAU_BROKER_ADMIN:
// - `emqx`: EMQX 5's REST API (HTTP Basic with an API key): `GET /clients?username=…` lists a user's sessions,
//   `DELETE /clients/{clientid}` kicks one (204; 404 CLIENTID_NOT_FOUND when it is gone already).
// - `mosquitto-dynsec`: Mosquitto's dynamic security plugin, driven over MQTT on `$CONTROL/dynamic-security/v1`.
//   It kicks by username only, and only as a side effect: disabling or deleting one of its clients disconnects
//   every session of that username, whatever authenticated it (a password file included; verified on 2.0.11).
// Kicking is idempotent: a session that is gone already counts as ended.
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { redactUrl } from '../lib/redact.js';

/** Whose sessions to end. */
export interface KickTarget {
  /** The username they logged in with. */
  username: string;
  /**
   * Only these client ids of that username; `contains` narrows the broker's listing, `test` decides. A broker that
   * kicks by username alone (Mosquitto) ends all the username's sessions: those still entitled reconnect.
   */
  clientIds?: { contains: string; test: (clientId: string) => boolean };
}

export interface BrokerAdmin {
  readonly type: 'emqx' | 'mosquitto-dynsec';
  /** Ends the target's sessions; resolves with how many were ended where the broker says so. Throws to be retried. */
  kick(target: KickTarget): Promise<number | undefined>;
  close(): Promise<void>;
}

const REQUEST_TIMEOUT_MS = 5000;

export function createBrokerAdmin(admin: NonNullable<Config['brokerAdmin']>, workerId: string, log: Logger): BrokerAdmin {
  return admin.type === 'emqx'
    ? new EmqxAdmin(admin.url, admin.key, admin.secret)
    : new DynsecAdmin(admin.url, admin.username, admin.password, `pantau-broker-admin-${workerId}`, log);
}

interface EmqxClientsPage {
  data: Array<{ clientid: string; username?: string | null }>;
  meta: { hasnext?: boolean };
}

/** EMQX 5 REST API: `PANTAU_BROKER_ADMIN_URL` = …/api/v5, authenticated with an API key and its secret. */
export class EmqxAdmin implements BrokerAdmin {
  readonly type = 'emqx';
  private readonly base: string;
  private readonly authorization: string;

  constructor(url: string, key: string, secret: string) {
    this.base = url.replace(/\/+$/, '');
    this.authorization = `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}`;
  }

  async kick(target: KickTarget): Promise<number> {
    let ended = 0;
    for (const clientId of await this.clientIds(target)) {
      const res = await this.request('DELETE', `/clients/${encodeURIComponent(clientId)}`);
      // 404: the session ended meanwhile (another node kicked it, or it left)
      if (res.status === 204) ended++;
      else if (res.status !== 404) throw await this.failure(res, 'DELETE /clients/{clientid}');
    }
    return ended;
  }

  async close(): Promise<void> {}

  /** The target's sessions, connected or kept (a persistent session without its connection ends too). */
  private async clientIds(target: KickTarget): Promise<string[]> {
    const ids: string[] = [];
    for (let page = 1; ; page++) {
      const query = new URLSearchParams({ username: target.username, page: String(page), limit: '1000' });
      // like_clientid is a substring match: a hint for the broker, the test below decides
      if (target.clientIds) query.set('like_clientid', target.clientIds.contains);
      const res = await this.request('GET', `/clients?${query}`);
      if (res.status !== 200) throw await this.failure(res, 'GET /clients');
      const body = (await res.json()) as EmqxClientsPage;
      for (const c of body.data ?? []) {
        if (c.username !== undefined && c.username !== null && c.username !== target.username) continue;
        if (!target.clientIds || target.clientIds.test(c.clientid)) ids.push(c.clientid);
      }
      if (!body.meta?.hasnext || (body.data ?? []).length === 0) return ids;
    }
  }

  private request(method: string, path: string): Promise<Response> {
    return fetch(`${this.base}${path}`, {
      method,
      headers: { authorization: this.authorization, accept: 'application/json' },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  }

  /** EMQX answers errors as {"code","message"}: both are safe to log, the request's credentials are not in them. */
  private async failure(res: Response, what: string): Promise<Error> {
    const text = (await res.text().catch(() => '')).slice(0, 300);
    return new Error(`EMQX ${redactUrl(this.base)} ${what} answered ${res.status} ${text}`);
  }
}

interface DynsecResponse {
  command: string;
  error?: string;
  correlationData?: string;
}

const CONTROL_TOPIC = '$CONTROL/dynamic-security/v1';
const RESPONSE_TOPIC = `${CONTROL_TOPIC}/response`;

/** Mosquitto's dynamic security plugin, through an admin account that may publish to `$CONTROL/dynamic-security/#`. */
export class DynsecAdmin implements BrokerAdmin {
  readonly type = 'mosquitto-dynsec';
  private client: MqttClient | undefined;
  private subscribed: Promise<void> | undefined;
  private seq = 0;
  private readonly pending = new Map<string, (response: DynsecResponse) => void>();

  constructor(
    private readonly url: string,
    private readonly username: string,
    private readonly password: string,
    private readonly clientId: string,
    private readonly log: Logger,
  ) {}

  /**
   * Mosquitto has no "kick" command: disabling one of its clients, or deleting it, disconnects every session of the
   * username. A username it does not manage (devices in a password file) gets a client of its own for the moment
   * (random password, never handed out), deleted at once; one it manages is disabled and enabled again, which
   * leaves its credentials as the operator set them.
   */
  async kick(target: KickTarget): Promise<undefined> {
    const { username } = target;
    for (let attempt = 0; attempt < 3; attempt++) {
      const [disabled] = await this.command([{ command: 'disableClient', username }, { command: 'enableClient', username }]);
      if (!disabled!.error) return undefined;
      if (disabled!.error !== 'Client not found') throw new Error(`dynamic security disableClient: ${disabled!.error}`);
      const [created] = await this.command([{ command: 'createClient', username, password: randomBytes(24).toString('base64url'), textname: 'pantau: ends this username\'s sessions; deleted at once' }]);
      // another node created it a moment ago: start over (it is disabled, or deleted, by then)
      if (created!.error === 'Client already exists') continue;
      if (created!.error) throw new Error(`dynamic security createClient: ${created!.error}`);
      const [deleted] = await this.command([{ command: 'deleteClient', username }]);
      if (deleted!.error && deleted!.error !== 'Client not found') throw new Error(`dynamic security deleteClient: ${deleted!.error}`);
      return undefined;
    }
    throw new Error('dynamic security: the client kept changing under the kick');
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.subscribed = undefined;
    for (const resolve of this.pending.values()) resolve({ command: '', error: 'closed' });
    this.pending.clear();
    if (client) await client.endAsync(true).catch(() => undefined);
  }

  /** Sends the commands in one message; resolves with their responses, in order. */
  private async command(commands: Array<Record<string, string>>): Promise<DynsecResponse[]> {
    const client = await this.connected();
    const batch = ++this.seq;
    const tagged = commands.map((c, i) => ({ ...c, correlationData: `${batch}.${i}` }));
    const answers = tagged.map((c) => new Promise<DynsecResponse>((resolve) => this.pending.set(c.correlationData, resolve)));
    let timer: NodeJS.Timeout | undefined;
    try {
      await client.publishAsync(CONTROL_TOPIC, JSON.stringify({ commands: tagged }), { qos: 1 });
      return await Promise.race([
        Promise.all(answers),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`dynamic security: no response within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      for (const c of tagged) this.pending.delete(c.correlationData);
    }
  }

  /** One connection, opened at the first kick and kept (mqtt.js reconnects it); subscribed to the responses. */
  private connected(): Promise<MqttClient> {
    if (!this.client) {
      const client = mqtt.connect(this.url, {
        clientId: this.clientId,
        username: this.username,
        password: this.password,
        clean: true,
        reconnectPeriod: 1000,
        connectTimeout: REQUEST_TIMEOUT_MS,
      });
      client.on('message', (topic, payload) => {
        if (topic !== RESPONSE_TOPIC) return;
        let responses: DynsecResponse[] = [];
        try {
          responses = (JSON.parse(payload.toString('utf8')) as { responses?: DynsecResponse[] }).responses ?? [];
        } catch {
          return;
        }
        for (const r of responses) if (r.correlationData) this.pending.get(r.correlationData)?.(r);
      });
      client.on('error', (err) => this.log.warn({ err: err.message, broker: redactUrl(this.url) }, 'broker admin: dynamic security connection failed'));
      this.client = client;
      this.subscribed = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`dynamic security: not connected to ${redactUrl(this.url)} within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
        // every (re)connect is a new session (clean): subscribe again; the first one lets the kicks start
        client.on('connect', () => {
          client.subscribeAsync(RESPONSE_TOPIC, { qos: 1 }).then((granted) => {
            if (granted[0]?.qos === 128) return reject(new Error(`dynamic security: ${this.username} may not subscribe to ${RESPONSE_TOPIC}`));
            clearTimeout(timer);
            resolve();
          }, () => undefined);
        });
      });
      // a failed first connection is tried again at the next kick
      this.subscribed.catch(() => {
        if (this.client === client) void this.close();
      });
    }
    const client = this.client;
    return this.subscribed!.then(() => client);
  }
}
