import { comparePositions, type JobPosition } from '@berth/core/adapter';

/** Chunks hold up to twice this many jobs before they split; an append opens a new chunk past it. */
const CHUNK = 512;

/**
 * The jobs of one state in listing order, (createdAt, id) ascending: a list
 * of sorted chunks, as in `memory-sorted-index.ts`, so a listing page finds
 * its start with two binary searches and then reads only the jobs it returns.
 *
 * Why chunks and not one array or a tree: the hot path of a worker moves a
 * job waiting → active → completed, and in each state jobs mostly arrive in
 * (createdAt, id) order (ids grow with time within a millisecond) and leave
 * from near the front. So the common insert is an append to the last chunk
 * and the common remove is the first entry of the first chunk, both checked
 * before any search; anything else costs two binary searches and a move
 * within one chunk of at most 2 × 512 entries. Measured, dequeue → complete
 * costs the same as without the indexes, within noise (figures in the
 * README's job queue section).
 */
export class JobIndex<J extends JobPosition> {
  private chunks: J[][] = [];
  private total = 0;

  get size(): number {
    return this.total;
  }

  insert(job: J): void {
    const last = this.chunks[this.chunks.length - 1];
    if (last === undefined) {
      this.chunks.push([job]);
    } else if (comparePositions(last[last.length - 1] as J, job) < 0) {
      if (last.length >= CHUNK) this.chunks.push([job]);
      else last.push(job);
    } else {
      const chunkIndex = this.chunkFor(job);
      const chunk = this.chunks[chunkIndex] as J[];
      chunk.splice(firstNotBefore(chunk, job), 0, job);
      if (chunk.length > 2 * CHUNK) this.chunks.splice(chunkIndex, 1, chunk.slice(0, CHUNK), chunk.slice(CHUNK));
    }
    this.total += 1;
  }

  /** Removes `job` (the same object that was inserted); nothing when it is not there. */
  remove(job: J): void {
    const first = this.chunks[0];
    if (first === undefined) return;
    let chunkIndex = 0;
    let position = 0;
    if (first[0] !== job) {
      chunkIndex = this.chunkFor(job);
      const chunk = this.chunks[chunkIndex] as J[];
      position = firstNotBefore(chunk, job);
      if (chunk[position] !== job) return;
    }
    const chunk = this.chunks[chunkIndex] as J[];
    if (position === 0) chunk.shift();
    else chunk.splice(position, 1);
    this.total -= 1;
    if (chunk.length === 0) this.chunks.splice(chunkIndex, 1);
  }

  /** Jobs after `after` (exclusive; from the first when `undefined`), oldest first. */
  *ascending(after: JobPosition | undefined): IterableIterator<J> {
    let chunkIndex = 0;
    let index = 0;
    if (after !== undefined) {
      // The first chunk whose last job comes after `after`, then the first such job in it.
      let low = 0;
      let high = this.chunks.length;
      while (low < high) {
        const middle = (low + high) >> 1;
        const chunk = this.chunks[middle] as J[];
        if (comparePositions(chunk[chunk.length - 1] as J, after) <= 0) low = middle + 1;
        else high = middle;
      }
      chunkIndex = low;
      const chunk = this.chunks[chunkIndex];
      if (chunk !== undefined) index = firstAfter(chunk, after);
    }
    for (; chunkIndex < this.chunks.length; chunkIndex++, index = 0) {
      const chunk = this.chunks[chunkIndex] as J[];
      for (; index < chunk.length; index++) yield chunk[index] as J;
    }
  }

  /** Jobs before `before` (exclusive; from the last when `undefined`), newest first. */
  *descending(before: JobPosition | undefined): IterableIterator<J> {
    let chunkIndex = this.chunks.length - 1;
    let index = (this.chunks[chunkIndex]?.length ?? 0) - 1;
    if (before !== undefined) {
      // The last chunk whose first job comes before `before`, then the last such job in it.
      let low = -1;
      let high = this.chunks.length - 1;
      while (low < high) {
        const middle = (low + high + 1) >> 1;
        if (comparePositions((this.chunks[middle] as J[])[0] as J, before) < 0) low = middle;
        else high = middle - 1;
      }
      chunkIndex = low;
      const chunk = this.chunks[chunkIndex];
      if (chunk !== undefined) index = firstNotBefore(chunk, before) - 1;
    }
    for (; chunkIndex >= 0; chunkIndex--) {
      const chunk = this.chunks[chunkIndex] as J[];
      if (index < 0) index = chunk.length - 1;
      for (; index >= 0; index--) yield chunk[index] as J;
    }
  }

  /** The chunk a job belongs in: the last whose first job is not after it. */
  private chunkFor(job: JobPosition): number {
    let low = 0;
    let high = this.chunks.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (comparePositions((this.chunks[middle] as J[])[0] as J, job) <= 0) low = middle;
      else high = middle - 1;
    }
    return low;
  }
}

/** The index of the first entry not before `position`. */
function firstNotBefore(chunk: readonly JobPosition[], position: JobPosition): number {
  let low = 0;
  let high = chunk.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (comparePositions(chunk[middle] as JobPosition, position) < 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The index of the first entry after `position`. */
function firstAfter(chunk: readonly JobPosition[], position: JobPosition): number {
  let low = 0;
  let high = chunk.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (comparePositions(chunk[middle] as JobPosition, position) <= 0) low = middle + 1;
    else high = middle;
  }
  return low;
}
