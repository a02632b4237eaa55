import type { Backend } from '@berth/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBerth, startBerth } from '../fixtures/admin-cli.js';
import { type AdminPlace, adminPlace, openTestBackend } from '../fixtures/admin-engines.js';

describe('berth dashboard', { timeout: 60_000 }, () => {
  let place: AdminPlace;
  let backend: Backend;
  let deadId: string;

  beforeAll(async () => {
    place = await adminPlace('sqlite');
    backend = await openTestBackend(place.url);
    const mails = backend.queue('mails');
    const { id } = await mails.enqueue({ to: 'ada@example.com' }, { maxAttempts: 1 });
    const lease = await mails.dequeue();
    if (lease === null) throw new Error('no job to lease');
    await mails.fail(lease, new Error('mailbox full'));
    deadId = id;
  });
  afterAll(async () => {
    await backend?.close();
    await place?.cleanup();
  });

  /** Starts the dashboard and waits for the line that says where it listens. */
  async function start(...args: string[]) {
    const child = startBerth(['dashboard', place.url, '--port', '0', ...args], place.cwd);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const deadline = Date.now() + 30_000;
    while (!/berth dashboard on (http:\/\/\S+?)[ ;]/.test(stderr)) {
      if (Date.now() > deadline) throw new Error(`the dashboard never started: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    const origin = (/berth dashboard on (http:\/\/\S+?)[ ;]/.exec(stderr) as RegExpExecArray)[1] as string;
    return { child, exited, origin, stderr: () => stderr };
  }

  it('serves the pages on loopback, prints a sign-in link that allows a retry, and exits 0 on SIGTERM', async () => {
    const dashboard = await start();
    expect(dashboard.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const queues = await fetch(`${dashboard.origin}/`);
    expect(queues.status).toBe(200);
    expect(await queues.text()).toContain('href="/queues/mails"');
    const link = /sign in \(allows retry and cancel\): (\S+)/.exec(dashboard.stderr())?.[1];
    expect(link).toMatch(/\/login\?token=/);
    const signIn = await fetch(link as string, { redirect: 'manual' });
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const confirmation = await (
      await fetch(`${dashboard.origin}/queues/mails/jobs/${deadId}/retry`, { headers: { cookie } })
    ).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(confirmation)?.[1] as string;
    const retried = await fetch(`${dashboard.origin}/queues/mails/jobs/${deadId}/retry`, {
      method: 'POST',
      body: new URLSearchParams({ csrf }),
      headers: { cookie, origin: dashboard.origin },
      redirect: 'manual',
    });
    expect(retried.status).toBe(303);
    expect((await backend.queue('mails').get(deadId))?.state).toBe('waiting');
    dashboard.child.kill('SIGTERM');
    expect(await dashboard.exited).toBe(0);
  });

  it("streams the jobs another process changes (SQLite's events reach every process on the file)", async () => {
    const dashboard = await start('--read-only');
    const response = await fetch(`${dashboard.origin}/events?queue=elsewhere`);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const until = async (pattern: RegExp) => {
      const deadline = Date.now() + 20_000;
      while (!pattern.test(text)) {
        if (Date.now() > deadline) throw new Error(`the stream never matched ${pattern}: ${text}`);
        const { value } = await reader.read();
        text += new TextDecoder().decode(value);
      }
    };
    await until(/retry: 2000/);
    const elsewhere = backend.queue('elsewhere');
    const { id } = await elsewhere.enqueue({ from: 'the test process' });
    await until(new RegExp(`"jobId":"${id}","type":"enqueued","state":"waiting"`));
    const lease = await elsewhere.dequeue();
    if (lease === null) throw new Error('no job to lease');
    await elsewhere.complete(lease);
    await until(new RegExp(`"jobId":"${id}","type":"completed","state":"completed"`));
    await until(/event: stats\ndata: \{"queue":"elsewhere","stats":\{"waiting":0,"active":0,"completed":1,/);
    await reader.cancel();
    dashboard.child.kill('SIGTERM');
    expect(await dashboard.exited).toBe(0);
  });

  it('--read-only prints no sign-in link and refuses writes; a token given is not echoed', async () => {
    const readOnly = await start('--read-only');
    expect(readOnly.stderr()).toContain('(read-only)');
    expect(readOnly.stderr()).not.toContain('token=');
    expect((await fetch(`${readOnly.origin}/queues/mails/jobs/${deadId}/cancel`)).status).toBe(403);
    readOnly.child.kill('SIGINT');
    expect(await readOnly.exited).toBe(0);
    const given = await start('--token', 'my-secret-token-value');
    expect(given.stderr()).not.toContain('my-secret-token-value');
    expect(given.stderr()).toContain('sign in with the --token value');
    given.child.kill('SIGTERM');
    expect(await given.exited).toBe(0);
  });

  it('refuses to listen beyond loopback without --token or --read-only, and a bad port, as usage errors', async () => {
    const open = await runBerth(['dashboard', place.url, '--host', '0.0.0.0'], place.cwd);
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(/--host 0\.0\.0\.0 reaches beyond this machine: give --token/);
    const port = await runBerth(['dashboard', place.url, '--port', '70000'], place.cwd);
    expect(port.code).toBe(2);
    expect(port.stderr).toMatch(/--port must be a port number/);
    const help = await runBerth(['dashboard', '--help'], place.cwd);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--queue-url');
  });
});
