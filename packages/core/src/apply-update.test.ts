import { describe, expect, it } from 'vitest';
import { applyUpdate, parseUpdate } from './apply-update.js';
import { isBerthError } from './errors.js';

function code(work: () => unknown): string | undefined {
  try {
    work();
  } catch (error) {
    return isBerthError(error) ? error.code : 'not a Berth error';
  }
  return undefined;
}

describe('applyUpdate', () => {
  const document = { id: 'p1', stats: { level: 1, title: 'x' }, name: 'Ada' };

  it('applies patches with dotted paths and leaves the input untouched', () => {
    const next = applyUpdate(document, parseUpdate({ 'stats.level': 2, 'extra.deep': true }, 'p1'));
    expect(next).toEqual({ id: 'p1', stats: { level: 2, title: 'x' }, name: 'Ada', extra: { deep: true } });
    expect(document.stats.level).toBe(1);
  });

  it('applies operators', () => {
    const next = applyUpdate(document, parseUpdate({ $inc: { 'stats.level': 2, count: 1 }, $unset: ['name'] }, 'p1'));
    expect(next).toEqual({ id: 'p1', stats: { level: 3, title: 'x' }, count: 1 });
  });

  it('rejects bad updates', () => {
    expect(code(() => parseUpdate({ $set: { a: 1 }, b: 2 }, 'p1'))).toBe('VALIDATION');
    expect(code(() => parseUpdate({ id: 'p2' }, 'p1'))).toBe('VALIDATION');
    expect(code(() => parseUpdate({ $unset: ['id'] }, 'p1'))).toBe('VALIDATION');
    expect(code(() => parseUpdate({ $set: { a: 1 }, $inc: { a: 1 } }, 'p1'))).toBe('VALIDATION');
    expect(code(() => parseUpdate({ $push: { a: 1 } }, 'p1'))).toBe('VALIDATION');
    expect(code(() => applyUpdate(document, parseUpdate({ $inc: { name: 1 } }, 'p1')))).toBe('VALIDATION');
    expect(code(() => applyUpdate(document, parseUpdate({ 'name.first': 'A' }, 'p1')))).toBe('VALIDATION');
    expect(code(() => parseUpdate({ id: 'p1', name: 'B' }, 'p1'))).toBeUndefined();
  });
});
