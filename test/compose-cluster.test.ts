// docker-compose.cluster.yml: Docker cannot run here, so `docker-compose config` validates it and the parsed file
// is checked for what makes it a cluster: EMQX asking Pantau, the roles, one registry, stable worker ids.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FILE = join(ROOT, 'docker-compose.cluster.yml');
const binary = ['/usr/bin/docker-compose', '/usr/local/bin/docker-compose'].find((p) => existsSync(p));

interface Service {
  image?: string;
  build?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
}

/** The file as docker-compose resolves it (anchors merged, .env.example interpolated). */
function resolved(): { services: Record<string, Service> } {
  if (!binary) throw new Error('docker-compose is not installed (apt-get install docker-compose)');
  const out = execFileSync(binary, ['--project-directory', ROOT, '-f', FILE, '--env-file', join(ROOT, '.env.example'), 'config'], { cwd: ROOT, stdio: 'pipe' });
  return parse(out.toString()) as { services: Record<string, Service> };
}

describe('docker-compose.cluster.yml', () => {
  it('docker-compose config accepts it: EMQX, PostgreSQL, InfluxDB, three ingest workers, two API nodes, Grafana', () => {
    const { services } = resolved();
    expect(Object.keys(services).sort()).toEqual(['emqx', 'grafana', 'influxdb', 'pantau-api-1', 'pantau-api-2', 'pantau-ingest-1', 'pantau-ingest-2', 'pantau-ingest-3', 'postgres']);
    expect(services.emqx!.image).toMatch(/^emqx\/emqx:5\./);
    expect(services.postgres!.image).toMatch(/^postgres:/);
    expect(services.influxdb!.image).toMatch(/^influxdb:1\./);
  });

  it('every Pantau node shares the registry and the broker, with its role and a unique worker id and volume', () => {
    const { services } = resolved();
    const nodes = Object.entries(services).filter(([name]) => name.startsWith('pantau-'));
    expect(nodes).toHaveLength(5);
    const ids = new Set<string>();
    const volumes = new Set<string>();
    for (const [name, s] of nodes) {
      const env = s.environment!;
      expect(env.PANTAU_REGISTRY_URL, name).toMatch(/^postgres:\/\/pantau:[^@]+@postgres:5432\/pantau$/);
      expect(env.PANTAU_BROKER_URL, name).toBe('mqtt://emqx:1883');
      expect(env.PANTAU_ROLE, name).toBe(name.includes('ingest') ? 'ingest' : 'api');
      ids.add(env.PANTAU_WORKER_ID!);
      const data = (s.volumes ?? []).map(String).find((v) => v.includes('/data'));
      expect(data, name).toBeTruthy();
      volumes.add(data!);
    }
    expect(ids.size).toBe(5);
    expect(volumes.size).toBe(5);
  });

  it("EMQX's HTTP authentication and authorisation point at a Pantau API node, with the shared secret", () => {
    const { services } = resolved();
    const env = services.emqx!.environment!;
    const secret = services['pantau-api-1']!.environment!.PANTAU_BROKER_AUTH_SECRET!;
    expect(env.EMQX_AUTHENTICATION__1__BACKEND).toBe('http');
    expect(env.EMQX_AUTHENTICATION__1__URL).toBe('http://pantau-api-1:8080/api/v1/broker/auth');
    expect(env.EMQX_AUTHORIZATION__SOURCES__1__TYPE).toBe('http');
    expect(env.EMQX_AUTHORIZATION__SOURCES__1__URL).toBe('http://pantau-api-1:8080/api/v1/broker/acl');
    expect(env.EMQX_AUTHORIZATION__NO_MATCH).toBe('deny');
    for (const headers of [env.EMQX_AUTHENTICATION__1__HEADERS, env.EMQX_AUTHORIZATION__SOURCES__1__HEADERS]) {
      expect(headers).toContain(`"x-pantau-broker-secret" = "${secret}"`);
    }
    // EMQX fills its own placeholders: compose must pass ${username} through, not interpolate it
    const raw = parse(readFileSync(FILE, 'utf8')) as { services: Record<string, Service> };
    expect(raw.services.emqx!.environment!.EMQX_AUTHENTICATION__1__BODY).toContain('$${password}');
    expect(env.EMQX_AUTHENTICATION__1__BODY).toMatch(/password = "\$\$?\{password\}"/);
  });

  it("the API nodes kick revoked sessions through EMQX's REST API, with the API key EMQX bootstraps from .env", () => {
    const { services } = resolved();
    const emqx = services.emqx!.environment!;
    expect(emqx.EMQX_API_KEY__BOOTSTRAP_FILE).toBe('/opt/emqx/data/pantau-api-key.conf');
    const entrypoint = (services.emqx as { entrypoint?: string[] }).entrypoint!.join(' ');
    expect(entrypoint).toContain('> /opt/emqx/data/pantau-api-key.conf');
    expect(entrypoint).toMatch(/exec \/usr\/bin\/docker-entrypoint\.sh \/opt\/emqx\/bin\/emqx foreground$/);
    for (const name of ['pantau-api-1', 'pantau-api-2']) {
      const env = services[name]!.environment!;
      expect(env.PANTAU_BROKER_ADMIN, name).toBe('emqx');
      expect(env.PANTAU_BROKER_ADMIN_URL, name).toBe('http://emqx:18083/api/v5');
      expect(env.PANTAU_BROKER_ADMIN_KEY, name).toBe(emqx.PANTAU_BROKER_ADMIN_KEY);
      expect(env.PANTAU_BROKER_ADMIN_SECRET, name).toBe(emqx.PANTAU_BROKER_ADMIN_SECRET);
    }
  });
});
