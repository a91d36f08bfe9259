import { describe, expect, it } from 'vitest';
import { acceptsGzip } from '../../api/accept-encoding.js';

describe('Accept-Encoding', () => {
  it('takes gzip when named or covered by *, in any case and with any positive quality', () => {
    for (const h of ['gzip', 'GZIP', 'gzip, deflate, br', 'br;q=1.0, gzip;q=0.8', 'x-gzip', '*', 'deflate, *;q=0.5', ['br', 'gzip']]) expect(acceptsGzip(h), String(h)).toBe(true);
  });
  it('refuses gzip at quality 0, when only other codings are named, or with no header', () => {
    for (const h of ['gzip;q=0', 'gzip; q=0.000', 'br, gzip;q=0, *;q=1', '*;q=0', 'identity', 'deflate, br', '', undefined]) expect(acceptsGzip(h), String(h)).toBe(false);
  });
  it('a named gzip decides over *', () => {
    expect(acceptsGzip('*;q=0, gzip')).toBe(true);
    expect(acceptsGzip('*, gzip;q=0')).toBe(false);
  });
});
