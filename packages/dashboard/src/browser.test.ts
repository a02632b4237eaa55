/**
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core): live updates, retry through the confirmation step,
 * the document filter, escaping, refused actions, and the screenshots in
 * the README (written to packages/dashboard/screenshots when
 * UPDATE_SCREENSHOTS=1, to a temporary folder otherwise).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteBackend } from '@berth/adapter-sqlite';
import {
  type Collector,
  createCollector,
  type DocumentValue,
  instrument,
  type JobQueue,
  type Worker,
} from '@berth/core';
import { setSchedule } from '@berth/scheduler';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboard, type Dashboard } from './index.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TOKEN = 'browser-test-token-0123456789';
const SCRIPT = '<script>document.body.dataset.pwned = "yes"</script>';
const SCREENSHOTS =
  process.env.UPDATE_SCREENSHOTS === '1'
    ? join(import.meta.dirname, '..', 'screenshots')
    : mkdtempSync(join(tmpdir(), 'berth-dashboard-shots-'));

let directory: string;
let backend: SqliteBackend;
let collector: Collector;
let dashboard: Dashboard;
let server: Server;
let base: string;
let browser: Browser;
let mails: JobQueue;
const dead: string[] = [];
const workers: Worker[] = [];

async function deadJob(queue: JobQueue, payload: DocumentValue, message: string): Promise<string> {
  const { id } = await queue.enqueue(payload, { maxAttempts: 1 });
  const lease = await queue.dequeue();
  if (lease?.job.id !== id) throw new Error('the job was not the next one');
  await queue.fail(lease, new Error(message));
  return id;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's (apt-get install chromium) or set CHROMIUM_PATH; .ci/run installs it`,
    );
  }
  mkdirSync(SCREENSHOTS, { recursive: true });
  directory = mkdtempSync(join(tmpdir(), 'berth-dashboard-browser-'));
  backend = new SqliteBackend({ filename: join(directory, 'app.db') });
  await backend.connect();
  collector = createCollector();
  const instrumented = instrument(backend, collector.hooks);
  mails = instrumented.queue('mails');
  dead.push(await deadJob(mails, { to: 'ada@example.com', note: SCRIPT }, `SMTP 550: mailbox unavailable ${SCRIPT}`));
  dead.push(await deadJob(mails, { to: 'zoë@example.com' }, 'SMTP 421: try again later'));
  dead.push(await deadJob(mails, { to: 'grace@example.com' }, 'timeout after 30000 ms'));
  await mails.enqueue({ to: 'later@example.com' }, { delayMs: 3_600_000 });
  await instrumented.queue('thumbnails').enqueue({ image: 'cat.png' });
  await setSchedule(instrumented.queue('thumbnails'), {
    name: 'nightly',
    cron: '0 3 * * *',
    timezone: 'Europe/Paris',
    payload: { all: true },
  });
  await setSchedule(mails, { name: 'digest', everyMs: 3_600_000, payload: null, paused: true });
  const orders = instrumented.repository<{ id: string; customer: string; total: number; note: string }>('orders', {
    indexes: [{ field: 'customer', type: 'string' }],
  });
  for (let n = 1; n <= 30; n += 1) {
    await orders.insert({
      id: `order-${String(n).padStart(2, '0')}`,
      customer: `customer-${n % 4}`,
      total: n * 12.5,
      note: n === 7 ? SCRIPT : 'ok',
    });
  }
  await orders.find({ where: { total: { $gt: 100 } }, orderBy: ['total'] });
  await orders.find({ where: { customer: 'customer-1' } });
  dashboard = createDashboard({ backend: instrumented, token: TOKEN, collector, title: 'Berth · shop' });
  server = createServer(dashboard.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 60_000);

afterAll(async () => {
  await Promise.all(workers.map((worker) => worker.close()));
  await browser?.close();
  dashboard?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await backend?.close();
  rmSync(directory, { recursive: true, force: true });
  if (process.env.UPDATE_SCREENSHOTS !== '1') rmSync(SCREENSHOTS, { recursive: true, force: true });
});

/** A page in a fresh browser context, signed in with the token when `signedIn`. */
async function open(signedIn: boolean, viewport = { width: 1200, height: 800 }): Promise<Page> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  if (signedIn) {
    await page.goto(`${base}/login?token=${TOKEN}`);
    expect(await page.locator('.notice').textContent()).toContain('Signed in');
  }
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

describe('the dashboard in headless Chromium', { timeout: 60_000 }, () => {
  it('retries a dead job through the confirmation step and shows it go to waiting, then completed, live', async () => {
    const page = await open(true);
    await page.goto(base);
    await expect.poll(() => page.getAttribute('body', 'data-live')).toBe('on');
    expect(await page.locator('td.count[data-queue="mails"][data-state="dead"]').textContent()).toBe('3');
    const nightly = await page.locator('tr', { hasText: 'nightly' }).locator('time').first().getAttribute('datetime');
    expect(new Date(nightly as string).getTime()).toBeGreaterThan(Date.now());
    await shot(page, 'queues');
    await page.click('a[href="/queues/mails"]');
    expect(await page.locator('h1').textContent()).toBe('Queue mails');
    await shot(page, 'queue');
    const target = dead[1] as string;
    await page.click(`tr[data-job="${target}"] a.button`);
    expect(await page.locator('main p').first().textContent()).toBe(`Put dead job ${target} back to waiting?`);
    await shot(page, 'confirm');
    await page.click('form.action button');
    await page.waitForURL(`${base}/queues/mails/jobs/${target}?done=retried`);
    expect(await page.locator('dd .state').textContent()).toBe('waiting');
    await expect.poll(() => page.getAttribute('body', 'data-live')).toBe('on');
    // No reload from here on: the marker would be gone.
    // Page code is written as strings: this file is type-checked without the DOM's types.
    await page.evaluate('window.marker = 1');
    const seen: string[] = [];
    await page.exposeFunction('reportState', (state: string) => seen.push(state));
    await page.evaluate(`{
      const state = document.querySelector('dd .state');
      new MutationObserver(() => window.reportState(state.textContent)).observe(state, {
        childList: true,
        characterData: true,
        subtree: true,
      });
    }`);
    workers.push(
      mails.work(
        async (job) => {
          await new Promise((resolve) => setTimeout(resolve, 300));
          return { sent: job.id };
        },
        { pollIntervalMs: 50 },
      ),
    );
    await expect.poll(() => page.locator('dd .state').textContent(), { timeout: 10_000 }).toBe('completed');
    expect(seen).toEqual(['active', 'completed']);
    expect(await page.evaluate('window.marker')).toBe(1);
    await page.goto(base);
    expect(await page.locator('td.count[data-queue="mails"][data-state="dead"]').textContent()).toBe('2');
    expect(await page.locator('td.count[data-queue="mails"][data-state="completed"]').textContent()).toBe('1');
    await page.context().close();
  });

  it('shows a stored <script> in a payload and an error as text, never running it', async () => {
    const page = await open(true);
    await page.goto(`${base}/queues/mails/jobs/${dead[0]}`);
    expect(await page.locator('pre.json').first().textContent()).toContain(SCRIPT.replaceAll('"', '\\"'));
    expect(await page.locator('td.error').textContent()).toContain(SCRIPT);
    expect(await page.evaluate('document.body.dataset.pwned')).toBeUndefined();
    expect(await page.locator('script').count()).toBe(1);
    await shot(page, 'job');
    await page.goto(`${base}/collections/orders?filter=${encodeURIComponent('{"id": "order-07"}')}`);
    await page.click('details summary');
    expect(await page.locator('pre.json').textContent()).toContain(SCRIPT.replaceAll('"', '\\"'));
    expect(await page.evaluate('document.body.dataset.pwned')).toBeUndefined();
    await page.context().close();
  });

  it('filters documents with the filter box, and shows the error of a bad filter', async () => {
    const page = await open(false);
    await page.goto(`${base}/collections`);
    expect(await page.locator('td.count').first().textContent()).toBe('30');
    await shot(page, 'collections');
    await page.click('a[href="/collections/orders"]');
    expect(await page.locator('tbody tr').count()).toBe(25);
    expect(await page.locator('a[rel="next"]').count()).toBe(1);
    await page.fill('#filter', '{"customer": "customer-1", "total": {"$gte": 100}}');
    await page.click('form.filter button');
    const ids = await page.locator('td.id').allTextContents();
    expect(ids).toEqual(['order-09', 'order-13', 'order-17', 'order-21', 'order-25', 'order-29']);
    await shot(page, 'collection');
    await page.fill('#filter', '{"total": {"$regex": "1"}}');
    await page.click('form.filter button');
    expect(await page.locator('[role="alert"]').textContent()).toMatch(/\$regex/);
    expect(await page.locator('#filter').inputValue()).toBe('{"total": {"$regex": "1"}}');
    await page.context().close();
  });

  it('refuses an action without the token, and shows no buttons', async () => {
    const page = await open(false);
    const target = dead[2] as string;
    await page.goto(`${base}/queues/mails?state=dead`);
    expect(await page.locator('a.button').count()).toBe(0);
    expect(await page.locator('header .mode').textContent()).toBe('read-only');
    const confirm = await page.goto(`${base}/queues/mails/jobs/${target}/retry`);
    expect(confirm?.status()).toBe(401);
    const status = await page.evaluate(
      (path) =>
        fetch(path, { method: 'POST', body: new URLSearchParams({ csrf: 'guess' }) }).then(
          (response) => response.status,
        ),
      `/queues/mails/jobs/${target}/retry`,
    );
    expect(status).toBe(403);
    expect((await mails.get(target))?.state).toBe('dead');
    await page.context().close();
  });

  it('shows operation timings and index suggestions, and reads well on a phone', async () => {
    const page = await open(false);
    await page.goto(`${base}/operations`);
    expect(await page.locator('h2').allTextContents()).toEqual(['Per operation', 'Slowest', 'Index suggestions']);
    expect(await page.locator('main').textContent()).toContain('orders');
    await shot(page, 'operations');
    await page.context().close();
    const phone = await open(true, { width: 390, height: 844 });
    await phone.goto(`${base}/queues/mails?state=dead`);
    const overflow = await phone.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(phone, 'phone-queue');
    await phone.context().close();
  });

  it('measures the page weight and the first render of the queues page', async () => {
    const page = await open(false);
    const bodies: Promise<number>[] = [];
    page.on('response', (response) => {
      // The live stream never ends: it is not part of the page's weight.
      if (!response.url().includes('/events?')) bodies.push(response.body().then((body) => body.byteLength));
    });
    await page.goto(base, { waitUntil: 'load' });
    const timing = await page.evaluate<{ paint: number; domContentLoaded: number; load: number }>(`(async () => {
      const paint = await new Promise((resolve) => {
        new PerformanceObserver((list) => {
          const entry = list.getEntriesByName('first-contentful-paint')[0];
          if (entry !== undefined) resolve(entry.startTime);
        }).observe({ type: 'paint', buffered: true });
        setTimeout(() => resolve(Number.NaN), 2000);
      });
      const navigation = performance.getEntriesByType('navigation')[0];
      return { paint, domContentLoaded: navigation.domContentLoadedEventEnd, load: navigation.loadEventEnd };
    })()`);
    const bytes = (await Promise.all(bodies)).reduce((sum, size) => sum + size, 0);
    console.log(
      `dashboard queues page: ${bytes} bytes in ${bodies.length} responses (HTML, CSS, script); first contentful paint ${timing.paint.toFixed(0)} ms, DOMContentLoaded ${timing.domContentLoaded.toFixed(0)} ms, load ${timing.load.toFixed(0)} ms`,
    );
    expect(bodies).toHaveLength(3);
    expect(bytes).toBeGreaterThan(1_000);
    expect(timing.domContentLoaded).toBeGreaterThan(0);
    await page.context().close();
  });
});
