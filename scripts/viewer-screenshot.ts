// Screenshot of the viewer for README: serves DIR, opens a run (or an
// experiment cell's run), segments one case and captures the page.
//   node --import tsx scripts/viewer-screenshot.ts DIR RUN CASE OUT.png [mode]
import { chromium } from 'playwright-core';
import { serve } from '../src/server/server.js';

const [dir, run, caseId, out, mode = 'difference'] = process.argv.slice(2);
if (!out) {
  console.error('usage: scripts/viewer-screenshot.ts DIR RUN CASE OUT.png [truth|prediction|difference|probability]');
  process.exit(2);
}
const s = await serve({ root: dir, port: 0 });
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--enable-unsafe-swiftshader'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  await page.goto(s.url);
  await page.waitForSelector('#runs li[data-i]');
  await page.locator('#runs li[data-i]', { hasText: run }).first().click();
  await page.waitForSelector(`#cases tr[data-case="${caseId}"]`);
  await page.locator(`#cases tr[data-case="${caseId}"]`).click();
  await page.waitForSelector('body[data-viewer="ready"]', { timeout: 120_000 });
  await page.locator('#mode').selectOption(mode);
  await page.locator('#opacity').evaluate((el) => {
    (el as HTMLInputElement).value = '0.8';
    el.dispatchEvent(new Event('input'));
  });
  await page.waitForTimeout(800);
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await s.close();
}
