// The embedded MQTT broker: aedes with Pantau's device authentication and topic rules, listening on TCP,
// optionally TLS and WebSocket (path /mqtt). It knows devices (the registry) and hands telemetry to whoever
// the platform wires in; it does not know what ingest does with it.
import './parser-allocations.js'; // before aedes loads mqtt-packet
import { Aedes, type AedesOptions, type Client, type PublishPacket } from 'aedes';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { deviceTopic, isDeviceTelemetryTopic, type Kind } from '../catalog/index.js';
import type { Registry } from '../registry/registry.js';
import { ClientIdClaims, IDENTIFIER_REJECTED, makeAuthenticate, type PantauClient } from './authenticate.js';
import { makeAuthorizePublish, makeAuthorizeForward, makeAuthorizeSubscribe, type TelemetryHandler } from './authorize.js';
import { installPacketLimit, limitClientPackets } from './packet-limit.js';
import { paceReads, ReadGate } from './read-pacing.js';

export interface BrokerOptions {
  registry: Registry;
  log: Logger;
  host: string;
  /** 0 = off. */
  port: number;
  tlsPort?: number;
  wsPort?: number;
  tls?: { cert: Buffer; key: Buffer };
  maxPacketBytes?: number;
  /** Keepalive a client may ask for, in seconds; 0 (never time out) and more are refused. 0 here = any. */
  maxKeepaliveSeconds?: number;
  /** Connections allowed per client IP (0 = unlimited). */
  maxConnectionsPerIp?: number;
  /**
   * Publishes parsed and not yet done (authorized: durable), over all connections; past it no socket is read until
   * some are done (broker/read-pacing.ts). Unset: no bound beyond one chunk per connection.
   */
  maxPacketsInHand?: number;
  onTelemetry: TelemetryHandler;
  /** A refused CONNECT: why, and its CONNACK return code (4 credentials, 2 client id). */
  onAuthFailure?: (reason: string, returnCode: number) => void;
  onDenied?: (action: 'publish' | 'subscribe', deviceId: string | undefined, topic: string) => void;
  onConnectionsChanged?: (count: number) => void;
  onStatusIgnored?: (reason: 'invalid' | 'rate_limited', deviceId: string) => void;
}

export interface BrokerAddress {
  port: number;
  tlsPort?: number;
  wsPort?: number;
}

export class Broker {
  readonly aedes: Aedes;
  private readonly options: BrokerOptions;
  /** Every connection's reads, bounded together. */
  readonly readGate: ReadGate;
  private readonly servers: Array<net.Server | tls.Server | HttpServer> = [];
  private readonly clientsByDevice = new Map<string, Set<Client>>();
  /** City-system sessions (API-key logins), kept from aedes' public client events. */
  private readonly apiKeyClients = new Set<PantauClient>();
  private readonly connectionsByIp = new Map<string, number>();
  /** Client ids held by logged-in connections (broker/authenticate.ts: no device takes over another's). */
  private readonly clientIds = new ClientIdClaims();
  private wss: WebSocketServer | undefined;
  address: BrokerAddress = { port: 0 };

  constructor(options: BrokerOptions) {
    installPacketLimit();
    this.options = options;
    this.readGate = new ReadGate(options.maxPacketsInHand ?? Number.POSITIVE_INFINITY);
    const { registry, log } = options;
    const onDenied =
      options.onDenied ??
      ((action, deviceId, topic) => log.warn({ deviceId, topic: topic.slice(0, 200), action }, 'MQTT ACL: denied'));
    const aedesOptions: AedesOptions = {
      authenticate: makeAuthenticate(registry, this.clientIds, (reason, username, returnCode, clientId) => {
        // never the password; the client id with a refused identifier, where it is the point (a takeover attempt)
        if (returnCode === IDENTIFIER_REJECTED) log.warn({ username: username?.slice(0, 64), clientId: clientId?.slice(0, 128), reason, returnCode }, 'MQTT CONNECT refused');
        else log.info({ username: username?.slice(0, 64), reason, returnCode }, 'MQTT CONNECT refused');
        options.onAuthFailure?.(reason, returnCode);
      }) as AedesOptions['authenticate'],
      authorizePublish: makeAuthorizePublish({ registry, log, onTelemetry: options.onTelemetry, onDenied, onStatusIgnored: options.onStatusIgnored }),
      authorizeSubscribe: makeAuthorizeSubscribe({ registry, onDenied }),
      // a scoped city system receives only the alerts of its cities and kinds (retained ones included)
      authorizeForward: makeAuthorizeForward(registry) as AedesOptions['authorizeForward'],
      // Telemetry has no MQTT subscribers (no device may subscribe to it): skip aedes' fan-out for it below.
      concurrency: 1000,
      connectTimeout: 10_000,
      queueLimit: 100,
      maxClientsIdLength: 128,
      // generous: a slow network should not disconnect a device whose publishes wait for the spool
      drainTimeout: 30_000,
      // a connection that never pings cannot be told from a dead one
      keepaliveLimit: options.maxKeepaliveSeconds ?? 0,
    };
    this.aedes = new Aedes(aedesOptions);
    // Telemetry was fully handled in authorizePublish; routing it through mqemitter would only cost CPU.
    // No public hook ends a publish without routing it: authorizePublish can only let it through or refuse it (which
    // closes the connection in MQTT 3.1.1; moscajs/aedes#210, #199). So the instance's `publish`, which aedes' publish
    // handler calls as `client.broker.publish(packet, client, done)` after authorizePublish (QoS 2's PUBREC waits
    // for `done`), is wrapped. test/library-contracts.test.ts fails if aedes stops routing client publishes so.
    const aedesInternals = this.aedes as unknown as { publish: (packet: PublishPacket, client: unknown, done?: (err?: Error) => void) => void };
    const publish = aedesInternals.publish.bind(this.aedes);
    aedesInternals.publish = (packet, client, done) => {
      if (client && typeof client === 'object' && isDeviceTelemetryTopic(packet.topic)) {
        done?.();
        return;
      }
      publish(packet, client, done);
    };

    this.aedes.on('clientReady', (client: Client) => {
      if ((client as PantauClient).apiKeyId) this.apiKeyClients.add(client as PantauClient);
      const deviceId = (client as PantauClient).deviceId;
      if (!deviceId) return;
      let set = this.clientsByDevice.get(deviceId);
      if (!set) this.clientsByDevice.set(deviceId, (set = new Set()));
      set.add(client);
      registry.setStatus(deviceId, 'online');
      options.onConnectionsChanged?.(this.aedes.connectedClients);
    });
    this.aedes.on('clientDisconnect', (client: Client) => {
      this.clientIds.release(client);
      this.apiKeyClients.delete(client as PantauClient);
      const deviceId = (client as PantauClient).deviceId;
      if (!deviceId) return;
      const set = this.clientsByDevice.get(deviceId);
      set?.delete(client);
      if (!set || set.size === 0) {
        this.clientsByDevice.delete(deviceId);
        registry.setStatus(deviceId, 'offline');
      }
      options.onConnectionsChanged?.(this.aedes.connectedClients);
    });
    this.aedes.on('clientError', (client: Client, err: Error) => {
      log.debug({ clientId: client.id, deviceId: (client as PantauClient).deviceId, err: err.message }, 'MQTT client error');
    });
    this.aedes.on('connectionError', (_client: Client, err: Error) => {
      log.debug({ err: err.message }, 'MQTT connection error before CONNECT');
    });

    // a removed device or a rotated token stops working at once
    registry.on('device-removed', (id: string) => this.disconnectDevice(id));
    registry.on('token-rotated', (id: string) => this.disconnectDevice(id));
    // so does a revoked API key's city-system session
    // (and one whose role or scope changed: it signs in again under what it has now)
    const closeKeyClients = (keyId: string) => {
      for (const client of [...this.apiKeyClients]) {
        if (client.apiKeyId === keyId) client.close();
      }
    };
    registry.on('key-revoked', closeKeyClients);
    registry.on('key-changed', closeKeyClients);
  }

  async listen(): Promise<BrokerAddress> {
    const { host, port, tlsPort, wsPort } = this.options;
    await this.aedes.listen();
    const handle = (conn: Duplex, remote: string | undefined) => this.handle(conn, remote);
    if (port >= 0 && !(port === 0 && (tlsPort || wsPort) && this.options.tls)) {
      const server = net.createServer((socket) => handle(socket, socket.remoteAddress));
      this.address.port = await listenOn(server, port, host);
      this.servers.push(server);
    }
    if (this.options.tls && tlsPort !== undefined) {
      const server = tls.createServer({ cert: this.options.tls.cert, key: this.options.tls.key, minVersion: 'TLSv1.2' }, (socket) =>
        handle(socket, socket.remoteAddress),
      );
      server.on('tlsClientError', (err) => this.options.log.debug({ err: err.message }, 'MQTT TLS handshake failed'));
      this.address.tlsPort = await listenOn(server, tlsPort, host);
      this.servers.push(server);
    }
    if (wsPort !== undefined) {
      const server = this.options.tls
        ? createHttpsServer({ cert: this.options.tls.cert, key: this.options.tls.key })
        : createHttpServer();
      const wss = new WebSocketServer({ server, path: '/mqtt', maxPayload: this.maxPacketBytes() + 16 });
      wss.on('connection', (socket, req) => {
        const stream = createWebSocketStream(socket);
        stream.on('error', () => socket.terminate());
        handle(stream, req.socket.remoteAddress);
      });
      this.wss = wss;
      this.address.wsPort = await listenOn(server, wsPort, host);
      this.servers.push(server);
    }
    return this.address;
  }

  /** Publish a rejection notice to the device's rejections topic (QoS 0, not retained). */
  publishRejection(kind: Kind, deviceId: string, body: { reason: string; detail: string; ts: string }): void {
    this.aedes.publish(
      { cmd: 'publish', topic: deviceTopic(kind, deviceId, 'rejections'), payload: Buffer.from(JSON.stringify(body)), qos: 0, retain: false, dup: false },
      () => undefined,
    );
  }

  /** Publish any message from the platform itself (alerts for city systems, for example). */
  publish(topic: string, payload: string, options: { qos?: 0 | 1; retain?: boolean } = {}): void {
    this.aedes.publish(
      { cmd: 'publish', topic, payload: Buffer.from(payload), qos: options.qos ?? 0, retain: options.retain ?? false, dup: false },
      () => undefined,
    );
  }

  disconnectDevice(deviceId: string): void {
    const set = this.clientsByDevice.get(deviceId);
    if (!set) return;
    for (const client of [...set]) client.close();
  }

  get connections(): number {
    return this.aedes.connectedClients ?? 0;
  }

  isListening(): boolean {
    return !this.aedes.closed && this.servers.length > 0 && this.servers.every((s) => s.listening);
  }

  /** Stop accepting connections. Connected clients stay until `close`. */
  async stopAccepting(): Promise<void> {
    for (const server of this.servers) server.close();
  }

  async close(): Promise<void> {
    for (const server of this.servers) server.close();
    this.wss?.close();
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
  }

  private maxPacketBytes(): number {
    return this.options.maxPacketBytes ?? 1024 * 1024;
  }

  private handle(conn: Duplex, remote: string | undefined): void {
    const limit = this.options.maxConnectionsPerIp ?? 0;
    const ip = remote ?? 'unknown';
    if (limit > 0) {
      const count = this.connectionsByIp.get(ip) ?? 0;
      if (count >= limit) {
        this.options.log.warn({ ip, limit }, 'MQTT connection refused: too many connections from this address');
        conn.destroy();
        return;
      }
      this.connectionsByIp.set(ip, count + 1);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        const n = (this.connectionsByIp.get(ip) ?? 1) - 1;
        if (n <= 0) this.connectionsByIp.delete(ip);
        else this.connectionsByIp.set(ip, n);
      };
      conn.once('close', release);
    }
    conn.on('error', () => undefined);
    const client = this.aedes.handle(conn as net.Socket);
    // however the connection ends (also before aedes registered it), its client id is free again
    conn.once('close', () => this.clientIds.release(client));
    limitClientPackets(client, this.maxPacketBytes());
    paceReads(client, conn, this.readGate);
  }
}

function listenOn(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}
