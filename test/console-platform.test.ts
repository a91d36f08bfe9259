// The console's Platform page (docs/console.md; docs/scale-out.md *Health of the cluster*) in Debian's Chromium
// against a real cluster: two nodes (`pusat-1` API + ingest, `api-2` API) on one PostgreSQL and a real InfluxDB, plus
// two rows as a dead worker and a cleanly stopped one leave them in `cluster_nodes`. An admin sees every node with
// the fields `GET /api/v1/cluster` gives, in Indonesian and English (relative times with CLDR's plurals); the page
// reads the API again every 5 s, says so when the API fails and recovers; a viewer is not offered the page and is
// told why on its route; keyboard, names and axe-core; screenshots for the docs.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsoleIfStale } from '../console/build/build.js';
import { bytes, duration, relative } from '../console/src/format.js';
import { launchChromium, signInWithKey } from './support/browser.js';
import { ADMIN_KEY, eventually, startTestPlatform, type TestPlatform } from './support/platform.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';
import { screenshotDir } from './support/screenshots.js';

const IMG = screenshotDir();
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

type Node = { id: string; role: string; state: string; spoolBytes: number; writerLagSeconds: number; brokerSession: boolean | null; alertOwner: boolean };
type Health = { node: string; cluster: boolean; registry: boolean; leaseMs: number; alertOwner: string | null; nodes: Node[] };

let pg: PostgresServer;
let a: TestPlatform;
let b: TestPlatform;
let browser: Browser;
let base: string;

const signIn = (page: Page, key: string) => signInWithKey(page, base, key);

async function axeSerious(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const r = await (window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: Array<{ id: string; impact: string; nodes: Array<{ html: string }> }> }> } }).axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.html).join(' | ')}`);
  });
}

/** The text of one field of a node's row (`data-field`). */
const cell = (page: Page, node: string, field: string) => page.locator(`[data-testid=platform-node][data-node-id="${node}"] [data-field=${field}]`).innerText();

beforeAll(async () => {
  await buildConsoleIfStale();
  pg = await startPostgres();
  a = await startTestPlatform({ PANTAU_REGISTRY_URL: pg.url, PANTAU_WORKER_ID: 'pusat-1' });
  b = await startTestPlatform({ PANTAU_REGISTRY_URL: pg.url, PANTAU_WORKER_ID: 'api-2', PANTAU_ROLE: 'api' });
  base = b.platform.httpUrl;
  // the owner's heartbeat says it holds the alert owner's lock within a third of the lease
  await eventually(async () => (await b.api<Health>('GET', '/api/v1/cluster')).body.alertOwner, 15_000, 200);
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await b?.stop();
  await a?.stop();
  await pg?.stop();
});

describe('relative times and sizes in both languages', () => {
  it('says one second, one hour and many right, and Indonesian without a plural', () => {
    expect(relative(-1, 'en')).toBe('1 second ago');
    expect(relative(-2.9, 'en')).toBe('2 seconds ago');
    expect(relative(-1, 'id')).toBe('1 detik yang lalu');
    expect(relative(-5, 'id')).toBe('5 detik yang lalu');
    expect(relative(-0.4, 'en')).toBe('now');
    expect(relative(-0.4, 'id')).toBe('sekarang');
    expect(relative(12, 'en')).toBe('in 12 seconds');
    expect(relative(12, 'id')).toBe('dalam 12 detik');
    expect(relative(-119, 'en')).toBe('1 minute ago');
    expect(relative(-3700, 'en')).toBe('1 hour ago');
    expect(relative(-3700, 'id')).toBe('1 jam yang lalu');
    expect(relative(-2 * 86_400, 'en')).toBe('2 days ago');
    expect(duration(1, 'en')).toBe('1 second');
    expect(duration(0, 'id')).toBe('0 detik');
    expect(duration(187, 'en')).toBe('3.1 minutes');
    expect(duration(187, 'id')).toBe('3,1 menit');
    expect(bytes(0, 'en')).toBe('0 B');
    expect(bytes(1_887_437, 'en')).toBe('1.8 MiB');
    expect(bytes(1_887_437, 'id')).toBe('1,8 MiB');
  });
});

describe('the Platform page in Chromium', () => {
  it('shows an admin every node as GET /api/v1/cluster gives it, in Indonesian and English, and reads it again every 5 s', async () => {
    // a worker that died 200 s ago holding 1.8 MiB of readings, and one that left cleanly an hour ago
    await pg.sql(`INSERT INTO cluster_nodes (node_id, role, time_slot, started_at, heartbeat_at, stopped_at, status) VALUES
      ('pekerja-3', 'ingest', NULL, ${NOW_MS} - 86400000, ${NOW_MS} - 200000, NULL, '{"spoolBytes":1887437,"writerLagSeconds":187,"influxUp":true,"alertOwner":false,"brokerSession":true}'),
      ('pekerja-4', 'ingest', NULL, ${NOW_MS} - 86400000, ${NOW_MS} - 3700000, ${NOW_MS} - 3700000, '{"spoolBytes":0,"writerLagSeconds":0,"influxUp":true,"alertOwner":false,"brokerSession":false}')`);
    // a worker that died and whose broker session pusat-1 drained (docs/scale-out.md, takeover)
    await pg.sql(`INSERT INTO cluster_nodes (node_id, role, time_slot, started_at, heartbeat_at, stopped_at, status, session, taken_by, taken_at, taken_over_at) VALUES
      ('pekerja-5', 'ingest', NULL, ${NOW_MS} - 86400000, ${NOW_MS} - 600000, NULL, '{"spoolBytes":0,"writerLagSeconds":0,"influxUp":true,"alertOwner":false,"brokerSession":true}', 'pantau-ingest-pekerja-5', 'pusat-1', ${NOW_MS} - 580000, ${NOW_MS} - 578000)`);
    const health = (await b.api<Health>('GET', '/api/v1/cluster')).body;
    expect(health.nodes.map((n) => n.id).sort()).toEqual(['api-2', 'pekerja-3', 'pekerja-4', 'pekerja-5', 'pusat-1']);
    const owner = health.alertOwner!;
    expect(['pusat-1', 'api-2']).toContain(owner);

    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, locale: 'en-US' });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const reads: number[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/v1/cluster') reads.push(Date.now());
    });
    await signIn(page, ADMIN_KEY);
    // a badge hidden by its attribute is not drawn (no open alert: the count on Peringatan is hidden)
    expect(await page.locator('[data-testid=nav-alerts] .badge').evaluate((e) => getComputedStyle(e).display)).toBe('none');
    await page.getByTestId('nav-platform').click();
    await page.waitForURL(`${base}/platform`);
    await expect.poll(() => page.getByTestId('platform-node').count()).toBe(5);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Kesehatan platform');
    expect(await page.getByTestId('platform-owner').innerText()).toBe(`Pemilik peringatan: ${owner}`);
    expect(await page.getByTestId('platform-about').innerText()).toMatch(/^Dijawab oleh api-2 · diperbarui .+ WITA · dibaca ulang setiap 5 detik$/);
    expect(await page.getByRole('region', { name: 'Node klaster' }).count()).toBe(1);
    expect(await page.locator('table.platform thead th').allInnerTexts()).toEqual(['Node', 'Peran', 'Keadaan', 'Detak terakhir', 'Sewa berakhir', 'Antrean spool', 'Jeda penulis InfluxDB', 'Sesi broker', 'Pemilik peringatan']);

    // the live nodes: their fields as the API gives them
    for (const n of health.nodes.filter((x) => x.state === 'live')) {
      const row = page.locator(`[data-testid=platform-node][data-node-id="${n.id}"]`);
      expect(await row.getAttribute('data-state')).toBe('live');
      expect(await row.getAttribute('data-role')).toBe(n.role);
      expect(await row.getAttribute('data-alert-owner')).toBe(String(n.id === owner));
      expect(await cell(page, n.id, 'role')).toBe(n.role === 'all' ? 'API + ingest' : 'API');
      expect(await cell(page, n.id, 'state')).toBe('hidup');
      expect(await cell(page, n.id, 'heartbeat')).toMatch(/^(sekarang|([1-9]|1[0-5]) detik yang lalu)\n.+ WITA$/);
      expect(await cell(page, n.id, 'lease')).toMatch(/^berakhir (sekarang|dalam ([1-9]|1[0-5]) detik)\n.+ WITA$/);
      expect(await cell(page, n.id, 'spool')).toBe(bytes(n.spoolBytes, 'id'));
      expect(await cell(page, n.id, 'lag')).toBe(duration(n.writerLagSeconds, 'id'));
      expect(await cell(page, n.id, 'broker')).toBe(n.brokerSession === null ? 'tidak dipakai' : n.brokerSession ? 'tersambung' : 'terputus');
      expect(await cell(page, n.id, 'owner')).toBe(n.id === owner ? 'pemilik peringatan' : 'bukan');
    }
    expect(await cell(page, 'api-2', 'node')).toBe('api-2\nnode ini');
    // the dead worker: silent, its lease ran out, its spool and lag as of its last heartbeat
    expect(await page.locator('[data-node-id=pekerja-3]').getAttribute('data-state')).toBe('silent');
    expect(await cell(page, 'pekerja-3', 'role')).toBe('ingest (pekerja)');
    expect(await cell(page, 'pekerja-3', 'state')).toBe('senyap (sewa habis)');
    expect(await cell(page, 'pekerja-3', 'heartbeat')).toMatch(/^3 menit yang lalu\n/);
    expect(await cell(page, 'pekerja-3', 'lease')).toMatch(/^habis 3 menit yang lalu\n/);
    expect(await cell(page, 'pekerja-3', 'spool')).toBe('1,8 MiB');
    expect(await cell(page, 'pekerja-3', 'lag')).toBe('3,1 menit');
    expect(await cell(page, 'pekerja-3', 'broker')).toBe('tersambung');
    // the one that left: stopped an hour ago (one hour, singular)
    expect(await cell(page, 'pekerja-4', 'state')).toBe('berhenti');
    expect(await cell(page, 'pekerja-4', 'heartbeat')).toMatch(/^1 jam yang lalu\n/);
    expect(await cell(page, 'pekerja-4', 'lease')).toBe('keluar dengan bersih');
    expect(await cell(page, 'pekerja-4', 'broker')).toBe('terputus');
    expect(await page.locator('[data-node-id=pekerja-5]').getAttribute('data-state')).toBe('taken-over');
    expect(await cell(page, 'pekerja-5', 'state')).toBe('diambil alih\nsesi broker dikuras oleh pusat-1');
    expect(await axeSerious(page)).toEqual([]);
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(IMG, 'console-platform.png') });

    await page.getByTestId('lang-toggle').click();
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Platform health');
    expect(await page.getByTestId('platform-owner').innerText()).toBe(`Alert owner: ${owner}`);
    expect(await page.getByRole('region', { name: 'Cluster nodes' }).count()).toBe(1);
    expect(await page.locator('table.platform thead th').allInnerTexts()).toEqual(['Node', 'Role', 'State', 'Last heartbeat', 'Lease expires', 'Spool depth', 'InfluxDB writer lag', 'Broker session', 'Alert owner']);
    expect(await cell(page, 'pusat-1', 'role')).toBe('API + ingest');
    expect(await cell(page, 'pusat-1', 'state')).toBe('live');
    expect(await cell(page, 'pusat-1', 'heartbeat')).toMatch(/^(now|1 second ago|([2-9]|1[0-5]) seconds ago)\n/);
    expect(await cell(page, owner, 'owner')).toBe('alert owner');
    expect(await cell(page, 'pekerja-3', 'state')).toBe('silent (lease ran out)');
    expect(await cell(page, 'pekerja-3', 'heartbeat')).toMatch(/^3 minutes ago\n/);
    expect(await cell(page, 'pekerja-3', 'lease')).toMatch(/^ran out 3 minutes ago\n/);
    expect(await cell(page, 'pekerja-3', 'spool')).toBe('1.8 MiB');
    expect(await cell(page, 'pekerja-3', 'lag')).toBe('3.1 minutes');
    expect(await cell(page, 'pekerja-4', 'heartbeat')).toMatch(/^1 hour ago\n/);
    expect(await cell(page, 'pekerja-4', 'lease')).toBe('left cleanly');
    expect(await cell(page, 'pekerja-5', 'state')).toBe('taken over\nbroker session drained by pusat-1');
    expect(await page.locator('table.platform').innerText()).not.toMatch(/(^|\s)1 (second|minute|hour|day)s\b/);
    expect(await axeSerious(page)).toEqual([]);
    await page.screenshot({ path: join(IMG, 'console-platform-en.png') });

    // read again every 5 s without a reload: the answer's time moves on
    const about = await page.getByTestId('platform-about').innerText();
    const before = reads.length;
    await expect.poll(() => reads.length, { timeout: 12_000 }).toBeGreaterThanOrEqual(before + 2);
    await expect.poll(() => page.getByTestId('platform-about').innerText()).not.toBe(about);
    await page.getByTestId('lang-toggle').click();
    expect(errors).toEqual([]);
    await context.close();
  });

  it('says when the API fails, keeps the last answer marked as stale, and recovers by itself', async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    await signIn(page, ADMIN_KEY);
    await page.goto(`${base}/platform`);
    await expect.poll(() => page.getByTestId('platform-node').count()).toBeGreaterThanOrEqual(2);
    expect(await page.getByTestId('platform-error').isHidden()).toBe(true);
    await page.route('**/api/v1/cluster', (route) => route.fulfill({ status: 503, contentType: 'application/problem+json', body: JSON.stringify({ type: 'https://pantau.dev/problems/unavailable', title: 'Service Unavailable', status: 503, detail: 'the registry does not answer' }) }));
    // the next read fails (within 5 s)
    const error = page.getByTestId('platform-error');
    await error.waitFor({ state: 'visible', timeout: 8_000 });
    expect(await error.getAttribute('role')).toBe('alert');
    expect(await error.innerText()).toMatch(/^Status klaster tidak dapat dimuat: 503 the registry does not answer\. Data di bawah dari .+ WITA\.$/);
    expect(await page.getByTestId('platform-node').count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('.table-wrap.stale').count()).toBe(1);
    expect(await axeSerious(page)).toEqual([]);
    // the API answers again: the next read clears the error without a reload
    await page.unroute('**/api/v1/cluster');
    await error.waitFor({ state: 'hidden', timeout: 8_000 });
    expect(await page.locator('.table-wrap.stale').count()).toBe(0);
    await context.close();
  });

  it('is reached by the keyboard: Tab to Platform, Enter opens it; the refresh button and the table are reachable and named', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(page, ADMIN_KEY);
    const tabTo = async (testidOrSelector: string): Promise<boolean> => {
      for (let i = 0; i < 40; i++) {
        await page.keyboard.press('Tab');
        if (await page.evaluate((sel) => document.activeElement?.matches(sel) ?? false, testidOrSelector)) return true;
      }
      return false;
    };
    await page.locator('body').focus();
    expect(await tabTo('[data-testid=nav-platform]')).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/platform`);
    await page.getByTestId('platform-node').first().waitFor();
    expect(await page.getByTestId('nav-platform').getAttribute('aria-current')).toBe('page');
    expect(await tabTo('[data-testid=platform-refresh]')).toBe(true);
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Muat ulang sekarang');
    expect(await tabTo('.table-wrap[role=region]')).toBe(true);
    const unnamed = await page.evaluate(() => [...document.querySelectorAll<HTMLElement>('a[href], button, select, input, [tabindex="0"], [role=region]')]
      .filter((e) => {
        const labelled = e.getAttribute('aria-labelledby')?.split(' ').map((id) => document.getElementById(id)?.textContent ?? '').join('') ?? '';
        return !(e.getAttribute('aria-label') || labelled || e.textContent?.trim());
      })
      .map((e) => e.outerHTML.slice(0, 120)));
    expect(unnamed).toEqual([]);
    // on a phone the table scrolls inside its region; the page itself is no wider than the screen
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(true);
    expect(await axeSerious(page)).toEqual([]);
    await context.close();
  });

  it('a viewer is not offered the page, is told why on its route, and the page asks nothing of the API', async () => {
    const viewer = (await b.api('POST', '/api/v1/keys', { body: { name: 'ruang kendali', role: 'viewer' } })).body.key as string;
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    const reads: string[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/v1/cluster') reads.push(r.url());
    });
    await signIn(page, viewer);
    expect(await page.getByTestId('nav-summary').count()).toBe(1);
    expect(await page.getByTestId('nav-platform').count()).toBe(0);
    expect(await page.locator('nav').innerText()).not.toContain('Platform');
    await page.goto(`${base}/platform`);
    const forbidden = page.getByTestId('platform-forbidden');
    await forbidden.waitFor();
    expect(await forbidden.innerText()).toBe('Hanya admin yang dapat melihat kesehatan platform.');
    expect(await forbidden.getAttribute('role')).toBe('alert');
    expect(await page.getByTestId('platform-node').count()).toBe(0);
    await page.getByTestId('lang-toggle').click();
    expect(await forbidden.innerText()).toBe('Only admins can see the platform health.');
    expect(await axeSerious(page)).toEqual([]);
    await page.waitForTimeout(5_500);
    expect(reads).toEqual([]);
    // and the API refuses the viewer anyway
    expect((await b.api('GET', '/api/v1/cluster', { key: viewer })).status).toBe(403);
    await context.close();
  });

  it('serves the page at /platform under the console\'s CSP', async () => {
    const res = await fetch(`${base}/platform`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await res.text()).toContain('<div id="app">');
  });
});
