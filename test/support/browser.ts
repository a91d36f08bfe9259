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

/** The share of a PNG's pixels in `rgb` (±2), decoded by the browser in a blank page of its own. */
export async function shareOfColour(page: Page, png: Buffer, rgb: [number, number, number]): Promise<number> {
  const blank = await page.context().newPage();
  try {
    return await blank.evaluate(async ({ b64, rgb }) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      const ctx = canvas.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i]! - rgb[0]) <= 2 && Math.abs(d[i + 1]! - rgb[1]) <= 2 && Math.abs(d[i + 2]! - rgb[2]) <= 2) n++;
      return n / (d.length / 4);
    }, { b64: png.toString('base64'), rgb });
  } finally {
    await blank.close();
  }
}

/** Signs the console at `base` in with an API key (the form's secondary way in) and waits for the signed-in page. */
export async function signInWithKey(page: Page, base: string, key: string): Promise<void> {
  await page.goto(`${base}/`);
  await page.getByTestId('login-use-key').click();
  await page.getByTestId('login-key').fill(key);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('nav-map').waitFor();
}
