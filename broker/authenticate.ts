// CONNECT: username = device id, password = the device's token (docs/contract.md §3). Anything else gets CONNACK return
// code 4, "bad username or password", and is counted.
//
// The client id is checked too, once the credentials are good: aedes closes an earlier connection with the same
// client id when a new one registers ([MQTT-3.1.4-2]), so any device could knock another offline (its status
// flapping, silence alerts raised) by connecting with that device's client id. A client id that is another device's
// id, or that a connection of another device or API key holds, gets return code 2, "identifier rejected", and is
// counted like a failed login. A device reconnecting with its own client id still takes over its earlier session.
import type { Client } from 'aedes';
import type { Registry } from '../registry/registry.js';
import type { Scope } from '../registry/scope.js';

export const BAD_CREDENTIALS = 4;
export const IDENTIFIER_REJECTED = 2;

/** Which connection holds each client id, and for whom (`device:<id>` or `key:<id>`), from login to close. */
export class ClientIdClaims {
  private readonly holders = new Map<string, { owner: string; client: Client }>();

  /** The owner holding `clientId` through another connection than `client`, if any. */
  heldByOther(clientId: string, owner: string): boolean {
    const held = this.holders.get(clientId);
    return held !== undefined && held.owner !== owner;
  }

  /** `client` holds its client id from now (taking it over from a connection of the same owner). */
  claim(client: Client, owner: string): void {
    this.holders.set(client.id, { owner, client });
  }

  /** A connection ended: its client id is free again, unless a newer connection of the same owner took it. */
  release(client: Client): void {
    if (client.id !== undefined && this.holders.get(client.id)?.client === client) this.holders.delete(client.id);
  }
}

/**
 * City systems (sirens, dispatch consoles) log in with username `pantau-api-key` and an API key as password;
 * they may only subscribe to `alerts/#` — never publish.
 */
export const API_KEY_USERNAME = 'pantau-api-key';

export function makeAuthenticate(
  registry: Registry,
  claims: ClientIdClaims,
  onFailure: (reason: string, username: string | undefined, returnCode: number, clientId?: string) => void,
) {
  return function authenticate(
    client: Client,
    username: Readonly<string | undefined>,
    password: Readonly<Buffer | undefined>,
    done: (err: (Error & { returnCode?: number }) | null, success: boolean | null) => void,
  ): void {
    const refuse = (reason: string) => {
      onFailure(reason, username, BAD_CREDENTIALS);
      const err = Object.assign(new Error('bad username or password'), { returnCode: BAD_CREDENTIALS });
      done(err, false);
    };
    /** Good credentials: accepted unless the client id belongs to another device or another owner's connection. */
    const accept = (owner: string, deviceId: string | undefined) => {
      const clientId = client.id;
      const reason =
        clientId !== deviceId && registry.device(clientId) !== undefined
          ? 'client id is another device\'s id'
          : claims.heldByOther(clientId, owner)
            ? 'client id is in use by a connection of another device or key'
            : undefined;
      if (reason) {
        onFailure(reason, username, IDENTIFIER_REJECTED, clientId);
        done(Object.assign(new Error('identifier rejected'), { returnCode: IDENTIFIER_REJECTED }), false);
        return false;
      }
      claims.claim(client, owner);
      return true;
    };
    if (!username || !password || password.length === 0 || password.length > 512) return refuse('missing credentials');
    const ip = (client.conn as { remoteAddress?: string }).remoteAddress ?? 'unknown';
    const secret = password.toString('utf8');
    const known = username === API_KEY_USERNAME ? registry.isVerifiedKey(secret) : registry.isVerifiedToken(username, secret);
    // Unknown credentials cost a hash check: the attempt is counted against the address before the check starts
    // (so concurrent attempts cannot all slip in under the limit), and given back if it succeeds.
    if (!known && !registry.authThrottle.reserve(ip)) return refuse('too many failed logins from this address');
    const passed = () => {
      if (!known) registry.authThrottle.succeeded(ip);
    };
    const failed = (reason: string) => refuse(reason);
    if (username === API_KEY_USERNAME) {
      registry.authenticateKey(secret).then(
        (principal) => {
          if (!principal) return failed('unknown API key');
          passed();
          if (!accept(`key:${principal.id}`, undefined)) return;
          (client as PantauClient).apiKeyId = principal.id;
          (client as PantauClient).apiKeyScope = principal.scope;
          done(null, true);
        },
        () => refuse('authentication error'),
      );
      return;
    }
    registry.authenticateDevice(username, secret).then(
      (device) => {
        if (!device) return failed('unknown device or wrong token');
        passed();
        if (!accept(`device:${device.id}`, device.id)) return;
        (client as PantauClient).deviceId = device.id;
        done(null, true);
      },
      () => refuse('authentication error'),
    );
  };
}

/** An aedes client once authenticated: which device it is. */
export type PantauClient = Client & { deviceId?: string; apiKeyId?: string; apiKeyScope?: Scope };
