import { ValidationError } from '@berth/core';

/** Longest key prefix accepted (a prefix is repeated in every key, so it stays short). */
const MAX_PREFIX_LENGTH = 256;

/** The default key prefix of a {@link RedisBackend}. */
const DEFAULT_REPOSITORY_PREFIX = 'berth:';

/**
 * Checks a repository key prefix. Braces are refused: Redis Cluster hashes
 * only the text between the first `{` and the next `}` of a key, so a brace
 * in the prefix would move the hash tag out of the collection's name (all
 * collections in one slot), or, with `{}`, hash whole keys and scatter one
 * collection over many slots, where its scripts would fail with CROSSSLOT.
 */
export function checkRepositoryPrefix(prefix: unknown): string {
  if (prefix === undefined) return DEFAULT_REPOSITORY_PREFIX;
  if (typeof prefix !== 'string' || prefix.length > MAX_PREFIX_LENGTH) {
    throw new ValidationError(`keyPrefix must be a string of at most ${MAX_PREFIX_LENGTH} characters`, 'keyPrefix');
  }
  if (/[{}]/.test(prefix)) {
    throw new ValidationError(
      `keyPrefix ${JSON.stringify(prefix)} holds "{" or "}": Redis Cluster hash tags are made of the collection name, so the prefix cannot hold braces`,
      'keyPrefix',
    );
  }
  return prefix;
}

/**
 * The keys of one collection. Every key carries the collection's name as its
 * hash tag (`<prefix>{<collection>}:…`), so on Redis Cluster all of them lie
 * in one slot and one script may touch them together. Collection names are
 * letters, digits and `_` (core checks them), so they never hold a brace.
 */
export class RedisCollectionKeys {
  /** `<prefix>{<collection>}:`: the start of every key of the collection. */
  readonly base: string;
  /** Sorted set (all scores 0) of the ids, in byte order: counts and chunked walks with ZRANGE BYLEX. */
  readonly ids: string;
  /** Hash: `s` the index declarations (JSON), `g` their generation, `n` the write counter. */
  readonly meta: string;

  constructor(
    prefix: string,
    readonly collection: string,
  ) {
    this.base = `${prefix}{${collection}}:`;
    this.ids = `${this.base}ids`;
    this.meta = `${this.base}m`;
  }

  /** Hash of one document: `j` its JSON, `v` version, `c` and `u` created and updated (ms). */
  document(id: string): string {
    return `${this.base}d:${id}`;
  }

  /** Hash of a unique index: value key → id of the document holding it. */
  unique(indexKey: string): string {
    return `${this.base}u:${indexKey}`;
  }

  /**
   * Set of the ids holding one value of a non-unique index. The index key's
   * length comes first, so an index key holding `:` can never run into the
   * value key (`a:s` + `s:x` and `a` + `s:s:x` are different keys).
   */
  equality(indexKey: string, valueKey: string): string {
    return `${this.base}e:${indexKey.length}:${indexKey}:${valueKey}`;
  }

  /**
   * Sorted set of one single-field index's values of one type, for ranges:
   * `n` numbers and `d` Dates (score: the number, or the instant in ms; member:
   * the id), `s` strings (all scores 0, member `<value> NUL <id>`, walked with
   * ZRANGEBYLEX, whose byte order of UTF-8 is core's code point order), and
   * `o` every other value (score: its place in core's cross-type order, see
   * `otherScore`; member: the id), so a walk of `o`, `n`, `s`, `d` visits a
   * sorted index in core's order.
   */
  range(indexKey: string, type: 'n' | 'd' | 's' | 'o'): string {
    return `${this.base}z:${indexKey.length}:${indexKey}:${type}`;
  }
}
