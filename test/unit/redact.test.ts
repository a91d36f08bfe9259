import { describe, expect, it } from 'vitest';
import { redactUrl, redactUrlsDeep, redactUrlsIn } from '../../lib/redact.js';
import { loadConfig } from '../../platform/config.js';

describe('redactUrl', () => {
  it('drops the user and password of a URL and hides what it cannot parse', () => {
    expect(redactUrl('mqtt://pantau-ingest:s3cret@broker.example:1883')).toBe('mqtt://broker.example:1883');
    expect(redactUrl('http://admin:pw@127.0.0.1:8086/')).toBe('http://127.0.0.1:8086/');
    expect(redactUrl('not a url with secret')).toBe('(hidden)');
    expect(redactUrl(undefined)).toBeUndefined();
  });

  it('redacts query parameters named like a token, password, secret, key or signature, and keeps the others', () => {
    expect(redactUrl('https://hooks.example/alert?token=t0k3n&city=samarinda')).toBe('https://hooks.example/alert?token=redacted&city=samarinda');
    expect(redactUrl('https://x.example/h?api_key=a&Password=b&client_secret=c&sig=d&X-Amz-Signature=e&access_token=f&keep=1'))
      .toBe('https://x.example/h?api_key=redacted&Password=redacted&client_secret=redacted&sig=redacted&X-Amz-Signature=redacted&access_token=redacted&keep=1');
    // InfluxDB 1.x takes its password in `p`
    expect(redactUrl('http://influx:8086/query?u=pantau&p=hunter2&db=pantau')).toBe('http://influx:8086/query?u=pantau&p=redacted&db=pantau');
    expect(redactUrl('http://u:pw@host/?token=a&token=b')).toBe('http://host/?token=redacted');
  });
});

describe('redactUrlsIn', () => {
  it('redacts every URL inside a message and leaves the rest of it alone', () => {
    expect(redactUrlsIn('InfluxDB unreachable at http://pantau:hunter2@10.0.0.5:8086 (ECONNREFUSED)')).toBe('InfluxDB unreachable at http://10.0.0.5:8086/ (ECONNREFUSED)');
    expect(redactUrlsIn('Request cannot be constructed from a URL that includes credentials: https://u:pw@hook.example/x?sig=abc.'))
      .toBe('Request cannot be constructed from a URL that includes credentials: https://hook.example/x?sig=redacted.');
    expect(redactUrlsIn('no URL here: user:pw')).toBe('no URL here: user:pw');
  });

  it('redacts the strings of a status document, at any depth', () => {
    expect(redactUrlsDeep({ influx: { up: false, lastError: 'at http://a:b@h:1/', n: 3, list: ['mqtt://c:d@e'] }, none: null }))
      .toEqual({ influx: { up: false, lastError: 'at http://h:1/', n: 3, list: ['mqtt://e'] }, none: null });
  });
});

describe('configuration errors', () => {
  it('name a URL they cannot parse without its user, password or query', () => {
    let message = '';
    try {
      loadConfig({ PANTAU_INFLUX_URL: 'http://pantau:Hunter2-pw@influx:99999/?token=T0ken-x' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe('PANTAU_INFLUX_URL: must be a URL like http://host:port, got "http://…@influx:99999/?…"');
  });
});
