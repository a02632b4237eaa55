import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultCheckpointPath, emptyCheckpoint, readCheckpoint, redactUrl, writeCheckpoint } from './checkpoint.js';

describe('copy checkpoint', () => {
  it('redacts user information and secret query parameters from URLs', () => {
    expect(redactUrl('postgres://app:s3cret@db:5432/app?schema=x')).toBe('postgres://db:5432/app?schema=x');
    expect(redactUrl('redis://:pw@cache:6379/0?keyPrefix=a:')).toBe('redis://cache:6379/0?keyPrefix=a:');
    expect(redactUrl('postgres://db/app?password=hunter2&schema=s')).toBe(
      'postgres://db/app?password=redacted&schema=s',
    );
    expect(redactUrl('s3://bucket/key.json?region=eu-west-1&secretAccessKey=abc')).toBe(
      's3://bucket/key.json?region=eu-west-1&secretAccessKey=redacted',
    );
    expect(redactUrl('sqlite:./app.db')).toBe('sqlite:./app.db');
    expect(redactUrl('file:./data@home.json')).toBe('file:./data@home.json');
  });

  it('names the default checkpoint from both URLs without their credentials', () => {
    const path = defaultCheckpointPath('postgres://a:one@db/app', 'sqlite:./x.db');
    expect(path).toMatch(/^berth-copy-[0-9a-f]{12}\.json$/);
    expect(defaultCheckpointPath('postgres://a:two@db/app', 'sqlite:./x.db')).toBe(path);
    expect(defaultCheckpointPath('postgres://db/app', 'sqlite:./y.db')).not.toBe(path);
    expect(defaultCheckpointPath('sqlite:./x.db', 'postgres://db/app')).not.toBe(path);
  });

  it('writes atomically, reads back, and refuses a file that is not a checkpoint', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'berth-checkpoint-'));
    try {
      const path = join(directory, 'c.json');
      expect(await readCheckpoint(path)).toBeUndefined();
      const checkpoint = {
        ...emptyCheckpoint('sqlite:./a.db', 'redis://r'),
        collections: { users: { lastId: 'é😀', copied: 3, done: false } },
      };
      await writeCheckpoint(path, checkpoint);
      expect(await readCheckpoint(path)).toEqual(checkpoint);
      await writeFile(path, '{"format":"something else"}');
      await expect(readCheckpoint(path)).rejects.toMatchObject({
        exitCode: 2,
        message: `${path} is not a berth copy checkpoint`,
      });
      await writeFile(path, 'not json');
      await expect(readCheckpoint(path)).rejects.toMatchObject({ exitCode: 2 });
      expect(await readFile(path, 'utf8')).toBe('not json');
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
