import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { hasAnsi } from '../fixtures/admin-cli.js';
import { main } from '../main.js';

async function run(
  argv: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
  });
  stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString('utf8');
  });
  const code = await main(argv, { stdout, stderr, env });
  return { code, stdout: out, stderr: err };
}

describe('help of the admin commands', () => {
  it.each(['inspect', 'queue', 'explain', 'migrate'])(
    'berth %s --help shows its usage and an example',
    async (command) => {
      const { code, stdout } = await run([command, '--help']);
      expect(code).toBe(0);
      expect(stdout).toContain(`Usage: berth ${command} [options] <url>`);
      expect(stdout).toContain(`$ berth ${command} `);
    },
  );

  it('a missing URL is a usage error (exit 2) that points to --help', async () => {
    const { code, stderr } = await run(['inspect']);
    expect(code).toBe(2);
    expect(stderr).toContain("missing required argument 'url'");
    expect(stderr).toContain('--help');
  });

  it('berth queue without a queue name takes --json only', async () => {
    const { code, stderr } = await run(['queue', 'memory:', '--state', 'dead']);
    expect(code).toBe(2);
    expect(stderr).toContain('options other than --json need a queue name and an action');
    const listed = await run(['queue', 'memory:', '--json']);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([]);
  });

  it('a URL with no adapter is a usage error naming the schemes that work', async () => {
    const { code, stderr } = await run(['migrate', 'mysql://localhost/app']);
    expect(code).toBe(2);
    expect(stderr).toContain('no adapter handles "mysql:" URLs');
    expect(stderr).toContain('sqlite:./app.db');
  });
});

describe('colours', () => {
  it('are off when stdout is not a terminal, and on only when forced', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-cli-colours-'));
    try {
      const url = `file:${join(dir, 'data.json')}`;
      const plain = await run(['inspect', url]);
      expect(plain.code).toBe(0);
      expect(plain.stdout).toContain('health     ok');
      expect(hasAnsi(plain.stdout)).toBe(false);
      const forced = await run(['inspect', url], { FORCE_COLOR: '1' });
      expect(hasAnsi(forced.stdout)).toBe(true);
      const refused = await run(['inspect', url], { NO_COLOR: '1' });
      expect(hasAnsi(refused.stdout)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
