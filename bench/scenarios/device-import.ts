// `device-import`: provisioning a city's fleet at once (issue 16). 10,000 devices as one CSV through
// POST /api/v1/devices/import (admin key, `Accept: text/csv` for the id,token answer), timed from the request to
// the last byte of the answer (target < 30 s); then the fleet export (GET /api/v1/devices?format=csv) and one of
// the new devices logging in over MQTT with its token, so the figure is of an import that works.
import { scryptSync, randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { startInfluxd } from '../../test/support/influxd.js';
import type { BenchContext } from '../context.js';
import { startBenchPlatform } from '../platform-process.js';
import type { ScenarioResult } from '../result.js';
import { round, type Scenario } from './scenario.js';

const DEVICES = 10_000;
const KINDS = ['air', 'flood', 'traffic'] as const;

function fleetCsv(): string {
  const rows = ['id,kind,name,city,district,lat,lon,thresholds,devEui'];
  for (let i = 0; i < DEVICES; i++) {
    const kind = KINDS[i % 3]!;
    const thresholds = kind === 'flood' ? '"{""waspada"":720,""siaga"":775,""awas"":825}"' : '';
    rows.push(`bench-imp-${i},${kind},Sensor ${i},Samarinda,Sungai Pinang,${(-0.5 + i / 1e6).toFixed(6)},${(117.1 + i / 1e6).toFixed(6)},${thresholds},${(0x70b3d57ed0000000n + BigInt(i)).toString(16)}`);
  }
  return `${rows.join('\n')}\n`;
}

export const deviceImport: Scenario = {
  name: 'device-import',
  title: 'Bulk provisioning: 10,000 devices in one CSV import',
  async run(ctx: BenchContext) {
    const influx = await startInfluxd();
    const platform = await startBenchPlatform({ influxUrl: influx.url, db: 'bench_import', adminKey: ctx.adminKey });
    try {
      const csv = fleetCsv();
      const t0 = performance.now();
      const res = await fetch(`${platform.httpUrl}/api/v1/devices/import`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ctx.adminKey}`, 'content-type': 'text/csv', accept: 'text/csv' },
        body: csv,
      });
      const answer = await res.text();
      const importMs = performance.now() - t0;
      if (res.status !== 201) throw new Error(`import answered ${res.status}: ${answer.slice(0, 300)}`);
      const tokens = answer.trim().split('\n').slice(1).map((l) => l.split(','));
      if (tokens.length !== DEVICES) throw new Error(`import answered ${tokens.length} tokens, expected ${DEVICES}`);
      ctx.log(`[device-import] ${DEVICES} devices imported in ${Math.round(importMs)} ms`);

      const t1 = performance.now();
      const exported = await fetch(`${platform.httpUrl}/api/v1/devices?format=csv`, { headers: { authorization: `Bearer ${ctx.adminKey}` } });
      const exportRows = (await exported.text()).trim().split('\n').length - 1;
      const exportMs = performance.now() - t1;

      const [id, token] = tokens[DEVICES - 1]!;
      const t2 = performance.now();
      const client = await mqtt.connectAsync(platform.mqttUrl, { username: id, password: token, clientId: id, reconnectPeriod: 0, connectTimeout: 10_000 });
      const connectMs = performance.now() - t2;
      await client.endAsync();

      // what round 1's hash (scrypt N=1024) would have cost for the same fleet, measured here on 50 tokens
      const t3 = performance.now();
      for (let i = 0; i < 50; i++) scryptSync(randomBytes(32).toString('base64url'), randomBytes(16), 32, { N: 1024, r: 8, p: 1 });
      const scryptFleetS = ((performance.now() - t3) / 50) * DEVICES / 1000;

      await platform.stop();
      const result: ScenarioResult = {
        scenario: this.name,
        title: this.title,
        startedAt: new Date().toISOString(),
        cpuProfiled: false,
        config: { devices: DEVICES, csvKiB: Math.round(csv.length / 1024) },
        extra: {
          importS: round(importMs / 1000, 2),
          devicesPerS: Math.round(DEVICES / (importMs / 1000)),
          exportRows,
          exportMs: Math.round(exportMs),
          firstLoginMs: Math.round(connectMs),
          round1ScryptForFleetS: round(scryptFleetS, 1),
        },
        cpuCores: {},
        rssMiB: {},
        targets: [{ name: 'import 10,000 devices', goal: '< 30 s', value: `${round(importMs / 1000, 2)} s`, pass: importMs < 30_000 && exportRows === DEVICES }],
        notes: [`round 1's token hash (scrypt N=1024) alone would take about ${round(scryptFleetS, 1)} s for this fleet on this machine; generated 256-bit tokens are now hashed with salted HMAC-SHA-256 (registry/secrets.ts)`],
      };
      return result;
    } finally {
      await platform.stop().catch(() => undefined);
      await influx.stop().catch(() => undefined);
    }
  },
};
