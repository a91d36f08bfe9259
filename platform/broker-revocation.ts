// What the registry revokes ends at the external broker too (docs/scale-out.md, "Ending sessions at the broker"):
// a device deleted or its token rotated, an API key revoked or its role, scope or secret changed. The broker asks
// Pantau at every CONNECT, but an open connection is not asked again (and EMQX caches its ACL answers), so the
// sessions are kicked: the device comes back only with what still holds, the city system only under its key's
// new scope.
//
// Every node hears the registry's events (PostgreSQL NOTIFY); only nodes with an API role kick (platform.ts), so
// an ingest worker does not repeat what the API nodes do. A kick is idempotent, a second API node's adds nothing.
import type { Logger } from 'pino';
import { clientIdNamesKey } from '../api/broker-auth.js';
import { API_KEY_USERNAME } from '../broker/authenticate.js';
import type { Registry } from '../registry/registry.js';
import { isUnscoped, type Scope } from '../registry/scope.js';
import type { BrokerAdmin, KickTarget } from './broker-admin.js';
import type { Metrics } from './metrics.js';

type KickEvent = 'device-removed' | 'token-rotated' | 'key-revoked' | 'key-changed';

/** Waits before the 2nd, 3rd… attempt: the first is at once, the last about 4 s after the event. */
const RETRY_DELAYS_MS = [250, 1000, 2500];

export interface BrokerRevocation {
  stop(): Promise<void>;
}

export function startBrokerRevocation(deps: { registry: Registry; admin: BrokerAdmin; log: Logger; metrics: Metrics }): BrokerRevocation {
  const { registry, admin, log, metrics } = deps;
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;

  const kick = (event: KickEvent, subject: string, target: KickTarget) => {
    const attempt = (n: number) => {
      if (stopped) return;
      admin.kick(target).then(
        (ended) => {
          metrics.brokerKicks.inc({ event, outcome: 'done' });
          log.info({ event, subject, username: target.username, ended }, 'broker admin: sessions ended');
        },
        (err: Error) => {
          metrics.brokerKicks.inc({ event, outcome: 'failed' });
          const delay = RETRY_DELAYS_MS[n];
          if (delay === undefined || stopped) {
            metrics.brokerKicks.inc({ event, outcome: 'abandoned' });
            log.error({ event, subject, err: err.message, attempts: n + 1 }, 'broker admin: could not end the sessions; kick them at the broker');
            return;
          }
          log.warn({ event, subject, err: err.message, attempt: n + 1 }, 'broker admin: kick failed; retrying');
          const timer = setTimeout(() => {
            timers.delete(timer);
            attempt(n + 1);
          }, delay);
          timers.add(timer);
        },
      );
    };
    attempt(0);
  };

  const onDevice = (event: 'device-removed' | 'token-rotated') => (id: string) => kick(event, id, { username: id });
  // A scoped key's sessions name it in their client id (api/broker-auth.ts): those are kicked. An unscoped key's
  // may have any client id, so ending them means ending every API-key session; the others reconnect under their
  // own keys. The scope is the one the key had before the event.
  const onKey = (event: 'key-revoked' | 'key-changed') => (id: string, had: Scope | undefined) =>
    kick(event, id, had && !isUnscoped(had)
      ? { username: API_KEY_USERNAME, clientIds: { contains: id, test: (clientId) => clientIdNamesKey(clientId, id) } }
      : { username: API_KEY_USERNAME });
  const listeners = {
    'device-removed': onDevice('device-removed'),
    'token-rotated': onDevice('token-rotated'),
    'key-revoked': onKey('key-revoked'),
    'key-changed': onKey('key-changed'),
  };
  for (const [event, listener] of Object.entries(listeners)) registry.on(event, listener);

  return {
    async stop() {
      stopped = true;
      for (const [event, listener] of Object.entries(listeners)) registry.off(event, listener);
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await admin.close();
    },
  };
}
