// One private InfluxDB for the whole test run; every test file uses its own database in it.
import type { TestProject } from 'vitest/node';
import { startInfluxd, type InfluxServer } from './influxd.js';

let server: InfluxServer | undefined;

export async function setup(project: TestProject): Promise<void> {
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
