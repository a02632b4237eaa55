import { describe, expect, it } from 'vitest';
import { validationPath } from '../testing/validation-path.js';
import { throwIfAborted } from './abort.js';
import { checkIdsArgument, checkOptions, checkTransactionWork, isAbortSignal } from './arguments.js';

describe('argument checks', () => {
  it('accepts an AbortSignal of any origin that behaves like one, and nothing else', () => {
    expect(isAbortSignal(new AbortController().signal)).toBe(true);
    expect(isAbortSignal(AbortSignal.timeout(1_000))).toBe(true);
    expect(isAbortSignal({ aborted: false, addEventListener: () => undefined })).toBe(true);
    for (const value of [undefined, null, 'signal', 1, {}, { aborted: false }, new AbortController()]) {
      expect(isAbortSignal(value)).toBe(false);
    }
  });

  it('checks options and their signal, and throwIfAborted checks the signal it is given', () => {
    expect(() => checkOptions(undefined, 'get')).not.toThrow();
    expect(() => checkOptions({ signal: new AbortController().signal }, 'get')).not.toThrow();
    expect(validationPath(() => checkOptions(null, 'get'))).toBe('options');
    expect(validationPath(() => checkOptions([], 'get'))).toBe('options');
    expect(validationPath(() => checkOptions(Symbol('s'), 'get'))).toBe('options');
    expect(validationPath(() => checkOptions({ signal: 'x' }, 'get'))).toBe('signal');
    expect(validationPath(() => throwIfAborted('x' as unknown as AbortSignal, 'get'))).toBe('signal');
    expect(() => throwIfAborted(undefined)).not.toThrow();
  });

  it('names the position of a bad id in getMany, and refuses a transaction callback that is not a function', () => {
    expect(validationPath(() => checkIdsArgument(['a', 'b', 5], 'c'))).toBe('ids.2');
    expect(validationPath(() => checkIdsArgument(['a', ''], 'c'))).toBe('ids.1');
    expect(validationPath(() => checkIdsArgument('a', 'c'))).toBe('ids');
    expect(validationPath(() => checkTransactionWork(5))).toBe('work');
  });
});
