import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteBackend } from '@berth/adapter-sqlite';
import { createCollector, type DocumentValue, instrument, type JobQueue } from '@berth/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDashboard, type Dashboard, type DashboardOptions } from './index.js';

const TOKEN = 'test-token-0123456789';
const SCRIPT = '<script>document.body.dataset.pwned = "yes"</script>';

let directory: string;
let backend: SqliteBackend;
let mails: JobQueue;
let deadId: string;

/** A dead job whose payload and error hold markup. */
async function deadJob(queue: JobQueue, payload: DocumentValue): Promise<string> {
  const { id } = await queue.enqueue(payload, { maxAttempts: 1 });
  const lease = await queue.dequeue();
  if (lease?.job.id !== id) throw new Error('the job was not the next one');
  await queue.fail(lease, new Error(`failed with ${SCRIPT}`));
  return id;
}

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'berth-dashboard-'));
  backend = new SqliteBackend({ filename: join(directory, 'app.db') });
  await backend.connect();
  mails = backend.queue('mails');
  deadId = await deadJob(mails, { to: 'zoë@example.com', note: SCRIPT });
  const notes = backend.repository<{ id: string; text: string; n: number }>('notes', {
    indexes: [{ field: 'n', type: 'number' }],
  });
  await notes.insert({ id: 'a', text: SCRIPT, n: 1 });
  await notes.insert({ id: 'b', text: 'plain', n: 2 });
});

afterAll(async () => {
  await backend.close();
  rmSync(directory, { recursive: true, force: true });
});

const servers: { server: Server; dashboard: Dashboard }[] = [];
afterEach(async () => {
  for (const { server, dashboard } of servers.splice(0)) {
    dashboard.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A dashboard on a loopback server; `get` and `post` go to it. */
async function serve(options: Partial<DashboardOptions> = {}) {
  const dashboard = createDashboard({ backend, ...options });
  const server = createServer(dashboard.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({ server, dashboard });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const base = `${origin}${options.basePath ?? ''}`;
  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { headers, redirect: 'manual' });
  const post = (path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      body: new URLSearchParams(form),
      headers: { origin, ...headers },
      redirect: 'manual',
    });
  return { origin, base, get, post, dashboard };
}

/** The CSRF token of a page's first action form. */
function csrfOf(page: string): string {
  const match = /name="csrf" value="([^"]+)"/.exec(page);
  if (match?.[1] === undefined) throw new Error(`no CSRF token on the page: ${page}`);
  return match[1];
}

/** Signs in with the token and returns the session cookie. */
async function signIn(get: (path: string) => Promise<Response>): Promise<string> {
  const response = await get(`/login?token=${TOKEN}`);
  expect(response.status).toBe(303);
  const cookie = response.headers.get('set-cookie') ?? '';
  expect(cookie).toMatch(/HttpOnly/);
  expect(cookie).toMatch(/SameSite=Strict/);
  expect(cookie).not.toContain(TOKEN);
  return cookie.split(';')[0] as string;
}

describe('the dashboard over HTTP, on SQLite', () => {
  it('shows the queues with their counts, and every page carries a strict CSP and no inline script', async () => {
    const { get } = await serve();
    const response = await get('/');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    const body = await response.text();
    expect(body).toMatch(/<a href="\/queues\/mails">mails<\/a>/);
    expect(body).toMatch(/data-queue="mails" data-state="dead"><a [^>]*>1<\/a>/);
    expect(body).not.toMatch(/<script>/);
    expect((await get('/assets/dashboard.js')).headers.get('content-type')).toMatch(/javascript/);
  });

  it('escapes stored markup in payloads, errors and documents', async () => {
    const { get } = await serve();
    const job = await (await get(`/queues/mails/jobs/${deadId}`)).text();
    expect(job).not.toContain(SCRIPT);
    expect(job).toContain('&lt;script&gt;');
    const list = await (await get('/queues/mails?state=dead')).text();
    expect(list).not.toContain(SCRIPT);
    expect(list).toContain(`failed with &lt;script&gt;`);
    const documents = await (await get('/collections/notes')).text();
    expect(documents).not.toContain(SCRIPT);
    expect(documents).toContain('&lt;script&gt;');
  });

  it('refuses every write without the token, and shows no buttons', async () => {
    const { get, post } = await serve({ token: TOKEN });
    const page = await (await get('/queues/mails?state=dead')).text();
    expect(page).not.toContain('Retry…');
    expect(page).toContain('read-only');
    expect((await get(`/queues/mails/jobs/${deadId}/retry`)).status).toBe(401);
    const login = await (await get('/login')).text();
    const response = await post(`/queues/mails/jobs/${deadId}/retry`, { csrf: csrfOf(login) });
    expect(response.status).toBe(401);
    expect((await mails.get(deadId))?.state).toBe('dead');
    expect((await get('/login?token=wrong')).status).toBe(401);
  });

  it('a dashboard with neither token nor authorize is read-only and says how to allow writes', async () => {
    const { get, post } = await serve();
    const response = await post(`/queues/mails/jobs/${deadId}/retry`, { csrf: 'x' });
    expect(response.status).toBe(403);
    expect(await response.text()).toMatch(/no token and no authorize/);
    expect((await get(`/queues/mails/jobs/${deadId}/retry`)).status).toBe(403);
  });

  it('retries a dead job after sign-in, confirmation and a CSRF token; refuses a forged origin and a missing token', async () => {
    const queue = backend.queue('retry');
    const id = await deadJob(queue, { n: 1 });
    const { get, post } = await serve({ token: TOKEN });
    const cookie = await signIn(get);
    const list = await (await get('/queues/retry?state=dead', { cookie })).text();
    expect(list).toContain(`/queues/retry/jobs/${id}/retry`);
    const confirmation = await (await get(`/queues/retry/jobs/${id}/retry`, { cookie })).text();
    expect(confirmation).toContain(`Put dead job ${id} back to waiting?`);
    const csrf = csrfOf(confirmation);
    expect((await post(`/queues/retry/jobs/${id}/retry`, {}, { cookie })).status).toBe(403);
    expect((await post(`/queues/retry/jobs/${id}/retry`, { csrf: 'forged' }, { cookie })).status).toBe(403);
    const crossSite = await post(
      `/queues/retry/jobs/${id}/retry`,
      { csrf },
      { cookie, origin: 'https://evil.example' },
    );
    expect(crossSite.status).toBe(403);
    const nullOrigin = await post(`/queues/retry/jobs/${id}/retry`, { csrf }, { cookie, origin: 'null' });
    expect(nullOrigin.status).toBe(403);
    const fetchSite = await post(
      `/queues/retry/jobs/${id}/retry`,
      { csrf },
      { cookie, 'sec-fetch-site': 'cross-site' },
    );
    expect(fetchSite.status).toBe(403);
    expect((await queue.get(id))?.state).toBe('dead');
    const done = await post(`/queues/retry/jobs/${id}/retry`, { csrf }, { cookie });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe(`/queues/retry/jobs/${id}?done=retried`);
    expect((await queue.get(id))?.state).toBe('waiting');
    const again = await post(`/queues/retry/jobs/${id}/retry`, { csrf }, { cookie });
    expect(again.status).toBe(409);
    expect(await again.text()).toMatch(/waiting/);
  });

  it('cancels a waiting job and retries every dead job with a bearer token', async () => {
    const queue = backend.queue('bulk');
    const dead = [await deadJob(queue, 1), await deadJob(queue, 2)];
    const { id: waiting } = await queue.enqueue('later', { delayMs: 60_000 });
    const { get, post } = await serve({ token: TOKEN });
    const authorization = `Bearer ${TOKEN}`;
    const confirmation = await (await get('/queues/bulk/retry-dead', { authorization })).text();
    expect(confirmation).toContain('Put all 2 dead jobs of bulk back to waiting?');
    const csrf = csrfOf(confirmation);
    expect((await post('/queues/bulk/retry-dead', { csrf }, { authorization })).status).toBe(303);
    for (const id of dead) expect((await queue.get(id))?.state).toBe('waiting');
    expect((await post(`/queues/bulk/jobs/${waiting}/cancel`, { csrf }, { authorization })).status).toBe(303);
    expect((await queue.get(waiting))?.state).toBe('cancelled');
  });

  it('purges finished jobs of one state older than a chosen age, after confirmation, and refuses other ages and states', async () => {
    const queue = backend.queue('purging');
    const old = new Date(Date.now() - 2 * 86_400_000);
    const job = (id: string, state: 'dead' | 'completed') => ({
      id,
      queue: 'exported',
      payload: { old: true },
      state,
      priority: 0,
      attempts: 1,
      maxAttempts: 1,
      runAt: old,
      dedupeKey: undefined,
      leaseMs: 30_000,
      errors: [],
      result: undefined,
      progress: undefined,
      timeoutMs: undefined,
      createdAt: old,
      updatedAt: old,
      finishedAt: old,
      leaseExpiresAt: undefined,
    });
    await queue.importJobs([job('old-dead', 'dead'), job('old-completed', 'completed')]);
    const recent = await deadJob(queue, 'recent');
    const { get, post } = await serve({ token: TOKEN });
    const authorization = `Bearer ${TOKEN}`;
    const list = await (await get('/queues/purging?state=dead', { authorization })).text();
    expect(list).toContain('href="/queues/purging/purge?state=dead&amp;older=1d"');
    const confirmation = await (await get('/queues/purging/purge?state=dead&older=1d', { authorization })).text();
    expect(confirmation).toContain('Remove the dead jobs of purging that finished more than a day ago?');
    const csrf = csrfOf(confirmation);
    for (const query of ['state=waiting&older=1d', 'state=dead&older=2d', 'state=dead', 'older=1d']) {
      expect((await post(`/queues/purging/purge?${query}`, { csrf }, { authorization })).status).toBe(404);
    }
    const done = await post('/queues/purging/purge?state=dead&older=1d', { csrf }, { authorization });
    expect(done.status).toBe(303);
    expect(await queue.get('old-dead')).toBeNull();
    expect((await queue.get('old-completed'))?.state).toBe('completed');
    expect((await queue.get(recent))?.state).toBe('dead');
    expect((await post('/queues/purging/purge?state=completed&older=1d', { csrf })).status).toBe(401);
    expect((await queue.get('old-completed'))?.state).toBe('completed');
  });

  it("asks the application's authorize hook, with the server's own request", async () => {
    const queue = backend.queue('hooked');
    const id = await deadJob(queue, 'x');
    const { get, post } = await serve({
      authorize: (request) =>
        'headers' in request && !(request.headers instanceof Headers) && request.headers['x-admin'] === 'yes',
    });
    const confirmation = await (await get(`/queues/hooked/jobs/${id}/retry`, { 'x-admin': 'yes' })).text();
    const csrf = csrfOf(confirmation);
    expect((await post(`/queues/hooked/jobs/${id}/retry`, { csrf })).status).toBe(401);
    expect((await post(`/queues/hooked/jobs/${id}/retry`, { csrf }, { 'x-admin': 'yes' })).status).toBe(303);
    expect((await queue.get(id))?.state).toBe('waiting');
  });

  it('read-only mode refuses writes even with the token', async () => {
    const { get, post } = await serve({ token: TOKEN, readOnly: true });
    const authorization = `Bearer ${TOKEN}`;
    expect((await get(`/queues/mails/jobs/${deadId}/retry`, { authorization })).status).toBe(403);
    expect((await post(`/queues/mails/jobs/${deadId}/retry`, { csrf: 'x' }, { authorization })).status).toBe(403);
    expect((await mails.get(deadId))?.state).toBe('dead');
  });

  it('filters documents with the filter language and shows what is wrong with a bad filter', async () => {
    const { get } = await serve();
    const filtered = await (await get(`/collections/notes?filter=${encodeURIComponent('{"n": {"$gt": 1}}')}`)).text();
    expect(filtered).toContain('plain');
    expect(filtered).not.toContain('&lt;script&gt;');
    const badJson = await (await get(`/collections/notes?filter=${encodeURIComponent('{"n":')}`)).text();
    expect(badJson).toMatch(/class="problem" role="alert">the filter is not JSON/);
    const badOperator = await (
      await get(`/collections/notes?filter=${encodeURIComponent('{"n": {"$where": "1"}}')}`)
    ).text();
    expect(badOperator).toMatch(/class="problem" role="alert">[^<]*\$where/);
    const array = await (await get(`/collections/notes?filter=${encodeURIComponent('[1]')}`)).text();
    expect(array).toContain('must be a JSON object');
    const collections = await (await get('/collections')).text();
    expect(collections).toMatch(/notes<\/a><\/th><td class="count">2<\/td>/);
    expect(collections).toContain('n (number)');
  });

  it('answers 404 for unknown collections, queues with bad names, bad states and jobs that do not exist', async () => {
    const { get } = await serve();
    expect((await get('/collections/nope')).status).toBe(404);
    expect((await get('/collections/..%2F..%2Fetc')).status).toBe(404);
    expect((await get('/queues/bad%20name')).status).toBe(404);
    expect((await get('/queues/mails?state=gone')).status).toBe(404);
    expect((await get('/queues/mails/jobs/missing')).status).toBe(404);
    expect((await get('/queues/mails?state=dead&cursor=garbage')).status).toBe(404);
    expect((await get('/%E0%A4%A')).status).toBe(400);
    expect((await fetch(`${(await serve()).base}/`, { method: 'DELETE' })).status).toBe(405);
  });

  it('streams the queue events as server-sent events: job changes and fresh counts', async () => {
    const queue = backend.queue('live');
    const { get } = await serve();
    const response = await get('/events?queue=live');
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const until = async (pattern: RegExp) => {
      const deadline = Date.now() + 10_000;
      while (!pattern.test(text)) {
        if (Date.now() > deadline) throw new Error(`the stream never matched ${pattern}: ${text}`);
        const { value } = await reader.read();
        text += new TextDecoder().decode(value);
      }
    };
    await until(/retry: 2000/);
    const { id } = await queue.enqueue({ live: true });
    await until(new RegExp(`event: job\\ndata: \\{"queue":"live","jobId":"${id}","type":"enqueued","state":"waiting"`));
    await until(/event: stats\ndata: \{"queue":"live","stats":\{"waiting":1,/);
    await reader.cancel();
    expect((await get('/events')).status).toBe(400);
    expect((await get('/events?queue=bad%20name')).status).toBe(400);
  });

  it('serves the fetch-style handler under a base path, and refuses a bad base path', async () => {
    const dashboard = createDashboard({ backend, basePath: '/admin/berth' });
    const response = await dashboard.fetch(new Request('http://localhost/admin/berth/queues/mails?state=dead'));
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('href="/admin/berth/queues/mails/jobs/');
    expect((await dashboard.fetch(new Request('http://localhost/elsewhere'))).status).toBe(404);
    expect(() => createDashboard({ backend, basePath: '/a b' })).toThrow(/basePath/);
    expect(() => createDashboard({ backend, basePath: 'relative' })).toThrow(/basePath/);
    dashboard.close();
  });

  it('hands requests outside its base path to next(), as Express middleware', async () => {
    const dashboard = createDashboard({ backend, basePath: '/berth' });
    const server = createServer((request, response) =>
      dashboard.handle(request, response, () => {
        response.writeHead(200, { 'content-type': 'text/plain' });
        response.end('the application');
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push({ server, dashboard });
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect(await (await fetch(`${origin}/home`)).text()).toBe('the application');
    expect((await fetch(`${origin}/berth/`)).status).toBe(200);
  });

  it('shows operation timings, slowest operations and index suggestions from a collector', async () => {
    const collector = createCollector();
    const instrumented = instrument(backend, collector.hooks);
    await instrumented.repository('notes').find({ where: { text: 'plain' } });
    const { get } = await serve({ backend: instrumented, collector });
    const body = await (await get('/operations')).text();
    expect(body).toMatch(/<td>notes<\/td><td>find<\/td>/);
    expect(body).toContain('text');
    expect(body).not.toContain('plain');
    await expect((await serve()).get('/operations').then((response) => response.status)).resolves.toBe(404);
  });
});
