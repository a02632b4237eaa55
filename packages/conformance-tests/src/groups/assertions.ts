import {
  type BerthError,
  type BerthErrorCode,
  type Document,
  type Entry,
  isBerthError,
  type Query,
  type Repository,
  type RepositoryBackend,
  type RepositoryOptions,
} from '@berth/core';
import { expect } from 'vitest';

/**
 * A document of any shape. Cases that feed deliberately bad values use it so
 * the compiler lets the value reach the runtime checks under test.
 */
export interface LooseDocument extends Document {
  [key: string]: unknown;
}

/** What a Berth error must carry besides its code. */
export interface ExpectedErrorDetails {
  /** `error.path` of a VALIDATION error. */
  readonly path?: string | undefined;
  /** `error.field` of an ALREADY_EXISTS error. */
  readonly field?: string | undefined;
  readonly retryable?: boolean | undefined;
  /** `error.cause`, compared by identity. */
  readonly cause?: unknown;
}

function describeError(error: unknown): string {
  if (isBerthError(error)) return `${error.name} ${error.code}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * Asserts that `action` fails with a Berth error of `code` (and the given
 * details) and returns the error. A function is called and may throw
 * synchronously or return a rejecting promise; both count.
 */
export async function expectBerthError(
  action: Promise<unknown> | (() => unknown),
  code: BerthErrorCode,
  details: ExpectedErrorDetails = {},
): Promise<BerthError> {
  let outcome: { readonly failed: true; readonly error: unknown } | { readonly failed: false; readonly value: unknown };
  try {
    const value = await (typeof action === 'function' ? action() : action);
    outcome = { failed: false, value };
  } catch (error) {
    outcome = { failed: true, error };
  }
  if (!outcome.failed) {
    return expect.unreachable(`expected a ${code} error, but the operation succeeded`);
  }
  const { error } = outcome;
  if (!isBerthError(error, code)) {
    return expect.unreachable(`expected a ${code} error, got ${describeError(error)}`);
  }
  if ('path' in details) {
    expect((error as { path?: unknown }).path, `path of ${describeError(error)}`).toBe(details.path);
  }
  if ('field' in details) {
    expect((error as { field?: unknown }).field, `field of ${describeError(error)}`).toBe(details.field);
  }
  if ('retryable' in details) {
    expect(error.retryable, `retryable of ${describeError(error)}`).toBe(details.retryable);
  }
  if ('cause' in details) {
    expect(error.cause, `cause of ${describeError(error)}`).toBe(details.cause);
  }
  return error;
}

/**
 * Asserts that `backend.repository(name, options)` is refused with `code`,
 * either at once or on first use: adapters may check lazily.
 */
export async function expectRepositoryRefused<T extends Document>(
  backend: RepositoryBackend,
  name: string,
  code: BerthErrorCode,
  options?: RepositoryOptions<T>,
): Promise<void> {
  let repository: Repository<LooseDocument>;
  try {
    repository = backend.repository<LooseDocument>(name, options as RepositoryOptions<LooseDocument> | undefined);
  } catch (error) {
    await expectBerthError(Promise.reject(error), code);
    return;
  }
  await expectBerthError(repository.insert({ id: 'refused', value: 1 }), code);
  await expectBerthError(repository.get('refused'), code);
}

/** Every document of a repository with its metadata, ordered by id. */
export async function snapshot<T extends Document>(repository: Repository<T>): Promise<(Entry<T> | null)[]> {
  const documents = await repository.find({ orderBy: 'id' } as Query<T>);
  return Promise.all(documents.map((document) => repository.getEntry(document.id)));
}

/** Asserts that the repository holds exactly what `before` recorded. */
export async function expectUnchanged<T extends Document>(
  repository: Repository<T>,
  before: readonly (Entry<T> | null)[],
): Promise<void> {
  expect(await snapshot(repository)).toStrictEqual(before);
}

/** Lets a value the types forbid reach the runtime checks under test. */
export function invalid<T>(value: unknown): T {
  return value as T;
}

/** A promise with its resolve function, to pause work at a chosen point. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Compares strings by Unicode code point (JavaScript's `<` compares UTF-16 code units). */
export function compareCodePoints(a: string, b: string): number {
  const left = [...a];
  const right = [...b];
  const length = Math.min(left.length, right.length);
  for (let index = 0; index < length; index++) {
    const difference = (left[index]?.codePointAt(0) ?? 0) - (right[index]?.codePointAt(0) ?? 0);
    if (difference !== 0) return difference;
  }
  return left.length - right.length;
}

/** Narrows away null and undefined, failing the case when the value is absent. */
export function present<T>(value: T | null | undefined, what = 'value'): T {
  if (value === null || value === undefined) return expect.unreachable(`${what} is missing`);
  return value;
}
