import { type Backend, ValidationError } from '@berth/core';
import { migrateUrlParameter } from '@berth/core/adapter';
import { JsonDirBackend } from './jsondir-backend.js';

/** The URL schemes this adapter handles: with `createBackendFromUrl`, the shape `registerAdapter` and `createBackend(url, { adapters })` take. */
export const schemes: readonly string[] = ['jsondir'];

/**
 * `jsondir:./data` (relative to the working directory) or `jsondir:///srv/data`
 * (absolute); `?maxDocumentBytes=` sets the document size limit, and `?migrate=true|false` is accepted as on
 * every URL (plain files have no schema).
 */
export function createBackendFromUrl(url: string): Backend {
  const match = /^jsondir:(?:\/\/)?([^?]*)(?:\?(.*))?$/i.exec(url);
  const directory = decodeURIComponent(match?.[1] ?? '');
  if (match === null || directory === '') {
    throw new ValidationError(
      `a jsondir URL names a directory, like jsondir:./data, got ${JSON.stringify(url)}`,
      'url',
    );
  }
  const parameters = new URLSearchParams(match[2] ?? '');
  const maxDocumentBytes = parameters.get('maxDocumentBytes');
  return new JsonDirBackend({
    directory,
    maxDocumentBytes: maxDocumentBytes === null ? undefined : Number(maxDocumentBytes),
    migrate: migrateUrlParameter(parameters),
  });
}
