import type { Backend } from '@berth/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasAnsi, runBerth } from '../fixtures/admin-cli.js';
import { type AdminPlace, adminPlace, type EngineName, openTestBackend } from '../fixtures/admin-engines.js';

describe.each<EngineName>(['sqlite', 'postgres', 'redis'])('berth explain on %s', { timeout: 60_000 }, (engine) => {
  let place: AdminPlace;
  let backend: Backend;
  const berth = (...args: string[]) => runBerth(args, place.cwd);

  beforeAll(async () => {
    place = await adminPlace(engine);
    backend = await openTestBackend(place.url);
    const orders = backend.repository('orders', {
      indexes: [
        { field: 'reference', type: 'string', unique: true },
        { field: 'placedAt', type: 'date' },
      ],
    });
    const many = Array.from({ length: 200 }, (_, n) => ({
      reference: `R${n}`,
      placedAt: new Date(n * 1000),
      total: n,
    }));
    await orders.insertMany(many);
  });
  afterAll(async () => {
    await backend?.close();
    await place?.cleanup();
  });

  it('names the index that serves an equality on an indexed field', async () => {
    const run = await berth('explain', place.url, 'orders', '{"reference":"R7"}');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(hasAnsi(run.stdout)).toBe(false);
    const [strategy, plan] = run.stdout.split('\n');
    expect(strategy).toMatch(/^index \S/);
    expect(plan).toMatch(/^plan: ./);
    const json = JSON.parse((await berth('explain', place.url, 'orders', '{"reference":"R7"}', '--json')).stdout);
    expect(json.strategy).toBe('index');
    expect(json.index).toEqual(strategy?.slice('index '.length));
  });

  it('says scan for a filter on a field no index covers', async () => {
    const run = await berth('explain', place.url, 'orders', '{"total":{"$gt":3}}', '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ strategy: 'scan' });
  });

  it('reads Dates written {"$date": ISO} and serves a range on a date index', async () => {
    const run = await berth(
      'explain',
      place.url,
      'orders',
      '{"placedAt":{"$gte":{"$date":"1970-01-01T00:01:00Z"}}}',
      '--json',
    );
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ strategy: 'index' });
  });

  it('refuses malformed JSON with exit 2 and where the mistake is', async () => {
    const run = await berth('explain', place.url, 'orders', '{"reference": }');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('the filter is not valid JSON: unexpected "}" at line 1, column 15 (position 14)');
    expect(run.stdout).toBe('');
  });

  it('refuses an invalid filter with the VALIDATION message and its path, exit 2', async () => {
    const run = await berth('explain', place.url, 'orders', '{"total":{"$gt":{"nested":1}}}');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^berth: invalid query \(at [^)]*total[^)]*\): /);
  });

  it('exits 1 for a collection that does not exist', async () => {
    const run = await berth('explain', place.url, 'Orders', '{}');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('"Orders" holds no documents and has no indexes');
  });
});
