// The deployed stack in a real browser, through the edge over HTTPS: the SPA and the backend's Swagger UI
// work under the edge's Content-Security-Policy with no CSP violation, script error or console error.
// BROWSER=chromium|firefox picks the browser; tests/e2e/test_browser.py runs this file once per browser.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BASE, NAME, flood, launch, waitForText, withPage } from './browser.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const TIMEOUT = { timeout: 90_000 };
// After a burst the edge's API bucket is full again in 2 s (40 requests at 20 per second).
const REFILL_MS = 2_500;
const pause = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

async function openSpa(page) {
  const response = await page.goto(`${BASE}/`, { waitUntil: 'load' });
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-security-policy'], /script-src 'self'/);
  await page.waitForSelector('[data-testid=version]');
}

async function addItem(page, name, description) {
  await page.type('#item-name', name);
  if (description) await page.type('#item-description', description);
  await page.click('form button[type=submit]');
}

test('the SPA adds an item, and a reload still lists it', TIMEOUT, () => withPage(browser, 'add', async (page, problems) => {
  const name = `${NAME}-${Date.now()}`;
  await openSpa(page);
  await addItem(page, name, `added in ${NAME}`);
  await waitForText(page, '.items li', name);
  await waitForText(page, '.items li .item-description', `added in ${NAME}`);
  assert.equal(await page.$eval('#item-name', (e) => e.value), '', 'the form is cleared after adding');
  assert.deepEqual(await problems(), []);

  await page.reload({ waitUntil: 'load' });
  await waitForText(page, '.items li', name);
  assert.deepEqual(await problems(), []);
}));

test('the SPA says to wait when the edge rate-limits the API (429)', TIMEOUT, (t) => withPage(browser, '429', async (page, problems) => {
  await openSpa(page);
  const name = `${NAME}-limited`;
  // The edge lets a client burst 40 API requests, then 20 per second (edge_nginx_limit_api_*). A flood
  // from this process (20 requests in flight; the edge sees the same client address as the browser's,
  // Docker's gateway for a published port) keeps the bucket empty: a token comes back every 50 ms and
  // the next flood request takes it. The user's POST is refused with 429 unless it arrives in the moment
  // between the two; then the item is added, and the test tries again.
  let alert = '';
  let attempt = 0;
  for (; attempt < 5 && !alert.startsWith('Too many requests'); attempt += 1) {
    if (!(await page.$eval('#item-name', (e) => e.value))) await page.type('#item-name', name);
    const flooding = flood(`${BASE}/api/info`);
    await pause(300);
    await page.click('form button[type=submit]');
    // Either the alert shows or the form was cleared (the POST got through).
    await page.waitForFunction(() => document.querySelector('form [role=alert]')
      || document.querySelector('#item-name').value === '', { timeout: 10_000, polling: 100 });
    alert = await page.$eval('form', (f) => f.querySelector('[role=alert]')?.textContent ?? '');
    const statuses = await flooding.stop();
    assert.ok(statuses.includes(429), `the flood was not limited: ${statuses.length} requests`);
    await pause(REFILL_MS);
  }
  t.diagnostic(`POSTs until one was refused: ${attempt}`);
  assert.equal(alert, 'Too many requests: please wait 1 s and try again.');
  assert.equal(await page.$eval('#item-name', (e) => e.value), name, 'the input is kept');
  // Chromium logs the refused POST as a console error; that is expected here, nothing else is.
  const unexpected = (await problems()).filter((p) => !/status of 429/.test(p));
  assert.deepEqual(unexpected, []);
}));

test('Swagger UI runs "Try it out" through the edge', TIMEOUT, () => withPage(browser, 'swagger', async (page, problems) => {
  const response = await page.goto(`${BASE}/api/docs/`, { waitUntil: 'load' });
  assert.equal(page.url(), `${BASE}/api/docs/swagger-ui/index.html`);
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-security-policy'], /script-src 'self'/);
  await waitForText(page, '.opblock-summary-path', '/api/items/{id}', 20_000);
  const paths = await page.$$eval('.opblock-summary-path', (list) => list.map((e) => e.textContent));
  assert.ok(paths.includes('/api/info'), paths.join(', '));
  // "Try it out" calls the API from the page, through the edge (the document's server is "/").
  const info = await page.waitForSelector('.opblock-get:has([data-path="/api/info"]) .opblock-summary');
  await info.click();
  await (await page.waitForSelector('.opblock-get.is-open button.try-out__btn')).click();
  await (await page.waitForSelector('.opblock-get.is-open button.execute')).click();
  const status = await page.waitForSelector('.live-responses-table tbody td.response-col_status', { timeout: 15_000 });
  assert.equal((await status.evaluate((e) => e.textContent)).trim(), '200');
  assert.deepEqual(await problems(), []);
}));

test('the watch itself sees a CSP violation and a script error', TIMEOUT, () => withPage(browser, 'watch', async (page, problems) => {
  await openSpa(page);
  // An inline script is what the edge's CSP forbids; a throwing timer is an uncaught error.
  await page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'window.inlineRan = true;';
    document.body.append(script);
    setTimeout(() => { throw new Error('deliberate'); });
  });
  await page.waitForFunction(() => window.__problems.length >= 2, { timeout: 5_000, polling: 100 });
  const seen = (await problems()).join('\n');
  assert.match(seen, /CSP script-src(-elem)? blocked inline/);
  assert.match(seen, /deliberate/);
  assert.equal(await page.evaluate(() => window.inlineRan), undefined, 'the inline script did not run');
}));
