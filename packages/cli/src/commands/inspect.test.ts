import type { Backend } from '@berth/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasAnsi, runBerth } from '../fixtures/admin-cli.js';
import { type AdminPlace, adminPlace, type EngineName, openTestBackend } from '../fixtures/admin-engines.js';

interface InspectJson {
  kind: string;
  health: { ok: boolean; latencyMs: number };
  collections: { name: string; count: number; indexes: unknown[]; approximateBytes: number | null }[];
  queues: { name: string; stats: Record<string, number> }[];
}

describe.each<EngineName>(['sqlite', 'postgres', 'redis'])('berth inspect on %s', { timeout: 60_000 }, (engine) => {
  let place: AdminPlace;
  let backend: Backend;

  beforeAll(async () => {
    place = await adminPlace(engine);
    backend = await openTestBackend(place.url);
    const users = backend.repository('users', {
      indexes: [
        { field: 'email', type: 'string', unique: true },
        {
          fields: [
            { field: 'team', type: 'string' },
            { field: 'joined', type: 'date' },
          ],
        },
      ],
    });
    await users.insertMany([
      { email: 'ada@example.com', team: 'Zoë', joined: new Date(0), big: 2 ** 53 + 2, tiny: 5e-324 },
      { email: 'ADA@example.com', team: 'zoe', joined: new Date(1), astral: '𝄞'.repeat(1000) },
      { email: 'ada@example.com ', team: 'Zoë', joined: new Date(2), nested: { a: { b: { c: [1, [2, [3]]] } } } },
    ]);
    // Sorted by code point: 'Zebra' before 'users' (a locale sort would put it last).
    await backend.repository('Zebra').insert({ id: 'x', value: null });
    await backend.queue('mails').enqueue({ to: 'ada@example.com' });
  });
  afterAll(async () => {
    await backend?.close();
    await place?.cleanup();
  });

  it('prints health, collections with counts, declared indexes and sizes, and queues with their counts', async () => {
    const run = await runBerth(['inspect', place.url], place.cwd);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(hasAnsi(run.stdout)).toBe(false);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe(`backend    ${engine}`);
    expect(lines[1]).toMatch(/^health {5}ok \(\d+\.\d ms\)$/);
    expect(run.stdout).toMatch(/^COLLECTION\s+DOCUMENTS\s+SIZE\s+INDEXES$/m);
    expect(run.stdout).toMatch(/^Zebra\s+1\s+(unknown|\d+(\.\d)? [KMG]?i?B)\s+-$/m);
    expect(run.stdout).toMatch(
      /^users\s+3\s+(unknown|\d+(\.\d)? [KMG]?i?B)\s+email \(string, unique\), team\+joined \(string, date\)$/m,
    );
    expect(run.stdout).toMatch(/^mails\s+1\s+0\s+0\s+0\s+0$/m);
  });

  it('prints one JSON object with the same facts', async () => {
    const run = await runBerth(['inspect', place.url, '--json'], place.cwd);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as InspectJson;
    expect(report.kind).toBe(engine);
    expect(report.health.ok).toBe(true);
    expect(report.collections.map(({ name, count }) => [name, count])).toEqual([
      ['Zebra', 1],
      ['users', 3],
    ]);
    expect(report.collections[1]?.indexes).toEqual([
      { field: 'email', type: 'string', unique: true },
      {
        fields: [
          { field: 'team', type: 'string' },
          { field: 'joined', type: 'date' },
        ],
      },
    ]);
    for (const { approximateBytes } of report.collections) {
      expect(approximateBytes === null || (Number.isSafeInteger(approximateBytes) && approximateBytes > 0)).toBe(true);
    }
    expect(report.queues).toEqual([
      { name: 'mails', stats: { waiting: 1, active: 0, completed: 0, dead: 0, cancelled: 0 } },
    ]);
  });
});

describe('berth inspect on a fresh database', { timeout: 60_000 }, () => {
  it('does not migrate it: exit 5, saying to run berth migrate', async () => {
    const place = await adminPlace('postgres');
    try {
      const run = await runBerth(['inspect', place.url], place.cwd);
      expect(run.code).toBe(5);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain('pending');
      expect(run.stderr).toContain(`run: berth migrate '${place.url}'`);
      // Still unmigrated: inspecting changed nothing.
      expect((await runBerth(['inspect', place.url], place.cwd)).code).toBe(5);
    } finally {
      await place.cleanup();
    }
  });

  it('never prints the password of the URL it was given, not even in the berth migrate hint', async () => {
    const place = await adminPlace('postgres');
    try {
      // Trust authentication here: the password is sent and ignored.
      const withPassword = new URL(place.url);
      if (withPassword.username === '') withPassword.username = 'postgres';
      withPassword.password = 's3cret-pw';
      const run = await runBerth(['inspect', withPassword.toString()], place.cwd);
      expect(run.code).toBe(5);
      expect(run.stderr).toContain('run: berth migrate <url>');
      expect(run.stdout + run.stderr).not.toContain('s3cret-pw');
    } finally {
      await place.cleanup();
    }
  });

  it('reports an unreachable engine with exit 3', async () => {
    const run = await runBerth(['inspect', 'postgres://postgres@127.0.0.1:1/test'], process.cwd());
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^berth: /);
  });
});
