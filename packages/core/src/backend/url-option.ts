import { ValidationError } from '../errors.js';

/**
 * Splits a connection URL into the URL for the driver and the value of the
 * one query parameter Berth reads itself (`?schema=` for PostgreSQL,
 * `?keyPrefix=` for Redis), which the driver must not see. `engine` names
 * the engine in the VALIDATION error of a URL that does not parse.
 *
 * ### Examples
 * ```ts
 * import { takeUrlOption } from '@berth/core/adapter';
 *
 * const { url, value } = takeUrlOption('postgres://localhost/app?schema=tenant1&sslmode=require', 'schema', 'PostgreSQL');
 * // url: 'postgres://localhost/app?sslmode=require', value: 'tenant1'
 * ```
 */
export function takeUrlOption(
  url: string,
  option: string,
  engine: string,
): { readonly url: string; readonly value: string | undefined } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new ValidationError(`not a ${engine} URL: ${JSON.stringify(url)}`, 'url', { cause: error });
  }
  const value = parsed.searchParams.get(option) ?? undefined;
  parsed.searchParams.delete(option);
  return { url: parsed.toString(), value };
}
