import { describe, expect, it } from 'vitest';
import { CliError, EXIT } from '../cli-error.js';
import { parseDuration } from './duration.js';

describe('parseDuration', () => {
  it('reads seconds, minutes, hours, days and weeks', () => {
    expect(parseDuration('90s', '--older-than')).toBe(90_000);
    expect(parseDuration('30m', '--older-than')).toBe(1_800_000);
    expect(parseDuration('12h', '--older-than')).toBe(43_200_000);
    expect(parseDuration('7d', '--older-than')).toBe(604_800_000);
    expect(parseDuration('2w', '--older-than')).toBe(1_209_600_000);
  });

  it('refuses everything else as a usage error with an example', () => {
    for (const text of ['7', '7x', '0d', '-1d', '1.5h', '', ' 7d', '7d ', '7D', '１d', '9999999999d', '7 d', 'd']) {
      let caught: unknown;
      try {
        parseDuration(text, '--older-than');
      } catch (error) {
        caught = error;
      }
      expect(caught, JSON.stringify(text)).toBeInstanceOf(CliError);
      expect((caught as CliError).exitCode).toBe(EXIT.usage);
      expect((caught as CliError).hint).toContain('--older-than 7d');
    }
  });
});
