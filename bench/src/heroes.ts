/** The documents every repository benchmark stores: heroes of 100 guilds. */
import type { Document } from '@berth/core';

export interface Hero extends Document {
  readonly name: string;
  readonly guild: string;
  readonly level: number;
  readonly gold: number;
  readonly stats: { readonly strength: number; readonly agility: number };
  readonly tags: readonly string[];
}

/** Documents preloaded for the read and update suites. */
export const SIZE = 10_000;
export const GUILDS = 100;

export function heroId(i: number): string {
  return `h${String(i).padStart(8, '0')}`;
}

export function hero(i: number): Hero {
  return {
    id: heroId(i),
    name: `hero ${i}`,
    guild: `guild-${i % GUILDS}`,
    level: (i * 7919) % 100,
    gold: i % 1000,
    stats: { strength: i % 17, agility: i % 23 },
    tags: i % 10 === 0 ? ['founder', 'elite'] : ['member'],
  };
}
