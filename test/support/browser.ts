// Debian's chromium for the browser tests, driven by playwright-core: nothing downloads a browser. Playwright gives
// it a fresh, temporary --user-data-dir of its own; no network beyond what the page asks of the test's servers.
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Signs the console at `base` in with an API key (the form's secondary way in) and waits for the signed-in page. */
export async function signInWithKey(page: Page, base: string, key: string): Promise<void> {
  await page.goto(`${base}/`);
  await page.getByTestId('login-use-key').click();
  await page.getByTestId('login-key').fill(key);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('nav-map').waitFor();
}
