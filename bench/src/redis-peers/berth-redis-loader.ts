/**
 * Loads Berth's side of the Redis benchmarks (`berth-redis-peer.ts`) when it
 * is there and compiles. It is written against `RedisBackend`, which lands
 * in @berth/adapter-redis with the repository and queue work; until then
 * the file is absent (or its import fails), and the Berth rows read "not
 * available: …" while the raw ioredis and BullMQ rows run. The import is
 * dynamic, with a specifier TypeScript does not resolve, so the rest of the
 * benchmarks compile without it.
 */
import type { Repository } from '@berth/core';
import { UnsupportedError } from '@berth/core';
import type { Hero } from '../heroes.js';
import type { PeerLibrary } from '../peers/peer-queue.js';

/** Berth repositories on one `RedisBackend`, keys under one prefix. */
export interface BerthRedisRepositories {
  /** `backend.repository<Hero>(name, { indexes: [{ field: 'level', type: 'number' }] })`, opened once per name. */
  repository(name: string): Repository<Hero>;
  close(): Promise<void>;
}

/** What `berth-redis-peer.ts` exports as `berthRedisPeer`. */
export interface BerthRedisPeer {
  /** A backend whose keys all lie under `keyPrefix` (a prefix of the run's own). */
  openRepositories(keyPrefix: string): BerthRedisRepositories;
  /** Berth's queue as the side-by-side queue benchmark drives it; `open(prefix)` uses that key prefix. */
  readonly queue: PeerLibrary;
}

/** Berth's peer, or why it cannot run. */
export type BerthRedisPeerLoad =
  | { readonly available: true; readonly peer: BerthRedisPeer }
  | { readonly available: false; readonly reason: string };

/** Not a literal, so TypeScript does not resolve (and fail on) the module before RedisBackend exists. */
const PEER_MODULE = './berth-redis-peer.js';

let loaded: Promise<BerthRedisPeerLoad> | undefined;

/** Imports the Berth peer once; a missing file or a missing `RedisBackend` export makes it unavailable. */
export function loadBerthRedisPeer(): Promise<BerthRedisPeerLoad> {
  loaded ??= (async (): Promise<BerthRedisPeerLoad> => {
    try {
      const module = (await import(PEER_MODULE)) as { readonly berthRedisPeer?: BerthRedisPeer };
      if (module.berthRedisPeer === undefined) {
        return { available: false, reason: `${PEER_MODULE} does not export berthRedisPeer` };
      }
      return { available: true, peer: module.berthRedisPeer };
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const message = (error as Error).message ?? String(error);
      // The file not there yet, or @berth/adapter-redis without RedisBackend (an ESM link error).
      if (code === 'ERR_MODULE_NOT_FOUND' && message.includes('berth-redis-peer')) {
        return {
          available: false,
          reason: 'bench/src/redis-peers/berth-redis-peer.ts is not there (it waits on RedisBackend)',
        };
      }
      if (error instanceof SyntaxError && message.includes('RedisBackend')) {
        return { available: false, reason: `berth-redis-peer.ts cannot load: ${message.split('\n')[0]}` };
      }
      throw error;
    }
  })();
  return loaded;
}

/** A stand-in for Berth's queue while its peer cannot load: opening it fails with UNSUPPORTED, so its rows read "not available". */
export function unavailableQueue(reason: string): PeerLibrary {
  return {
    name: 'berth',
    config: 'RedisBackend defaults; work(handler, { concurrency })',
    batch: 'enqueueMany',
    open: () => Promise.reject(new UnsupportedError(reason)),
  };
}
