import { AlreadyExistsError, ConflictError } from '@berth/core';
import type { IndexSpec } from '@berth/core/adapter';
import { loadCandidates } from './redis-collection-loader.js';
import { CommitProgram } from './redis-commit-script.js';
import type { RedisContext } from './redis-context.js';
import { definitionOf, mergeSpecs, rangeEntries, recordKey, specsOf } from './redis-indexes.js';
import { RedisCollectionKeys } from './redis-keys.js';

/** The indexes of a collection as stored in Redis, and their generation (bumped by every declaration). */
export interface CollectionIndexes {
  readonly generation: string;
  readonly specs: readonly IndexSpec[];
}

const BUILD_ATTEMPTS = 20;

/**
 * The index declarations of every collection, kept in Redis (the collection's
 * meta hash) so they hold for every backend on the server, also one that never
 * declares them. A backend caches what it read; every commit checks the
 * generation it wrote with, so a write never misses an index another backend
 * declared meanwhile (it is refused, the cache dropped, and the write run again).
 */
export class RedisIndexRegistry {
  private readonly known = new Map<string, Promise<CollectionIndexes>>();

  constructor(private readonly context: RedisContext) {}

  keys(collection: string): RedisCollectionKeys {
    return new RedisCollectionKeys(this.context.keyPrefix, collection);
  }

  /**
   * The collection's indexes, with `declared` added (and built over the
   * stored documents) when they add anything. A unique index over documents
   * that already share a value is ALREADY_EXISTS, and nothing is declared.
   */
  async indexes(collection: string, declared: readonly IndexSpec[]): Promise<CollectionIndexes> {
    let pending = this.known.get(collection);
    if (pending === undefined) {
      pending = this.read(collection);
      this.known.set(collection, pending);
      pending.catch(() => this.known.delete(collection));
    }
    const current = await pending;
    if (declared.length === 0 || mergeSpecs(current.specs, declared) === undefined) return current;
    const built = this.declare(collection, declared);
    this.known.set(collection, built);
    built.catch(() => {
      if (this.known.get(collection) === built) this.known.delete(collection);
    });
    return built;
  }

  /** Forgets what was read of the collection's indexes (a commit found a newer generation). */
  invalidate(collection: string): void {
    this.known.delete(collection);
  }

  private async read(collection: string): Promise<CollectionIndexes> {
    const keys = this.keys(collection);
    const [specs, generation] = await this.context.run((client) => client.hmget(keys.meta, 's', 'g'));
    return { generation: generation ?? '0', specs: specsOf(collection, specs) };
  }

  /**
   * Adds indexes: reads every document with the write counter, computes
   * their entries here, and commits the declaration with the entries in one
   * script call that checks neither the counter nor the generation moved
   * (else it reads again).
   */
  private async declare(collection: string, declared: readonly IndexSpec[]): Promise<CollectionIndexes> {
    const keys = this.keys(collection);
    for (let attempt = 1; ; attempt++) {
      const stored = await this.read(collection);
      const merged = mergeSpecs(stored.specs, declared);
      if (merged === undefined) return stored;
      const added = merged.filter(
        (spec) => !stored.specs.some((known) => known.key === spec.key && known.unique === spec.unique),
      );
      const { counter, records } = await this.context.run((client) => loadCandidates(client, keys, { kind: 'all' }));
      const generation = String(Number(stored.generation) + 1);
      const program = new CommitProgram();
      const meta = program.key(keys.meta);
      program.step('C', meta, 'g', stored.generation);
      program.step('C', meta, 'n', counter);
      program.step('M', meta, JSON.stringify(merged.map(definitionOf)), generation);
      for (const spec of added) {
        const holders = new Map<string, string>();
        const upgraded = stored.specs.some((known) => known.key === spec.key);
        for (const record of records) {
          if (!upgraded) {
            for (const entry of rangeEntries(keys, [spec], record)) {
              program.step('ZA', program.key(entry.key), entry.score, entry.member);
            }
          }
          const member = recordKey(spec, record);
          if (member === undefined) continue;
          const id = record.document.id;
          if (!spec.unique) {
            program.step('SA', program.key(keys.equality(spec.key, member)), id);
            continue;
          }
          const holder = holders.get(member);
          if (holder !== undefined) {
            throw new AlreadyExistsError(
              `${collection}: cannot declare a unique index on ${spec.field}: documents ${JSON.stringify(holder)} and ${JSON.stringify(id)} share a value`,
              spec.field,
              { collection, id },
            );
          }
          holders.set(member, id);
          if (upgraded) program.step('SR', program.key(keys.equality(spec.key, member)), id);
          program.step('U', program.key(keys.unique(spec.key)), member, id, spec.field);
        }
      }
      const reply = await this.context.run((client) => program.run(client));
      if (reply.kind === 'ok') return { generation, specs: merged };
      if (reply.kind === 'exists') {
        throw new AlreadyExistsError(`${collection}: another document already has this ${reply.field}`, reply.field, {
          collection,
          id: reply.id,
        });
      }
      if (attempt >= BUILD_ATTEMPTS) {
        throw new ConflictError(`${collection}: the collection kept changing while its indexes were built; try again`, {
          collection,
        });
      }
    }
  }
}
