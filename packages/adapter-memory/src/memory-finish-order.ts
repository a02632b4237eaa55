/** What the finish order links: a finished job, with its neighbours in the order. */
export interface FinishLinked<J> {
  readonly finishedAt: number | undefined;
  finishedBefore: J | undefined;
  finishedAfter: J | undefined;
}

/**
 * The jobs of one finished state in `finishedAt` order, linked through the
 * jobs themselves: unlinking and taking the oldest cost O(1), so retention
 * and purge remove jobs at a cost proportional to what they remove. A job
 * finishes at `Date.now()`, so inserting is an append, found from the newest
 * end; only a clock that stepped back walks further in.
 */
export class FinishOrder<J extends FinishLinked<J>> {
  first: J | undefined;
  private last: J | undefined;

  insert(job: J): void {
    const at = job.finishedAt as number;
    let before = this.last;
    while (before !== undefined && (before.finishedAt as number) > at) before = before.finishedBefore;
    const after = before === undefined ? this.first : before.finishedAfter;
    job.finishedBefore = before;
    job.finishedAfter = after;
    if (before === undefined) this.first = job;
    else before.finishedAfter = job;
    if (after === undefined) this.last = job;
    else after.finishedBefore = job;
  }

  unlink(job: J): void {
    if (job.finishedBefore === undefined) this.first = job.finishedAfter;
    else job.finishedBefore.finishedAfter = job.finishedAfter;
    if (job.finishedAfter === undefined) this.last = job.finishedBefore;
    else job.finishedAfter.finishedBefore = job.finishedBefore;
    job.finishedBefore = undefined;
    job.finishedAfter = undefined;
  }
}
