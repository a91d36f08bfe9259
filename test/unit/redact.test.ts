import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../platform/redact.js';

describe('redactUrl', () => {
  it('drops the user and password of a URL and hides what it cannot parse', () => {
    expect(redactUrl('mqtt://pantau-ingest:s3cret@broker.example:1883')).toBe('mqtt://broker.example:1883');
    expect(redactUrl('http://admin:pw@127.0.0.1:8086/')).toBe('http://127.0.0.1:8086/');
    expect(redactUrl('not a url with secret')).toBe('(hidden)');
    expect(redactUrl(undefined)).toBeUndefined();
  });
});
