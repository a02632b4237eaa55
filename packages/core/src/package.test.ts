import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as application from '@berth/core';
import * as adapter from '@berth/core/adapter';
import { describe, expect, it } from 'vitest';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as {
  exports: Record<string, Record<string, string> | string>;
};

describe('the entry points', () => {
  it('map each source entry to the file tsc emits for it, with the source condition first', () => {
    const entries = Object.entries(manifest.exports).filter(([subpath]) => subpath !== './package.json');
    expect(entries.map(([subpath]) => subpath)).toStrictEqual(['.', './adapter']);
    for (const [, target] of entries) {
      if (typeof target === 'string') throw new Error('every entry has conditions');
      expect(Object.keys(target)).toStrictEqual(['@berth/source', 'types', 'module-sync', 'import', 'require']);
      const source = target['@berth/source'] as string;
      expect(existsSync(join(packageRoot, source)), source).toBe(true);
      expect(target.types).toBe(source.replace('./src/', './dist/').replace(/\.ts$/, '.d.ts'));
      expect(target.import).toBe(source.replace('./src/', './dist/').replace(/\.ts$/, '.js'));
      // Node 20.19+ and 22.12+ match module-sync for require() too; older ones reach the stub that explains.
      expect(target['module-sync']).toBe(target.import);
      expect(target.require).toBe('./dist/require.cjs');
    }
  });

  it('export no name from both entries: the application entry holds no adapter helper', () => {
    const shared = Object.keys(adapter).filter((name) => name in application);
    expect(shared).toStrictEqual([]);
    expect(Object.keys(application)).toEqual(expect.arrayContaining(['createBackend', 'isBerthError', 'withCache']));
    expect(Object.keys(adapter)).toEqual(
      expect.arrayContaining(['prepareQuery', 'parseUpdate', 'copyDocument', 'startOperation', 'checkExpectedVersion']),
    );
    expect('prepareQuery' in application).toBe(false);
  });
});
