import { isBerthError } from '../errors.js';

/**
 * The `path` of the VALIDATION error `work` throws, or undefined when it
 * throws none; any other error is rethrown. For core's own tests.
 */
export function validationPath(work: () => unknown): string | undefined {
  try {
    work();
  } catch (error) {
    if (isBerthError(error, 'VALIDATION')) return error.path;
    throw error;
  }
  return undefined;
}
