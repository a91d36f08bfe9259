// Acknowledgement links: signed, bound to alert and channel, expiring, single use.
import { describe, expect, it } from 'vitest';
import { AckLinks } from '../../notify/ack.js';

const memoryState = () => {
  const m = new Map<string, unknown>();
  return { getState: <T>(k: string) => m.get(k) as T | undefined, setState: (k: string, v: unknown) => void m.set(k, v) };
};

describe('AckLinks', () => {
  it('a link checks out until used, then is refused as used', () => {
    const links = new AckLinks(memoryState(), 60_000);
    const t = links.sign('alert-1', 'ch-1', 1000);
    expect(links.check(t, 2000)).toEqual({ ok: true, alertId: 'alert-1', channelId: 'ch-1' });
    links.consume(t, 2000);
    expect(links.check(t, 3000)).toEqual({ ok: false, reason: 'used' });
  });

  it('an expired link is refused; a changed payload or signature is invalid; another install\'s key does not sign for this one', () => {
    const state = memoryState();
    const links = new AckLinks(state, 60_000);
    const t = links.sign('alert-1', 'ch-1', 1000);
    expect(links.check(t, 61_001)).toEqual({ ok: false, reason: 'expired' });
    const [payload, mac] = t.split('.');
    const other = Buffer.from(JSON.stringify({ a: 'alert-2', c: 'ch-1', e: 1e15, n: 'x' })).toString('base64url');
    expect(links.check(`${other}.${mac}`, 2000)).toEqual({ ok: false, reason: 'invalid' });
    expect(links.check(`${payload}.${mac!.slice(0, -2)}AA`, 2000)).toEqual({ ok: false, reason: 'invalid' });
    expect(links.check('garbage', 2000)).toEqual({ ok: false, reason: 'invalid' });
    expect(new AckLinks(memoryState(), 60_000).check(t, 2000)).toEqual({ ok: false, reason: 'invalid' });
  });
});
