import { describe, expect, it } from 'vitest';
import { withMigrateOff } from './admin-backend.js';

describe('withMigrateOff', () => {
  it('adds migrate=false to a URL with or without a query', () => {
    expect(withMigrateOff('sqlite:./app.db')).toBe('sqlite:./app.db?migrate=false');
    expect(withMigrateOff('memory:')).toBe('memory:?migrate=false');
    expect(withMigrateOff('redis://127.0.0.1:6379/2?keyPrefix=app:')).toBe(
      'redis://127.0.0.1:6379/2?keyPrefix=app:&migrate=false',
    );
    expect(withMigrateOff('postgres://u@h/db?schema=a&sslmode=require')).toBe(
      'postgres://u@h/db?schema=a&sslmode=require&migrate=false',
    );
  });

  it('replaces a migrate option the URL already has, and keeps a fragment last', () => {
    expect(withMigrateOff('sqlite:./app.db?migrate=true&busyTimeoutMs=10')).toBe(
      'sqlite:./app.db?busyTimeoutMs=10&migrate=false',
    );
    expect(withMigrateOff('file:./data.json?migrate')).toBe('file:./data.json?migrate=false');
    expect(withMigrateOff('s3://bucket/key.json?region=x#part')).toBe(
      's3://bucket/key.json?region=x&migrate=false#part',
    );
    // A key that only starts like the option is another option.
    expect(withMigrateOff('sqlite:./a.db?migrateLater=1')).toBe('sqlite:./a.db?migrateLater=1&migrate=false');
  });
});
