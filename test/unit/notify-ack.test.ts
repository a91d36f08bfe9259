// Acknowledgement links: signed, bound to alert and channel, expiring, single use.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { AckLinks } from '../../notify/ack.js';
import { NotifyStore } from '../../notify/store.js';

/** The notification tables of an install (an in-memory SQLite database). */
const install = () => {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  return NotifyStore.sqlite(db);
};
const links = async (store = install()) => {
  const l = new AckLinks(store, 60_000);
  await l.load();
  return l;
};

describe('AckLinks', () => {
  it('a link checks out until used, then is refused as used — by every AckLinks of the same tables (the nodes of a cluster)', async () => {
    const store = install();
    const [one, two] = [await links(store), await links(store)];
    const t = one.sign('alert-1', 'ch-1', 1000);
    expect(await two.check(t, 2000)).toEqual({ ok: true, alertId: 'alert-1', channelId: 'ch-1' });
    expect(await two.consume(t, 2000)).toBe(true);
    expect(await one.consume(t, 2000)).toBe(false);
    expect(await one.check(t, 3000)).toEqual({ ok: false, reason: 'used' });
  });

  it('an expired link is refused; a changed payload or signature is invalid; another install\'s key does not sign for this one', async () => {
    const l = await links();
    const t = l.sign('alert-1', 'ch-1', 1000);
    expect(await l.check(t, 61_001)).toEqual({ ok: false, reason: 'expired' });
    const [payload, mac] = t.split('.');
    const other = Buffer.from(JSON.stringify({ a: 'alert-2', c: 'ch-1', e: 1e15, n: 'x' })).toString('base64url');
    expect(await l.check(`${other}.${mac}`, 2000)).toEqual({ ok: false, reason: 'invalid' });
    expect(await l.check(`${payload}.${mac!.slice(0, -2)}AA`, 2000)).toEqual({ ok: false, reason: 'invalid' });
    expect(await l.check('garbage', 2000)).toEqual({ ok: false, reason: 'invalid' });
    expect(await (await links()).check(t, 2000)).toEqual({ ok: false, reason: 'invalid' });
  });
});
