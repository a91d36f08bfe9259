// CAP 1.2 on a real platform (docs/cap.md): a Samarinda gauge publishes a river rising over Waspada, Siaga and Awas,
// falling back and clearing; every change's message is fetched, validated against the OASIS schema with xmllint, and
// chained by `references`; the Atom feed links them all; the messages stay the same, byte for byte, on a second fetch
// and after a restart on the same data directory. Scoped keys see only their city's messages; PANTAU_CAP_PUBLIC=true
// opens the feed and the messages to everyone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { CAP_XSD, tag, tags, xmllint } from './support/cap.js';
import { eventually, startTestPlatform, type TestPlatform } from './support/platform.js';

const ENV = { PANTAU_CAP_SENDER: 'bpbd-kaltim@pantau.test', PANTAU_PUBLIC_URL: 'https://pantau.test' };
// no clear time, and no spike alert for a river that moves a metre a minute in this compressed flood
const GAUGE = { waspada: 100, siaga: 150, awas: 200, clearAfterSeconds: 0, maxRatePerMinute: { waterLevel: 5000 } };
/** The river: Waspada, Siaga, Awas, back to Siaga, clear. */
const RIVER = [120, 170, 230, 160, 40];
const EXPECTED = ['Alert', 'Update', 'Update', 'Update', 'Cancel'];

let tp: TestPlatform;
let smd: MqttClient;
let alertId = '';
let bpnAlertId = '';
let silentAlertId = '';
const messages: string[] = [];

const publish = (client: MqttClient, id: string, waterLevel: number, ts: number) =>
  client.publishAsync(`sensors/flood/${id}/telemetry`, JSON.stringify({ ts, waterLevel }), { qos: 1 });

/** The message's link in the feed, as a path on this platform (the feed's links start with PANTAU_PUBLIC_URL). */
const feedLinks = (atom: string) => [...atom.matchAll(/<link rel="alternate" type="application\/cap\+xml" href="([^"]+)"\/>/g)].map((m) => m[1]!.replace(ENV.PANTAU_PUBLIC_URL, ''));

beforeAll(async () => {
  tp = await startTestPlatform(ENV);
  const gauge = await tp.register('flood', 'cap-smd-01', { name: 'Pos Karang Mumus', city: 'Samarinda', district: 'Samarinda Ulu', location: { lat: -0.4948, lon: 117.1436 }, thresholds: GAUGE });
  const bpn = await tp.register('flood', 'cap-bpn-01', { name: 'Pos Klandasan', city: 'Balikpapan', district: 'Balikpapan Kota', thresholds: GAUGE });
  const quiet = await tp.register('flood', 'cap-smd-quiet', { thresholds: { silentAfterSeconds: 1 } });
  smd = await tp.connect(gauge.id, gauge.token);
  const bpnClient = await tp.connect(bpn.id, bpn.token);
  const quietClient = await tp.connect(quiet.id, quiet.token);
  await publish(bpnClient, bpn.id, 230, Date.now());
  await publish(quietClient, quiet.id, 10, Date.now());

  const t0 = Date.now() - 10 * 60_000;
  for (const [i, level] of RIVER.entries()) {
    await publish(smd, gauge.id, level, t0 + i * 60_000);
    const xml = await eventually(async () => {
      const alerts = (await tp.api('GET', `/api/v1/alerts?deviceId=${gauge.id}`)).body.items as Array<{ id: string; rule: string }>;
      const flood = alerts.find((a) => a.rule === 'flood_level');
      if (!flood) return null;
      alertId = flood.id;
      const res = await tp.api('GET', `/api/v1/alerts/${alertId}/cap`);
      return res.status === 200 && !messages.includes(res.text) ? res.text : null;
    }, 15_000);
    messages.push(xml);
  }
  const others = (await tp.api('GET', '/api/v1/alerts')).body.items as Array<{ id: string; deviceId: string; rule: string }>;
  bpnAlertId = others.find((a) => a.deviceId === bpn.id && a.rule === 'flood_level')!.id;
  silentAlertId = (await eventually(async () => {
    const items = (await tp.api('GET', `/api/v1/alerts?deviceId=${quiet.id}`)).body.items as Array<{ id: string; rule: string }>;
    return items.find((a) => a.rule === 'silent');
  }, 15_000)).id;
}, 120_000);

afterAll(async () => {
  await tp?.stop();
});

describe('CAP messages of a rising and falling river', () => {
  it('every change is a valid CAP 1.2 message: Alert, Update, Update, Update, Cancel, each referencing the one before', () => {
    expect(messages).toHaveLength(RIVER.length);
    for (const xml of messages) expect(xmllint(xml, CAP_XSD)).toBe('');
    expect(messages.map((m) => tag(m, 'msgType'))).toEqual(EXPECTED);
    expect(tag(messages[0]!, 'references')).toBeUndefined();
    for (let i = 1; i < messages.length; i++) {
      const prev = messages[i - 1]!;
      expect(tag(messages[i]!, 'references')).toBe(`${ENV.PANTAU_CAP_SENDER},${tag(prev, 'identifier')},${tag(prev, 'sent')}`);
    }
    expect(messages.map((m) => tag(m, 'severity'))).toEqual(['Moderate', 'Severe', 'Extreme', 'Severe', 'Minor']);
  });

  it('names the sender, the place, the Kemendagri code 64.72 of Samarinda, WITA times and both languages', () => {
    for (const xml of messages) {
      expect(tag(xml, 'sender')).toBe(ENV.PANTAU_CAP_SENDER);
      expect(tag(xml, 'identifier')).toMatch(new RegExp(`^${ENV.PANTAU_CAP_SENDER.replace(/\./g, '\\.')}\\.${alertId}\\.\\d+$`));
      for (const t of [tag(xml, 'sent'), ...tags(xml, 'effective'), ...tags(xml, 'expires')]) expect(t).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);
      expect(tags(xml, 'language')).toEqual(['id-ID', 'en-US']);
      expect(tags(xml, 'areaDesc')).toEqual(['Pos Karang Mumus, Samarinda Ulu, Samarinda', 'Pos Karang Mumus, Samarinda Ulu, Samarinda']);
      expect(xml).toContain('<valueName>KEMENDAGRI</valueName>\n        <value>64.72</value>');
      expect(tag(xml, 'circle')).toBe('-0.4948,117.1436 2');
      expect(tag(xml, 'web')).toBe(`https://pantau.test/alerts?alert=${alertId}`);
    }
    expect(tags(messages[2]!, 'headline')).toEqual(['Awas: tinggi muka air 230 cm, Pos Karang Mumus, Samarinda Ulu, Samarinda', 'Danger: water level 230 cm, Pos Karang Mumus, Samarinda Ulu, Samarinda']);
  });

  it('answers the same bytes on a second fetch, as application/cap+xml', async () => {
    const again = await tp.api('GET', `/api/v1/alerts/${alertId}/cap`);
    expect(again.headers.get('content-type')).toMatch(/^application\/cap\+xml/);
    expect(again.text).toBe(messages.at(-1));
  });

  it('the Atom feed is well-formed and links every message, which the link answers unchanged', async () => {
    const feed = await tp.api('GET', '/cap/feed.atom');
    expect(feed.status).toBe(200);
    expect(feed.headers.get('content-type')).toMatch(/^application\/atom\+xml/);
    expect(xmllint(feed.text)).toBe('');
    expect(feed.text).toContain('<feed xmlns="http://www.w3.org/2005/Atom">');
    const links = feedLinks(feed.text);
    for (const xml of messages) {
      const link = links.find((l) => l.includes(encodeURIComponent(tag(xml, 'identifier')!)));
      expect(link, tag(xml, 'identifier')).toBeDefined();
      const res = await tp.api('GET', link!);
      expect(res.status).toBe(200);
      expect(res.text).toBe(xml);
    }
    expect(feed.text).toContain(bpnAlertId);
    expect(feed.text).not.toContain(silentAlertId);
  });

  it('needs a key when PANTAU_CAP_PUBLIC is unset; a scoped key sees its city only and gets 404 for another city\'s alert', async () => {
    expect((await tp.api('GET', '/cap/feed.atom', { key: null })).status).toBe(401);
    expect((await tp.api('GET', `/api/v1/alerts/${alertId}/cap`, { key: null })).status).toBe(401);
    const scoped = await tp.api('POST', '/api/v1/keys', { body: { name: 'BPBD Samarinda viewer', role: 'viewer', scope: { cities: ['Samarinda'] } } });
    const key = scoped.body.key as string;
    const own = await tp.api('GET', `/api/v1/alerts/${alertId}/cap`, { key });
    expect(own.text).toBe(messages.at(-1));
    const other = await tp.api('GET', `/api/v1/alerts/${bpnAlertId}/cap`, { key });
    expect(other.status).toBe(404);
    expect(other.body.detail).toBe(`alert ${bpnAlertId} does not exist`);
    const feed = await tp.api('GET', '/cap/feed.atom', { key });
    expect(feedLinks(feed.text)).toHaveLength(RIVER.length);
    expect(feed.text).not.toContain(bpnAlertId);
    expect(feed.text).not.toContain('Balikpapan');
    const bpnLink = feedLinks((await tp.api('GET', '/cap/feed.atom')).text).find((l) => l.includes(bpnAlertId))!;
    expect((await tp.api('GET', bpnLink, { key })).status).toBe(404);
  });

  it('a silent alert has no CAP message: 404 that says so; bad ids are 400 or 404, never 5xx', async () => {
    const res = await tp.api('GET', `/api/v1/alerts/${silentAlertId}/cap`);
    expect(res.status).toBe(404);
    expect(res.body.detail).toContain('has no CAP message');
    expect((await tp.api('GET', '/api/v1/alerts/no%20such/cap')).status).toBe(400);
    expect((await tp.api('GET', '/api/v1/alerts/nosuch/cap')).status).toBe(404);
    expect((await tp.api('GET', '/cap/messages/nonsense.xml')).status).toBe(404);
    expect((await tp.api('GET', '/cap/messages/x.y.1.txt')).status).toBe(400);
  });

  it('after a restart on the same data directory, with PANTAU_CAP_PUBLIC=true: the same messages, public, no key', async () => {
    const dataDir = tp.dataDir;
    await smd.endAsync(true);
    await tp.platform.stop();
    await tp.query(`DROP DATABASE "${tp.db}"`).catch(() => undefined);
    tp = await startTestPlatform({ ...ENV, PANTAU_DATA_DIR: dataDir, PANTAU_CAP_PUBLIC: 'true' });
    expect((await tp.api('GET', `/api/v1/alerts/${alertId}/cap`)).text).toBe(messages.at(-1));
    const feed = await tp.api('GET', '/cap/feed.atom', { key: null });
    expect(feed.status).toBe(200);
    expect(xmllint(feed.text)).toBe('');
    const links = feedLinks(feed.text);
    for (const xml of messages) {
      const link = links.find((l) => l.includes(encodeURIComponent(tag(xml, 'identifier')!)))!;
      const res = await tp.api('GET', link, { key: null });
      expect(res.text).toBe(xml);
    }
    // public flood gauges of every city are in the public feed; the alert's own route still needs a key
    expect(feed.text).toContain(bpnAlertId);
    expect((await tp.api('GET', `/api/v1/alerts/${alertId}/cap`, { key: null })).status).toBe(401);
  });
});
