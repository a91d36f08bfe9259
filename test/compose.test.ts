// docker-compose.yml, the Dockerfile and Grafana's provisioning files, checked for what Docker and Grafana would
// trip over: Docker cannot run here, so the files are parsed and cross-checked against the repository instead.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DATASOURCE_NAME, DATASOURCE_UID } from '../dashboards/influxql.js';
import { DASHBOARDS } from '../dashboards/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Service {
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, string> | string[];
  volumes?: Array<string | { type: string; source: string; target: string; read_only?: boolean }>;
  ports?: string[];
  profiles?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string | string[] };
}
interface Compose {
  version?: string;
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const composeText = read('docker-compose.yml');
const compose = parse(composeText) as Compose;
const services = compose.services;

function environment(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (!Array.isArray(env)) return env;
  return Object.fromEntries(env.map((e) => [e.split('=')[0]!, e.split('=').slice(1).join('=')]));
}

/** Bind mounts as host path (relative to the repo) → container path. */
function mounts(service: Service): Array<{ source: string; target: string; readOnly: boolean; bind: boolean }> {
  return (service.volumes ?? []).map((v) => {
    if (typeof v !== 'string') return { source: v.source, target: v.target, readOnly: !!v.read_only, bind: v.type === 'bind' };
    const [source, target, mode] = v.split(':') as [string, string, string | undefined];
    return { source, target, readOnly: mode === 'ro', bind: source.startsWith('.') || source.startsWith('/') };
  });
}

const healthcheck = (service: Service) => [service.healthcheck?.test ?? []].flat().join(' ');

describe('docker-compose.yml', () => {
  it('is a compose file docker-compose 1.29 accepts (no version, or 3.8)', () => {
    expect(compose.version === undefined || compose.version === '3.8').toBe(true);
    expect(Object.keys(services).sort()).toEqual(['grafana', 'influxdb', 'pantau', 'simulator']);
  });

  it('docker-compose config accepts it, with and without the simulator profile', () => {
    const binary = ['/usr/bin/docker-compose', '/usr/local/bin/docker-compose'].find((p) => existsSync(p));
    if (!binary) return; // not installed here; the YAML checks below still run
    const base = [binary, '--project-directory', ROOT, '-f', join(ROOT, 'docker-compose.yml'), '--env-file', join(ROOT, '.env.example')];
    for (const extra of [[], ['--profile', 'simulator']]) {
      const args = [...base.slice(1), ...extra, 'config', '-q'];
      expect(() => execFileSync(base[0]!, args, { cwd: ROOT, stdio: 'pipe' })).not.toThrow();
    }
    const services = execFileSync(base[0]!, [...base.slice(1), '--profile', 'simulator', 'config', '--services'], { cwd: ROOT })
      .toString()
      .trim()
      .split('\n')
      .sort();
    expect(services).toEqual(['grafana', 'influxdb', 'pantau', 'simulator']);
  });

  it('every service has an image, or a build context with a Dockerfile in the repo', () => {
    for (const [name, service] of Object.entries(services)) {
      expect(service.image || service.build, `${name}: neither image nor build`).toBeTruthy();
      if (service.build) {
        const context = typeof service.build === 'string' ? service.build : service.build.context;
        const dockerfile = typeof service.build === 'string' ? 'Dockerfile' : (service.build.dockerfile ?? 'Dockerfile');
        expect(statSync(join(ROOT, context)).isDirectory(), `${name}: build context ${context}`).toBe(true);
        expect(existsSync(join(ROOT, context, dockerfile)), `${name}: ${dockerfile}`).toBe(true);
      }
    }
  });

  it('uses InfluxDB 1.x (the InfluxQL dialect) and Grafana OSS', () => {
    expect(services.influxdb!.image).toMatch(/^influxdb:1\.(8|11)(\.\d+)?$/);
    expect(services.grafana!.image).toMatch(/^grafana\/grafana-oss:/);
  });

  it('mounts only paths that exist in the repo, and names its volumes', () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const [name, service] of Object.entries(services)) {
      for (const m of mounts(service)) {
        if (m.bind) expect(existsSync(join(ROOT, m.source)), `${name}: ${m.source} is not in the repo`).toBe(true);
        else expect(declared, `${name}: volume ${m.source} is not declared`).toContain(m.source);
      }
    }
    expect(mounts(services.pantau!).find((m) => m.target === '/data')?.bind).toBe(false);
    expect(mounts(services.influxdb!).find((m) => m.target === '/var/lib/influxdb')?.bind).toBe(false);
  });

  it('publishes MQTT 1883, the API 8080 and Grafana 3000', () => {
    const published = Object.values(services).flatMap((s) => (s.ports ?? []).map((p) => String(p).split(':').at(-2)));
    expect(published).toEqual(expect.arrayContaining(['1883', '8080', '3000']));
  });

  it('checks the health of Pantau (GET /healthz) and InfluxDB (/ping)', () => {
    expect(healthcheck(services.pantau!)).toContain('/healthz');
    expect(healthcheck(services.influxdb!)).toContain('/ping');
    expect(services.pantau!.depends_on).toMatchObject({ influxdb: { condition: 'service_healthy' } });
  });

  it('points Pantau at InfluxDB and keeps its data in /data', () => {
    const env = environment(services.pantau!);
    expect(env.PANTAU_INFLUX_URL).toBe('http://influxdb:8086');
    expect(env.PANTAU_DATA_DIR).toBe('/data');
    expect(env.PANTAU_ADMIN_KEY).toMatch(/^\$\{PANTAU_ADMIN_KEY/);
  });

  it('runs the simulator only with the "simulator" profile, against the pantau service', () => {
    const sim = services.simulator!;
    expect(sim.profiles).toEqual(['simulator']);
    expect([sim.command].flat().join(' ')).toContain('dist/devices/simulate.js');
    const env = environment(sim);
    expect(env.PANTAU_API_URL).toBe('http://pantau:8080');
    expect(env.PANTAU_MQTT_URL).toBe('mqtt://pantau:1883');
    expect(sim.depends_on).toMatchObject({ pantau: { condition: 'service_healthy' } });
  });

  it('takes every secret from .env, and .env.example names them all', () => {
    const example = read('.env.example');
    const defined = new Set([...example.matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]));
    const used = new Set([...composeText.matchAll(/\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}/g)].map((m) => m[1]));
    for (const name of used) expect(defined, `.env.example lacks ${name}`).toContain(name);
    for (const secret of ['PANTAU_ADMIN_KEY', 'GF_SECURITY_ADMIN_PASSWORD', 'INFLUXDB_ADMIN_USER', 'INFLUXDB_ADMIN_PASSWORD']) {
      expect(defined).toContain(secret);
      expect(composeText, `${secret} must be required, not defaulted`).toMatch(new RegExp(`\\$\\{${secret}:\\?`));
    }
    expect(read('.dockerignore')).toMatch(/^\.env$/m);
  });
});

describe('Grafana provisioning', () => {
  const grafana = services.grafana!;
  const grafanaMounts = mounts(grafana);
  const mountOf = (hostPath: string) => grafanaMounts.find((m) => posix.normalize(m.source) === posix.normalize(hostPath));

  it('mounts the provisioning files and the generated dashboards read-only', () => {
    for (const path of ['./dashboards/provisioning/datasources', './dashboards/provisioning/dashboards', './dashboards/generated']) {
      const m = mountOf(path);
      expect(m, `${path} is not mounted into Grafana`).toBeDefined();
      expect(m!.readOnly, `${path} must be read-only`).toBe(true);
    }
    expect(mountOf('./dashboards/provisioning/datasources')!.target).toBe('/etc/grafana/provisioning/datasources');
    expect(mountOf('./dashboards/provisioning/dashboards')!.target).toBe('/etc/grafana/provisioning/dashboards');
  });

  it(`defines the "${DATASOURCE_NAME}" InfluxQL data source the dashboards refer to`, () => {
    const file = parse(read('dashboards/provisioning/datasources/pantau.yaml')) as {
      apiVersion: number;
      datasources: Array<{ name: string; uid: string; type: string; url: string; jsonData: Record<string, unknown> }>;
    };
    expect(file.apiVersion).toBe(1);
    const ds = file.datasources.find((d) => d.name === DATASOURCE_NAME);
    expect(ds).toBeDefined();
    expect(ds!.uid).toBe(DATASOURCE_UID);
    expect(ds!.type).toBe('influxdb');
    expect(ds!.jsonData.version).toBe('InfluxQL');
    // Grafana expands $VARIABLES from its own environment: every one must be set on the grafana service.
    const env = environment(grafana);
    const settings = read('dashboards/provisioning/datasources/pantau.yaml').replace(/^\s*#.*$/gm, '');
    const referenced = [...settings.matchAll(/\$\{?([A-Z0-9_]+)\}?/g)].map((m) => m[1]!);
    expect(referenced).toEqual(expect.arrayContaining(['PANTAU_INFLUX_URL', 'PANTAU_INFLUX_DB']));
    for (const name of referenced) expect(env, `grafana service lacks ${name}`).toHaveProperty(name);
  });

  it('loads the dashboards from the folder the generated JSON is mounted at', () => {
    const file = parse(read('dashboards/provisioning/dashboards/pantau.yaml')) as {
      apiVersion: number;
      providers: Array<{ name: string; type: string; options: { path: string } }>;
    };
    expect(file.apiVersion).toBe(1);
    const provider = file.providers.find((p) => p.type === 'file')!;
    expect(provider.options.path).toBe(mountOf('./dashboards/generated')!.target);
    for (const d of DASHBOARDS) expect(existsSync(join(ROOT, 'dashboards/generated', d.file)), d.file).toBe(true);
    const home = environment(grafana).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    if (home) expect(DASHBOARDS.map((d) => posix.join(provider.options.path, d.file))).toContain(home);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const stages = [...dockerfile.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)].map((m) => ({ image: m[1], name: m[2] }));

  it('builds in one stage and runs node:24-slim (the current LTS) in another, on the same Node', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages.at(-1)!.image).toBe('node:24-slim');
    expect(stages[0]!.image).toBe(stages.at(-1)!.image);
    expect(dockerfile).toMatch(/npm ci/);
    expect(dockerfile).toMatch(/npm run build/);
    // better-sqlite3 is native: node-gyp needs these when no prebuilt binary fits.
    expect(dockerfile).toMatch(/python3/);
    expect(dockerfile).toMatch(/g\+\+/);
    expect(dockerfile).toMatch(/--omit=dev/);
  });

  it('runs dist/platform/main.js as an unprivileged user with PANTAU_DATA_DIR=/data', () => {
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    expect(runtime).toMatch(/^USER\s+(?!root)\S+/m);
    expect(runtime).toMatch(/PANTAU_DATA_DIR=\/data/);
    expect(runtime).toMatch(/CMD \["node", (".*", )?"dist\/platform\/main\.js"\]/);
    expect(JSON.parse(read('tsconfig.build.json')).compilerOptions?.noEmit).toBe(false);
  });
});
