import { describe, expect, it } from 'vitest';
import { compareStrings } from './compare.js';
import { generateId } from './ids.js';

describe('generateId', () => {
  it('makes UUIDv7 strings that increase strictly, even within one millisecond', () => {
    const ids = Array.from({ length: 10_000 }, generateId);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    for (let i = 1; i < ids.length; i++) expect(compareStrings(ids[i - 1] as string, ids[i] as string)).toBe(-1);
  });
});
