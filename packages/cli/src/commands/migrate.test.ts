import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runBerth } from '../fixtures/admin-cli.js';
import { adminPlace, type EngineName, openTestBackend } from '../fixtures/admin-engines.js';

/** Raw better-sqlite3 databases this file opened (see below). */
const heldDatabases: Database.Database[] = [];

describe.each<EngineName>(['sqlite', 'postgres'])('berth migrate on %s', { timeout: 60_000 }, (engine) => {
  it('migrates a database that refused to open with migrate=false, then finds it current', async () => {
    const place = await adminPlace(engine);
    try {
      const refused = await runBerth(['inspect', place.url], place.cwd);
      expect(refused.code).toBe(5);
      expect(refused.stderr).toContain('berth migrate');

      const first = await runBerth(['migrate', place.url], place.cwd);
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      const applied = first.stdout.trim().split('\n');
      expect(applied.length).toBeGreaterThan(0);
      for (const line of applied) expect(line).toMatch(/^applied \d+ \S/);

      const second = await runBerth(['migrate', place.url, '--json'], place.cwd);
      expect(second.code).toBe(0);
      expect(JSON.parse(second.stdout)).toEqual({ applied: [] });
      expect((await runBerth(['migrate', place.url], place.cwd)).stdout).toBe('schema is current: nothing to apply\n');

      expect((await runBerth(['inspect', place.url], place.cwd)).code).toBe(0);
      // And the application, configured not to migrate, now opens it.
      const backend = await openTestBackend(`${place.url}${place.url.includes('?') ? '&' : '?'}migrate=false`);
      await backend.close();
    } finally {
      await place.cleanup();
    }
  });
});

describe('berth migrate on redis', { timeout: 60_000 }, () => {
  it('has nothing to apply', async () => {
    const place = await adminPlace('redis');
    try {
      const run = await runBerth(['migrate', place.url, '--json'], place.cwd);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual({ applied: [] });
    } finally {
      await place.cleanup();
    }
  });
});

describe('a database migrated by a newer Berth', { timeout: 60_000 }, () => {
  it('exits 5 saying to upgrade, from inspect and from migrate', async () => {
    const place = await adminPlace('sqlite');
    try {
      expect((await runBerth(['migrate', place.url], place.cwd)).code).toBe(0);
      // What a later release would have recorded: a version this one does not know.
      const database = new Database(place.url.slice('sqlite:'.length));
      // Kept for the life of the process: from Node 24.19 on, V8 collecting a raw better-sqlite3
      // object aborts it (packages/adapter-sqlite/src/sqlite-node24-workaround.ts); exec makes no statement.
      heldDatabases.push(database);
      database.exec(
        `INSERT INTO _berth_migrations (version, name, applied_at) VALUES (999, 'from the future', ${Date.now()})`,
      );
      database.close();
      for (const command of ['inspect', 'migrate']) {
        const run = await runBerth([command, place.url], place.cwd);
        expect(run.code, command).toBe(5);
        expect(run.stderr).toContain('upgrade Berth');
        expect(run.stderr).not.toContain('run: berth migrate');
      }
    } finally {
      await place.cleanup();
    }
  });
});
