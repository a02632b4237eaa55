import { ValidationError } from '../errors.js';
import type { DocumentWriteOptions } from './document-store.js';

/**
 * Refuses preconditions no store can honour: both at once, or `ifNoneMatch` other than `'*'`. Every DocumentStore calls it.
 *
 * ### Examples
 * ```ts
 * import type { DocumentWriteOptions } from '@berth/core';
 * import { checkDocumentWriteOptions } from '@berth/core/adapter';
 *
 * function writeHeaders(options?: DocumentWriteOptions): Record<string, string> {
 *   checkDocumentWriteOptions(options); // ifMatch and ifNoneMatch together: VALIDATION
 *   if (options?.ifMatch !== undefined) return { 'If-Match': options.ifMatch };
 *   if (options?.ifNoneMatch !== undefined) return { 'If-None-Match': '*' };
 *   return {};
 * }
 * ```
 */
export function checkDocumentWriteOptions(options: DocumentWriteOptions | undefined): void {
  if (options?.ifMatch !== undefined && options.ifNoneMatch !== undefined) {
    throw new ValidationError('ifMatch and ifNoneMatch cannot be combined', 'ifMatch');
  }
  if (options?.ifNoneMatch !== undefined && options.ifNoneMatch !== '*') {
    throw new ValidationError('ifNoneMatch only takes "*"', 'ifNoneMatch');
  }
}
