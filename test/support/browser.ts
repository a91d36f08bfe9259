// Debian's chromium for the browser tests, driven by playwright-core: nothing downloads a browser. Playwright gives
// it a fresh, temporary --user-data-dir of its own; no network beyond what the page asks of the test's servers.
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
