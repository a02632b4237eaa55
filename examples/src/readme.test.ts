import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';

describe('README example', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('is the same code as src/readme-example.ts', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const block = /^```ts\n([\s\S]*?)^```$/m.exec(readme)?.[1];
    const example = await readFile(new URL('./readme-example.ts', import.meta.url), 'utf8');
    expect(block).toBe(example);
  });

  it('runs', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    await import('./readme-example.js');
    const [items, nextCursor] = log.mock.calls[0] ?? [];
    expect(items).toMatchObject([
      { name: 'Merlin', level: 12, gold: 200 },
      { name: 'Tux', level: 10, gold: 150 },
    ]);
    expect(nextCursor).toBeNull();
  });
});
