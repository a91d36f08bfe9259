// One private InfluxDB for the whole test run; every test file uses its own database in it. And the compiled
// platform: tests that spawn Pantau run dist/ (the artifact the image ships), built here when missing or stale.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startInfluxd, type InfluxServer } from './influxd.js';
import { ROOT } from './process.js';

let server: InfluxServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-state.mjs')], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  server = await startInfluxd();
  project.provide('influxUrl', server.url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    influxUrl: string;
  }
}
