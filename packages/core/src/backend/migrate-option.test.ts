import { describe, expect, it } from 'vitest';
import { isBerthError } from '../errors.js';
import { validationPath } from '../testing/validation-path.js';
import { checkMigrateOption, migrateUrlParameter, newerSchemaError, pendingMigrationsError } from './migrate-option.js';

describe('the migrate option', () => {
  it('reads ?migrate= as true (also when absent) or false, and refuses anything else on the url path', () => {
    const read = (query: string) => migrateUrlParameter(new URLSearchParams(query));
    expect(read('')).toBe(true);
    expect(read('migrate=true')).toBe(true);
    expect(read('migrate=false')).toBe(false);
    for (const query of ['migrate=', 'migrate=0', 'migrate=False', 'migrate=no']) {
      expect(
        validationPath(() => read(query)),
        query,
      ).toBe('url');
    }
  });

  it('never quotes the URL in its error, which may carry a password', () => {
    const url = 'postgres://app:s3cret@db/app?migrate=maybe';
    const parameters = new URLSearchParams(url.split('?')[1]);
    expect(() => migrateUrlParameter(parameters)).toThrow(
      'the URL\'s migrate parameter is "maybe"; it must be true or false',
    );
  });

  it('checks the config option: undefined or a boolean, else VALIDATION at migrate', () => {
    expect(checkMigrateOption(undefined)).toBe(true);
    expect(checkMigrateOption(true)).toBe(true);
    expect(checkMigrateOption(false)).toBe(false);
    for (const value of ['false', 0, null]) expect(validationPath(() => checkMigrateOption(value))).toBe('migrate');
  });

  it('builds SCHEMA errors that say how many migrations are pending and what to run, or to upgrade', () => {
    const pending = pendingMigrationsError('sqlite:./a.db', ['3 health probe', '4 job progress']);
    expect(isBerthError(pending, 'SCHEMA')).toBe(true);
    expect(pending.retryable).toBe(false);
    expect(pending.message).toContain('2 schema migrations are pending (3 health probe, 4 job progress)');
    expect(pending.message).toContain('berth migrate <url>');
    expect(pendingMigrationsError('x', ['1 initial']).message).toContain('1 schema migration is pending');
    // The list, and whether no migration was ever applied, for tools that must not parse the message.
    expect(pending.pendingMigrations).toEqual(['3 health probe', '4 job progress']);
    expect(pending.schemaMissing).toBe(false);
    expect(pendingMigrationsError('x', ['1 initial'], { noneApplied: true }).schemaMissing).toBe(true);
    const newer = newerSchemaError('postgres://db/app', 9, 7);
    expect(isBerthError(newer, 'SCHEMA')).toBe(true);
    expect(newer.message).toMatch(/version 9, newer than .* \(7\); upgrade Berth/);
    expect(newer.pendingMigrations).toBeUndefined();
  });
});
