/**
 * Raw ioredis doing the work a document repository does, written as a
 * careful user would on one connection: a document is a string key holding
 * its JSON, and the number index on `level` a sorted set (score = level,
 * member = id, so members of one score come back in id order, the order a
 * repository returns). It keeps no version or timestamps, checks nothing
 * and copies nothing, so Berth's rows beside it show what the port costs:
 *
 * - get: GET + JSON.parse.
 * - insert: SET NX of the JSON and ZADD to the index in one MULTI.
 * - update (`level + 1`): GET + parse, then SET and ZADD in one MULTI. No
 *   WATCH: a concurrent writer could be overwritten, which the repository
 *   must prevent (a Lua script), so this is a floor, not an equal.
 * - indexed find: ZRANGEBYSCORE on the index, MGET of the documents, parse.
 * - bulk insert: SET NX + ZADD per document in one pipeline (one round
 *   trip, not atomic).
 */
import type { Redis } from 'ioredis';
import { type Hero, hero, SIZE } from '../heroes.js';
import { deletePrefix } from './redis-server.js';

/** Documents per pipeline when filling (`insertMany` itself sends all of its documents in one). */
const FILL_CHUNK = 1_000;

export class RawRedisCollection {
  private readonly documentPrefix: string;
  private readonly levelIndex: string;

  constructor(
    private readonly redis: Redis,
    /** A key prefix of this collection's own (`BenchPrefixes.next`): `clear()` deletes every key under it. */
    private readonly prefix: string,
  ) {
    this.documentPrefix = `${prefix}doc:`;
    this.levelIndex = `${prefix}idx:level`;
  }

  async get(id: string): Promise<Hero | null> {
    const json = await this.redis.get(this.documentPrefix + id);
    return json === null ? null : (JSON.parse(json) as Hero);
  }

  async insert(document: Hero): Promise<void> {
    const replies = await this.redis
      .multi()
      .set(this.documentPrefix + document.id, JSON.stringify(document), 'NX')
      .zadd(this.levelIndex, document.level, document.id)
      .exec();
    const [error, set] = replies?.[0] ?? [new Error('MULTI was discarded'), null];
    if (error !== null) throw error;
    if (set !== 'OK') throw new Error(`${document.id} exists`);
  }

  /** `level + 1`, returning the new document. */
  async increment(id: string): Promise<Hero> {
    const json = await this.redis.get(this.documentPrefix + id);
    if (json === null) throw new Error(`missing ${id}`);
    const current = JSON.parse(json) as Hero;
    const updated: Hero = { ...current, level: current.level + 1 };
    const replies = await this.redis
      .multi()
      .set(this.documentPrefix + id, JSON.stringify(updated))
      .zadd(this.levelIndex, updated.level, id)
      .exec();
    for (const [error] of replies ?? [[new Error('MULTI was discarded')]]) if (error) throw error;
    return updated;
  }

  async findByLevel(level: number): Promise<Hero[]> {
    const ids = await this.redis.zrangebyscore(this.levelIndex, level, level);
    if (ids.length === 0) return [];
    const documents = await this.redis.mget(ids.map((id) => this.documentPrefix + id));
    const found: Hero[] = [];
    // A document deleted between the two commands is skipped, as a repository would not return it.
    for (const json of documents) if (json !== null) found.push(JSON.parse(json) as Hero);
    return found;
  }

  /** All of them in one pipeline: SET NX and ZADD per document. */
  async insertMany(documents: readonly Hero[]): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const document of documents) {
      pipeline.set(this.documentPrefix + document.id, JSON.stringify(document), 'NX');
      pipeline.zadd(this.levelIndex, document.level, document.id);
    }
    for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
  }

  /** Deletes the collection's keys (documents and index). */
  async clear(): Promise<void> {
    await deletePrefix(this.redis, this.prefix);
  }

  /** The SIZE heroes the read and update suites use. */
  async fill(): Promise<void> {
    await this.clear();
    for (let start = 0; start < SIZE; start += FILL_CHUNK) {
      await this.insertMany(Array.from({ length: Math.min(FILL_CHUNK, SIZE - start) }, (_, k) => hero(start + k)));
    }
  }
}
