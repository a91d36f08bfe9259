// CAP 1.2 messages of alerts (alerts/cap.ts): the mapping, identifiers, references and the XML, pure; every message
// built here is also validated against the vendored OASIS schema (vendor/cap/CAP-v1.2.xsd) with xmllint.
import { describe, expect, it } from 'vitest';
import { CAP_DEFAULT_RADIUS_KM, capMessages, escapeXml, parseCapIdentifier, witaTime, type CapDevice } from '../../alerts/cap.js';
import type { Alert, AlertChange } from '../../alerts/engine.js';
import type { StoredEvent } from '../../alerts/store.js';
import { CAP_XSD, tag, tags, xmllint } from '../support/cap.js';

const T0 = Date.UTC(2026, 11, 5, 1, 0, 0); // 09:00 WITA
const gauge: CapDevice = { name: 'Pos Karang Mumus <Jembatan & "Gang">', district: 'Samarinda Ulu', city: 'Samarinda', lat: -0.4948, lon: 117.1436, thresholds: null };

function alert(over: Partial<Alert>): Alert {
  return {
    id: 'a1b2c3', deviceId: 'flood-smd-01', kind: 'flood', rule: 'flood_level', severity: 'waspada', state: 'open', value: 310,
    message: '', openedAt: T0, acknowledgedAt: null, resolvedAt: null, ...over,
  };
}

const ev = (seq: number, type: AlertChange['type'], at: number, a: Partial<Alert>): StoredEvent => ({ seq, change: { type, at, alert: alert(a) } });

const floodEvents: StoredEvent[] = [
  ev(11, 'opened', T0, { severity: 'waspada', value: 310 }),
  ev(14, 'escalated', T0 + 60_000, { severity: 'siaga', value: 420 }),
  ev(15, 'acknowledged', T0 + 90_000, { severity: 'siaga', value: 420, state: 'acknowledged' }),
  ev(19, 'escalated', T0 + 120_000, { severity: 'awas', value: 530.25 }),
  ev(23, 'de-escalated', T0 + 600_000, { severity: 'siaga', value: 400 }),
  ev(30, 'resolved', T0 + 1_200_000, { severity: 'siaga', value: 150, state: 'resolved', resolvedAt: T0 + 1_200_000 }),
];
const ctx = { sender: 'pantau@test', baseUrl: 'https://pantau.example', device: gauge };

describe('capMessages', () => {
  const messages = capMessages(floodEvents, ctx);

  it('one message per open, rise, fall and resolution (not the acknowledgement): Alert, Update…, Cancel, each referencing the one before', () => {
    expect(messages.map((m) => m.msgType)).toEqual(['Alert', 'Update', 'Update', 'Update', 'Cancel']);
    expect(messages.map((m) => m.identifier)).toEqual([11, 14, 19, 23, 30].map((s) => `pantau@test.a1b2c3.${s}`));
    expect(tag(messages[0]!.xml, 'references')).toBeUndefined();
    for (let i = 1; i < messages.length; i++) {
      const prev = messages[i - 1]!;
      expect(tag(messages[i]!.xml, 'references')).toBe(`pantau@test,${prev.identifier},${prev.sent}`);
    }
  });

  it('is the same for the same events in any order: identifiers and bytes', () => {
    expect(capMessages([...floodEvents].reverse(), ctx)).toEqual(messages);
  });

  it('maps the flood levels to urgency, severity and certainty by docs/cap.md, Met, and a Cancel to Past/Minor', () => {
    const grade = (xml: string) => [tag(xml, 'urgency'), tag(xml, 'severity'), tag(xml, 'certainty'), tag(xml, 'category')];
    expect(messages.map((m) => grade(m.xml))).toEqual([
      ['Future', 'Moderate', 'Observed', 'Met'],
      ['Expected', 'Severe', 'Observed', 'Met'],
      ['Immediate', 'Extreme', 'Observed', 'Met'],
      ['Expected', 'Severe', 'Observed', 'Met'],
      ['Past', 'Minor', 'Observed', 'Met'],
    ]);
  });

  it('maps ISPU categories by the value: Tidak Sehat Moderate, Sangat Tidak Sehat Severe, Berbahaya Extreme; Env', () => {
    const air = { rule: 'ispu', kind: 'air' as const, deviceId: 'air-bpn-01' };
    const m = capMessages(
      [ev(1, 'opened', T0, { ...air, severity: 'warning', value: 150 }), ev(2, 'escalated', T0 + 1, { ...air, severity: 'critical', value: 250 }), ev(3, 'escalated', T0 + 2, { ...air, severity: 'critical', value: 320 })],
      { ...ctx, device: { ...gauge, name: 'Udara Klandasan', district: 'Balikpapan Kota', city: 'Balikpapan' } },
    );
    expect(m.map((x) => tag(x.xml, 'severity'))).toEqual(['Moderate', 'Severe', 'Extreme']);
    expect(m.map((x) => tag(x.xml, 'category'))).toEqual(['Env', 'Env', 'Env']);
    expect(tag(m[0]!.xml, 'circle')).toBe(`-0.4948,117.1436 ${CAP_DEFAULT_RADIUS_KM.ispu}`);
    expect(tag(m[0]!.xml, 'headline')).toBe('Kualitas udara Tidak Sehat (ISPU 150), Udara Klandasan, Balikpapan Kota, Balikpapan');
    expect(tags(m[0]!.xml, 'value')).toContain('64.71');
    for (const x of m) expect(xmllint(x.xml, CAP_XSD)).toBe('');
  });

  it('has no messages for traffic, silent, stuck or spike alerts', () => {
    expect(capMessages([ev(1, 'opened', T0, { rule: 'silent', kind: 'flood', severity: 'warning' })], ctx)).toEqual([]);
    expect(capMessages([ev(1, 'opened', T0, { rule: 'traffic_los', kind: 'traffic', severity: 'critical', value: 6 })], ctx)).toEqual([]);
  });

  it('says time in WITA with +08:00 and whole seconds; expires a day after', () => {
    expect(witaTime(T0 + 999)).toBe('2026-12-05T09:00:00+08:00');
    expect(messages[0]!.sent).toBe('2026-12-05T09:00:00+08:00');
    expect(tag(messages[0]!.xml, 'expires')).toBe('2026-12-06T09:00:00+08:00');
    expect(messages[0]!.xml).not.toMatch(/\d\dZ</);
  });

  it('two languages in the glossary\'s words, the place, the circle, the Kemendagri geocode and the console link', () => {
    const xml = messages[1]!.xml;
    expect(tags(xml, 'language')).toEqual(['id-ID', 'en-US']);
    const place = escapeXml('Pos Karang Mumus <Jembatan & "Gang">, Samarinda Ulu, Samarinda');
    expect(tags(xml, 'headline')).toEqual([`Siaga: tinggi muka air 420 cm, ${place}`, `Warning: water level 420 cm, ${place}`]);
    expect(tags(xml, 'areaDesc')).toEqual([place, place]);
    expect(tag(xml, 'circle')).toBe('-0.4948,117.1436 2');
    expect(xml).toContain('<valueName>KEMENDAGRI</valueName>\n        <value>64.72</value>');
    expect(tag(xml, 'web')).toBe('https://pantau.example/alerts?alert=a1b2c3');
    expect(tag(messages[2]!.xml, 'value')).toBe('530.3');
  });

  it('takes the radius from the device setting capRadiusKm', () => {
    const [m] = capMessages(floodEvents.slice(0, 1), { ...ctx, device: { ...gauge, thresholds: { capRadiusKm: 0.5 } } });
    expect(tag(m!.xml, 'circle')).toBe('-0.4948,117.1436 0.5');
  });

  it('names only the device id, without circle or geocode, once the device is deleted; still valid', () => {
    const [m] = capMessages(floodEvents.slice(0, 1), { ...ctx, device: undefined });
    expect(tag(m!.xml, 'areaDesc')).toBe('flood-smd-01');
    expect(m!.xml).not.toContain('<circle>');
    expect(xmllint(m!.xml, CAP_XSD)).toBe('');
  });

  it('every message is valid CAP 1.2 (xmllint against the OASIS schema), escaping included', () => {
    for (const m of messages) expect(xmllint(m.xml, CAP_XSD), m.identifier).toBe('');
    expect(xmllint('<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x</identifier></alert>', CAP_XSD)).not.toBe('');
  });

  it('parses its identifiers back, senders with dots included', () => {
    expect(parseCapIdentifier('pantau@bpbd.kaltimprov.go.id.4f1c-9a.42')).toEqual({ alertId: '4f1c-9a', seq: 42 });
    expect(parseCapIdentifier('nonsense')).toBeNull();
  });
});

describe('CAP configuration', () => {
  it('PANTAU_CAP_SENDER defaults to pantau@<hostname>, refuses what an identifier cannot carry; PANTAU_CAP_PUBLIC is true or false', async () => {
    const { hostname } = await import('node:os');
    const { loadConfig } = await import('../../platform/config.js');
    expect(loadConfig({}).cap).toEqual({ sender: `pantau@${hostname()}`, public: false });
    expect(loadConfig({ PANTAU_CAP_SENDER: 'bpbd@kaltimprov.go.id', PANTAU_CAP_PUBLIC: 'true' }).cap).toEqual({ sender: 'bpbd@kaltimprov.go.id', public: true });
    expect(() => loadConfig({ PANTAU_CAP_SENDER: 'bpbd kaltim' })).toThrow(/PANTAU_CAP_SENDER: must be 1–200 characters without spaces, commas/);
    expect(() => loadConfig({ PANTAU_CAP_PUBLIC: 'yes' })).toThrow(/PANTAU_CAP_PUBLIC: must be true or false, got "yes"/);
  });
});

describe('capRadiusKm', () => {
  it('is a flood and air setting, positive and at most 200 km; traffic has none', async () => {
    const { thresholdsSchema } = await import('../../catalog/thresholds.js');
    expect(thresholdsSchema('flood').safeParse({ capRadiusKm: 1.5 }).success).toBe(true);
    expect(thresholdsSchema('air').safeParse({ capRadiusKm: 10 }).success).toBe(true);
    expect(thresholdsSchema('flood').safeParse({ capRadiusKm: 0 }).success).toBe(false);
    expect(thresholdsSchema('air').safeParse({ capRadiusKm: 500 }).success).toBe(false);
    expect(thresholdsSchema('traffic').safeParse({ capRadiusKm: 2 }).success).toBe(false);
  });
});
