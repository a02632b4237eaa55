import { documentBackendUrlOptions } from '@berth/adapter-memory';
import { type Backend, ValidationError } from '@berth/core';
import { S3DocumentBackend } from './s3-document-backend.js';

/**
 * Lets `createBackend` find this adapter: `s3://bucket/path/key.json` gives
 * an {@link S3DocumentBackend} on that object, with `?region=`, `?endpoint=`
 * (an S3-compatible store; URL-encode it), `?forcePathStyle=true|false` and
 * the document backend's options (`documentBackendUrlOptions` in
 * `@berth/adapter-memory`: `?debounceMs=`, `?maxWaitMs=`, `?conflicts=`,
 * `?compression=`, `?warnAtBytes=`, `?migrate=` (accepted; an object has no schema), `?flushOnExit=`, default `true`). Credentials come from the standard AWS
 * chain (`AWS_ACCESS_KEY_ID`, shared files, roles), never from the URL.
 *
 * ### Examples
 * ```ts
 * import { createBackendFromUrl } from '@berth/adapter-s3-document';
 *
 * const backend = createBackendFromUrl('s3://my-bot/berth/state.json?region=eu-west-1&debounceMs=5000');
 * await backend.connect(); // loads the object
 * await backend.close(); // saves it
 * ```
 */
export function createBackendFromUrl(url: string): Backend {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new ValidationError(`${JSON.stringify(url)} is not a URL like s3://bucket/key.json`, 'url', { cause });
  }
  if (parsed.protocol !== 's3:') {
    throw new ValidationError(`@berth/adapter-s3-document does not handle ${JSON.stringify(url)}`, 'url');
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new ValidationError('s3: URLs carry no credentials: use the AWS chain (AWS_ACCESS_KEY_ID, …)', 'url');
  }
  const key = decodeURIComponent(parsed.pathname.slice(1));
  if (parsed.hostname === '' || key === '') {
    throw new ValidationError(`${JSON.stringify(url)} needs a bucket and a key: s3://bucket/key.json`, 'url');
  }
  const parameters = parsed.searchParams;
  const forcePathStyle = parameters.get('forcePathStyle');
  if (forcePathStyle !== null && forcePathStyle !== 'true' && forcePathStyle !== 'false') {
    throw new ValidationError(`forcePathStyle in ${JSON.stringify(url)} must be true or false`, 'url');
  }
  return new S3DocumentBackend({
    bucket: parsed.hostname,
    key,
    region: parameters.get('region') ?? undefined,
    endpoint: parameters.get('endpoint') ?? undefined,
    forcePathStyle: forcePathStyle === null ? undefined : forcePathStyle === 'true',
    ...documentBackendUrlOptions(url, parameters),
  });
}
