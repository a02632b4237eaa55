import { type DocumentStore, isBerthError, type StoredDocument } from '@berth/core';
import { expect } from 'vitest';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The UTF-8 bytes of `text`. */
export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** `data` decoded as UTF-8, for messages and for content written as text. */
export function text(data: Uint8Array): string {
  return decoder.decode(data);
}

/**
 * `length` bytes that look random but are the same on every run (xorshift),
 * so a failure reproduces and no compression or deduplication helps.
 */
export function pseudoRandomBytes(length: number, seed = 0x9e3779b9): Uint8Array {
  const data = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < length; index++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    data[index] = state & 0xff;
  }
  return data;
}

/**
 * Asserts that `actual` holds exactly the bytes of `expected`. Compares in a
 * loop and names the first difference: `toEqual` on megabytes is slow and
 * its diff unreadable.
 */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array, what = 'data'): void {
  expect(actual, `${what} is a Uint8Array`).toBeInstanceOf(Uint8Array);
  expect(actual.byteLength, `byte length of ${what}`).toBe(expected.byteLength);
  for (let index = 0; index < expected.byteLength; index++) {
    if (actual[index] !== expected[index]) {
      expect.unreachable(`${what} differs at byte ${index}: ${actual[index]} instead of ${expected[index]}`);
    }
  }
}

/** Asserts that an ETag is usable: a non-empty string. Its format is the store's own. */
export function expectEtag(etag: unknown): string {
  expect(typeof etag, 'the ETag is a string').toBe('string');
  expect((etag as string).length, 'the ETag is not empty').toBeGreaterThan(0);
  return etag as string;
}

/** Asserts that the store holds no document. */
export async function expectMissing(store: DocumentStore): Promise<void> {
  expect(await store.read(), `${store.location} holds no document`).toBeNull();
}

/**
 * Asserts that the store holds exactly `expected` and, when given, that its
 * ETag is `etag`. Returns what was read.
 */
export async function expectStored(
  store: DocumentStore,
  expected: Uint8Array,
  etag?: string | undefined,
): Promise<StoredDocument> {
  const stored = await store.read();
  if (stored === null) return expect.unreachable(`${store.location} holds no document`);
  expectSameBytes(stored.data, expected, 'the stored document');
  expectEtag(stored.etag);
  if (etag !== undefined) expect(stored.etag, 'the ETag of the stored document').toBe(etag);
  return stored;
}

/** Writes `data` unconditionally and returns the ETag the write gave. */
export async function seed(store: DocumentStore, data: Uint8Array): Promise<string> {
  const { etag } = await store.write(data);
  return expectEtag(etag);
}

/** How one write of a race ended; `entry` is what the write was started with. */
export type WriteOutcome<T> =
  | { readonly won: true; readonly index: number; readonly entry: T; readonly etag: string }
  | { readonly won: false; readonly index: number; readonly entry: T; readonly error: unknown };

/** Starts one write per entry, all in the same tick, and waits for every one to settle. */
export async function race<T>(
  entries: readonly T[],
  write: (entry: T) => Promise<{ readonly etag: string }>,
): Promise<WriteOutcome<T>[]> {
  const settled = await Promise.allSettled(entries.map((entry) => write(entry)));
  return settled.map((result, index): WriteOutcome<T> => {
    const entry = entries[index] as T;
    return result.status === 'fulfilled'
      ? { won: true, index, entry, etag: result.value.etag }
      : { won: false, index, entry, error: result.reason };
  });
}

function describeError(error: unknown): string {
  if (isBerthError(error)) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * Asserts that exactly one write of a race won and every other one failed
 * with CONFLICT (no other error), and returns the winner.
 */
export function expectOneWinner<T>(outcomes: readonly WriteOutcome<T>[]): Extract<WriteOutcome<T>, { won: true }> {
  const winners = outcomes.filter((outcome): outcome is Extract<WriteOutcome<T>, { won: true }> => outcome.won);
  expect(
    winners.map((winner) => winner.index),
    `exactly one of ${outcomes.length} conditional writes succeeds`,
  ).toHaveLength(1);
  for (const outcome of outcomes) {
    if (outcome.won) continue;
    if (!isBerthError(outcome.error, 'CONFLICT')) {
      expect.unreachable(`writer ${outcome.index} lost with ${describeError(outcome.error)} instead of CONFLICT`);
    }
  }
  const [winner] = winners;
  if (winner === undefined) return expect.unreachable('no write succeeded');
  expectEtag(winner.etag);
  return winner;
}

/** A signal that has already fired, and the reason it carries. */
export function abortedSignal(): { readonly signal: AbortSignal; readonly reason: Error } {
  const controller = new AbortController();
  const reason = new Error('stopped by the test');
  controller.abort(reason);
  return { signal: controller.signal, reason };
}
