// The security review's findings, each shown against real servers over real sockets: the API rate limit is keyed
// only on verified keys.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from './support/platform.js';

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform();
});
afterAll(async () => {
  await tp?.stop();
});

describe('API rate limit', () => {
  it('keys on a key only once it has been verified: pk_<real id>.wrong spends the address\'s allowance, not the key\'s', async () => {
    const limited = await startTestPlatform({ PANTAU_API_RATE_LIMIT: '5' });
    try {
      const viewer = (await limited.api('POST', '/api/v1/keys', { body: { name: 'wall', role: 'viewer' } })).body.key as string;
      const id = /^pk_([0-9a-f]{12})\./.exec(viewer)![1]!;
      // the first use verifies the key (counted against the address, like any key not verified before)
      expect((await limited.api('GET', '/api/v1/devices', { key: viewer })).status).toBe(200);
      // someone who knows only the key id
      const forged: number[] = [];
      for (let i = 0; i < 10; i++) forged.push((await limited.api('GET', '/api/v1/devices', { key: `pk_${id}.garbage-garbage-${i}` })).status);
      expect(forged.slice(0, 4)).toEqual([401, 401, 401, 401]);
      expect(forged.slice(-3)).toEqual([429, 429, 429]);
      // the key's owner still has its whole allowance
      const own: number[] = [];
      for (let i = 0; i < 5; i++) own.push((await limited.api('GET', '/api/v1/devices', { key: viewer })).status);
      expect(own).toEqual([200, 200, 200, 200, 200]);
      expect((await limited.api('GET', '/api/v1/devices', { key: viewer })).status).toBe(429);
    } finally {
      await limited.stop();
    }
  });
});
