// Launches Debian's browsers through puppeteer-core (no browser download) and opens pages that record
// every Content-Security-Policy violation, uncaught error and console error, with a screenshot when a
// test fails.
import { mkdir } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

export const BASE = process.env.BASE_URL || 'https://localhost';
const ARTIFACTS = process.env.ARTIFACTS || '.cache/reports/browser';

// Chromium over CDP, Firefox over WebDriver BiDi. The local stack's certificate is self-signed (TLS
// itself is tested against the edge by testssl.sh); the closed network refuses Google's and Mozilla's
// background services, so they stay off.
const BROWSERS = {
  chromium: {
    browser: 'chrome',
    executablePath: '/usr/bin/chromium',
    // The sandbox needs user namespaces that a root CI container does not give.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-default-apps'],
  },
  firefox: {
    browser: 'firefox',
    executablePath: '/usr/bin/firefox-esr',
    extraPrefsFirefox: { 'network.captive-portal-service.enabled': false, 'network.connectivity-service.enabled': false },
  },
};

export const NAME = process.env.BROWSER || 'chromium';

export function launch() {
  const options = BROWSERS[NAME];
  if (!options) throw new Error(`BROWSER must be one of ${Object.keys(BROWSERS).join(', ')}, not ${NAME}`);
  return puppeteer.launch({ ...options, headless: true, acceptInsecureCerts: true, protocolTimeout: 60_000 });
}

// Runs in the page before any of its scripts, on every navigation.
const WATCH = () => {
  window.__problems = [];
  document.addEventListener('securitypolicyviolation', (e) => window.__problems.push(
    `CSP ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} in ${e.sourceFile}`));
  window.addEventListener('error', (e) => window.__problems.push(`error: ${e.message}`));
};

// Opens a page, runs body(page, problems) and closes it; a failure leaves a screenshot behind.
// problems() returns what the page recorded since the last navigation plus all console errors.
export async function withPage(browser, title, body) {
  // A context of its own per test: no cache, cookies or storage carried over.
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  const logged = [];
  page.on('console', (m) => { if (m.type() === 'error') logged.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => logged.push(`pageerror: ${e.message}`));
  await page.evaluateOnNewDocument(WATCH);
  const problems = async () => [...(await page.evaluate(() => window.__problems)), ...logged];
  try {
    await body(page, problems);
  } catch (error) {
    await mkdir(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, `${NAME}-${title.replace(/\W+/g, '-')}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    error.message += `\n(screenshot: ${file}; page problems: ${JSON.stringify(await problems().catch(() => []))})`;
    throw error;
  } finally {
    await context.close();
  }
}

// Waits until an element matching selector contains text.
export function waitForText(page, selector, text, timeout = 15_000) {
  return page.waitForFunction(
    (s, t) => [...document.querySelectorAll(s)].some((e) => e.textContent.includes(t)),
    { timeout, polling: 100 }, selector, text);
}

// Keeps `inFlight` GET requests to url in flight from this process (not the page: the page's own
// requests stop while its main thread handles a click, which lets a rate-limit token come back just
// then). Bounded in time and count; stop() ends it early and resolves to the statuses seen.
export function flood(url, { inFlight = 20, seconds = 10, max = 5_000 } = {}) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: inFlight, rejectUnauthorized: false });
  const until = Date.now() + seconds * 1000;
  const statuses = [];
  let stopped = false;
  const get = () => new Promise((resolve) => {
    https.get(url, { agent }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); })
      .on('error', () => resolve(0));
  });
  const loop = async () => {
    while (!stopped && Date.now() < until && statuses.length < max) statuses.push(await get());
  };
  const done = Promise.all(Array.from({ length: inFlight }, loop)).then(() => { agent.destroy(); return statuses; });
  return { stop: () => { stopped = true; return done; } };
}
