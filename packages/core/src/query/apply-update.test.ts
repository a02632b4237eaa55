import { describe, expect, it } from 'vitest';
import { isBerthError } from '../errors.js';
import { applyUpdate, parseUpdate } from './apply-update.js';

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

describe('paths through prototype members', () => {
  const document = { id: 'p1', k: { n: 1 } };

  it.each([
    [JSON.parse('{"$inc": {"__proto__": 5}}'), '__proto__'],
    [{ $unset: ['__proto__'] }, '__proto__'],
    [{ $inc: { 'k.__proto__': 5 } }, 'k.__proto__'],
    [{ $set: { '__proto__.x': 1 } }, '__proto__.x'],
    [JSON.parse('{"__proto__": {"x": 1}}'), '__proto__'],
  ])('refuses %j with VALIDATION naming the path', (update, path) => {
    let caught: unknown;
    try {
      parseUpdate(update, 'p1');
    } catch (error) {
      caught = error;
    }
    expect(isBerthError(caught, 'VALIDATION') && caught.path).toBe(path);
  });

  it('sets, increments and unsets constructor and prototype as own fields', () => {
    const steps = parseUpdate({ $inc: { constructor: 2, 'k.prototype': 3 }, $set: { 'k.toString': 't' } }, 'p1');
    const next = applyUpdate(document, steps) as Record<string, unknown>;
    expect(next).toStrictEqual({ id: 'p1', constructor: 2, k: { n: 1, prototype: 3, toString: 't' } });
    expect(applyUpdate(next, parseUpdate({ $unset: ['constructor', 'k.toString'] }, 'p1'))).toStrictEqual({
      id: 'p1',
      k: { n: 1, prototype: 3 },
    });
    expect(applyUpdate(document, parseUpdate({ 'hasOwnProperty.x': 1 }, 'p1'))).toStrictEqual({
      id: 'p1',
      k: { n: 1 },
      hasOwnProperty: { x: 1 },
    });
  });
});
