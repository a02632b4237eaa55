import { compareStrings, compareValues } from '@berth/core/adapter';

/** One document in a sorted index: the values of the indexed fields (missing as `null`) and its id. */
export interface SortedEntry {
  readonly values: readonly unknown[];
  readonly id: string;
}

/** The reference order of index entries: values in the cross-type order, field by field, then id. */
export function compareEntries(a: SortedEntry, b: SortedEntry): number {
  for (let index = 0; index < a.values.length; index++) {
    const order = compareValues(a.values[index], b.values[index]);
    if (order !== 0) return order;
  }
  return compareStrings(a.id, b.id);
}

/** Chunks split past this many entries: inserting moves at most this many, not the whole collection. */
const CHUNK = 512;

/**
 * Every document of a collection, sorted by the indexed fields in core's
 * reference order (`compareValues`, ids last): a list of sorted chunks, so
 * inserting or removing costs a binary search and a move within one chunk,
 * and a top-N or a range reads only the entries it returns.
 */
export class SortedIndex {
  private chunks: SortedEntry[][] = [];
  private total = 0;

  get size(): number {
    return this.total;
  }

  /** Replaces the content with these entries (any order). */
  load(entries: SortedEntry[]): void {
    entries.sort(compareEntries);
    this.chunks = [];
    for (let start = 0; start < entries.length; start += CHUNK) this.chunks.push(entries.slice(start, start + CHUNK));
    this.total = entries.length;
  }

  /** The chunk an entry belongs in: the last whose first entry is not after it. */
  private chunkFor(entry: SortedEntry): number {
    let low = 0;
    let high = this.chunks.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (compareEntries((this.chunks[middle] as SortedEntry[])[0] as SortedEntry, entry) <= 0) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  insert(entry: SortedEntry): void {
    if (this.chunks.length === 0) {
      this.chunks.push([entry]);
      this.total = 1;
      return;
    }
    const chunkIndex = this.chunkFor(entry);
    const chunk = this.chunks[chunkIndex] as SortedEntry[];
    chunk.splice(firstAtOrAfter(chunk, entry), 0, entry);
    this.total += 1;
    if (chunk.length > 2 * CHUNK) this.chunks.splice(chunkIndex, 1, chunk.slice(0, CHUNK), chunk.slice(CHUNK));
  }

  remove(entry: SortedEntry): void {
    if (this.chunks.length === 0) return;
    const chunkIndex = this.chunkFor(entry);
    const chunk = this.chunks[chunkIndex] as SortedEntry[];
    const position = firstAtOrAfter(chunk, entry);
    const found = chunk[position];
    if (found === undefined || compareEntries(found, entry) !== 0) return;
    chunk.splice(position, 1);
    this.total -= 1;
    if (chunk.length === 0) this.chunks.splice(chunkIndex, 1);
  }

  /**
   * The position of the first entry for which `before` is false. `before`
   * must hold for a prefix of the entries (true, then false).
   */
  lowerBound(before: (entry: SortedEntry) => boolean): number {
    let position = 0;
    for (const chunk of this.chunks) {
      const last = chunk[chunk.length - 1] as SortedEntry;
      if (before(last)) {
        position += chunk.length;
        continue;
      }
      let low = 0;
      let high = chunk.length - 1;
      while (low < high) {
        const middle = (low + high) >> 1;
        if (before(chunk[middle] as SortedEntry)) low = middle + 1;
        else high = middle;
      }
      return position + low;
    }
    return position;
  }

  /** Entries from position `start` (inclusive) to `end` (exclusive), forwards or backwards. */
  *range(start: number, end: number, backwards: boolean): IterableIterator<SortedEntry> {
    if (start >= end) return;
    // Find the chunk holding the first position to visit, then walk chunk by chunk.
    const first = backwards ? end - 1 : start;
    let chunkIndex = 0;
    let offset = 0;
    while (chunkIndex < this.chunks.length && offset + (this.chunks[chunkIndex] as SortedEntry[]).length <= first) {
      offset += (this.chunks[chunkIndex] as SortedEntry[]).length;
      chunkIndex += 1;
    }
    let position = first;
    while (chunkIndex >= 0 && chunkIndex < this.chunks.length) {
      const chunk = this.chunks[chunkIndex] as SortedEntry[];
      if (backwards) {
        for (let index = position - offset; index >= 0; index--, position--) {
          if (position < start) return;
          yield chunk[index] as SortedEntry;
        }
        chunkIndex -= 1;
        if (chunkIndex >= 0) offset -= (this.chunks[chunkIndex] as SortedEntry[]).length;
      } else {
        for (let index = position - offset; index < chunk.length; index++, position++) {
          if (position >= end) return;
          yield chunk[index] as SortedEntry;
        }
        offset += chunk.length;
        chunkIndex += 1;
      }
    }
  }
}

function firstAtOrAfter(chunk: readonly SortedEntry[], entry: SortedEntry): number {
  let low = 0;
  let high = chunk.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (compareEntries(chunk[middle] as SortedEntry, entry) < 0) low = middle + 1;
    else high = middle;
  }
  return low;
}
