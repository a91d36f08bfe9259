// CONNECT: username = device id, password = the device's token (docs/contract.md §3). Anything else gets CONNACK return
// code 4, "bad username or password", and is counted.
import type { Client } from 'aedes';
import type { Registry } from '../registry/registry.js';
import type { Scope } from '../registry/scope.js';

export const BAD_CREDENTIALS = 4;

/**
 * City systems (sirens, dispatch consoles) log in with username `pantau-api-key` and an API key as password;
 * they may only subscribe to `alerts/#` — never publish.
 */
export const API_KEY_USERNAME = 'pantau-api-key';

export function makeAuthenticate(registry: Registry, onFailure: (reason: string, username: string | undefined) => void) {
  return function authenticate(
    client: Client,
    username: Readonly<string | undefined>,
    password: Readonly<Buffer | undefined>,
    done: (err: (Error & { returnCode?: number }) | null, success: boolean | null) => void,
  ): void {
    const refuse = (reason: string) => {
      onFailure(reason, username);
      const err = Object.assign(new Error('bad username or password'), { returnCode: BAD_CREDENTIALS });
      done(err, false);
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
        (client as PantauClient).deviceId = device.id;
        done(null, true);
      },
      () => refuse('authentication error'),
    );
  };
}

/** An aedes client once authenticated: which device it is. */
export type PantauClient = Client & { deviceId?: string; apiKeyId?: string; apiKeyScope?: Scope };
