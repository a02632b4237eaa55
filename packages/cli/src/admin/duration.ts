import { CliError, EXIT } from '../cli-error.js';

const UNIT_MS: Readonly<Record<string, number>> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Milliseconds in a duration such as `7d`, `12h`, `30m`, `90s` or `2w` (`--older-than`); anything else is a usage error. */
export function parseDuration(text: string, option: string): number {
  const match = /^(\d{1,9})([smhdw])$/.exec(text);
  const ms = match === null ? Number.NaN : Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  if (match === null || ms === 0) {
    throw new CliError(
      `${option} must be a positive whole number followed by s, m, h, d or w, got ${JSON.stringify(text)}`,
      EXIT.usage,
      `for example ${option} 7d (seven days), ${option} 12h or ${option} 30m`,
    );
  }
  return ms;
}
