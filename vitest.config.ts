import { configDefaults, defineConfig } from 'vitest/config';

// Files that compare latencies within one run (a flood against the quiet windows around it) or hold the platform's
// event loop for long stretches: `npm test` runs them on their own after the rest (PANTAU_TEST_SET=alone), so another
// test file on the same two cores cannot be what they measure. PANTAU_TEST_SET=rest runs everything else in parallel;
// unset, vitest runs whatever it is given.
export const ALONE = ['test/login-flood.test.ts', 'test/fuzz-mqtt.test.ts'];
const set = process.env.PANTAU_TEST_SET;

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    include: set === 'alone' ? ALONE : ['test/**/*.test.ts'],
    exclude: set === 'rest' ? [...configDefaults.exclude, ...ALONE] : configDefaults.exclude,
    pool: 'forks',
    maxWorkers: set === 'alone' ? 1 : 2,
    fileParallelism: set !== 'alone',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    // expect.poll waits 1 s by default: a browser page's first API answer on a loaded two-core CI machine can take
    // longer (CI failed the Platform page's "when the API fails" test waiting 1 s for its first rows). Tests that
    // time something give their own timeout (console-live's within2s).
    expect: { poll: { timeout: 10_000 } },
    reporters: process.env.CI ? ['verbose'] : ['default'],
  },
});
